// libnetbinder_preload.so: an LD_PRELOAD shim that routes a program's Binder device use to binderd
// through the client library (binder_client.h), so unmodified programs that open /dev/binder,
// /dev/hwbinder, /dev/vndbinder or /dev/binderfs/<name> talk to the daemon whose sockets are in
// $NETBINDER_DIR (default /run/netbinder).
//
// Every other descriptor and path goes straight to the next definition (dlsym(RTLD_NEXT)). The
// shim itself neither logs nor allocates on those paths; binder calls allocate only inside the
// client library. Only the hooks below are exported (preload.map).
#include <dlfcn.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdarg>
#include <cstring>

#include "local_driver/client/binder_client.h"

// decltype(&::open) carries glibc's nonnull/access attributes, which do not matter for a pointer.
#pragma GCC diagnostic ignored "-Wignored-attributes"

namespace {

// True while this thread is inside dlsym: an allocator that maps memory from within dlsym must
// not re-enter it (the mmap/munmap hooks then use the raw syscalls).
thread_local bool t_resolving = false;

template <typename Fn>
Fn next(const char* name, std::atomic<Fn>& slot) {
  Fn fn = slot.load(std::memory_order_acquire);
  if (fn == nullptr) {
    t_resolving = true;
    fn = reinterpret_cast<Fn>(::dlsym(RTLD_NEXT, name));
    t_resolving = false;
    slot.store(fn, std::memory_order_release);
  }
  return fn;
}

// Declares real_<name>, the next definition of the hook being defined (same signature).
#define NB_NEXT(name)                                  \
  static std::atomic<decltype(&::name)> slot_##name{}; \
  auto real_##name = next<decltype(&::name)>(#name, slot_##name)

bool isBinderPath(const char* path) {
  if (path == nullptr) {
    return false;
  }
  if (std::strcmp(path, "/dev/binder") == 0 || std::strcmp(path, "/dev/hwbinder") == 0 ||
      std::strcmp(path, "/dev/vndbinder") == 0) {
    return true;
  }
  constexpr char kBinderfs[] = "/dev/binderfs/";
  constexpr size_t kLen = sizeof(kBinderfs) - 1;
  return std::strncmp(path, kBinderfs, kLen) == 0 && path[kLen] != '\0' &&
         std::strchr(path + kLen, '/') == nullptr;
}

bool needsMode(int flags) { return (flags & O_CREAT) != 0 || (flags & O_TMPFILE) == O_TMPFILE; }

}  // namespace

extern "C" {

int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (needsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(open);
  return real_open(path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (needsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(open64);
  return real_open64(path, flags, mode);
}

int openat(int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (needsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(openat);
  return real_openat(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char* path, int flags, ...) {
  mode_t mode = 0;
  if (needsMode(flags)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(openat64);
  return real_openat64(dirfd, path, flags, mode);
}

// _FORTIFY_SOURCE variants.
int __open_2(const char* path, int flags) {
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(__open_2);
  return real___open_2(path, flags);
}

int __open64_2(const char* path, int flags) {
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(__open64_2);
  return real___open64_2(path, flags);
}

int __openat_2(int dirfd, const char* path, int flags) {
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(__openat_2);
  return real___openat_2(dirfd, path, flags);
}

int __openat64_2(int dirfd, const char* path, int flags) {
  if (isBinderPath(path)) {
    return nb_binder_open(path, flags);
  }
  NB_NEXT(__openat64_2);
  return real___openat64_2(dirfd, path, flags);
}

// Every request on a binder fd goes to binderd, whatever its number: the kernel UAPI's and
// netbinder's own (netbinder_ioctl.h, e.g. NB_IOC_REF_OWNER).
int ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void* arg = va_arg(ap, void*);
  va_end(ap);
  if (nb_binder_is_binder_fd(fd)) {
    return nb_binder_ioctl(fd, request, arg);
  }
  NB_NEXT(ioctl);
  return real_ioctl(fd, request, arg);
}

void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (fd >= 0 && nb_binder_is_binder_fd(fd)) {
    return nb_binder_mmap(addr, len, prot, flags, fd, off);
  }
  if (t_resolving) {
    return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));
  }
  NB_NEXT(mmap);
  return real_mmap(addr, len, prot, flags, fd, off);
}

void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off64_t off) {
  if (fd >= 0 && nb_binder_is_binder_fd(fd)) {
    return nb_binder_mmap(addr, len, prot, flags, fd, static_cast<off_t>(off));
  }
  if (t_resolving) {
    return reinterpret_cast<void*>(::syscall(SYS_mmap, addr, len, prot, flags, fd, off));
  }
  NB_NEXT(mmap64);
  return real_mmap64(addr, len, prot, flags, fd, off);
}

int munmap(void* addr, size_t len) {
  if (nb_binder_is_binder_mapping(addr, len)) {
    return nb_binder_munmap(addr, len);
  }
  if (t_resolving) {
    return static_cast<int>(::syscall(SYS_munmap, addr, len));
  }
  NB_NEXT(munmap);
  return real_munmap(addr, len);
}

int close(int fd) {
  if (nb_binder_is_binder_fd(fd)) {
    return nb_binder_close(fd);
  }
  NB_NEXT(close);
  return real_close(fd);
}

int dup(int fd) {
  if (nb_binder_is_binder_fd(fd)) {
    return nb_binder_dup(fd);
  }
  NB_NEXT(dup);
  return real_dup(fd);
}

int dup2(int oldfd, int newfd) {
  if (nb_binder_is_binder_fd(oldfd)) {
    return nb_binder_dup3(oldfd, newfd, 0);
  }
  NB_NEXT(dup2);
  int r = real_dup2(oldfd, newfd);
  if (r >= 0 && oldfd != newfd) {
    nb_binder_forget_fd(newfd);
  }
  return r;
}

int dup3(int oldfd, int newfd, int flags) {
  if (oldfd == newfd) {
    errno = EINVAL;
    return -1;
  }
  if (nb_binder_is_binder_fd(oldfd)) {
    return nb_binder_dup3(oldfd, newfd, flags);
  }
  NB_NEXT(dup3);
  int r = real_dup3(oldfd, newfd, flags);
  if (r >= 0) {
    nb_binder_forget_fd(newfd);
  }
  return r;
}

int fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && nb_binder_is_binder_fd(fd)) {
    return nb_binder_fcntl_dupfd(fd, cmd, static_cast<int>(arg));
  }
  NB_NEXT(fcntl);
  const int r = real_fcntl(fd, cmd, arg);
  if (cmd == F_SETFL && r == 0 && nb_binder_is_binder_fd(fd)) {
    nb_binder_refresh_flags(fd);
  }
  return r;
}

int fcntl64(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  long arg = va_arg(ap, long);
  va_end(ap);
  if ((cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC) && nb_binder_is_binder_fd(fd)) {
    return nb_binder_fcntl_dupfd(fd, cmd, static_cast<int>(arg));
  }
  NB_NEXT(fcntl64);
  const int r = real_fcntl64(fd, cmd, arg);
  if (cmd == F_SETFL && r == 0 && nb_binder_is_binder_fd(fd)) {
    nb_binder_refresh_flags(fd);
  }
  return r;
}

// Descriptors closed in bulk stop being binder fds (their numbers may be reused at once).
int close_range(unsigned int first, unsigned int last, int flags) {
  NB_NEXT(close_range);
  int r = real_close_range(first, last, flags);
  if (r == 0 && (flags & CLOSE_RANGE_CLOEXEC) == 0) {
    nb_binder_forget_range(first, last);
  }
  return r;
}

void closefrom(int lowfd) {
  NB_NEXT(closefrom);
  real_closefrom(lowfd);
  nb_binder_forget_range(lowfd < 0 ? 0 : static_cast<unsigned int>(lowfd), ~0u);
}

int poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  for (nfds_t i = 0; fds != nullptr && i < nfds; ++i) {
    if (nb_binder_is_binder_fd(fds[i].fd)) {
      nb_binder_poll_prepare(fds[i].fd);
    }
  }
  NB_NEXT(poll);
  return real_poll(fds, nfds, timeout);
}

int ppoll(struct pollfd* fds, nfds_t nfds, const struct timespec* timeout,
          const sigset_t* sigmask) {
  for (nfds_t i = 0; fds != nullptr && i < nfds; ++i) {
    if (nb_binder_is_binder_fd(fds[i].fd)) {
      nb_binder_poll_prepare(fds[i].fd);
    }
  }
  NB_NEXT(ppoll);
  return real_ppoll(fds, nfds, timeout, sigmask);
}

// select/pselect: register the binder fds being waited for as readable.
static void prepareSet(int nfds, fd_set* readfds) {
  for (int fd = 0; readfds != nullptr && fd < nfds && fd < FD_SETSIZE; ++fd) {
    if (FD_ISSET(fd, readfds) && nb_binder_is_binder_fd(fd)) {
      nb_binder_poll_prepare(fd);
    }
  }
}

int select(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
           struct timeval* timeout) {
  prepareSet(nfds, readfds);
  NB_NEXT(select);
  return real_select(nfds, readfds, writefds, exceptfds, timeout);
}

int pselect(int nfds, fd_set* readfds, fd_set* writefds, fd_set* exceptfds,
            const struct timespec* timeout, const sigset_t* sigmask) {
  prepareSet(nfds, readfds);
  NB_NEXT(pselect);
  return real_pselect(nfds, readfds, writefds, exceptfds, timeout, sigmask);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event* event) {
  if ((op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD) && nb_binder_is_binder_fd(fd)) {
    nb_binder_poll_prepare(fd);
  }
  NB_NEXT(epoll_ctl);
  return real_epoll_ctl(epfd, op, fd, event);
}

}  // extern "C"
