// ReturnWriter: the single place BR codes and payloads are written into a read buffer (Rust
// BinderReturnWriter). Bounds-checked; counts every BR for the stats dump.
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <cstring>
#include <span>

#include "local_driver/core/stats.h"

namespace nb::driver {

class ReturnWriter {
 public:
  ReturnWriter(std::span<uint8_t> out, size_t pos, Stats& global, Stats& proc)
      : out_(out), pos_(pos), global_(global), proc_(proc) {}

  size_t pos() const { return pos_; }
  void setPos(size_t pos) { pos_ = pos; }
  size_t remaining() const { return out_.size() - pos_; }

  // Writes a bare code. false when it does not fit (the kernel's put_user -EFAULT).
  bool put(uint32_t cmd) { return putRaw(cmd, nullptr, 0); }
  template <typename T>
  bool put(uint32_t cmd, const T& payload) {
    return putRaw(cmd, &payload, sizeof(T));
  }
  // Replaces the code at `at` (BR_NOOP -> BR_SPAWN_LOOPER).
  void overwrite(size_t at, uint32_t cmd) {
    if (at + sizeof(cmd) <= out_.size()) {
      std::memcpy(out_.data() + at, &cmd, sizeof(cmd));
      count(cmd);
    }
  }

  // Counts a code written outside this span (BR_SPAWN_LOOPER at word 0 of the read buffer).
  void countOnly(uint32_t cmd) { count(cmd); }

 private:
  bool putRaw(uint32_t cmd, const void* payload, size_t size) {
    if (remaining() < sizeof(cmd) + size) {
      return false;
    }
    // SAFETY: remaining() checked above covers code and payload.
    std::memcpy(out_.data() + pos_, &cmd, sizeof(cmd));
    if (size > 0) {
      std::memcpy(out_.data() + pos_ + sizeof(cmd), payload, size);
    }
    pos_ += sizeof(cmd) + size;
    count(cmd);
    return true;
  }
  void count(uint32_t cmd) {
    global_.countBr(cmd);
    proc_.countBr(cmd);
  }

  std::span<uint8_t> out_;
  size_t pos_;
  Stats& global_;
  Stats& proc_;
};

}  // namespace nb::driver
