// Area: one process's receive buffer area, a sealed memfd mapped read-write in binderd and sent to
// the client, which maps it read-only (docs/binderd.md "Receive buffers"). Owned by the device
// server's per-process state; the core's view (span()) stays valid until the Area is destroyed,
// which happens only after Driver::unmapArea/releaseProcess.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace nb::driver::io {

class Area {
 public:
  // size: bytes (rounded up to pages). Returns null and sets *err on failure.
  static std::unique_ptr<Area> create(size_t size, int* err);
  ~Area();
  Area(const Area&) = delete;
  Area& operator=(const Area&) = delete;

  int memfd() const { return memfd_; }
  size_t size() const { return size_; }
  std::span<uint8_t> span() const { return {base_, size_}; }

 private:
  Area(int memfd, uint8_t* base, size_t size) : memfd_(memfd), base_(base), size_(size) {}
  int memfd_;
  uint8_t* base_;
  size_t size_;
};

}  // namespace nb::driver::io
