// nb_binder_client: the extern "C" API of binder_client.h over binder_file.h.
#include "local_driver/client/binder_client.h"

#include <fcntl.h>
#include <linux/android/binder.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "local_driver/client/binder_file.h"
#include "local_driver/client/inline_sender.h"
#include "local_driver/client/netbinder_ioctl.h"
#include "local_driver/client/safe_memory.h"
#include "local_driver/client/seqpacket.h"
#include "local_driver/client/wire.h"

namespace nb::client {
namespace {
std::string socketDir() {
  const char* dir = std::getenv("NETBINDER_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "/run/netbinder";
}

std::string resolveSocketPath(const char* device) {
  std::string path(device);
  if (path.find('/') == std::string::npos) {
    return socketDir() + "/" + path;
  }
  struct stat st {};
  if (::stat(device, &st) == 0 && S_ISSOCK(st.st_mode)) {
    return path;
  }
  std::string name = path.substr(path.rfind('/') + 1);
  return socketDir() + "/" + name;
}

int fail(int err) {
  errno = err;
  return -1;
}

// The C driver reports a failed copy of these arguments as EINVAL rather than EFAULT (§2).
int copyFaultErrno(uint32_t cmd) {
  switch (cmd) {
    case BINDER_SET_MAX_THREADS:
    case BINDER_SET_CONTEXT_MGR_EXT:
    case BINDER_VERSION:
      return EINVAL;
    default:
      return EFAULT;
  }
}

// task_nice(current) for the calling thread (reported with every ioctl). On Linux the nice value
// is per thread, and PRIO_PROCESS with who 0 names the calling thread.
int32_t currentNice() {
  const int saved = errno;
  errno = 0;
  const int nice = ::getpriority(PRIO_PROCESS, 0);
  const int32_t result = errno != 0 ? 0 : std::clamp(nice, -20, 19);
  errno = saved;
  return result;
}

// The kernel's binder_set_nice for the calling thread: take `nice` if permitted (can_nice: the
// RLIMIT_NICE ceiling or CAP_SYS_NICE, which setpriority checks the same way), else the lowest
// nice the rlimit allows; nothing if even that is out of range ("RLIMIT_NICE not set").
void applyNice(int32_t nice) {
  const int saved = errno;
  const id_t tid = 0;  // the calling thread (see currentNice)
  if (::setpriority(PRIO_PROCESS, tid, nice) != 0 && (errno == EPERM || errno == EACCES)) {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NICE, &rl) == 0) {
      // rlimit_to_nice: MAX_NICE - rlim + 1.
      const uint64_t lim = rl.rlim_cur == RLIM_INFINITY ? 40 : std::min<uint64_t>(rl.rlim_cur, 40);
      const int min_nice = 20 - static_cast<int>(lim);
      if (min_nice <= 19) {
        (void)::setpriority(PRIO_PROCESS, tid, std::max(min_nice, -20));
      }
    }
  }
  errno = saved;
}

// Whether the kernel copies this ioctl's argument in. The others ignore it (THREAD_EXIT,
// SET_CONTEXT_MGR), only write it (VERSION, GET_EXTENDED_ERROR: a bad pointer fails on the way
// out, after the driver acted) or are unknown (EINVAL before any copy): their argument is sent
// zero-filled and only copied back on success.
bool readsArgument(uint32_t cmd) {
  switch (cmd) {
    case BINDER_WRITE_READ:
    case BINDER_SET_MAX_THREADS:
    case BINDER_SET_CONTEXT_MGR_EXT:
    case BINDER_GET_NODE_DEBUG_INFO:
    case BINDER_GET_NODE_INFO_FOR_REF:
    case BINDER_FREEZE:
    case BINDER_GET_FROZEN_INFO:
    case BINDER_ENABLE_ONEWAY_SPAM_DETECTION:
    case NB_IOC_REF_OWNER:  // netbinder extension (netbinder_ioctl.h)
      return true;
    default:
      return false;
  }
}

// Receives the daemon's answer to a kIoctl: installs files when asked, then returns the kReply.
int awaitIoctlReply(int sock, Message& reply) {
  bool interrupted = false;
  for (;;) {
    // A signal without SA_RESTART interrupts the wait as it interrupts the kernel's binder read:
    // ask the daemon to end the read with EINTR (it may already have answered), and keep waiting
    // for the one reply.
    int err = recvMessage(sock, reply, /*retry_eintr=*/interrupted);
    if (err == EINTR) {
      interrupted = true;
      if (sendMessage(sock, wire::Op::kInterrupt, 0, std::span<const uint8_t>()) != 0) {
        return EIO;
      }
      continue;
    }
    if (err != 0) {
      return err == ECONNRESET ? EIO : err;
    }
    if (reply.op() == wire::Op::kReply) {
      return 0;
    }
    if (reply.op() != wire::Op::kInstallFds) {
      reply.closeFds();
      return EPROTO;
    }
    // The files arrived with MSG_CMSG_CLOEXEC, as the kernel installs them (O_CLOEXEC).
    std::vector<int32_t> numbers(reply.fds.begin(), reply.fds.end());
    reply.fds.clear();
    err = sendMessage(
        sock, wire::Op::kFdsInstalled, 0,
        {reinterpret_cast<const uint8_t*>(numbers.data()), numbers.size() * sizeof(int32_t)});
    if (err != 0) {
      return EIO;
    }
  }
}

// One ioctl on its way to the daemon.
struct PendingIoctl {
  uint32_t cmd = 0;
  uint64_t arg = 0;  // the user's pointer
  wire::IoctlRequest req;
  std::vector<uint8_t> arg_bytes;
  std::vector<uint8_t> write_bytes;  // inline write stream (BINDER_WRITE_READ)
  binder_write_read bwr{};
  bool is_wr = false;
  // The caller vouches that arg and the bwr's buffers are its own valid memory
  // (nb_binder_ioctl_trusted): copies need no fault checking.
  bool trusted = false;

  bool longWrite() const {
    return is_wr && bwr.write_size > bwr.write_consumed &&
           (req.flags & wire::kIoctlWriteInline) == 0;
  }
};

// Copies from and to the caller's memory: checked (EFAULT, never a crash, as copy_from_user) for
// a program's pointers; a plain memcpy for the runtime's own buffers, which saves the syscalls.
bool userRead(const PendingIoctl& io, uint64_t from, void* to, size_t len) {
  if (io.trusted) {
    std::memcpy(to, reinterpret_cast<const void*>(from), len);
    return true;
  }
  return safeRead(from, to, len);
}
bool userWrite(const PendingIoctl& io, uint64_t to, const void* from, size_t len) {
  if (io.trusted) {
    std::memcpy(reinterpret_cast<void*>(to), from, len);
    return true;
  }
  return safeWrite(to, from, len);
}

// The kernel's read starts by writing BR_NOOP at the read position when nothing was consumed yet
// (and fails with EFAULT if it cannot, after the write part). Probe the same way: with the same
// BR_NOOP when read_consumed is 0, else by writing back what is there.
bool readBufferWritable(const binder_write_read& bwr) {
  const uint64_t at = bwr.read_buffer + bwr.read_consumed;
  uint32_t word = BR_NOOP;
  if (bwr.read_size - bwr.read_consumed < sizeof(word)) {
    return true;  // too small for any return: the core reports it
  }
  if (bwr.read_consumed != 0 && !safeRead(at, &word, sizeof(word))) {
    return false;
  }
  return safeWrite(at, &word, sizeof(word));
}

// True if the inline write stream holds no BC_TRANSACTION(_SG): the driver then has no use for
// the caller's nice (a read or a sent transaction are where it takes it). A stream that does not
// parse, or is not inline, counts as sending one.
bool sendsNoTransaction(const PendingIoctl& io) {
  if ((io.req.flags & wire::kIoctlWriteInline) == 0) {
    return io.bwr.write_size <= io.bwr.write_consumed;
  }
  size_t at = 0;
  while (at + sizeof(uint32_t) <= io.write_bytes.size()) {
    uint32_t cmd;
    std::memcpy(&cmd, io.write_bytes.data() + at, sizeof(cmd));
    if (cmd == BC_TRANSACTION || cmd == BC_TRANSACTION_SG) {
      return false;
    }
    at += sizeof(cmd) + _IOC_SIZE(cmd);
  }
  return at == io.write_bytes.size();
}

// Copies the argument (and a short write stream) in, as copy_from_user would.
int prepareIoctl(const File& file, uint32_t cmd, uint64_t arg, PendingIoctl& io) {
  const uint32_t size = _IOC_SIZE(cmd);
  const uint32_t dir = _IOC_DIR(cmd);
  if (dir == _IOC_NONE || size > wire::kMaxIoctlArg) {
    return EINVAL;
  }
  io.cmd = cmd;
  io.arg = arg;
  io.arg_bytes.resize(size);
  if ((dir & _IOC_WRITE) != 0 && readsArgument(cmd) &&
      !userRead(io, arg, io.arg_bytes.data(), size)) {
    return copyFaultErrno(cmd);
  }
  io.req.cmd = cmd;
  io.req.arg_size = size;
  if (file.nonblock.load(std::memory_order_relaxed)) {
    io.req.flags |= wire::kIoctlNonblock;
  }
  io.is_wr = cmd == BINDER_WRITE_READ;
  if (!io.is_wr) {
    io.req.flags |= wire::kIoctlNiceUnread;
    return 0;
  }
  binder_write_read& bwr = io.bwr;
  std::memcpy(&bwr, io.arg_bytes.data(), sizeof(bwr));
  if (bwr.write_size > bwr.write_consumed &&
      bwr.write_size - bwr.write_consumed <= wire::kMaxInlineWrite) {
    io.write_bytes.resize(bwr.write_size - bwr.write_consumed);
    if (!userRead(io, bwr.write_buffer + bwr.write_consumed, io.write_bytes.data(),
                  io.write_bytes.size())) {
      return EFAULT;
    }
    io.req.flags |= wire::kIoctlWriteInline;
  }
  const bool reads = bwr.read_size > bwr.read_consumed;
  if (reads || !sendsNoTransaction(io)) {
    io.req.nice = currentNice();
  } else {
    io.req.flags |= wire::kIoctlNiceUnread;
  }
  if (reads) {
    io.req.read_capacity = static_cast<uint32_t>(
        std::min<uint64_t>(bwr.read_size - bwr.read_consumed, wire::kMaxReadChunk));
    if (!io.trusted && !readBufferWritable(bwr)) {
      io.req.flags |= wire::kIoctlReadFault;
      io.req.read_capacity = 0;
    }
  }
  return 0;
}

// Inline mode: the memory and files the daemon will need for this write, before the kIoctl.
int sendInlineFor(const File& file, int sock, const PendingIoctl& io) {
  if (!io.is_wr || file.mode == 0 || io.bwr.write_size <= io.bwr.write_consumed) {
    return 0;
  }
  const uint64_t at = io.bwr.write_buffer + io.bwr.write_consumed;
  if (!io.longWrite()) {
    return sendInline(sock, file.mode, io.write_bytes, at, false) == 0 ? 0 : EIO;
  }
  std::vector<uint8_t> bytes(
      std::min<uint64_t>(io.bwr.write_size - io.bwr.write_consumed, wire::kMaxInlineBytes));
  if (!userRead(io, at, bytes.data(), bytes.size())) {
    return EFAULT;
  }
  return sendInline(sock, file.mode, bytes, at, true) == 0 ? 0 : EIO;
}

// Applies a kReply: closes FDA fds, copies the read stream and the argument back (as
// copy_to_user). Returns the ioctl's errno, or -1 for a malformed reply.
int applyIoctlReply(const Message& reply, const PendingIoctl& io) {
  wire::IoctlReply head;
  const auto& p = reply.payload;
  if (p.size() < sizeof(head)) {
    return -1;
  }
  std::memcpy(&head, p.data(), sizeof(head));
  const size_t need = sizeof(head) + size_t{head.arg_size} + head.read_size +
                      size_t{head.close_count} * sizeof(int32_t);
  if (need != p.size() || head.arg_size > io.arg_bytes.size() ||
      head.read_size > io.req.read_capacity) {
    return -1;
  }
  const uint8_t* out_arg = p.data() + sizeof(head);
  const uint8_t* read_bytes = out_arg + head.arg_size;
  const uint8_t* close_list = read_bytes + head.read_size;
  for (uint32_t i = 0; i < head.close_count; ++i) {
    int32_t victim;
    std::memcpy(&victim, close_list + i * sizeof(int32_t), sizeof(victim));
    if (victim >= 0 && !bitTest(victim)) {
      sysClose(victim);
    }
  }
  if ((head.flags & wire::kReplySetNice) != 0) {
    applyNice(head.nice);
  }
  int result = reply.header.error;
  const uint64_t read_at = io.bwr.read_buffer + io.bwr.read_consumed;
  const bool spawn = (head.flags & wire::kReplySpawnAtWord0) != 0;
  if (io.is_wr && head.read_size > 0 && head.arg_size > 0 && !spawn && !io.trusted) {
    // The common BINDER_WRITE_READ: the read stream, then the bwr, in one syscall.
    switch (safeWrite2(read_at, read_bytes, head.read_size, io.arg, out_arg, head.arg_size)) {
      case 0:
        return result;
      case 2:
        return copyFaultErrno(io.cmd);
      default:
        result = EFAULT;  // the read stream faulted: bwr is still copied back
        return safeWrite(io.arg, out_arg, head.arg_size) ? result : copyFaultErrno(io.cmd);
    }
  }
  if (io.is_wr && head.read_size > 0 && !userWrite(io, read_at, read_bytes, head.read_size)) {
    result = EFAULT;
  }
  if (io.is_wr && result == 0 && spawn) {
    const uint32_t word = BR_SPAWN_LOOPER;
    if (!userWrite(io, io.bwr.read_buffer, &word, sizeof(word))) {
      result = EFAULT;  // put_user(BR_SPAWN_LOOPER, buffer) failed: bwr is still copied back
    }
  }
  const bool copy_back = io.is_wr || (result == 0 && (_IOC_DIR(io.cmd) & _IOC_READ) != 0);
  if (copy_back && head.arg_size > 0 && !userWrite(io, io.arg, out_arg, head.arg_size)) {
    return copyFaultErrno(io.cmd);
  }
  return result;
}

int doIoctl(File& file, uint32_t cmd, uint64_t arg, bool trusted) {
  PendingIoctl io;
  io.trusted = trusted;
  if (int err = prepareIoctl(file, cmd, arg, io); err != 0) {
    return err;
  }
  int err = 0;
  auto conn = threadConn(file, &err);
  if (!conn) {
    return err;
  }
  const int sock = conn->fd.load();
  if (err = sendInlineFor(file, sock, io); err != 0) {
    return err;
  }
  const std::span<const uint8_t> parts[3] = {bytesOf(io.req), io.arg_bytes, io.write_bytes};
  if (sendMessage(sock, wire::Op::kIoctl, 0, parts) != 0) {
    conn->close();
    return EIO;
  }
  Message reply;
  err = awaitIoctlReply(sock, reply);
  if (err == 0) {
    err = applyIoctlReply(reply, io);
  }
  if (err < 0 || err == EIO || err == EPROTO) {
    conn->close();  // a broken connection is replaced on the thread's next ioctl
    return err < 0 ? EPROTO : err;
  }
  return err;
}

// Releases the user-visible side of an open: flush in binderd (kernel flush on every close).
void flushFile(File& file) {
  std::lock_guard lock(file.mu);
  Message reply;
  (void)file.controlCall(wire::Op::kFlush, {}, reply);
}

}  // namespace
}  // namespace nb::client

using nb::client::File;
using nb::client::FilePtr;
namespace wire = nb::client::wire;

extern "C" {

int nb_binder_open(const char* device_path_or_name, int flags) {
  using namespace nb::client;
  if (device_path_or_name == nullptr) {
    return fail(EFAULT);
  }
  installForkHandler();
  auto file = std::make_shared<File>();
  file->id = nextFileId();
  file->socket_path = resolveSocketPath(device_path_or_name);
  file->opener_pid = selfPid();
  int sock = connectSeqpacket(file->socket_path.c_str());
  if (sock < 0) {
    return fail(-sock == ECONNREFUSED ? ENOENT : -sock);
  }
  file->control_fd = sock;
  // Lets binderd check it may read our memory and take our files (else: inline mode).
  wire::OpenRequest open_req;
  open_req.open_flags = static_cast<uint32_t>(flags);
  open_req.probe_addr = reinterpret_cast<uint64_t>(probeValue());
  open_req.probe_value = *probeValue();
  open_req.probe_fd = sock;
  open_req.nice = currentNice();
  Message reply;
  int err = sendMessage(sock, wire::Op::kOpen, 0, bytesOf(open_req));
  if (err == 0) {
    err = recvMessage(sock, reply);
  }
  if (err == 0 && reply.op() != wire::Op::kReply) {
    err = EPROTO;
  }
  if (err == 0 && reply.header.error != 0) {
    err = reply.header.error;
  }
  if (err == 0 && (reply.payload.size() != sizeof(wire::OpenReply) || reply.fds.size() != 1)) {
    err = EPROTO;
  }
  if (err != 0) {
    reply.closeFds();
    return fail(err == ECONNRESET ? EIO : err);
  }
  wire::OpenReply open_reply;
  std::memcpy(&open_reply, reply.payload.data(), sizeof(open_reply));
  file->token = open_reply.token;
  file->mode = open_reply.mode;
  int fd = reply.fds[0];
  if ((flags & O_CLOEXEC) == 0) {
    sysFcntl(fd, F_SETFD, 0);
  }
  if ((flags & O_NONBLOCK) != 0) {
    sysFcntl(fd, F_SETFL, O_NONBLOCK);
    file->nonblock.store(true);
  }
  if (!registerFd(fd, file)) {
    sysClose(fd);
    return fail(EMFILE);
  }
  return fd;
}

int nb_binder_ioctl(int fd, unsigned long request, void* arg) {
  using namespace nb::client;
  FilePtr file = lookup(fd);
  if (!file) {
    return fail(EBADF);
  }
  switch (request) {
    case FIONBIO:
    case FIOASYNC:
    case FIOCLEX:
    case FIONCLEX: {
      // Handled by the VFS before the kernel's driver sees them: apply to the fd itself.
      const int r = static_cast<int>(::syscall(SYS_ioctl, fd, request, arg));
      if (r == 0) {
        nb_binder_refresh_flags(fd);
      }
      return r;
    }
    default:
      break;
  }
  int err = doIoctl(*file, static_cast<uint32_t>(request), reinterpret_cast<uint64_t>(arg),
                    /*trusted=*/false);
  return err == 0 ? 0 : fail(err);
}

int nb_binder_ioctl_trusted(int fd, unsigned long request, void* arg) {
  using namespace nb::client;
  FilePtr file = lookup(fd);
  if (!file) {
    return fail(EBADF);
  }
  int err = doIoctl(*file, static_cast<uint32_t>(request), reinterpret_cast<uint64_t>(arg),
                    /*trusted=*/true);
  return err == 0 ? 0 : fail(err);
}

void nb_binder_refresh_flags(int fd) {
  using namespace nb::client;
  if (FilePtr file = lookup(fd)) {
    const int fl = sysFcntl(fd, F_GETFL, 0);
    if (fl >= 0) {
      file->nonblock.store((fl & O_NONBLOCK) != 0);
    }
  }
}

void* nb_binder_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t /*off*/) {
  using namespace nb::client;
  FilePtr file = lookup(fd);
  if (!file) {
    errno = EBADF;
    return MAP_FAILED;
  }
  if (selfPid() != file->opener_pid) {
    errno = EINVAL;
    return MAP_FAILED;
  }
  std::lock_guard lock(file->mu);
  wire::MmapRequest req;
  req.length = len;
  req.prot = static_cast<uint32_t>(prot);
  req.flags = static_cast<uint32_t>(flags);
  Message reply;
  int err = file->controlCall(wire::Op::kMmap, bytesOf(req), reply);
  if (err == 0 && (reply.fds.size() != 1 || reply.payload.size() != sizeof(wire::MmapReply))) {
    err = EPROTO;
  }
  if (err != 0) {
    reply.closeFds();
    errno = err;
    return MAP_FAILED;
  }
  const int memfd = reply.fds[0];
  reply.fds.clear();
  const int keep =
      flags & (MAP_FIXED | MAP_FIXED_NOREPLACE | MAP_POPULATE | MAP_NORESERVE | MAP_LOCKED);
  void* where = sysMmap(addr, len, prot & ~PROT_WRITE, MAP_SHARED | keep, memfd, 0);
  int map_err = where == MAP_FAILED ? errno : 0;
  sysClose(memfd);
  wire::MmapCommit commit;
  commit.addr = where == MAP_FAILED ? 0 : reinterpret_cast<uint64_t>(where);
  commit.length = len;
  Message commit_reply;
  err = file->controlCall(wire::Op::kMmapCommit, bytesOf(commit), commit_reply);
  commit_reply.closeFds();
  if (map_err != 0 || err != 0) {
    if (where != MAP_FAILED) {
      sysMunmap(where, len);
    }
    errno = map_err != 0 ? map_err : err;
    return MAP_FAILED;
  }
  // Not inherited by fork, as the kernel's VM_DONTCOPY.
  ::syscall(SYS_madvise, where, len, MADV_DONTFORK);
  file->mapped = true;
  file->map_addr = commit.addr;
  file->map_len = len;
  addMapped(file);
  return where;
}

bool nb_binder_is_binder_mapping(const void* addr, size_t len) {
  return nb::client::isMapped(reinterpret_cast<uint64_t>(addr), len);
}

int nb_binder_munmap(void* addr, size_t len) {
  using namespace nb::client;
  if (sysMunmap(addr, len) != 0) {
    return -1;
  }
  for (auto& file : takeMappedOverlapping(reinterpret_cast<uint64_t>(addr), len)) {
    std::lock_guard lock(file->mu);
    file->mapped = false;
    wire::MmapCommit unmap;
    unmap.addr = file->map_addr;
    unmap.length = file->map_len;
    Message reply;
    (void)file->controlCall(wire::Op::kMunmap, bytesOf(unmap), reply);
  }
  return 0;
}

int nb_binder_close(int fd) {
  using namespace nb::client;
  FilePtr file = unregisterFd(fd);
  if (!file) {
    return fail(EBADF);
  }
  flushFile(*file);
  return nb::client::sysClose(fd);
}

bool nb_binder_is_binder_fd(int fd) { return nb::client::bitTest(fd); }

bool nb_binder_forget_fd(int fd) { return nb::client::unregisterFd(fd) != nullptr; }

void nb_binder_forget_range(unsigned int first, unsigned int last) {
  using namespace nb::client;
  last = std::min<unsigned int>(last, kMaxTrackedFd - 1);
  for (unsigned int fd = first; fd <= last && fd < kMaxTrackedFd; ++fd) {
    if (bitTest(static_cast<int>(fd))) {
      unregisterFd(static_cast<int>(fd));
    }
  }
}

int nb_binder_fcntl_dupfd(int fd, int cmd, int minfd) {
  using namespace nb::client;
  FilePtr file = lookup(fd);
  if (!file) {
    return fail(EBADF);
  }
  int nfd = sysFcntl(fd, cmd, minfd);
  if (nfd < 0) {
    return -1;
  }
  if (!registerFd(nfd, file)) {
    sysClose(nfd);
    return fail(EMFILE);
  }
  return nfd;
}

int nb_binder_dup(int fd) { return nb_binder_fcntl_dupfd(fd, F_DUPFD, 0); }

int nb_binder_dup3(int oldfd, int newfd, int flags) {
  using namespace nb::client;
  FilePtr file = lookup(oldfd);
  if (!file) {
    return fail(EBADF);
  }
  if (oldfd == newfd) {
    // dup2 semantics (dup3 rejects this with EINVAL before we are called).
    return newfd;
  }
  int r = static_cast<int>(::syscall(SYS_dup3, oldfd, newfd, flags));
  if (r < 0) {
    return -1;
  }
  // newfd was silently closed by dup3: if it was a binder fd, that was a close() of it.
  if (FilePtr old = unregisterFd(newfd)) {
    flushFile(*old);
  }
  if (!registerFd(newfd, file)) {
    sysClose(newfd);
    return fail(EMFILE);
  }
  return newfd;
}

int nb_binder_poll_prepare(int fd) {
  using namespace nb::client;
  FilePtr file = lookup(fd);
  if (!file) {
    return fail(EBADF);
  }
  const pid_t tid = sysGettid();
  std::lock_guard lock(file->mu);
  if (std::find(file->poll_tids.begin(), file->poll_tids.end(), tid) != file->poll_tids.end()) {
    return 0;
  }
  wire::PollRegister reg;
  reg.tid = tid;
  Message reply;
  int err = file->controlCall(wire::Op::kPollRegister, bytesOf(reg), reply);
  reply.closeFds();
  if (err != 0) {
    return fail(err);
  }
  file->poll_tids.push_back(tid);
  return 0;
}

}  // extern "C"
