// UniqueFd: owns one file descriptor of the daemon (a sender's file taken at send time, waiting to
// be installed in a receiver). Move-only; closes on destruction. The core never opens or uses the
// file: it only carries it from ClientMemory::takeFd() to Driver's FdInstall results.
#pragma once

#include <unistd.h>

#include <utility>

namespace nb::driver {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset(other.release());
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }

  // Gives up ownership without closing.
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;  // INVARIANT: -1 or an fd this object alone closes.
};

}  // namespace nb::driver
