/* A plain Binder UAPI program: only <linux/android/binder.h> and libc, no netbinder code. The
 * tests run it under LD_PRELOAD=libnetbinder_preload.so with NETBINDER_DIR pointing at a test
 * binderd. It becomes the context manager, forks a client that opens the device on its own and
 * calls it, answers the call after poll() reports it, and checks the reply in the client. The
 * client also asks netbinder's NB_IOC_REF_OWNER who owns handle 0 (the shim forwards it as any
 * ioctl on a binder fd).
 *
 * Exit codes: 0 ok, 2 cannot open /dev/binder, 77 the driver core is still a stub (ENOSYS),
 * anything else a failed step (printed on stderr). */
#include <errno.h>
#include <fcntl.h>
#include <linux/android/binder.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include "local_driver/client/netbinder_ioctl.h" /* netbinder's own ioctls: header only */

#define MAP_SIZE (128 * 1024)
#define FAIL(code, what)                                              \
  do {                                                                \
    fprintf(stderr, "uapi_program: %s: %s\n", what, strerror(errno)); \
    return code;                                                      \
  } while (0)

static const uint32_t kPing = 0x50494e47;
static const uint32_t kPong = 0x504f4e47;

static int write_read(int fd, const void* wbuf, size_t wsize, void* rbuf, size_t rsize,
                      size_t* consumed) {
  struct binder_write_read bwr;
  memset(&bwr, 0, sizeof(bwr));
  bwr.write_buffer = (binder_uintptr_t)wbuf;
  bwr.write_size = wsize;
  bwr.read_buffer = (binder_uintptr_t)rbuf;
  bwr.read_size = rsize;
  int r = ioctl(fd, BINDER_WRITE_READ, &bwr);
  if (consumed)
    *consumed = bwr.read_consumed;
  return r;
}

/* Reads until `want` arrives; copies its transaction data into *out. Returns 0 or -1. */
static int read_until(int fd, uint32_t want, struct binder_transaction_data* out) {
  for (int round = 0; round < 50; ++round) {
    uint8_t buf[1024];
    size_t n = 0;
    if (write_read(fd, NULL, 0, buf, sizeof(buf), &n) != 0)
      return -1;
    size_t pos = 0;
    while (pos + 4 <= n) {
      uint32_t cmd;
      memcpy(&cmd, buf + pos, 4);
      pos += 4;
      if (cmd == want) {
        if (out)
          memcpy(out, buf + pos, sizeof(*out));
        return 0;
      }
      if (cmd == BR_DEAD_REPLY || cmd == BR_FAILED_REPLY) {
        errno = EPIPE;
        return -1;
      }
      pos += _IOC_SIZE(cmd);
    }
  }
  errno = ETIMEDOUT;
  return -1;
}

struct txn_cmd {
  uint32_t cmd;
  struct binder_transaction_data tr;
} __attribute__((packed));

static int client(void) {
  int fd = open("/dev/binder", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    FAIL(30, "client open");
  struct binder_version v;
  if (ioctl(fd, BINDER_VERSION, &v) != 0)
    FAIL(31, "client version");
  void* area = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
  if (area == MAP_FAILED)
    FAIL(32, "client mmap");
  /* netbinder's NB_IOC_REF_OWNER passes through the shim: handle 0 is owned by the parent. */
  struct nb_ref_owner_info owner;
  memset(&owner, 0, sizeof(owner));
  if (ioctl(fd, NB_IOC_REF_OWNER, &owner) != 0)
    FAIL(36, "NB_IOC_REF_OWNER");
  if (owner.owner_pid != getppid() || owner.owner_proc_id == 0 || owner.flags != 0 ||
      owner.node_ptr != 0 || owner.node_cookie != 0) {
    fprintf(stderr, "uapi_program: ref owner pid %d id %llu\n", owner.owner_pid,
            (unsigned long long)owner.owner_proc_id);
    return 37;
  }
  owner.handle = 12345;
  if (ioctl(fd, NB_IOC_REF_OWNER, &owner) == 0 || errno != EINVAL)
    FAIL(38, "NB_IOC_REF_OWNER of an unknown handle must fail with EINVAL");
  struct txn_cmd t;
  memset(&t, 0, sizeof(t));
  t.cmd = BC_TRANSACTION;
  t.tr.target.handle = 0;
  t.tr.code = 1;
  t.tr.data_size = sizeof(kPing);
  t.tr.data.ptr.buffer = (binder_uintptr_t)&kPing;
  if (write_read(fd, &t, sizeof(t), NULL, 0, NULL) != 0)
    FAIL(33, "client transaction");
  struct binder_transaction_data reply;
  if (read_until(fd, BR_REPLY, &reply) != 0)
    FAIL(34, "client reply");
  uint32_t word = 0;
  memcpy(&word, (const void*)(uintptr_t)reply.data.ptr.buffer, sizeof(word));
  if (word != kPong) {
    fprintf(stderr, "uapi_program: reply 0x%x\n", word);
    return 35;
  }
  struct {
    uint32_t cmd;
    binder_uintptr_t ptr;
  } __attribute__((packed)) fb = {BC_FREE_BUFFER, reply.data.ptr.buffer};
  write_read(fd, &fb, sizeof(fb), NULL, 0, NULL);
  munmap(area, MAP_SIZE);
  close(fd);
  printf("client: got pong\n");
  fflush(stdout);
  return 0;
}

int main(void) {
  int fd = open("/dev/binder", O_RDWR | O_CLOEXEC);
  if (fd < 0)
    FAIL(2, "open /dev/binder");
  struct binder_version v;
  if (ioctl(fd, BINDER_VERSION, &v) != 0) {
    if (errno == ENOSYS)
      return 77;
    FAIL(3, "BINDER_VERSION");
  }
  if (v.protocol_version != BINDER_CURRENT_PROTOCOL_VERSION)
    return 4;
  printf("version %d\n", v.protocol_version);
  if (mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) != MAP_FAILED ||
      errno != EPERM)
    FAIL(5, "writable mmap must fail with EPERM");
  void* area = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
  if (area == MAP_FAILED)
    FAIL(6, "mmap");
  if (mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED || errno != EBUSY)
    FAIL(7, "second mmap must fail with EBUSY");
  int dupfd = fcntl(fd, F_DUPFD_CLOEXEC, 10);
  if (dupfd < 0 || ioctl(dupfd, BINDER_VERSION, &v) != 0)
    FAIL(8, "dup'ed fd");
  close(dupfd);
  if (dup2(fd, 100) != 100 || ioctl(100, BINDER_VERSION, &v) != 0)
    FAIL(8, "dup2'ed fd");
  close(100);
  int dup_plain = dup(fd);
  if (dup_plain < 0 || ioctl(dup_plain, BINDER_VERSION, &v) != 0)
    FAIL(8, "dup fd");
  close(dup_plain);
  int zero = 0;
  if (ioctl(fd, BINDER_SET_CONTEXT_MGR, &zero) != 0)
    FAIL(9, "BINDER_SET_CONTEXT_MGR");
  uint32_t enter = BC_ENTER_LOOPER;
  if (write_read(fd, &enter, sizeof(enter), NULL, 0, NULL) != 0)
    FAIL(10, "BC_ENTER_LOOPER");
  fflush(stdout);
  pid_t child = fork();
  if (child == 0)
    _exit(client());
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
    FAIL(11, "epoll_ctl");
  struct epoll_event got_ev;
  if (epoll_wait(ep, &got_ev, 1, 10000) != 1 || got_ev.data.fd != fd)
    FAIL(11, "epoll for the call");
  close(ep);
  fd_set set;
  FD_ZERO(&set);
  FD_SET(fd, &set);
  struct timeval tv = {10, 0};
  if (select(fd + 1, &set, NULL, NULL, &tv) != 1 || !FD_ISSET(fd, &set))
    FAIL(11, "select");
  struct pollfd pfd = {fd, POLLIN, 0};
  if (poll(&pfd, 1, 10000) != 1 || !(pfd.revents & POLLIN))
    FAIL(11, "poll for the call");
  struct binder_transaction_data call;
  if (read_until(fd, BR_TRANSACTION, &call) != 0)
    FAIL(12, "BR_TRANSACTION");
  uint32_t word = 0;
  memcpy(&word, (const void*)(uintptr_t)call.data.ptr.buffer, sizeof(word));
  if (word != kPing)
    return 13;
  struct {
    uint32_t free_cmd;
    binder_uintptr_t ptr;
    struct txn_cmd reply;
  } __attribute__((packed)) out;
  memset(&out, 0, sizeof(out));
  out.free_cmd = BC_FREE_BUFFER;
  out.ptr = call.data.ptr.buffer;
  out.reply.cmd = BC_REPLY;
  out.reply.tr.data_size = sizeof(kPong);
  out.reply.tr.data.ptr.buffer = (binder_uintptr_t)&kPong;
  if (write_read(fd, &out, sizeof(out), NULL, 0, NULL) != 0)
    FAIL(14, "BC_REPLY");
  if (read_until(fd, BR_TRANSACTION_COMPLETE, NULL) != 0)
    FAIL(15, "reply completion");
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "uapi_program: client status 0x%x\n", status);
    return 16;
  }
  if (munmap(area, MAP_SIZE) != 0)
    FAIL(17, "munmap");
  if (close(fd) != 0)
    FAIL(18, "close");
  printf("server: answered ping\n");
  return 0;
}
