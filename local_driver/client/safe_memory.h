// safe_memory.h: copies to and from the calling process's own memory that report EFAULT instead of
// crashing on a bogus user pointer (process_vm_readv/process_vm_writev on self), as the kernel's
// copy_from_user/copy_to_user do. Thread-safe, allocation-free.
//
// Every syscall is expensive in the VMs we run in, so the process id is cached (selfPid) instead
// of asked per copy; the fork handler (binder_file.cc) resets it in the child.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace nb::client {

// Copies len bytes from user address `from` into `to`; false if any byte is not readable.
bool safeRead(uint64_t from, void* to, size_t len);
// Copies len bytes from `from` to user address `to`; false if any byte is not writable.
bool safeWrite(uint64_t to, const void* from, size_t len);

// Two writes in one syscall, in order: returns 0 if both were written, 1 if the first range
// faulted (the second was not attempted), 2 if only the second faulted.
int safeWrite2(uint64_t to1, const void* from1, size_t len1, uint64_t to2, const void* from2,
               size_t len2);

// getpid(), cached. resetSelfPid() is for a fork child (pthread_atfork): a process that forks
// with a raw clone/fork syscall and then uses binder in the child is not supported.
pid_t selfPid();
void resetSelfPid();

}  // namespace nb::client
