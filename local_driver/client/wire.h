// wire.h: the framing spoken between the client library (nb_binder_client) and binderd on the
// SOCK_SEQPACKET device sockets (DIR/binder, DIR/hwbinder, DIR/vndbinder). Shared by both sides;
// the daemon validates every field it receives (docs/binderd.md).
//
// Every message is one datagram: a fixed Header, then `payload_size` bytes, optionally with
// SCM_RIGHTS ancillary data. The first message on a connection is a hello that fixes its role:
//
//   kOpen    -> control connection of a new process (one open of the device). Reply: OpenReply
//               + SCM_RIGHTS [eventfd]. The eventfd is the pollable descriptor handed to the user;
//               the daemon keeps it readable while a polling thread of the process has work.
//               Closing the control connection (or the process dying) releases the process.
//               Later requests on it: kMmap, kMmapCommit, kMunmap, kFlush, kPollRegister.
//   kAttach  -> per-thread connection (one per client thread per open), attached to the process
//               by the OpenReply token and checked against SO_PEERCRED (same pid as the opener)
//               and /proc/<pid>/task/<tid>. Later requests: kIoctl, kFdsInstalled.
//   kAdmin   -> a one-shot dump (binderd --dump): reply text, then the daemon closes.
//
// Each request gets exactly one kReply (Header.error = 0 or a positive errno), except a
// BINDER_WRITE_READ whose read carries files: the daemon first sends kInstallFds with the files
// (SCM_RIGHTS), the client answers kFdsInstalled with the fd numbers it got, then the kReply.
//
// kInterrupt (no payload, no reply of its own): a signal interrupted the client while it waited
// for a kIoctl reply. If that read is still parked, the daemon cancels the wait and the kReply
// carries EINTR (the kernel's -EINTR); otherwise the reply already sent stands and it is ignored.
//
// Inline mode (docs/binderd.md "fallback"): when binderd may not read the client's memory
// (process_vm_readv EPERM) or take its files (pidfd_getfd EPERM), found by probing at open, the
// OpenReply says so and the client sends, before each BINDER_WRITE_READ, the memory the daemon
// will read (transaction data, offsets, PTR buffers, long write streams) as kInlineMemory chunks
// and the files of FD/FDA objects as kInlineFds. The daemon serves its ClientMemory reads for
// that ioctl from them; what the client did not send reads as EFAULT/EBADF, as in the kernel.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nb::client::wire {

inline constexpr uint32_t kMagic = 0x3157424e;  // "NBW1" little-endian
inline constexpr uint32_t kProtocolVersion = 1;

// Largest datagram either side sends or accepts (header included). Big enough for a 128 KiB read
// stream or write stream plus the ioctl header.
inline constexpr size_t kMaxMessage = 160 * 1024;
// Write streams longer than this are not sent inline: the daemon reads them from client memory.
inline constexpr size_t kMaxInlineWrite = 128 * 1024;
// A single BINDER_WRITE_READ returns at most this many read bytes (read_consumed <= read_size
// still holds; callers loop anyway).
inline constexpr size_t kMaxReadChunk = 128 * 1024;
// Most files one read installs (SCM_RIGHTS limit is 253).
inline constexpr size_t kMaxFdsPerMessage = 250;
// Largest _IOC_SIZE accepted for a non-WRITE_READ ioctl argument.
inline constexpr size_t kMaxIoctlArg = 256;
// Usable receive area, as the kernel's 4 MiB limit.
inline constexpr uint64_t kMaxAreaSize = 4ull << 20;

enum class Op : uint16_t {
  // Hellos.
  kOpen = 1,
  kAttach = 2,
  kAdmin = 3,
  // Control connection.
  kMmap = 10,
  kMmapCommit = 11,
  kMunmap = 12,
  kFlush = 13,
  kPollRegister = 14,
  // Thread connection.
  kIoctl = 20,
  kFdsInstalled = 21,
  kInlineMemory = 22,
  kInlineFds = 23,
  kInterrupt = 24,
  // Daemon to client.
  kReply = 100,
  kInstallFds = 101,
};

struct Header {
  uint32_t magic = kMagic;
  uint16_t op = 0;
  uint16_t reserved = 0;  // must be 0
  uint32_t payload_size = 0;
  int32_t error = 0;  // replies: 0 or a positive errno; requests: 0
};
static_assert(sizeof(Header) == 16);

// The probes let the daemon find out whether it may read this process's memory and files: it
// reads 8 bytes at probe_addr (expecting probe_value) and takes probe_fd with pidfd_getfd.
struct OpenRequest {
  uint32_t version = kProtocolVersion;
  uint32_t open_flags = 0;  // the flags given to open() (O_NONBLOCK is honoured per ioctl)
  uint64_t probe_addr = 0;
  uint64_t probe_value = 0;
  int32_t probe_fd = -1;
  int32_t nice = 0;  // the opener's nice (kernel proc->default_priority; clamped to [-20, 19])
};

inline constexpr uint32_t kModeInlineMemory = 1u << 0;  // send memory with kInlineMemory
inline constexpr uint32_t kModeInlineFds = 1u << 1;     // send files with kInlineFds

struct OpenReply {
  uint64_t token = 0;  // attaches thread connections to this process
  int32_t daemon_pid = 0;
  uint32_t mode = 0;  // kMode* bits
};

// kInlineMemory: InlineMemory, then `length` bytes that are the client's memory at `addr`.
struct InlineMemory {
  uint64_t addr = 0;
  uint32_t length = 0;
  uint32_t reserved = 0;
};
// kInlineFds: int32 fd numbers (as the client knows them), the same files in SCM_RIGHTS order.

// Bounds on what one ioctl may send inline (the daemon drops a connection that exceeds them).
inline constexpr uint64_t kMaxInlineBytes = 16ull << 20;
inline constexpr size_t kMaxInlineRanges = 4096;
inline constexpr size_t kMaxInlineFds = 1024;

struct AttachRequest {
  uint64_t token = 0;
  int32_t tid = 0;
  uint32_t reserved = 0;
};

enum class AdminKind : uint32_t { kState = 1, kStats = 2, kTransactions = 3 };

struct AdminRequest {
  uint32_t kind = 0;  // AdminKind
  uint32_t reserved = 0;
};

// kMmap: reply payload is MmapReply + SCM_RIGHTS [memfd of area_size bytes, sealed against new
// writable mappings]. The client maps it PROT_READ, MAP_SHARED and sends kMmapCommit.
struct MmapRequest {
  uint64_t length = 0;
  uint32_t prot = 0;
  uint32_t flags = 0;
};

struct MmapReply {
  uint64_t area_size = 0;
};

// kMmapCommit: where the client mapped the area (addr 0 = the client failed; the daemon drops it).
// kMunmap: the client unmapped it (addr/length unused by the daemon).
struct MmapCommit {
  uint64_t addr = 0;
  uint64_t length = 0;
};

// kPollRegister: thread `tid` polls this process's descriptor (kernel LOOPER_STATE_POLL).
struct PollRegister {
  int32_t tid = 0;
  uint32_t reserved = 0;
};

inline constexpr uint32_t kIoctlNonblock = 1u << 0;     // the file is O_NONBLOCK now
inline constexpr uint32_t kIoctlWriteInline = 1u << 1;  // write stream follows the arg
// The read buffer is not writable (the client probed it as the kernel's first put_user would):
// process the write part only, then fail the ioctl with EFAULT.
inline constexpr uint32_t kIoctlReadFault = 1u << 2;
// `nice` was not read (it is 0): the ioctl neither reads nor sends a transaction, the only
// places the driver uses the caller's nice, so the daemon keeps the thread's last known one.
inline constexpr uint32_t kIoctlNiceUnread = 1u << 3;

// kIoctl: IoctlRequest, then `arg_size` bytes of the argument (binder_write_read for
// BINDER_WRITE_READ), then for WRITE_READ with kIoctlWriteInline the write stream bytes
// (bwr.write_size - bwr.write_consumed of them). read_capacity: bytes the client accepts back.
// nice: the calling thread's nice now (kernel task_nice(current)), in [-20, 19].
struct IoctlRequest {
  uint32_t cmd = 0;
  uint32_t arg_size = 0;
  uint32_t flags = 0;
  uint32_t read_capacity = 0;
  int32_t nice = 0;
  uint32_t reserved = 0;  // must be 0
};

// IoctlReply.flags (BINDER_WRITE_READ only):
// The 6.1 driver wrote BR_SPAWN_LOOPER over word 0 of the read buffer (bwr.read_buffer, not the
// read position): the client writes it there after the read bytes; unwritable -> EFAULT.
inline constexpr uint32_t kReplySpawnAtWord0 = 1u << 0;
// The calling thread takes IoctlReply.nice (binder_set_nice): setpriority on itself, falling back
// to the RLIMIT_NICE minimum when not permitted, as the kernel.
inline constexpr uint32_t kReplySetNice = 1u << 1;

// kReply to kIoctl: IoctlReply, then `arg_size` bytes of the updated argument, then `read_size`
// bytes of read stream for bwr.read_buffer + (read_consumed on entry), then `close_count` int32
// fds the client must close (FDA fds of buffers freed by this write).
struct IoctlReply {
  uint32_t arg_size = 0;
  uint32_t read_size = 0;
  uint32_t close_count = 0;
  uint32_t flags = 0;  // kReply* bits
  int32_t nice = 0;    // with kReplySetNice
  uint32_t reserved = 0;
};

// kInstallFds: payload InstallFds with `count` files in SCM_RIGHTS; kFdsInstalled answers with
// `count` int32 fd numbers (-1 where installing failed).
struct InstallFds {
  uint32_t count = 0;
  uint32_t reserved = 0;
};

}  // namespace nb::client::wire
