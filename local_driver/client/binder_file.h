// Client-library internals: one open of a device (File), its per-thread connections, and the
// process-wide table of binder fds and mapped areas. Thread-safe as documented per function.
// Hidden descriptors are used through raw syscalls so that the LD_PRELOAD shim, which links this
// library, never sees (and re-enters on) its own close/mmap.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "local_driver/client/safe_memory.h"
#include "local_driver/client/seqpacket.h"
#include "local_driver/client/wire.h"

namespace nb::client {

inline int sysClose(int fd) { return static_cast<int>(::syscall(SYS_close, fd)); }
inline int sysFcntl(int fd, int cmd, long arg) {
  return static_cast<int>(::syscall(SYS_fcntl, fd, cmd, arg));
}
inline void* sysMmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}
inline int sysMunmap(void* addr, size_t len) {
  return static_cast<int>(::syscall(SYS_munmap, addr, len));
}
inline pid_t sysGettid() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

// One thread's connection to one open; shared by the thread's TLS entry and the File so whoever
// goes first closes it exactly once.
struct ThreadConn {
  std::atomic<int> fd{-1};
  void close() {
    int old = fd.exchange(-1);
    if (old >= 0) {
      sysClose(old);
    }
  }
};

// One open of a device (the kernel's struct file + binder_proc handle on the client side).
// Lives while a user fd refers to it, its area is mapped, or a call is using it.
struct File {
  uint64_t id = 0;
  std::string socket_path;
  uint64_t token = 0;
  uint32_t mode = 0;  // wire kMode* bits from the OpenReply
  pid_t opener_pid = 0;
  std::mutex mu;        // serialises control requests and guards the fields below
  int control_fd = -1;  // control connection; closing it releases the process in binderd
  std::vector<std::shared_ptr<ThreadConn>> thread_conns;
  std::vector<pid_t> poll_tids;
  uint64_t map_addr = 0;
  uint64_t map_len = 0;
  bool mapped = false;
  // O_NONBLOCK of the open file description, cached because F_GETFL per ioctl is a syscall.
  // Set at open; refreshed when the shim sees F_SETFL or FIONBIO (nb_binder_refresh_flags).
  std::atomic<bool> nonblock{false};

  ~File() {
    for (auto& conn : thread_conns) {
      conn->close();
    }
    if (control_fd >= 0) {
      sysClose(control_fd);
    }
  }

  // Sends a control request and waits for its reply. Caller holds mu.
  int controlCall(wire::Op op, std::span<const uint8_t> payload, Message& reply) {
    // A forked child shares the parent's control socket: it must never speak for the parent
    // (the kernel ties mmap to the opener and the child has no copy of the area).
    if (selfPid() != opener_pid) {
      return EINVAL;
    }
    int err = sendMessage(control_fd, op, 0, payload);
    if (err == 0) {
      err = recvMessage(control_fd, reply);
    }
    if (err != 0) {
      return err == ECONNRESET || err == EPIPE ? EIO : err;
    }
    if (reply.op() != wire::Op::kReply) {
      reply.closeFds();
      return EPROTO;
    }
    return reply.header.error;
  }
};

using FilePtr = std::shared_ptr<File>;

inline constexpr int kMaxTrackedFd = 1 << 16;

// Registers the fork handlers (once): a forked child closes its copies of the hidden sockets.
void installForkHandler();
// A new File id (never reused).
uint64_t nextFileId();
// Address of a static 8-byte value for the daemon's memory probe, and that value.
const uint64_t* probeValue();

// The fd table. bitTest is lock-free (the shim asks it on every close/ioctl/mmap).
bool bitTest(int fd);
FilePtr lookup(int fd);
bool registerFd(int fd, FilePtr file);
FilePtr unregisterFd(int fd);

// Mapped areas (munmap must find the File of an address range).
void addMapped(FilePtr file);
bool anyMapped();
bool isMapped(uint64_t start, uint64_t len);
std::vector<FilePtr> takeMappedOverlapping(uint64_t start, uint64_t len);

// The calling thread's connection for `file`, connecting and attaching on first use; null with
// *err set on failure.
std::shared_ptr<ThreadConn> threadConn(File& file, int* err);

}  // namespace nb::client
