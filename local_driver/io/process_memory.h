// ProcessMemory: the daemon's ClientMemory for one client process. Reads with process_vm_readv
// and takes files with pidfd_getfd through a pidfd opened when the process opened the device, so
// a recycled pid is never used. When those are not permitted (found by probe() at open), it serves
// the current ioctl's reads and files from an InlineSnapshot the client sent instead.
// Owned by the core's Process; used on the device's loop thread only.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

#include "local_driver/core/driver.h"

namespace nb::driver::io {

// Memory and files one client thread sent inline for one ioctl (wire kInlineMemory/kInlineFds).
struct InlineSnapshot {
  std::map<uint64_t, std::vector<uint8_t>> ranges;  // by start address
  std::unordered_map<int, UniqueFd> fds;            // by the client's fd number
  uint64_t bytes = 0;

  bool empty() const { return ranges.empty() && fds.empty(); }
  void clear() {
    ranges.clear();
    fds.clear();
    bytes = 0;
  }
  // Copies [addr, addr+out.size()) if one range holds all of it.
  bool read(uint64_t addr, std::span<uint8_t> out) const;
};

class ProcessMemory final : public ClientMemory {
 public:
  // `pidfd` is owned (closed on destruction); may be -1 (then takeFd needs the snapshot).
  ProcessMemory(pid_t pid, int pidfd);
  ~ProcessMemory() override;

  // Checks at open whether process_vm_readv of (addr, expect) and pidfd_getfd of fd work.
  // Returns the wire kMode* bits the client must use (all of them when `force_inline`).
  uint32_t probe(uint64_t addr, uint64_t expect, int fd, bool force_inline);

  // The snapshot for the Driver call being made (nullptr after it). Not owned.
  void setSnapshot(const InlineSnapshot* snapshot) { snapshot_ = snapshot; }

  bool read(uint64_t addr, std::span<uint8_t> out) override;
  absl::StatusOr<UniqueFd> takeFd(int fd) override;

 private:
  pid_t pid_;
  int pidfd_;
  uint32_t mode_ = 0;
  const InlineSnapshot* snapshot_ = nullptr;
  bool warned_ = false;
};

// pidfd_open(2) without libc support; returns the fd or -1.
int openPidfd(pid_t pid);

}  // namespace nb::driver::io
