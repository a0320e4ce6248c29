#include "local_driver/io/process_memory.h"

#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace nb::driver::io {

int openPidfd(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

ProcessMemory::ProcessMemory(pid_t pid, int pidfd) : pid_(pid), pidfd_(pidfd) {}

ProcessMemory::~ProcessMemory() {
  if (pidfd_ >= 0) {
    ::close(pidfd_);
  }
}

bool ProcessMemory::read(uint64_t addr, std::span<uint8_t> out) {
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
        spdlog::warn("process_vm_readv(pid {}) not permitted: its transactions will fail", pid_);
      }
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

absl::StatusOr<UniqueFd> ProcessMemory::takeFd(int fd) {
  if (pidfd_ < 0 || fd < 0) {
    return absl::FailedPreconditionError("EBADF");
  }
  int got = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd_, fd, 0));
  if (got < 0) {
    if (errno == EPERM && !warned_) {
      warned_ = true;
      spdlog::warn("pidfd_getfd(pid {}) not permitted", pid_);
    }
    return absl::FailedPreconditionError("EBADF");
  }
  return UniqueFd(got);
}

}  // namespace nb::driver::io
