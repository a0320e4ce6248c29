// BinderError: a failure reported to userspace through the read stream (a BR_* code), together
// with the errno that caused it (for BINDER_GET_EXTENDED_ERROR). This is the second of Binder's two
// error channels; ioctl-level failures are plain positive errnos. Mirrors Rust binder's error.rs.
#pragma once

#include <linux/android/binder.h>

#include <cerrno>
#include <cstdint>

namespace nb::driver {

struct [[nodiscard]] BinderError {
  uint32_t reply = BR_FAILED_REPLY;  // BR_FAILED_REPLY, BR_DEAD_REPLY or BR_FROZEN_REPLY
  int errno_source = 0;              // positive errno, 0 when there is none (extended error 0)

  static BinderError failed(int err) { return {BR_FAILED_REPLY, err}; }
  static BinderError dead(int err = 0) { return {BR_DEAD_REPLY, err}; }
  static BinderError frozen() { return {BR_FROZEN_REPLY, 0}; }
  static BinderError none() { return {BR_OK, 0}; }
  bool ok() const { return reply == BR_OK; }
};

}  // namespace nb::driver
