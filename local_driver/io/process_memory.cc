#include "local_driver/io/process_memory.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "local_driver/client/wire.h"
#include "spdlog/spdlog.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace nb::driver::io {

namespace wire = client::wire;

int openPidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

bool InlineSnapshot::read(uint64_t addr, std::span<uint8_t> out) const {
  auto it = ranges.upper_bound(addr);
  if (it == ranges.begin()) {
    return false;
  }
  --it;
  const uint64_t start = it->first;
  const uint64_t size = it->second.size();
  if (addr - start > size || out.size() > size - (addr - start)) {
    return false;
  }
  // SAFETY: [addr - start, addr - start + out.size()) lies within the range, checked above.
  std::memcpy(out.data(), it->second.data() + (addr - start), out.size());
  return true;
}

ProcessMemory::ProcessMemory(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}

ProcessMemory::~ProcessMemory() {
  if (pidfd_ >= 0) {
    ::close(pidfd_);
  }
}

uint32_t ProcessMemory::probe(uint64_t addr, uint64_t expect, int fd, bool force_inline) {
  if (force_inline) {
    mode_ = wire::kModeInlineMemory | wire::kModeInlineFds;
    return mode_;
  }
  uint64_t got = 0;
  iovec local{&got, sizeof(got)};
  // SAFETY: process_vm_readv validates the remote address itself.
  iovec remote{reinterpret_cast<void*>(addr), sizeof(got)};
  if (::process_vm_readv(pid_, &local, 1, &remote, 1, 0) != sizeof(got) || got != expect) {
    mode_ |= wire::kModeInlineMemory;
  }
  int taken = pidfd_ >= 0 ? static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd_, fd, 0)) : -1;
  if (taken < 0) {
    mode_ |= wire::kModeInlineFds;
  } else {
    ::close(taken);
  }
  if (mode_ != 0) {
    spdlog::info("pid {}: {}{}sent inline by the client", pid_,
                 (mode_ & wire::kModeInlineMemory) != 0 ? "memory " : "",
                 (mode_ & wire::kModeInlineFds) != 0 ? "files " : "");
  }
  return mode_;
}

bool ProcessMemory::read(uint64_t addr, std::span<uint8_t> out) {
  if (out.empty()) {
    return true;
  }
  if (snapshot_ != nullptr && snapshot_->read(addr, out)) {
    return true;
  }
  if ((mode_ & wire::kModeInlineMemory) != 0) {
    return false;
  }
  size_t done = 0;
  while (done < out.size()) {
    if (addr + done < addr) {
      return false;
    }
    iovec local{out.data() + done, out.size() - done};
    // SAFETY: the kernel validates the remote range; a bad address is EFAULT, never a crash here.
    iovec remote{reinterpret_cast<void*>(addr + done), out.size() - done};
    ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      if (n < 0 && errno == EPERM && !warned_) {
        warned_ = true;
        spdlog::warn("process_vm_readv(pid {}) not permitted", pid_);
      }
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

absl::StatusOr<UniqueFd> ProcessMemory::takeFd(int fd) {
  if (fd < 0) {
    return absl::FailedPreconditionError("EBADF");
  }
  if (snapshot_ != nullptr) {
    auto it = snapshot_->fds.find(fd);
    if (it != snapshot_->fds.end()) {
      int copy = ::fcntl(it->second.get(), F_DUPFD_CLOEXEC, 0);
      if (copy >= 0) {
        return UniqueFd(copy);
      }
    }
  }
  if ((mode_ & wire::kModeInlineFds) != 0 || pidfd_ < 0) {
    return absl::FailedPreconditionError("EBADF");
  }
  int got = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd_, fd, 0));
  if (got < 0) {
    return absl::FailedPreconditionError("EBADF");
  }
  return UniqueFd(got);
}

}  // namespace nb::driver::io
