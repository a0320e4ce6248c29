// binder_client.h: the syscall-shaped API to binderd (nb_binder_client). A program (or the
// LD_PRELOAD shim) uses these exactly as it would use open/ioctl/mmap/munmap/close on /dev/binder:
// same arguments, same return values, errno set as the kernel driver sets it
// (../shared/reference/kernel-binder.md §2).
//
// The descriptor returned by nb_binder_open() is a real fd (an eventfd owned by binderd) that
// poll/epoll report readable while a polling thread of the process has binder work (the daemon
// keeps its level). dup()s of it are binder descriptors too once registered with nb_binder_dup*().
//
// Threading: every function is thread-safe. Each calling thread gets its own SEQPACKET connection
// to the device on its first ioctl (thread-local), so a blocked read blocks only that thread.
// Hidden sockets are O_CLOEXEC and moved to high fd numbers.
#pragma once

#include <sys/types.h>

#include <cstddef>

extern "C" {

// device_path_or_name: "binder", "/dev/binder", "/dev/binderfs/hwbinder", a socket path
// ("/run/netbinder/binder") or any path whose last component names a device; the socket is
// $NETBINDER_DIR/<name> (default /run/netbinder) unless a path to a socket is given.
// Returns the fd or -1 with errno (ENOENT when binderd is not running).
int nb_binder_open(const char* device_path_or_name, int flags);
// Also takes the VFS-level ioctls (FIONBIO, FIOASYNC, FIOCLEX, FIONCLEX) and applies them to fd.
int nb_binder_ioctl(int fd, unsigned long request, void* arg);
// nb_binder_ioctl for a caller whose arg, and for BINDER_WRITE_READ whose write and read buffers,
// are valid memory it owns (the netbinder runtime's own buffers): they are copied with memcpy
// instead of the fault-checked process_vm_* copies that report EFAULT for a bad pointer, which
// saves up to five syscalls per ioctl. A bad pointer here crashes the caller, as any bad memcpy.
// Transaction payloads are still read by binderd with its checked copies.
int nb_binder_ioctl_trusted(int fd, unsigned long request, void* arg);
// The library caches the fd's O_NONBLOCK (a syscall per ioctl otherwise): call after changing
// the status flags of a binder fd with fcntl(F_SETFL) (the shim does).
void nb_binder_refresh_flags(int fd);
void* nb_binder_mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off);
// Unmaps [addr, addr+len); if it overlaps a binder area, tells binderd (kernel vma close).
int nb_binder_munmap(void* addr, size_t len);
// close() of a binder fd: flush, then release when the last fd and the mapping are gone.
int nb_binder_close(int fd);
bool nb_binder_is_binder_fd(int fd);
// dup/dup2/dup3/fcntl(F_DUPFD*) of a binder fd: performs the dup and registers the new fd.
int nb_binder_dup(int fd);
int nb_binder_dup3(int oldfd, int newfd, int flags);
int nb_binder_fcntl_dupfd(int fd, int cmd, int minfd);
// Marks the calling thread as a poller of `fd` (kernel LOOPER_STATE_POLL) so the fd's readiness
// includes this thread's own work; the shim calls it from poll/ppoll/epoll_ctl. Idempotent.
int nb_binder_poll_prepare(int fd);
// Tells the library an fd number was closed or replaced behind its back (dup2 onto a binder fd
// by other means); the shim calls it. Returns true if it was a binder fd.
bool nb_binder_forget_fd(int fd);
// The same for every fd in [first, last] (close_range/closefrom).
void nb_binder_forget_range(unsigned int first, unsigned int last);
// True if [addr, addr+len) overlaps a binder area mapped through nb_binder_mmap.
bool nb_binder_is_binder_mapping(const void* addr, size_t len);
}
