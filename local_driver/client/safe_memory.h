// safe_memory.h: copies to and from the calling process's own memory that report EFAULT instead of
// crashing on a bogus user pointer (process_vm_readv/process_vm_writev on self), as the kernel's
// copy_from_user/copy_to_user do. Thread-safe, allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nb::client {

// Copies len bytes from user address `from` into `to`; false if any byte is not readable.
bool safeRead(uint64_t from, void* to, size_t len);
// Copies len bytes from `from` to user address `to`; false if any byte is not writable.
bool safeWrite(uint64_t to, const void* from, size_t len);

}  // namespace nb::client
