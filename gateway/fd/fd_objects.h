// File descriptors as they cross a gateway (docs/protocol.md §8, docs/gateway.md "File
// descriptors"): what a local fd is (classify), its contents as a FileContents message
// (snapshot), and the fd the receiving side makes from them (materialize). Streams (pipes,
// sockets) are fd_stream.h's business; this file only recognises them.
//
// Ownership: UniqueFd (absl-free RAII, move-only) everywhere; nothing here closes an fd it did
// not create.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "proto/netbinder/v1/fd.pb.h"

namespace nb::gateway {

// An owned file descriptor (closed on destruction). -1 = none.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd();
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release();
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// dup (F_DUPFD_CLOEXEC) of a borrowed fd.
absl::StatusOr<UniqueFd> dupFd(int fd);

enum class FdClass : uint8_t {
  kRegularFile,   // S_ISREG, not a memfd
  kMemfd,         // a memfd (or anything /proc/self/fd names "/memfd:..." )
  kPipeRead,      // pipe or FIFO opened for reading only (O_RDONLY)
  kPipeWrite,     // pipe or FIFO opened for writing only (O_WRONLY)
  kStreamSocket,  // SOCK_STREAM socket (AF_UNIX or AF_INET/6), connected
  kUnsupported,   // anything else: `description` says what (character device, eventfd, epoll,
                  // directory, datagram socket, O_RDWR FIFO, ...)
};

struct FdInfo {
  FdClass cls = FdClass::kUnsupported;
  uint32_t access_mode = 0;  // O_ACCMODE | O_APPEND bits of the open file description
  uint32_t file_mode = 0;    // st_mode & 07777
  uint64_t size = 0;         // st_size for files
  uint32_t seals = 0;        // F_GET_SEALS for memfds (0 otherwise)
  std::string name;          // memfd name without the "memfd:" prefix, else ""
  std::string description;   // human-readable kind for logs/errors: "regular file", "memfd
                             // 'name'", "pipe (read end)", "unix stream socket", "character
                             // device 1:3", "eventfd", "directory", ...
};

// Inspects a borrowed fd (fstat, fcntl F_GETFL / F_GET_SEALS, getsockopt SO_TYPE / SO_DOMAIN,
// readlink /proc/self/fd/N). Errors only for an fd that cannot be inspected (EBADF...).
absl::StatusOr<FdInfo> classifyFd(int fd);

// A snapshot of a regular file's or memfd's contents (pread from offset 0, the fd's offset is
// untouched) as FileContents with `contents` inline. ResourceExhausted (naming both sizes) if
// the size exceeds `max_bytes`; FailedPrecondition if the fd is not readable (O_WRONLY — its
// contents cannot be snapshotted) or is not a file.
absl::StatusOr<netbinder::v1::FileContents> snapshotFile(int fd, const FdInfo& info,
                                                         uint64_t max_bytes);

// The receiver's fd for FileContents: a new memfd (MFD_CLOEXEC | MFD_ALLOW_SEALING, name prefixed
// "nb:"), written with the contents, sealed with `seals` (MEMFD only), then reopened through
// /proc/self/fd with the sender's access mode (never wider: O_RDONLY stays read-only, O_APPEND
// kept) so that the process gets the same access it would have had. InvalidArgument for a message
// that is inconsistent (size != contents.size(), unknown kind, seals on a REGULAR_FILE, seal bits
// unknown to this kernel...), ResourceExhausted over `max_bytes`.
absl::StatusOr<UniqueFd> materializeFile(const netbinder::v1::FileContents& contents,
                                         uint64_t max_bytes);

}  // namespace nb::gateway
