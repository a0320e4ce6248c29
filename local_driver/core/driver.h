// Driver: the facade of binderd's pure Binder state machine for one device context (binder,
// hwbinder and vndbinder are three Driver instances). It is the analog of the kernel's
// file_operations (open/mmap/ioctl/poll/flush/release, drivers/android/binder.c; Rust
// rust_binder_main.rs) and follows ../shared/reference/kernel-binder.md §2–§10, with the
// observed-on-6.1 behaviour of §17 taking precedence.
//
// Threading: a Driver is single-threaded. All calls, and all Effects callbacks it makes, happen on
// the one event-loop thread that owns it. No call blocks; a read that has to wait returns
// WouldBlock and the caller parks the client thread until Effects::wakeThread().
//
// I/O: the core performs no syscalls. It reads client memory only through ClientMemory, writes
// receive buffers into the daemon's view of each process's area (mmapArea), returns BR streams in
// caller-provided spans, and reports wake-ups and fd closes through Effects (called synchronously
// from inside Driver methods; an Effects implementation must not call back into the Driver).
//
// Error channels (as the kernel): ioctl-level failures are a positive errno in the result;
// transaction failures are never errnos but BR codes in the read stream (BR_FAILED_REPLY, ...).
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "local_driver/core/unique_fd.h"

namespace nb::driver {

// One open of the device within this Driver. Never reused by the Driver that returned it.
enum class ProcId : uint32_t {};
// A client thread id (the client's gettid()); threads are keyed per process, like the kernel keys
// binder_thread by task.
using Tid = int32_t;

// Who opened the device: from SO_PEERCRED of the opening connection, never from client words.
struct ClientIdentity {
  int32_t pid = 0;    // tgid: BR_TRANSACTION.sender_pid, BINDER_FREEZE lookup, debug output
  uint32_t euid = 0;  // BR_TRANSACTION.sender_euid, the context-manager uid pin
  // The opener's nice at open time (kernel proc->default_priority): a thread that waits for
  // process work takes it (§8.5). Reported by the client; out-of-range values are clamped.
  int32_t nice = 0;
};

// Access to one client process's memory, implemented by io (process_vm_readv / pidfd_getfd, or
// their inline fallbacks) and by an in-test arena.
class ClientMemory {
 public:
  virtual ~ClientMemory() = default;
  // Copies out.size() bytes at client address `addr`: transaction data, offsets arrays and PTR
  // payloads. false => the kernel's EFAULT (the transaction fails with BR_FAILED_REPLY).
  virtual bool read(uint64_t addr, std::span<uint8_t> out) = 0;
  // Takes a reference to the client's open file `fd` (BINDER_TYPE_FD / FDA at send time).
  // Returns an error status whose code maps to EBADF when fd is not open in the client.
  virtual absl::StatusOr<UniqueFd> takeFd(int fd) = 0;
};

// Effects the core asks io to perform. Called synchronously from Driver methods.
class Effects {
 public:
  virtual ~Effects() = default;
  // Thread `tid` of `proc` is parked in a read that returned WriteReadResult::kWouldBlock and can
  // now make progress: call Driver::resumeRead() for it. Spurious wake-ups are harmless.
  virtual void wakeThread(ProcId proc, Tid tid) = 0;
  // Some thread of `proc` that polls may have become readable: re-evaluate pollReadable().
  virtual void wakePollers(ProcId proc) = 0;
  // Close these fd numbers in the client process `proc` (fds of a freed FDA buffer, installed at
  // read time; deferred close as the kernel's binder_deferred_fd_close). Sent with the reply to the
  // write that held BC_FREE_BUFFER.
  virtual void closeClientFds(ProcId proc, std::vector<int> fds) = 0;
};

// One file to install in the reading client (O_CLOEXEC). The fd number the client gets is written
// as a u32 at `area_offset` (byte offset from the start of the reader's area) by fdsInstalled().
struct FdInstall {
  UniqueFd file;
  uint64_t area_offset = 0;
};

struct [[nodiscard]] IoctlResult {
  int error = 0;  // 0 or a positive errno; on 0 copy `arg` back for _IOC_READ ioctls.
};

struct [[nodiscard]] WriteReadResult {
  enum class Kind : uint8_t {
    // The ioctl finished: return `error` (0 or a positive errno). bwr (write_consumed,
    // read_consumed) is updated and must be copied back to the client also when error != 0; the
    // first (bwr.read_consumed - read_consumed on entry) bytes of read_out go to
    // bwr.read_buffer + (read_consumed on entry).
    kDone,
    // The write part was processed (bwr.write_consumed final) and the read has nothing to return
    // yet: the thread is parked. Call resumeRead() after Effects::wakeThread(), or cancelWait()
    // when the client is interrupted (then the ioctl returns EINTR with bwr as it is now).
    kWouldBlock,
    // The read produced a BR_TRANSACTION/BR_REPLY carrying fds: pass `fds` to the client, which
    // installs them in order, and call fdsInstalled() with the numbers it got. read_out and bwr
    // are not final before that call.
    kInstallFds,
  };
  Kind kind = Kind::kDone;
  int error = 0;
  std::vector<FdInstall> fds;
  // kDone only. The 6.1 C driver writes BR_SPAWN_LOOPER over word 0 of the read buffer
  // (bwr.read_buffer itself, not read_buffer + read_consumed on entry), also when read_consumed
  // was non-zero on entry (binder_thread_read's `put_user(BR_SPAWN_LOOPER, buffer)`). When set,
  // the client writes BR_SPAWN_LOOPER at bwr.read_buffer after the read bytes; if that word is not
  // writable the ioctl fails with EFAULT (bwr still copied back). When read_consumed was 0 on
  // entry the core has already written it into read_out and this stays false.
  bool overwrite_word0_with_spawn = false;
  // kDone only. The nice the calling thread must take on return (binder_set_nice in the kernel:
  // waiting for process work -> the opener's nice; a sync BR_TRANSACTION -> the caller's nice or
  // the node's min_priority; BC_REPLY -> the nice saved when the call was received). The client
  // applies it to its own thread with setpriority; when the rlimit forbids the value it falls back
  // to the RLIMIT_NICE minimum like the kernel's binder_set_nice.
  bool set_nice = false;
  int32_t nice = 0;
};

struct DriverOptions {
  // Delivered with BR_TRANSACTION_SEC_CTX for nodes created with FLAT_BINDER_FLAG_TXN_SECURITY_CTX
  // (NUL-terminated, the NUL counted). Empty, the default: such transactions fail with
  // BR_FAILED_REPLY / EINVAL, as on the reference 6.1 kernel (no secid for the sender's
  // credentials; tests/conformance sg_secctx).
  std::string security_context;
};

class Context;  // the whole state of one device context (context.h)

class Driver {
 public:
  // context_name: "binder", "hwbinder", "vndbinder" (debug output). `effects` outlives the Driver.
  Driver(std::string context_name, Effects& effects, DriverOptions options = {});
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // open(): one process per open, with the identity of the opener.
  ProcId openProcess(ClientIdentity identity, std::unique_ptr<ClientMemory> memory);

  // mmap(): `daemon_view` is the daemon's read-write mapping of the area (it must stay mapped until
  // unmapArea/releaseProcess returns); `user_base` is where the client mapped it (read-only).
  // Only the first 4 MiB are used. Returns 0 or errno: EBUSY on a second mmap, EINVAL for an empty
  // area or user_base 0, ESRCH for an unknown process.
  [[nodiscard]] int mmapArea(ProcId proc, std::span<uint8_t> daemon_view, uint64_t user_base);
  // munmap() of the area: later transactions to the process fail with BR_DEAD_REPLY (ESRCH).
  void unmapArea(ProcId proc);

  // Every ioctl except BINDER_WRITE_READ, and netbinder's own (local_driver/client/
  // netbinder_ioctl.h: NB_IOC_REF_OWNER). `arg` holds _IOC_SIZE(cmd) bytes copied from the client
  // (zero-filled for _IOC_READ-only commands) and receives the output. Unknown cmd => EINVAL.
  IoctlResult ioctl(ProcId proc, Tid tid, uint32_t cmd, std::span<uint8_t> arg);

  // BINDER_WRITE_READ. `write_bytes` are the bytes at bwr.write_buffer + bwr.write_consumed (up to
  // write_size); `read_out` receives the BR stream for bwr.read_buffer + bwr.read_consumed and has
  // room for read_size - read_consumed bytes. `nonblock`: the file is O_NONBLOCK (EAGAIN instead
  // of WouldBlock).
  WriteReadResult writeRead(ProcId proc, Tid tid, binder_write_read& bwr,
                            std::span<const uint8_t> write_bytes, std::span<uint8_t> read_out,
                            bool nonblock);
  // The calling thread's current nice (reported by the client with each ioctl; kernel
  // task_nice(current)). Call before writeRead(). Values outside [-20, 19] are ignored.
  void setThreadNice(ProcId proc, Tid tid, int nice);
  // Retries the read part of a parked BINDER_WRITE_READ (same bwr and read_out as before).
  WriteReadResult resumeRead(ProcId proc, Tid tid, binder_write_read& bwr,
                             std::span<uint8_t> read_out, bool nonblock);
  // The parked client thread was interrupted: it is no longer waiting (ioctl returns EINTR).
  void cancelWait(ProcId proc, Tid tid);
  // Completes a kInstallFds read: `numbers` are the client's new fd numbers, in FdInstall order
  // (a negative number or a count mismatch means the install failed: the transaction is then
  // failed as the kernel's fd-fixup failure and the caller must close the installed ones, which
  // the Driver reports through Effects::closeClientFds). Returns the final read result.
  WriteReadResult fdsInstalled(ProcId proc, Tid tid, binder_write_read& bwr,
                               std::span<uint8_t> read_out, std::span<const int> numbers);

  // poll(): marks the thread a poller and tells whether a read would return something now.
  bool pollReadable(ProcId proc, Tid tid);
  // flush() (every close() of a descriptor of the open): all threads return from reads.
  void flush(ProcId proc);
  // release(): the process closed its last descriptor or died (§10.2). The ProcId is invalid
  // afterwards; its area may be unmapped when this returns.
  void releaseProcess(ProcId proc);

  // debugfs-format dumps (§13.2): "state", "stats", "transactions".
  std::string dumpState() const;
  std::string dumpStats() const;
  std::string dumpTransactions() const;

 private:
  std::unique_ptr<Context> ctx_;
};

}  // namespace nb::driver
