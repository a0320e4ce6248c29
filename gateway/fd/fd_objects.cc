#include "gateway/fd/fd_objects.h"

#include <fcntl.h>
#include <linux/memfd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

// Older libc headers lack the newest seal; the value is the kernel ABI (linux/fcntl.h, 6.3+).
#ifndef F_SEAL_EXEC
#define F_SEAL_EXEC 0x0020
#endif

namespace nb::gateway {
namespace {

namespace v1 = netbinder::v1;

// Seal bits materializeFile accepts. F_SEAL_EXEC is here too: with vm.memfd_noexec (or
// MFD_NOEXEC_SEAL) the sender's memfds carry it, and refusing them would refuse ordinary memfds.
// A kernel older than 6.3 refuses it in F_ADD_SEALS, which materializeFile reports.
constexpr uint32_t kKnownSeals =
    F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

// memfd_create's name limit: NAME_MAX minus the "memfd:" the kernel prefixes (without the NUL).
constexpr size_t kMemfdNameMax = 249;

// The message is built here, after `err` (usually errno) was read: building it may allocate.
template <typename... Parts>
absl::Status errnoStatus(int err, const Parts&... what) {
  return absl::ErrnoToStatus(err, absl::StrCat(what...));
}

std::string procFdPath(int fd) { return absl::StrCat("/proc/self/fd/", fd); }

// The /proc/self/fd/N link text, or "" if it cannot be read (no /proc).
std::string procFdLink(int fd) {
  char buf[4096];
  const ssize_t n = ::readlink(procFdPath(fd).c_str(), buf, sizeof(buf));
  if (n <= 0) {
    return {};
  }
  return std::string(buf, static_cast<size_t>(n));
}

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// "anon_inode:[eventfd]" -> "eventfd", "anon_inode:inotify" -> "inotify", [eventpoll] -> epoll.
std::string anonInodeKind(std::string_view link) {
  std::string_view kind = link.substr(std::string_view("anon_inode:").size());
  if (kind.size() >= 2 && kind.front() == '[' && kind.back() == ']') {
    kind = kind.substr(1, kind.size() - 2);
  }
  if (kind == "eventpoll") {
    return "epoll";
  }
  if (kind.empty()) {
    return "anonymous inode";
  }
  return std::string(kind);
}

// 73400320 -> "70 MiB", 1536 -> "1.5 KiB", 10 -> "10 bytes".
std::string formatBytes(uint64_t n) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = kKiB * 1024;
  constexpr uint64_t kGiB = kMiB * 1024;
  auto scaled = [n](uint64_t unit, const char* suffix) {
    if (n % unit == 0) {
      return absl::StrCat(n / unit, " ", suffix);
    }
    return absl::StrFormat("%.1f %s", static_cast<double>(n) / static_cast<double>(unit), suffix);
  };
  if (n >= kGiB) {
    return scaled(kGiB, "GiB");
  }
  if (n >= kMiB) {
    return scaled(kMiB, "MiB");
  }
  if (n >= kKiB) {
    return scaled(kKiB, "KiB");
  }
  return absl::StrCat(n, n == 1 ? " byte" : " bytes");
}

std::string socketDescription(int fd, int type, bool* stream_ok) {
  *stream_ok = false;
  int domain = -1;
  socklen_t len = sizeof(domain);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    domain = -1;
  }
  const bool inet = domain == AF_INET || domain == AF_INET6;
  if (type == SOCK_STREAM) {
    std::string what;
    if (domain == AF_UNIX) {
      what = "unix stream socket";
    } else if (inet) {
      int protocol = 0;
      len = sizeof(protocol);
      const bool tcp = ::getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &len) != 0 ||
                       protocol == IPPROTO_TCP;
      what = tcp ? (domain == AF_INET ? "tcp socket" : "tcp6 socket")
                 : absl::StrCat("stream socket (protocol ", protocol, ")");
      if (!tcp) {
        return what;
      }
    } else {
      return absl::StrCat("stream socket of address family ", domain);
    }
    int listening = 0;
    len = sizeof(listening);
    if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening != 0) {
      return absl::StrCat("listening ", what);
    }
    sockaddr_storage peer{};
    len = sizeof(peer);
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
      return absl::StrCat("unconnected ", what);
    }
    *stream_ok = true;
    return what;
  }
  const char* family = domain == AF_UNIX ? "unix " : "";
  switch (type) {
    case SOCK_DGRAM:
      if (inet) {
        return domain == AF_INET ? "udp (datagram) socket" : "udp6 (datagram) socket";
      }
      return domain == AF_UNIX ? "unix datagram socket"
                               : absl::StrCat("datagram socket of address family ", domain);
    case SOCK_SEQPACKET:
      return absl::StrCat(family, "seqpacket socket");
    case SOCK_RAW:
      return absl::StrCat(family, "raw socket");
    default:
      return absl::StrCat("socket (type ", type, ", address family ", domain, ")");
  }
}

// S_ISREG: a memfd, a regular file, or a pseudo file that fstat calls regular.
void classifyRegular(int fd, const struct stat& st, const std::string& link, FdInfo* info) {
  constexpr std::string_view kMemfdPrefix = "/memfd:";
  constexpr std::string_view kDeleted = " (deleted)";
  if (startsWith(link, kMemfdPrefix)) {
    std::string_view name = std::string_view(link).substr(kMemfdPrefix.size());
    if (name.size() >= kDeleted.size() && name.substr(name.size() - kDeleted.size()) == kDeleted) {
      name.remove_suffix(kDeleted.size());
    }
    info->cls = FdClass::kMemfd;
    info->size = static_cast<uint64_t>(st.st_size);
    info->name = std::string(name);
    const int seals = ::fcntl(fd, F_GET_SEALS);
    info->seals = seals > 0 ? static_cast<uint32_t>(seals) : 0;
    info->description = absl::StrCat("memfd '", info->name, "'");
  } else if (startsWith(link, "/dmabuf:")) {
    info->description = "dma-buf";
  } else if (!link.empty() && link.front() != '/') {
    info->description = link;  // not a path: pidfd and the like
  } else {
    info->cls = FdClass::kRegularFile;
    info->size = static_cast<uint64_t>(st.st_size);
    info->description = "regular file";
  }
}

// S_ISFIFO: a pipe or FIFO end; read-write FIFOs have no direction to stream.
void classifyFifo(int flags, const std::string& link, FdInfo* info) {
  const char* what = startsWith(link, "pipe:") ? "pipe" : "FIFO";
  switch (flags & O_ACCMODE) {
    case O_RDONLY:
      info->cls = FdClass::kPipeRead;
      info->description = absl::StrCat(what, " (read end)");
      break;
    case O_WRONLY:
      info->cls = FdClass::kPipeWrite;
      info->description = absl::StrCat(what, " (write end)");
      break;
    default:
      info->description = absl::StrCat(what, " opened read-write");
      break;
  }
}

absl::Status writeAll(int fd, std::string_view data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errnoStatus(errno, "writing the contents into the new memfd");
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status validateContents(const v1::FileContents& c, uint64_t max_bytes) {
  if (c.kind() != v1::FILE_KIND_REGULAR_FILE && c.kind() != v1::FILE_KIND_MEMFD) {
    return absl::InvalidArgumentError(
        absl::StrCat("FileContents: unknown or unspecified kind ", static_cast<int>(c.kind())));
  }
  if (c.source_case() != v1::FileContents::kContents) {
    return absl::InvalidArgumentError(
        c.source_case() == v1::FileContents::kContentStreamId
            ? "FileContents: the bytes come on a content stream; only inline contents can be "
              "materialized here"
            : "FileContents: no contents");
  }
  if (c.size() > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("FileContents: ", formatBytes(c.size()), " (", c.size(), " bytes), over the ",
                     formatBytes(max_bytes), " limit for fds crossing a gateway"));
  }
  if (c.size() != c.contents().size()) {
    return absl::InvalidArgumentError(absl::StrCat("FileContents: size ", c.size(), " but ",
                                                   c.contents().size(), " bytes of contents"));
  }
  if (c.seals() != 0 && c.kind() != v1::FILE_KIND_MEMFD) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "FileContents: seals 0x%x on a regular file (seals are for memfds only)", c.seals()));
  }
  if ((c.seals() & ~kKnownSeals) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("FileContents: unknown seal bits 0x%x", c.seals() & ~kKnownSeals));
  }
  const uint32_t mode_bits = O_ACCMODE | O_APPEND;
  if ((c.access_mode() & ~mode_bits) != 0 || (c.access_mode() & O_ACCMODE) == O_ACCMODE) {
    return absl::InvalidArgumentError(
        absl::StrFormat("FileContents: invalid access_mode 0%o", c.access_mode()));
  }
  if ((c.file_mode() & ~07777u) != 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("FileContents: file_mode 0%o has bits outside 07777", c.file_mode()));
  }
  return absl::OkStatus();
}

// "nb:" + name, cut to memfd_create's limit on a UTF-8 boundary; NULs would end the C string early.
std::string memfdName(std::string_view name) {
  std::string out = "nb:";
  out.append(name);
  for (char& ch : out) {
    if (ch == '\0') {
      ch = '?';
    }
  }
  if (out.size() > kMemfdNameMax) {
    size_t cut = kMemfdNameMax;
    while (cut > 3 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) {
      --cut;
    }
    out.resize(cut);
  }
  return out;
}

// The receiver's fd for `rw` (an O_RDWR memfd) with `access_mode`: a new open file description
// through /proc/self/fd for O_RDONLY / O_WRONLY (never wider than the sender's), `rw` itself for
// O_RDWR.
absl::StatusOr<UniqueFd> reopenWithMode(UniqueFd rw, uint32_t access_mode, uint32_t seals) {
  const int append = (access_mode & O_APPEND) != 0 ? O_APPEND : 0;
  const int acc = static_cast<int>(access_mode & O_ACCMODE);
  if (acc == O_RDWR) {
    if (append != 0 && ::fcntl(rw.get(), F_SETFL, O_APPEND) != 0) {
      return errnoStatus(errno, "setting O_APPEND on the new memfd");
    }
    return rw;
  }
  const std::string path = procFdPath(rw.get());
  UniqueFd out(::open(path.c_str(), acc | append | O_CLOEXEC));
  if (!out.valid() && acc == O_WRONLY && errno == EPERM &&
      (seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) != 0) {
    // A write-sealed memfd cannot be written anyway: read-only is the narrowest equivalent.
    out.reset(::open(path.c_str(), O_RDONLY | append | O_CLOEXEC));
  }
  if (!out.valid()) {
    return errnoStatus(errno, "reopening the new memfd through ", path,
                       " with the sender's access mode");
  }
  return out;
}

}  // namespace

UniqueFd::~UniqueFd() { reset(); }

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset(other.release());
  }
  return *this;
}

int UniqueFd::release() { return std::exchange(fd_, -1); }

void UniqueFd::reset(int fd) {
  const int old = std::exchange(fd_, fd);
  if (old >= 0 && old != fd) {
    // close() is not retried on EINTR: on Linux the fd is released whatever it returns.
    ::close(old);
  }
}

absl::StatusOr<UniqueFd> dupFd(int fd) {
  const int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) {
    return errnoStatus(errno, "dup of fd ", fd);
  }
  return UniqueFd(dup);
}

absl::StatusOr<FdInfo> classifyFd(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return errnoStatus(errno, "fstat of fd ", fd);
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) {
    return errnoStatus(errno, "F_GETFL of fd ", fd);
  }
  FdInfo info;
  info.access_mode = static_cast<uint32_t>(flags) & (O_ACCMODE | O_APPEND);
  info.file_mode = st.st_mode & 07777;
  const std::string link = procFdLink(fd);

  if ((flags & O_PATH) != 0) {
    info.description = "O_PATH file descriptor";
    return info;
  }
  // Anonymous inodes first: recent kernels report some of them as S_IFREG.
  if (startsWith(link, "anon_inode:")) {
    info.description = anonInodeKind(link);
    return info;
  }
  if (S_ISREG(st.st_mode)) {
    classifyRegular(fd, st, link, &info);
    return info;
  }
  if (S_ISFIFO(st.st_mode)) {
    classifyFifo(flags, link, &info);
    return info;
  }
  if (S_ISSOCK(st.st_mode)) {
    int type = 0;
    socklen_t len = sizeof(type);
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0) {
      info.description = "socket";
      return info;
    }
    bool stream_ok = false;
    info.description = socketDescription(fd, type, &stream_ok);
    if (stream_ok) {
      info.cls = FdClass::kStreamSocket;
    }
    return info;
  }
  if (S_ISCHR(st.st_mode)) {
    info.description = absl::StrCat("character device ", major(st.st_rdev), ":", minor(st.st_rdev));
    return info;
  }
  if (S_ISBLK(st.st_mode)) {
    info.description = absl::StrCat("block device ", major(st.st_rdev), ":", minor(st.st_rdev));
    return info;
  }
  if (S_ISDIR(st.st_mode)) {
    info.description = "directory";
    return info;
  }
  if (S_ISLNK(st.st_mode)) {
    info.description = "symbolic link";
    return info;
  }
  info.description = link.empty() ? "anonymous inode" : link;
  return info;
}

absl::StatusOr<v1::FileContents> snapshotFile(int fd, const FdInfo& info, uint64_t max_bytes) {
  if (info.cls != FdClass::kRegularFile && info.cls != FdClass::kMemfd) {
    return absl::FailedPreconditionError(
        absl::StrCat("fd ", fd, " is a ", info.description, ", not a file or memfd"));
  }
  if ((info.access_mode & O_ACCMODE) == O_WRONLY) {
    return absl::FailedPreconditionError(
        absl::StrCat(info.description, " (fd ", fd,
                     ") is open write-only (O_WRONLY): its contents cannot be read to cross a "
                     "gateway"));
  }
  // The size now, not at classification time; a file that changes meanwhile is copied as it is.
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return errnoStatus(errno, "fstat of fd ", fd);
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(info.description, " is ", formatBytes(size), " (", size, " bytes), over the ",
                     formatBytes(max_bytes), " limit for fds crossing a gateway"));
  }

  v1::FileContents out;
  out.set_kind(info.cls == FdClass::kMemfd ? v1::FILE_KIND_MEMFD : v1::FILE_KIND_REGULAR_FILE);
  out.set_access_mode(info.access_mode);
  out.set_file_mode(st.st_mode & 07777);
  out.set_name(info.name);
  if (info.cls == FdClass::kMemfd) {
    const int seals = ::fcntl(fd, F_GET_SEALS);
    out.set_seals(seals >= 0 ? static_cast<uint32_t>(seals) : info.seals);
  }
  std::string* bytes = out.mutable_contents();
  bytes->resize(size);
  uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::pread(fd, bytes->data() + done, size - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      if (err == EBADF) {
        return absl::FailedPreconditionError(
            absl::StrCat(info.description, " (fd ", fd, ") cannot be read"));
      }
      return errnoStatus(err, "reading ", info.description, " (fd ", fd, ")");
    }
    if (n == 0) {
      break;  // shrunk since fstat: the snapshot is what is there
    }
    done += static_cast<uint64_t>(n);
  }
  bytes->resize(done);
  out.set_size(done);
  return out;
}

absl::StatusOr<UniqueFd> materializeFile(const v1::FileContents& contents, uint64_t max_bytes) {
  if (absl::Status valid = validateContents(contents, max_bytes); !valid.ok()) {
    return valid;
  }
  const std::string name = memfdName(contents.name());
  UniqueFd rw(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!rw.valid()) {
    return errnoStatus(errno, "memfd_create '", name, "'");
  }
  if (absl::Status written = writeAll(rw.get(), contents.contents()); !written.ok()) {
    return written;
  }
  if (::lseek(rw.get(), 0, SEEK_SET) != 0) {
    return errnoStatus(errno, "rewinding the new memfd");
  }
  if (contents.seals() != 0 &&
      ::fcntl(rw.get(), F_ADD_SEALS, static_cast<int>(contents.seals())) != 0) {
    const int err = errno;
    if (err == EINVAL) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "FileContents: seals 0x%x not supported by this kernel", contents.seals()));
    }
    return errnoStatus(err, absl::StrFormat("sealing the new memfd with 0x%x", contents.seals()));
  }
  // Permission bits last: the /proc/self/fd reopen is checked against them. Best effort (the copy
  // is anonymous, and vm.memfd_noexec may refuse exec bits).
  absl::StatusOr<UniqueFd> out =
      reopenWithMode(std::move(rw), contents.access_mode(), contents.seals());
  if (out.ok()) {
    (void)::fchmod(out->get(), contents.file_mode());
  }
  return out;
}

}  // namespace nb::gateway
