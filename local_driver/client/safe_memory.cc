#include "local_driver/client/safe_memory.h"

#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>

namespace nb::client {
namespace {

// Self-copies never fail for permission reasons, only for unmapped or protected pages.
bool copySelf(bool write, uint64_t remote, void* local, size_t len) {
  if (len == 0) {
    return true;
  }
  if (remote + len < remote) {
    return false;
  }
  const pid_t pid = ::getpid();
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

bool safeRead(uint64_t from, void* to, size_t len) { return copySelf(false, from, to, len); }

bool safeWrite(uint64_t to, const void* from, size_t len) {
  return copySelf(true, to, const_cast<void*>(from), len);
}

}  // namespace nb::client
