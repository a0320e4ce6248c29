// ProcessMemory: the daemon's ClientMemory for one client process. Reads with process_vm_readv
// and takes files with pidfd_getfd, both through a pidfd opened when the process opened the
// device, so a recycled pid is never read. Owned by the core's Process; used on the device's loop
// thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <span>

#include "local_driver/core/driver.h"

namespace nb::driver::io {

class ProcessMemory final : public ClientMemory {
 public:
  // `pidfd` is owned (closed on destruction); may be -1 when pidfd_open failed (then takeFd fails
  // and reads still use the pid).
  ProcessMemory(pid_t pid, int pidfd);
  ~ProcessMemory() override;

  bool read(uint64_t addr, std::span<uint8_t> out) override;
  absl::StatusOr<UniqueFd> takeFd(int fd) override;

 private:
  pid_t pid_;
  int pidfd_;
  bool warned_ = false;
};

// pidfd_open(2) without libc support; returns the fd or -1.
int openPidfd(pid_t pid);

}  // namespace nb::driver::io
