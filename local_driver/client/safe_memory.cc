#include "local_driver/client/safe_memory.h"

#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace nb::client {
namespace {

std::atomic<pid_t> g_pid{0};

// Self-copies never fail for permission reasons, only for unmapped or protected pages.
bool copySelf(bool write, uint64_t remote, void* local, size_t len) {
  if (len == 0) {
    return true;
  }
  if (remote + len < remote) {
    return false;
  }
  const pid_t pid = selfPid();
  size_t done = 0;
  while (done < len) {
    iovec liov{static_cast<uint8_t*>(local) + done, len - done};
    // SAFETY: process_vm_{read,write}v validate the remote range and return EFAULT on bad pages.
    iovec riov{reinterpret_cast<void*>(remote + done), len - done};
    ssize_t n = write ? ::process_vm_writev(pid, &liov, 1, &riov, 1, 0)
                      : ::process_vm_readv(pid, &liov, 1, &riov, 1, 0);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    if (n == 0) {
      return false;
    }
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

pid_t selfPid() {
  pid_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    pid = ::getpid();
    g_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

void resetSelfPid() { g_pid.store(0, std::memory_order_relaxed); }

bool safeRead(uint64_t from, void* to, size_t len) { return copySelf(false, from, to, len); }

bool safeWrite(uint64_t to, const void* from, size_t len) {
  return copySelf(true, to, const_cast<void*>(from), len);
}

int safeWrite2(uint64_t to1, const void* from1, size_t len1, uint64_t to2, const void* from2,
               size_t len2) {
  if (len1 == 0 || len2 == 0 || to1 + len1 < to1 || to2 + len2 < to2) {
    if (!safeWrite(to1, from1, len1)) {
      return 1;
    }
    return safeWrite(to2, from2, len2) ? 0 : 2;
  }
  iovec liov[2] = {{const_cast<void*>(from1), len1}, {const_cast<void*>(from2), len2}};
  // SAFETY: as copySelf; the kernel stops at the first faulting page and reports what it wrote.
  iovec riov[2] = {{reinterpret_cast<void*>(to1), len1}, {reinterpret_cast<void*>(to2), len2}};
  ssize_t n = ::process_vm_writev(selfPid(), liov, 2, riov, 2, 0);
  if (n >= 0 && static_cast<size_t>(n) == len1 + len2) {
    return 0;
  }
  // A partial or interrupted write: finish range by range (rare; the ranges are idempotent).
  if (!safeWrite(to1, from1, len1)) {
    return 1;
  }
  return safeWrite(to2, from2, len2) ? 0 : 2;
}

}  // namespace nb::client
