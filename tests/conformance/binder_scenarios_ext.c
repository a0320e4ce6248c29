/*
 * binder_scenarios_ext — a second, larger set of conformance scenarios written only against
 * <linux/android/binder.h> and libc (same harness as binder_scenarios.c: uapi_trace.h).
 * Usage: binder_scenarios_ext NAME   (or "list"). Prints a normalized per-role trace.
 * Roles are processes; threads of one process print as "<role>-t<N>". Every role synchronizes with
 * the others through pipes at each point where the kernel's output would otherwise depend on timing.
 * Child roles are forked before the parent opens the device, so that no child holds a copy of the
 * parent's binder fd (closing such a copy at exit flushes the parent's threads at a random point).
 */
#include "uapi_trace.h" /* first: it defines _GNU_SOURCE */

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>

#define NODE_PTR 0x1000u
#define NODE_COOKIE 0x1001u

static pid_t fork_role(const char* name, void (*fn)(void*), void* arg) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
    alarm(15); /* a role stuck in a read (a driver that never answers) ends the run */
    bt_role_pid(name, getpid());
    fn(arg);
    fflush(stdout);
    _exit(0);
  }
  bt_role_pid(name, pid);
  return pid;
}

static int wait_child(pid_t pid) {
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* SET_CONTEXT_MGR(_EXT) as a fact that must hold. The manager of the previous scenario run is
 * released by the kernel asynchronously after that process exited, so EBUSY is retried for a
 * while before it counts as a failure. */
static int set_mgr_retry(struct bt* b, uint32_t flags) {
  for (int i = 0;; i++) {
    int r;
    if (flags == 0) {
      int zero = 0;
      r = ioctl(b->fd, BINDER_SET_CONTEXT_MGR, &zero);
    } else {
      struct flat_binder_object o;
      memset(&o, 0, sizeof o);
      o.hdr.type = BINDER_TYPE_BINDER;
      o.flags = flags;
      r = ioctl(b->fd, BINDER_SET_CONTEXT_MGR_EXT, &o);
    }
    if (r == 0 || errno != EBUSY || i >= 300) return r;
    usleep(10000);
  }
}

static void become_mgr(struct bt* b, uint32_t flags) {
  if (set_mgr_retry(b, flags) < 0) bt_die(b, flags ? "SET_CONTEXT_MGR_EXT" : "SET_CONTEXT_MGR");
}

static void put_binder(uint8_t* data, size_t off, uint32_t type, uint64_t ptr, uint64_t cookie,
                       uint32_t flags) {
  struct flat_binder_object o;
  memset(&o, 0, sizeof o);
  o.hdr.type = type;
  o.flags = flags;
  o.binder = ptr;
  o.cookie = cookie;
  memcpy(data + off, &o, sizeof o);
}

static void put_handle(uint8_t* data, size_t off, uint32_t type, uint32_t handle) {
  struct flat_binder_object o;
  memset(&o, 0, sizeof o);
  o.hdr.type = type;
  o.handle = handle;
  memcpy(data + off, &o, sizeof o);
}

static void put_fd(uint8_t* data, size_t off, int fd, uint64_t cookie) {
  struct binder_fd_object fo;
  memset(&fo, 0, sizeof fo);
  fo.hdr.type = BINDER_TYPE_FD;
  fo.fd = (uint32_t)fd;
  fo.cookie = cookie;
  memcpy(data + off, &fo, sizeof fo);
}

static void node_info(struct bt* b, uint32_t handle, const char* label) {
  struct binder_node_info_for_ref info;
  memset(&info, 0, sizeof info);
  info.handle = handle;
  if (ioctl(b->fd, BINDER_GET_NODE_INFO_FOR_REF, &info) == 0)
    bt_log(b, "%s: node_info_for_ref(%u): strong=%u weak=%u", label, handle, info.strong_count,
           info.weak_count);
  else
    bt_log(b, "%s: node_info_for_ref(%u): errno=%d", label, handle, errno);
}

/* Iterates BINDER_GET_NODE_DEBUG_INFO from ptr 0 and prints every node of the caller. */
static void node_debug_walk(struct bt* b, const char* label) {
  struct binder_node_debug_info di;
  memset(&di, 0, sizeof di);
  int n = 0;
  for (;;) {
    if (ioctl(b->fd, BINDER_GET_NODE_DEBUG_INFO, &di) < 0) {
      bt_log(b, "%s: GET_NODE_DEBUG_INFO errno=%d", label, errno);
      return;
    }
    if (di.ptr == 0) break;
    bt_log(b, "%s: node ptr=%#llx cookie=%#llx has_strong_ref=%u has_weak_ref=%u", label,
           (unsigned long long)di.ptr, (unsigned long long)di.cookie, di.has_strong_ref,
           di.has_weak_ref);
    if (++n > 16) break;
    uint64_t next = di.ptr;
    memset(&di, 0, sizeof di);
    di.ptr = next;
  }
  bt_log(b, "%s: %d nodes, then ptr=0 cookie=%#llx", label, n, (unsigned long long)di.cookie);
}

static void set_nonblock(struct bt* b, int on) {
  int fl = fcntl(b->fd, F_GETFL);
  fcntl(b->fd, F_SETFL, on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
}

/* A non-blocking read: prints what is pending (or errno=11 when nothing is). */
static void read_nonblock(struct bt* b, const char* label) {
  set_nonblock(b, 1);
  bt_wr(b, NULL, 1, label);
  set_nonblock(b, 0);
}

/* Reads one transaction, frees it, replies with `reply` (sync only), reads the completion. */
static void serve_one(struct bt* b, const char* label, const void* reply, size_t len) {
  bt_wr(b, NULL, 1, label);
  if (!b->last_txn_valid) return;
  struct wb w = {0};
  wb_free(&w, b->last_buffer);
  b->last_txn_valid = 0;
  if (!(b->last_txn.flags & TF_ONE_WAY)) wb_txn(&w, BC_REPLY, 0, 0, 0, reply, len, NULL, 0);
  bt_wr(b, &w, !(b->last_txn.flags & TF_ONE_WAY), "reply");
}

/* Frees the last transaction and, if it was a sync one, replies "ok" and reads the completion. */
static void serve_reply(struct bt* b) {
  struct wb w = {0};
  wb_free(&w, b->last_buffer);
  int sync = !(b->last_txn.flags & TF_ONE_WAY);
  if (sync) wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  b->last_txn_valid = 0;
  bt_wr(b, &w, sync, "reply");
}

/* Client side: a sync call with a plain payload; frees the reply if one came. */
static void call_plain(struct bt* b, uint32_t handle, uint32_t code, uint32_t flags,
                       const char* label) {
  struct wb w = {0};
  b->last_txn_valid = 0;
  wb_txn(&w, BC_TRANSACTION, handle, code, flags, "call", 4, NULL, 0);
  bt_wr(b, &w, 1, label);
  if (b->last_txn_valid && !(flags & TF_ONE_WAY)) {
    struct wb f = {0};
    wb_free(&f, b->last_buffer);
    bt_wr(b, &f, 0, "free-reply");
    b->last_txn_valid = 0;
  }
}

/* A thread of the manager that serves every incoming transaction (replying "ok" to sync ones)
 * until the process exits; used where the number of transactions that get through is the thing
 * under test. `inspect` (may be NULL) prints facts about each delivered transaction. */
struct server_thread {
  struct bt* b;
  void (*inspect)(struct bt*);
  int ready[2]; /* signalled once the thread exists, then after each transaction it handled */
};
static void* serve_forever(void* arg) {
  struct server_thread* st = arg;
  /* the first ioctl of a new thread would make its first read return at once (BR_NOOP only) */
  struct binder_version v;
  if (ioctl(st->b->fd, BINDER_VERSION, &v) < 0) bt_die(st->b, "BINDER_VERSION");
  bt_signal(st->ready[1]);
  for (;;) {
    st->b->last_txn_valid = 0;
    bt_wr(st->b, NULL, 1, "recv");
    if (!st->b->last_txn_valid) continue;
    if (st->inspect) st->inspect(st->b);
    serve_reply(st->b);
    bt_signal(st->ready[1]);
  }
  return NULL;
}
static void start_server_thread(struct server_thread* st) {
  pthread_t t;
  if (pipe(st->ready)) abort();
  if (pthread_create(&t, NULL, serve_forever, st)) abort();
  pthread_detach(t);
  bt_wait(st->ready[0]);
}

/* The client tells how many of its transactions reached the manager (the byte on the pipe); the
 * manager waits until its server thread has handled (and printed) exactly that many. */
static void report_delivered(int fd, int n) {
  unsigned char c = (unsigned char)n;
  if (write(fd, &c, 1) != 1) abort();
}
static void wait_served(struct server_thread* st, int fd) {
  unsigned char n;
  if (read(fd, &n, 1) != 1) _exit(98);
  for (int i = 0; i < n; i++) bt_wait(st->ready[0]);
}

/* whether the last call reached the target: a reply, or the completion of a one-way */
static int delivered(const struct bt* b, uint32_t flags) {
  return (flags & TF_ONE_WAY) ? b->last_cmd == BR_TRANSACTION_COMPLETE : b->last_txn_valid;
}

static void ack_node(struct bt* b, uint64_t ptr, uint64_t cookie, int strong) {
  struct wb d = {0};
  wb_ptr_cookie(&d, BC_INCREFS_DONE, ptr, cookie);
  if (strong) wb_ptr_cookie(&d, BC_ACQUIRE_DONE, ptr, cookie);
  bt_wr(b, &d, 0, "ack");
}

static void handle_cmd(struct wb* w, uint32_t cmd, uint32_t handle) {
  wb_u32(w, cmd);
  wb_u32(w, handle);
}

static struct bt_sync S, S2, S3;

/* ================================================================== ioctl_basics */
static int g_parent_fd = -1;

static void basics_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  /* three nodes, sent out of ptr order */
  static uint8_t data[72];
  static binder_size_t offs[3] = {0, 24, 48};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x3000, 0x3001, 0x7f);
  put_binder(data, 24, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  put_binder(data, 48, BINDER_TYPE_WEAK_BINDER, 0x2000, 0x2001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 3);
  bt_wr(&b, &w, 1, "send-nodes");
  node_debug_walk(&b, "before-ack");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, 0x3000, 0x3001);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, 0x3000, 0x3001);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, 0x1000, 0x1001);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, 0x1000, 0x1001);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, 0x2000, 0x2001);
  bt_wr(&b, &d, 0, "ack");
  node_debug_walk(&b, "after-ack");
  /* iteration starts strictly after the given ptr */
  struct binder_node_debug_info di;
  memset(&di, 0, sizeof di);
  di.ptr = 0x1000;
  if (ioctl(b.fd, BINDER_GET_NODE_DEBUG_INFO, &di) == 0)
    bt_log(&b, "debug-info after 0x1000: ptr=%#llx", (unsigned long long)di.ptr);
  di.ptr = 0x1001;
  if (ioctl(b.fd, BINDER_GET_NODE_DEBUG_INFO, &di) == 0)
    bt_log(&b, "debug-info after 0x1001: ptr=%#llx", (unsigned long long)di.ptr);
  bt_signal(S.c2p[1]);
}

static void basics_other(void* arg) {
  (void)arg;
  struct bt b;
  memset(&b, 0, sizeof b);
  b.role = "other";
  /* the parent's binder fd was inherited across fork: mapping it here is refused */
  void* m = mmap(NULL, BT_MAP_SIZE, PROT_READ, MAP_PRIVATE, g_parent_fd, 0);
  bt_result(&b, "mmap-inherited-fd", m == MAP_FAILED ? -1 : 0);
  if (m != MAP_FAILED) munmap(m, BT_MAP_SIZE);
  close(g_parent_fd);
  bt_open(&b, "other");
  int zero = 0;
  bt_result(&b, "set-context-mgr-while-mgr-alive", ioctl(b.fd, BINDER_SET_CONTEXT_MGR, &zero));
  bt_signal(S2.c2p[1]);
  bt_wait(S2.p2c[0]); /* the manager closed its fd and unmapped */
  int ok = 0;
  for (int i = 0; i < 500 && !ok; i++) {
    if (ioctl(b.fd, BINDER_SET_CONTEXT_MGR, &zero) == 0)
      ok = 1;
    else
      usleep(10000);
  }
  bt_log(&b, "set-context-mgr after the old manager released: %s", ok ? "ok" : "still busy");
}

static int s_ioctl_basics(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_sync_init(&S2);
  pid_t c = fork_role("client", basics_client, NULL);
  bt_open_nomap(&b, "mgr");
  struct binder_version v = {0};
  bt_result(&b, "version", ioctl(b.fd, BINDER_VERSION, &v));
  bt_log(&b, "protocol_version=%d", v.protocol_version);
  bt_result(&b, "version-null-arg", ioctl(b.fd, BINDER_VERSION, NULL));
  uint32_t max = 4;
  bt_result(&b, "set-max-threads", ioctl(b.fd, BINDER_SET_MAX_THREADS, &max));
  bt_result(&b, "set-max-threads-null-arg", ioctl(b.fd, BINDER_SET_MAX_THREADS, NULL));
  int64_t idle = 1;
  bt_result(&b, "set-idle-timeout", ioctl(b.fd, BINDER_SET_IDLE_TIMEOUT, &idle));
  bt_result(&b, "unknown-ioctl-b99", ioctl(b.fd, _IO('b', 99)));
  bt_result(&b, "unknown-ioctl-type-x", ioctl(b.fd, _IOW('x', 1, int), &max));
  bt_result(&b, "fionread", ioctl(b.fd, FIONREAD, &max));
  void* m = mmap(NULL, BT_MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, b.fd, 0);
  bt_result(&b, "mmap-prot-write", m == MAP_FAILED ? -1 : 0);
  m = mmap(NULL, BT_MAP_SIZE, PROT_READ, MAP_PRIVATE, b.fd, 0);
  bt_result(&b, "mmap", m == MAP_FAILED ? -1 : 0);
  if (m == MAP_FAILED) bt_die(&b, "mmap");
  b.map = m;
  b.map_size = BT_MAP_SIZE;
  void* m2 = mmap(NULL, BT_MAP_SIZE, PROT_READ, MAP_PRIVATE, b.fd, 0);
  bt_result(&b, "second-mmap", m2 == MAP_FAILED ? -1 : 0);
  bt_result(&b, "mprotect-write", mprotect(m, 4096, PROT_READ | PROT_WRITE));
  int zero = 0;
  bt_result(&b, "set-context-mgr", set_mgr_retry(&b, 0));
  bt_result(&b, "set-context-mgr-again", ioctl(b.fd, BINDER_SET_CONTEXT_MGR, &zero));
  node_debug_walk(&b, "mgr-nodes"); /* the manager's node has ptr 0: never listed */
  read_nonblock(&b, "read-idle");
  bt_result(&b, "thread-exit", ioctl(b.fd, BINDER_THREAD_EXIT, &zero));
  read_nonblock(&b, "first-read-of-new-thread");
  read_nonblock(&b, "second-read");
  /* serve the client's call (three nodes) and keep its buffer until it has looked at them */
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  binder_uintptr_t buf = b.last_buffer;
  struct wb w = {0};
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "reply");
  bt_wait(S.c2p[0]);
  struct wb f = {0};
  wb_free(&f, buf);
  bt_wr(&b, &f, 0, "free");
  int rc = wait_child(c);
  /* a second process: cannot map the inherited fd, cannot become manager while this one lives */
  g_parent_fd = b.fd;
  pid_t o = fork_role("other", basics_other, NULL);
  bt_wait(S2.c2p[0]);
  munmap(m, BT_MAP_SIZE);
  close(b.fd);
  bt_signal(S2.p2c[1]);
  return wait_child(o) | rc;
}

/* ================================================================== thread_pool */
static struct bt g_srv;    /* the server process's binder (shared by its threads) */
static struct bt_sync T;   /* between the server's threads */

static void pool_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  for (uint32_t code = 1; code <= 4; code++) {
    if (code > 1) bt_wait(S.p2c[0]);
    char label[16];
    snprintf(label, sizeof label, "call%u", code);
    call_plain(&b, 0, code, 0, label);
  }
}

static void reply_and_complete(struct bt* b, const char* label) {
  struct wb w = {0};
  wb_free(&w, b->last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(b, &w, 1, label);
}

static void* pool_t2(void* arg) {
  (void)arg;
  struct bt t = g_srv;
  t.role = "mgr-t2";
  t.last_txn_valid = 0;
  struct wb w = {0};
  wb_u32(&w, BC_REGISTER_LOOPER);
  bt_wr(&t, &w, 1, "register-looper"); /* first read of a new thread: returns at once */
  bt_signal(T.c2p[1]);
  bt_wr(&t, NULL, 1, "recv"); /* call3: t1 is not reading */
  reply_and_complete(&t, "reply3");
  int zero = 0;
  bt_result(&t, "thread-exit", ioctl(t.fd, BINDER_THREAD_EXIT, &zero));
  bt_signal(T.c2p[1]);
  return NULL;
}

static int s_thread_pool(void) {
  bt_sync_init(&S);
  bt_sync_init(&T);
  pid_t c = fork_role("client", pool_client, NULL);
  struct bt* b = &g_srv;
  bt_open(b, "mgr-t1");
  become_mgr(b, 0);
  /* max_threads is 0: a looper never gets BR_SPAWN_LOOPER */
  struct wb e = {0};
  wb_u32(&e, BC_ENTER_LOOPER);
  bt_signal(S.p2c[1]);
  bt_wr(b, &e, 1, "enter-looper-recv1");
  reply_and_complete(b, "reply1");
  uint32_t max = 1;
  bt_result(b, "set-max-threads-1", ioctl(b->fd, BINDER_SET_MAX_THREADS, &max));
  bt_signal(S.p2c[1]);
  bt_wr(b, NULL, 1, "recv2"); /* BR_SPAWN_LOOPER in place of the BR_NOOP */
  pthread_t t2;
  if (pthread_create(&t2, NULL, pool_t2, NULL)) abort();
  bt_wait(T.c2p[0]); /* t2 registered */
  reply_and_complete(b, "reply2");
  bt_signal(S.p2c[1]);
  bt_wait(T.c2p[0]); /* t2 served call3 and exited */
  pthread_join(t2, NULL);
  bt_signal(S.p2c[1]);
  bt_wr(b, NULL, 1, "recv4"); /* the exited spawned thread keeps its slot: no new spawn */
  reply_and_complete(b, "reply4");
  return wait_child(c);
}

/* ================================================================== nonlooper_thread */
static struct bt g_cli;

static void* nl_client_t2(void* arg) {
  (void)arg;
  struct bt t = g_cli;
  t.role = "client-t2";
  t.last_txn_valid = 0;
  /* the thread's first ioctl is a sync call: it returns with the completion alone */
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, "call", 4, NULL, 0);
  bt_wr(&t, &w, 1, "first-ioctl-call");
  bt_signal(S.c2p[1]);
  bt_wr(&t, NULL, 1, "wait-reply");
  struct wb f = {0};
  wb_free(&f, t.last_buffer);
  bt_wr(&t, &f, 0, "free");
  return NULL;
}

static void nl_client(void* arg) {
  (void)arg;
  bt_wait(S.p2c[0]);
  bt_open(&g_cli, "client");
  pthread_t t;
  if (pthread_create(&t, NULL, nl_client_t2, NULL)) abort();
  pthread_join(t, NULL);
}

static void* nl_mgr_t2(void* arg) {
  (void)arg;
  struct bt t = g_srv;
  t.role = "mgr-t2";
  t.last_txn_valid = 0;
  bt_wr(&t, NULL, 1, "first-ioctl-read"); /* returns at once with BR_NOOP */
  return NULL;
}

static void print_poll(struct bt* b, const char* label) {
  struct pollfd p = {.fd = b->fd, .events = POLLIN};
  int r = poll(&p, 1, 0);
  bt_log(b, "%s: poll=%d revents=%s", label, r,
         r < 0 ? "error" : (p.revents & POLLIN) ? "POLLIN" : p.revents ? "other" : "none");
}

static int s_nonlooper_thread(void) {
  bt_sync_init(&S);
  pid_t c = fork_role("client", nl_client, NULL);
  struct bt* b = &g_srv;
  bt_open(b, "mgr");
  become_mgr(b, 0);
  print_poll(b, "poll-idle");
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]); /* the client's call is queued */
  print_poll(b, "poll-call-queued");
  bt_wr(b, NULL, 1, "recv-without-looper");
  pthread_t t;
  if (pthread_create(&t, NULL, nl_mgr_t2, NULL)) abort();
  pthread_join(t, NULL);
  reply_and_complete(b, "reply");
  return wait_child(c);
}

/* ================================================================== txn_flags */
static void flags_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  call_plain(&b, 0, 1, 0x100, "call-flag-0x100");
  call_plain(&b, 0, 2, TF_ROOT_OBJECT | TF_STATUS_CODE | TF_CLEAR_BUF, "call-root-status-clear");
  call_plain(&b, 0, 3, TF_ONE_WAY | 0x100 | 0x80000000u, "oneway-flags");
  bt_signal(S.c2p[1]);
}

static int s_txn_flags(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", flags_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  static const uint32_t reply_flags[2] = {TF_STATUS_CODE, TF_ONE_WAY | TF_STATUS_CODE};
  for (int i = 0; i < 2; i++) {
    bt_wr(&b, NULL, 1, "recv");
    struct wb w = {0};
    wb_free(&w, b.last_buffer);
    wb_txn(&w, BC_REPLY, 0, 0, reply_flags[i], "st\0\0", 4, NULL, 0);
    bt_wr(&b, &w, 1, i == 0 ? "reply-status-code" : "reply-oneway-status-code");
  }
  bt_wait(S.c2p[0]);
  serve_one(&b, "recv-oneway", NULL, 0);
  return wait_child(c);
}

/* ================================================================== reply_fds */
static void read_fd_text(struct bt* b, int fd, const char* what) {
  char buf[32] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  bt_log(b, "%s: read %zd bytes '%s'", what, n, n > 0 ? buf : "");
  close(fd);
}

static void rfd_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, TF_ACCEPT_FDS, "fds?", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call-accept-fds");
  if (b.last_txn_valid) {
    const struct binder_fd_object* fo = (const void*)(uintptr_t)b.last_txn.data.ptr.buffer;
    if (b.last_txn.offsets_size) read_fd_text(&b, (int)fo->fd, "reply fd");
    struct wb f = {0};
    wb_free(&f, b.last_buffer);
    bt_wr(&b, &f, 0, "free");
  }
  bt_extended_error(&b, "after-accepted");
  b.last_txn_valid = 0;
  struct wb w2 = {0};
  wb_txn(&w2, BC_TRANSACTION, 0, 2, 0, "nofd", 4, NULL, 0);
  bt_wr(&b, &w2, 1, "call-without-accept-fds");
  bt_extended_error(&b, "after-rejected");
  call_plain(&b, 0, 3, 0, "call-after");
}

static int s_reply_fds(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", rfd_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  for (int i = 0; i < 2; i++) {
    bt_wr(&b, NULL, 1, "recv");
    int p[2];
    if (pipe(p)) abort();
    if (write(p[1], "reply-fd", 8) != 8) abort();
    close(p[1]);
    static uint8_t data[24];
    static binder_size_t offs[1] = {0};
    put_fd(data, 0, p[0], 0x55);
    struct wb w = {0};
    wb_free(&w, b.last_buffer);
    wb_txn(&w, BC_REPLY, 0, 0, 0, data, sizeof data, offs, 1);
    bt_wr(&b, &w, 1, i == 0 ? "reply-fd" : "reply-fd-not-accepted");
    bt_extended_error(&b, "replier");
    bt_log(&b, "own fd still open: %d", fcntl(p[0], F_GETFD) >= 0);
    close(p[0]);
  }
  serve_one(&b, "recv", "ok\0\0", 4);
  return wait_child(c);
}

/* ================================================================== weak_handle */
static void weak_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_WEAK_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-weak-binder");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager dropped its weak ref */
  bt_wr(&b, NULL, 1, "after-decrefs");
  node_debug_walk(&b, "nodes");
}

static int s_weak_handle(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", weak_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_INCREFS, 1);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-weak-and-reply");
  bt_wait(S.c2p[0]);
  node_info(&b, 1, "weak-only");
  struct wb a = {0};
  handle_cmd(&a, BC_ACQUIRE, 1);
  bt_wr(&b, &a, 0, "acquire-weak-only");
  node_info(&b, 1, "after-acquire");
  b.last_txn_valid = 0;
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 1, 5, 0, "weak", 4, NULL, 0);
  bt_wr(&b, &t, 1, "call-weak-handle");
  bt_extended_error(&b, "call-weak-handle");
  struct wb o = {0};
  wb_txn(&o, BC_TRANSACTION, 1, 6, TF_ONE_WAY, "weak", 4, NULL, 0);
  bt_wr(&b, &o, 1, "oneway-weak-handle");
  bt_extended_error(&b, "oneway-weak-handle");
  struct wb r = {0};
  handle_cmd(&r, BC_DECREFS, 1);
  bt_wr(&b, &r, 0, "decrefs");
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== self_call */
static int s_self_call(void) {
  struct bt b;
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, "self", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call-handle-0-as-manager");
  bt_extended_error(&b, "self-call");
  struct wb o = {0};
  wb_txn(&o, BC_TRANSACTION, 0, 2, TF_ONE_WAY, "self", 4, NULL, 0);
  bt_wr(&b, &o, 1, "oneway-handle-0-as-manager");
  bt_extended_error(&b, "self-oneway");
  /* a failed transaction stops the write buffer: the free after it is not consumed */
  struct wb two = {0};
  wb_txn(&two, BC_TRANSACTION, 0, 3, 0, "self", 4, NULL, 0);
  wb_free(&two, 0x1234);
  bt_wr(&b, &two, 1, "call-then-free");
  read_nonblock(&b, "nothing-pending");
  return 0;
}

/* ================================================================== free_buffer_misuse */
static void freemis_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static const char a[16] = "oneway-A-16byte", c2[16] = "oneway-B-16byte";
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, TF_ONE_WAY, a, 16, NULL, 0);
  bt_wr(&b, &w, 1, "oneway-A");
  struct wb w2 = {0};
  wb_txn(&w2, BC_TRANSACTION, 0, 2, TF_ONE_WAY, c2, 16, NULL, 0);
  bt_wr(&b, &w2, 1, "oneway-B");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
  /* the reply buffer of a sync call, freed twice */
  struct wb s = {0};
  wb_txn(&s, BC_TRANSACTION, 0, 3, 0, "sync", 4, NULL, 0);
  bt_wr(&b, &s, 1, "call");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "double-free-reply");
  call_plain(&b, 0, 4, 0, "call-after");
}

static int s_free_buffer_misuse(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", freemis_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  struct wb u = {0};
  wb_free(&u, (binder_uintptr_t)(uintptr_t)b.map + 0x100);
  wb_free(&u, (binder_uintptr_t)(uintptr_t)b.map + BT_MAP_SIZE - 8);
  wb_free(&u, 0x1234);
  wb_free(&u, 0);
  bt_wr(&b, &u, 0, "free-unknown");
  bt_log(&b, "free-unknown: write consumed, no error");
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]); /* A delivered to the node, B queued behind it */
  bt_wr(&b, NULL, 1, "recv-A");
  binder_uintptr_t a = b.last_buffer;
  struct wb p = {0};
  wb_free(&p, a + 16); /* where the kernel allocated B: not yet delivered */
  bt_wr(&b, &p, 0, "free-undelivered");
  read_nonblock(&b, "B-still-held-back");
  struct wb fa = {0};
  wb_free(&fa, a);
  bt_wr(&b, &fa, 1, "free-A-recv-B");
  binder_uintptr_t bb = b.last_buffer;
  struct wb fb = {0};
  wb_free(&fb, a); /* A again: double free */
  wb_free(&fb, bb);
  wb_free(&fb, bb); /* B twice */
  bt_wr(&b, &fb, 0, "double-frees");
  read_nonblock(&b, "nothing-pending");
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv-sync", "ok\0\0", 4);
  serve_one(&b, "recv-after", "ok\0\0", 4);
  return wait_child(c);
}

/* ================================================================== sg_secctx */
struct sg_parent {
  binder_uintptr_t child_ptr;
  uint64_t pad;
};

static void sgs_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static struct sg_parent parent;
  static char child[16] = "child-payload";
  parent.child_ptr = (binder_uintptr_t)(uintptr_t)child;
  static uint8_t data[8 + 40 + 40];
  struct binder_buffer_object a, c;
  memset(&a, 0, sizeof a);
  a.hdr.type = BINDER_TYPE_PTR;
  a.buffer = (binder_uintptr_t)(uintptr_t)&parent;
  a.length = sizeof parent;
  memcpy(data + 8, &a, sizeof a);
  memset(&c, 0, sizeof c);
  c.hdr.type = BINDER_TYPE_PTR;
  c.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
  c.buffer = (binder_uintptr_t)(uintptr_t)child;
  c.length = sizeof child;
  c.parent = 0;
  c.parent_offset = offsetof(struct sg_parent, child_ptr);
  memcpy(data + 48, &c, sizeof c);
  static binder_size_t offs[2] = {8, 48};
  struct wb w = {0};
  wb_txn_sg(&w, BC_TRANSACTION_SG, 0, 4, 0, data, sizeof data, offs, 2,
            sizeof parent + sizeof child);
  bt_wr(&b, &w, 1, "send-sg-exact-fit");
  int n = delivered(&b, 0);
  if (b.last_txn_valid) {
    struct wb f = {0};
    wb_free(&f, b.last_buffer);
    bt_wr(&b, &f, 0, "free");
  } else {
    bt_extended_error(&b, "sg-exact-fit");
  }
  c.length = sizeof child + 8;
  memcpy(data + 48, &c, sizeof c);
  b.last_txn_valid = 0;
  struct wb w2 = {0};
  wb_txn_sg(&w2, BC_TRANSACTION_SG, 0, 4, 0, data, sizeof data, offs, 2,
            sizeof parent + sizeof child);
  bt_wr(&b, &w2, 1, "send-sg-overflow");
  n += delivered(&b, 0);
  bt_extended_error(&b, "sg-overflow");
  /* a plain call to a secctx node */
  b.last_txn_valid = 0;
  struct wb p = {0};
  wb_txn(&p, BC_TRANSACTION, 0, 5, 0, "call", 4, NULL, 0);
  bt_wr(&b, &p, 1, "plain-call");
  n += delivered(&b, 0);
  if (b.last_txn_valid) {
    struct wb f = {0};
    wb_free(&f, b.last_buffer);
    bt_wr(&b, &f, 0, "free");
  }
  bt_extended_error(&b, "plain-call");
  b.last_txn_valid = 0;
  call_plain(&b, 0, 6, TF_ONE_WAY, "oneway-call");
  n += delivered(&b, TF_ONE_WAY);
  bt_extended_error(&b, "oneway-call");
  report_delivered(S.c2p[1], n);
}

static void sgs_inspect(struct bt* b) {
  bt_log(b, "secctx non-zero: %d", b->last_secctx != 0);
  if (b->last_txn.code != 4) return;
  const uint8_t* d = (const uint8_t*)(uintptr_t)b->last_txn.data.ptr.buffer;
  struct binder_buffer_object pa, ch;
  memcpy(&pa, d + 8, sizeof pa);
  memcpy(&ch, d + 48, sizeof ch);
  const struct sg_parent* p = (const void*)(uintptr_t)pa.buffer;
  bt_log(b, "parent.child_ptr fixed up: %d, child payload '%s'", p->child_ptr == ch.buffer,
         (const char*)(uintptr_t)ch.buffer);
}

static int s_sg_secctx(void) {
  static struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", sgs_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, FLAT_BINDER_FLAG_TXN_SECURITY_CTX);
  static struct server_thread st = {&b, sgs_inspect, {-1, -1}};
  start_server_thread(&st);
  bt_signal(S.p2c[1]);
  wait_served(&st, S.c2p[0]);
  return wait_child(c);
}

/* ================================================================== handle_passing */
/* server owns node S (0x1000) and later hands out a weak node W (0x3000) */
static void hp_server(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "register");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  /* call 3: plain */
  bt_wr(&b, NULL, 1, "recv");
  bt_log(&b, "target ptr=%#llx cookie=%#llx", (unsigned long long)b.last_txn.target.ptr,
         (unsigned long long)b.last_txn.cookie);
  reply_and_complete(&b, "reply");
  /* call 4: HANDLE + WEAK_HANDLE of our own node come back as BINDER + WEAK_BINDER */
  bt_wr(&b, NULL, 1, "recv-own-handles");
  static uint8_t rd[24];
  static binder_size_t roffs[1] = {0};
  put_binder(rd, 0, BINDER_TYPE_WEAK_BINDER, 0x3000, 0x3001, 0x7f);
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, rd, sizeof rd, roffs, 1);
  bt_wr(&b, &r, 1, "reply-weak-binder");
  ack_node(&b, 0x3000, 0x3001, 0);
  bt_signal(S3.c2p[1]);
  bt_wait(S.p2c[0]);
}

static void hp_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S2.p2c[0]);
  bt_open(&b, "client");
  /* lookup: the manager replies with its handle to the server's node */
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 2, 0, "find", 4, NULL, 0);
  bt_wr(&b, &w, 1, "lookup");
  uint32_t h = 0;
  if (b.last_txn_valid && b.last_txn.offsets_size) {
    const struct flat_binder_object* o = (const void*)(uintptr_t)b.last_txn.data.ptr.buffer;
    h = o->handle;
  }
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, h);
  wb_free(&k, b.last_buffer);
  bt_wr(&b, &k, 0, "acquire-and-free");
  call_plain(&b, h, 3, 0, "call-server");
  /* pass the handle (strong and weak) back to its owner */
  static uint8_t data[48];
  static binder_size_t offs[2] = {0, 24};
  put_handle(data, 0, BINDER_TYPE_HANDLE, h);
  put_handle(data, 24, BINDER_TYPE_WEAK_HANDLE, h);
  struct wb s = {0};
  wb_txn(&s, BC_TRANSACTION, h, 4, 0, data, sizeof data, offs, 2);
  bt_wr(&b, &s, 1, "send-handles-to-owner");
  uint32_t wh = 0;
  if (b.last_txn_valid && b.last_txn.offsets_size) {
    const struct flat_binder_object* o = (const void*)(uintptr_t)b.last_txn.data.ptr.buffer;
    wh = o->handle;
  }
  struct wb k2 = {0};
  handle_cmd(&k2, BC_INCREFS, wh);
  wb_free(&k2, b.last_buffer);
  bt_wr(&b, &k2, 0, "keep-weak-and-free");
  bt_wait(S3.c2p[0]); /* the server acked W */
  /* pass both handles to the manager (a third process: HANDLE -> HANDLE) */
  struct wb m = {0};
  put_handle(data, 0, BINDER_TYPE_HANDLE, h);
  put_handle(data, 24, BINDER_TYPE_WEAK_HANDLE, wh);
  wb_txn(&m, BC_TRANSACTION, 0, 5, 0, data, sizeof data, offs, 2);
  bt_wr(&b, &m, 1, "send-handles-to-mgr");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  /* a weak handle cannot be sent as a strong one */
  b.last_txn_valid = 0;
  put_handle(data, 0, BINDER_TYPE_HANDLE, wh);
  struct wb x = {0};
  wb_txn(&x, BC_TRANSACTION, 0, 6, 0, data, 24, offs, 1);
  bt_wr(&b, &x, 1, "send-weak-as-strong");
  bt_extended_error(&b, "weak-as-strong");
  bt_signal(S2.c2p[1]);
}

static int s_handle_passing(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_sync_init(&S2);
  bt_sync_init(&S3);
  /* the client first, so that the server knows its pid */
  pid_t cli = fork_role("client", hp_client, NULL);
  pid_t srv = fork_role("server", hp_server, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-and-reply");
  bt_wait(S.c2p[0]); /* the server acked its node */
  bt_signal(S2.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-lookup");
  static uint8_t rd[24];
  static binder_size_t roffs[1] = {0};
  put_handle(rd, 0, BINDER_TYPE_HANDLE, 1);
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, rd, sizeof rd, roffs, 1);
  bt_wr(&b, &r, 1, "reply-handle");
  bt_wr(&b, NULL, 1, "recv-handles");
  reply_and_complete(&b, "reply");
  bt_wait(S2.c2p[0]);
  bt_signal(S.p2c[1]);
  int rc = wait_child(cli);
  return wait_child(srv) | rc;
}

/* ================================================================== ref_underflow */
static void ru_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-binder");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  /* the owner's own node ack underflow: a second ack has no pending request */
  struct wb d2 = {0};
  wb_ptr_cookie(&d2, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d2, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d2, BC_ACQUIRE_DONE, 0x9999, 0x9999);
  bt_wr(&b, &d2, 0, "ack-again");
  /* releasing refs on handles one does not hold */
  struct wb x = {0};
  handle_cmd(&x, BC_RELEASE, 0);
  handle_cmd(&x, BC_DECREFS, 0);
  handle_cmd(&x, BC_RELEASE, 7);
  bt_wr(&b, &x, 0, "release-unheld");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager dropped everything */
  bt_wr(&b, NULL, 1, "after-drops");
  node_debug_walk(&b, "nodes");
}

static int s_ref_underflow(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ru_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  struct wb z = {0};
  handle_cmd(&z, BC_INCREFS, 0);
  bt_wr(&b, &z, 0, "increfs-handle-0-as-manager");
  struct wb z2 = {0};
  handle_cmd(&z2, BC_ACQUIRE, 0);
  bt_wr(&b, &z2, 0, "acquire-handle-0-as-manager");
  struct wb z3 = {0};
  handle_cmd(&z3, BC_RELEASE, 0);
  handle_cmd(&z3, BC_DECREFS, 0);
  bt_wr(&b, &z3, 0, "release-handle-0-as-manager");
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  handle_cmd(&w, BC_INCREFS, 1);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "take-refs-and-reply");
  bt_wait(S.c2p[0]);
  node_info(&b, 1, "held");
  struct wb r = {0};
  handle_cmd(&r, BC_RELEASE, 1);
  handle_cmd(&r, BC_RELEASE, 1); /* strong underflow */
  bt_wr(&b, &r, 0, "release-twice");
  node_info(&b, 1, "after-release");
  struct wb a = {0};
  handle_cmd(&a, BC_ACQUIRE, 1); /* weak only now: ignored */
  bt_wr(&b, &a, 0, "acquire-after-release");
  node_info(&b, 1, "after-acquire");
  struct wb d = {0};
  handle_cmd(&d, BC_DECREFS, 1);
  handle_cmd(&d, BC_DECREFS, 1); /* the ref is gone */
  handle_cmd(&d, BC_INCREFS, 1); /* so is its descriptor */
  bt_wr(&b, &d, 0, "decrefs-twice");
  node_info(&b, 1, "after-decrefs");
  b.last_txn_valid = 0;
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 1, 5, 0, "gone", 4, NULL, 0);
  bt_wr(&b, &t, 1, "call-dropped-handle");
  bt_extended_error(&b, "call-dropped-handle");
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== death_misc */
/* client owns Y (0x1000), Z (0x2000), X (0x3000); the kernel releases them in ptr order */
static void dm_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[72];
  static binder_size_t offs[3] = {0, 24, 48};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  put_binder(data, 24, BINDER_TYPE_BINDER, 0x2000, 0x2001, 0x7f);
  put_binder(data, 48, BINDER_TYPE_BINDER, 0x3000, 0x3001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 3);
  bt_wr(&b, &w, 1, "send-binders");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  for (uint64_t p = 0x1000; p <= 0x3000; p += 0x1000) {
    wb_ptr_cookie(&d, BC_INCREFS_DONE, p, p + 1);
    wb_ptr_cookie(&d, BC_ACQUIRE_DONE, p, p + 1);
  }
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* exits: its nodes die */
}

static int s_death_misc(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", dm_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  handle_cmd(&w, BC_ACQUIRE, 2);
  handle_cmd(&w, BC_ACQUIRE, 3);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-and-reply");
  bt_wait(S.c2p[0]);
  /* clear before death */
  struct wb z = {0};
  wb_handle_cookie(&z, BC_REQUEST_DEATH_NOTIFICATION, 2, 0xc2);
  wb_handle_cookie(&z, BC_REQUEST_DEATH_NOTIFICATION, 2, 0xc2bad); /* duplicate: ignored */
  wb_handle_cookie(&z, BC_CLEAR_DEATH_NOTIFICATION, 2, 0xc2bad);   /* wrong cookie: ignored */
  wb_handle_cookie(&z, BC_CLEAR_DEATH_NOTIFICATION, 2, 0xc2);
  bt_wr(&b, &z, 1, "request-and-clear-Z");
  struct wb z2 = {0};
  wb_handle_cookie(&z2, BC_CLEAR_DEATH_NOTIFICATION, 2, 0xc2); /* not registered any more */
  wb_u32(&z2, BC_DEAD_BINDER_DONE);
  wb_u64(&z2, 0xc2); /* nothing delivered */
  bt_wr(&b, &z2, 0, "clear-again");
  read_nonblock(&b, "nothing-pending");
  /* X: the last node released when the client dies */
  struct wb x = {0};
  wb_handle_cookie(&x, BC_REQUEST_DEATH_NOTIFICATION, 3, 0xc3);
  bt_wr(&b, &x, 0, "request-X");
  bt_signal(S.p2c[1]);
  int rc = wait_child(c);
  bt_wr(&b, NULL, 1, "death-of-X");
  /* Y died before X: a registration on it fires at once */
  struct wb y = {0};
  wb_u32(&y, BC_DEAD_BINDER_DONE);
  wb_u64(&y, 0xc3);
  wb_handle_cookie(&y, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xc1);
  bt_wr(&b, &y, 1, "done-X-request-dead-Y");
  struct wb y2 = {0};
  wb_u32(&y2, BC_DEAD_BINDER_DONE);
  wb_u64(&y2, 0xc1);
  wb_handle_cookie(&y2, BC_CLEAR_DEATH_NOTIFICATION, 1, 0xc1);
  wb_handle_cookie(&y2, BC_CLEAR_DEATH_NOTIFICATION, 3, 0xc3);
  bt_wr(&b, &y2, 1, "done-Y-clear-Y-X");
  read_nonblock(&b, "more-clear-done");
  read_nonblock(&b, "nothing-pending"); /* Z's cleared registration never fires */
  b.last_txn_valid = 0;
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 2, 9, 0, "dead", 4, NULL, 0);
  bt_wr(&b, &t, 1, "call-dead-Z");
  bt_extended_error(&b, "call-dead-Z");
  return rc;
}

/* ================================================================== thread_exit_reply */
static void ter_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call");
  bt_extended_error(&b, "after-thread-exit");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
  call_plain(&b, 0, 2, 0, "call-again");
}

static int s_thread_exit_reply(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ter_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  int zero = 0;
  bt_result(&b, "thread-exit-with-pending-call", ioctl(b.fd, BINDER_THREAD_EXIT, &zero));
  bt_wait(S.c2p[0]);
  read_nonblock(&b, "new-thread-first-read");
  /* the replying thread is gone: a BC_REPLY now has nothing to answer */
  struct wb r = {0};
  wb_txn(&r, BC_REPLY, 0, 0, 0, "late", 4, NULL, 0);
  bt_wr(&b, &r, 1, "late-reply");
  bt_extended_error(&b, "late-reply");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free-orphan-buffer");
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv-again", "ok\0\0", 4);
  return wait_child(c);
}

/* ================================================================== exit_pending_oneway */
static void epo_sender(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  for (uint32_t code = 1; code <= 3; code++) {
    struct wb w = {0};
    uint32_t payload = code * 0x01010101u;
    wb_txn(&w, BC_TRANSACTION, 0, code, TF_ONE_WAY, &payload, 4, NULL, 0);
    bt_wr(&b, &w, 1, "oneway");
  }
  /* exits with its one-way buffers still queued in the manager */
}

/* a server process that dies with one-way buffers pending for it */
static void epo_server(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S2.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 10, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "register");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S2.c2p[1]);
  bt_wait(S2.p2c[0]); /* the manager sent it two one-ways */
  bt_wr(&b, NULL, 1, "recv-first");
  /* exits without freeing: one buffer delivered, one queued */
}

static int s_exit_pending_oneway(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_sync_init(&S2);
  pid_t c = fork_role("client", epo_sender, NULL);
  pid_t s = fork_role("server", epo_server, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  int rc = wait_child(c);
  for (int i = 0; i < 3; i++) {
    struct wb w = {0};
    if (i) wb_free(&w, b.last_buffer);
    bt_wr(&b, &w, 1, "recv-after-sender-exit");
  }
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  read_nonblock(&b, "nothing-pending");
  /* the receiving side dies with pending one-ways */
  bt_signal(S2.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, 1);
  wb_handle_cookie(&k, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xdead);
  wb_free(&k, b.last_buffer);
  wb_txn(&k, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &k, 1, "keep-watch-reply");
  bt_wait(S2.c2p[0]);
  for (uint32_t code = 21; code <= 22; code++) {
    struct wb o = {0};
    wb_txn(&o, BC_TRANSACTION, 1, code, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
    bt_wr(&b, &o, 1, "oneway-to-server");
  }
  bt_signal(S2.p2c[1]);
  rc |= wait_child(s);
  bt_wr(&b, NULL, 1, "server-death");
  struct wb dd = {0};
  wb_u32(&dd, BC_DEAD_BINDER_DONE);
  wb_u64(&dd, 0xdead);
  wb_txn(&dd, BC_TRANSACTION, 1, 23, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
  bt_wr(&b, &dd, 1, "oneway-to-dead-server");
  bt_extended_error(&b, "oneway-to-dead-server");
  return rc;
}

/* ================================================================== async space */
#define BIG_ONEWAY 60000u
static uint8_t g_big[200000];

static void async_client(void* arg) {
  int spam = arg != NULL;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  if (spam) {
    uint32_t on = 1;
    bt_result(&b, "enable-oneway-spam-detection",
              ioctl(b.fd, BINDER_ENABLE_ONEWAY_SPAM_DETECTION, &on));
  }
  for (uint32_t i = 1; i <= 9; i++) {
    memset(g_big, (int)i, 16);
    struct wb w = {0};
    wb_txn(&w, BC_TRANSACTION, 0, i, TF_ONE_WAY, g_big, BIG_ONEWAY, NULL, 0);
    char label[24];
    snprintf(label, sizeof label, "oneway%u", i);
    bt_wr(&b, &w, 1, label);
  }
  bt_extended_error(&b, "ninth");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager freed everything */
  struct wb w = {0};
  memset(g_big, 0xaa, 16);
  wb_txn(&w, BC_TRANSACTION, 0, 10, TF_ONE_WAY, g_big, BIG_ONEWAY, NULL, 0);
  bt_wr(&b, &w, 1, "oneway-after-drain");
  bt_signal(S.c2p[1]);
}

static int s_async(int spam) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", async_client, spam ? (void*)1 : NULL);
  bt_open_sized(&b, "mgr", 1024 * 1024);
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  for (int i = 0; i < 8; i++) {
    struct wb w = {0};
    if (i) wb_free(&w, b.last_buffer);
    bt_wr(&b, &w, 1, "recv");
  }
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  read_nonblock(&b, "nothing-pending");
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  serve_one(&b, "recv-after-drain", NULL, 0);
  return wait_child(c);
}
static int s_async_space(void) { return s_async(0); }
static int s_oneway_spam(void) { return s_async(1); }

/* ================================================================== sync_too_large */
static void big_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static const size_t sizes[] = {131008, 131072, 131080, 200000};
  int n = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    memset(g_big, 0x30 + (int)i, 16);
    b.last_txn_valid = 0;
    struct wb w = {0};
    wb_txn(&w, BC_TRANSACTION, 0, 1 + (uint32_t)i, 0, g_big, sizes[i], NULL, 0);
    char label[32];
    snprintf(label, sizeof label, "call-%zu", sizes[i]);
    bt_wr(&b, &w, 1, label);
    n += delivered(&b, 0);
    bt_extended_error(&b, label);
    if (b.last_txn_valid) {
      struct wb f = {0};
      wb_free(&f, b.last_buffer);
      bt_wr(&b, &f, 0, "free");
    }
  }
  report_delivered(S.c2p[1], n);
}

static int s_sync_too_large(void) {
  static struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", big_client, NULL);
  bt_open(&b, "mgr"); /* 128 KiB */
  become_mgr(&b, 0);
  static struct server_thread st = {&b, NULL, {-1, -1}};
  start_server_thread(&st);
  bt_signal(S.p2c[1]);
  wait_served(&st, S.c2p[0]);
  return wait_child(c);
}

/* ================================================================== extended_error */
static void* ee_client_t2(void* arg) {
  (void)arg;
  struct bt t = g_cli;
  t.role = "client-t2";
  bt_extended_error(&t, "other-thread");
  return NULL;
}

static void ee_client(void* arg) {
  (void)arg;
  struct bt* b = &g_cli;
  bt_wait(S.p2c[0]);
  bt_open(b, "client");
  bt_extended_error(b, "fresh");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 42, 1, 0, "call", 4, NULL, 0);
  bt_wr(b, &w, 1, "call-handle-42");
  bt_extended_error(b, "first-query");
  bt_extended_error(b, "second-query");
  bt_wr(b, &w, 1, "call-handle-42-again");
  call_plain(b, 0, 2, 0, "good-call");
  bt_extended_error(b, "after-good-call");
  /* the manager's reply fails: the error lands on this (the caller's) thread */
  b->last_txn_valid = 0;
  struct wb r = {0};
  wb_txn(&r, BC_TRANSACTION, 0, 3, 0, "call", 4, NULL, 0);
  bt_wr(b, &r, 1, "call-bad-reply");
  bt_extended_error(b, "after-failed-reply");
  struct wb o = {0};
  wb_txn(&o, BC_TRANSACTION, 42, 4, TF_ONE_WAY, "call", 4, NULL, 0);
  bt_wr(b, &o, 1, "oneway-handle-42");
  pthread_t t;
  if (pthread_create(&t, NULL, ee_client_t2, NULL)) abort();
  pthread_join(t, NULL);
  /* a failed command other than a transaction does not touch it */
  struct wb a = {0};
  handle_cmd(&a, BC_ACQUIRE, 42);
  wb_u32(&a, BC_ATTEMPT_ACQUIRE);
  wb_u32(&a, 0);
  wb_u32(&a, 0);
  bt_wr(b, &a, 0, "attempt-acquire");
  bt_extended_error(b, "after-oneway-and-bad-command");
  bt_signal(S.c2p[1]);
}

static int s_extended_error(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ee_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv-good", "ok\0\0", 4);
  bt_wr(&b, NULL, 1, "recv");
  static uint8_t rd[24];
  static binder_size_t roffs[1] = {0};
  put_handle(rd, 0, BINDER_TYPE_HANDLE, 77);
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, rd, sizeof rd, roffs, 1);
  bt_wr(&b, &r, 1, "reply-bad-handle");
  bt_extended_error(&b, "replier");
  bt_wait(S.c2p[0]);
  return wait_child(c);
}

/* ================================================================== rw_edges */
/* One BINDER_WRITE_READ with every field given; prints the ioctl outcome, both consumed counts,
 * the first word of the read buffer when the read did not start at 0, and the decoded read. */
static void raw_wr(struct bt* b, const void* wbuf, uint64_t wsize, uint64_t wcons, uint8_t* rbuf,
                   uint64_t rsize, uint64_t rcons, const char* label) {
  struct binder_write_read bwr;
  memset(&bwr, 0, sizeof bwr);
  bwr.write_buffer = (binder_uintptr_t)(uintptr_t)wbuf;
  bwr.write_size = wsize;
  bwr.write_consumed = wcons;
  bwr.read_buffer = (binder_uintptr_t)(uintptr_t)rbuf;
  bwr.read_size = rsize;
  bwr.read_consumed = rcons;
  int r = ioctl(b->fd, BINDER_WRITE_READ, &bwr);
  int err = r < 0 ? errno : 0;
  bt_log(b, "%s: ioctl=%d errno=%d write_consumed=%llu/%llu read_consumed=%llu/%llu", label, r,
         err, (unsigned long long)bwr.write_consumed, (unsigned long long)wsize,
         (unsigned long long)bwr.read_consumed, (unsigned long long)rsize);
  if (rbuf && rcons && rsize >= 4) {
    uint32_t w0;
    memcpy(&w0, rbuf, 4);
    const char* n = bt_br_name(w0);
    bt_log(b, "%s: word0=%s", label, n ? n : (w0 == 0x12345678u ? "marker" : "other"));
  }
  if (rbuf && bwr.read_consumed > rcons) {
    char l[64];
    snprintf(l, sizeof l, "%s: read", label);
    bt_print_read(b, l, rbuf + rcons, (size_t)(bwr.read_consumed - rcons));
  }
}

static void rw_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t rb[256];
  bt_result(&b, "write-read-null-arg", ioctl(b.fd, BINDER_WRITE_READ, NULL));
  raw_wr(&b, (void*)(uintptr_t)0x10, 8, 0, NULL, 0, 0, "write-buffer-unmapped");
  uint32_t unk[3] = {BC_ACQUIRE, 42, 0xdeadbeefu};
  raw_wr(&b, unk, sizeof unk, 0, rb, sizeof rb, 0, "unknown-command");
  uint32_t skip[3] = {0xdeadbeefu, BC_ACQUIRE, 42};
  raw_wr(&b, skip, sizeof skip, 4, NULL, 0, 0, "write-consumed-on-entry");
  uint32_t trunc[2] = {BC_ACQUIRE, 42};
  raw_wr(&b, trunc, 4, 0, NULL, 0, 0, "payload-beyond-write-size");
  raw_wr(&b, trunc, 2, 0, NULL, 0, 0, "command-beyond-write-size");
  uint32_t zero_len[1] = {BC_ENTER_LOOPER};
  raw_wr(&b, zero_len, 0, 0, NULL, 0, 0, "write-size-0");
  /* a completion is pending on this thread: reads with too little room take nothing */
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
  raw_wr(&b, w.bytes, w.len, 0, NULL, 0, 0, "oneway-write-only");
  raw_wr(&b, NULL, 0, 0, rb, 4, 0, "read-size-4");
  raw_wr(&b, NULL, 0, 0, rb, 75, 0, "read-size-75");
  raw_wr(&b, NULL, 0, 0, rb, 76, 0, "read-size-76");
  /* a read that starts at read_consumed=4 writes no BR_NOOP */
  struct wb w2 = {0};
  wb_txn(&w2, BC_TRANSACTION, 0, 2, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
  raw_wr(&b, w2.bytes, w2.len, 0, NULL, 0, 0, "oneway-write-only");
  uint32_t marker = 0x12345678u;
  memcpy(rb, &marker, 4);
  raw_wr(&b, NULL, 0, 0, rb, sizeof rb, 4, "read-consumed-4");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager took both one-ways */
  /* last: a driver that waits before writing the BR_NOOP would block here */
  raw_wr(&b, NULL, 0, 0, (uint8_t*)(uintptr_t)0x10, 64, 0, "read-buffer-unmapped");
}

static int s_rw_edges(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", rw_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  serve_one(&b, "recv", NULL, 0);
  serve_one(&b, "recv", NULL, 0);
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== spawn_quirks */
static void sq_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 0, "call-write-only");
  bt_signal(S.c2p[1]);
  bt_wr(&b, NULL, 1, "wait-reply");
}

static int s_spawn_quirks(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", sq_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  uint32_t max = 1;
  bt_result(&b, "set-max-threads-1", ioctl(b.fd, BINDER_SET_MAX_THREADS, &max));
  /* registering without a spawn request: accepted (flagged invalid), counts as a looper */
  struct wb r = {0};
  wb_u32(&r, BC_REGISTER_LOOPER);
  bt_wr(&b, &r, 0, "register-looper-unrequested");
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]); /* the call is queued */
  static uint8_t rb[256];
  uint32_t marker = 0x12345678u;
  memcpy(rb, &marker, 4);
  raw_wr(&b, NULL, 0, 0, rb, sizeof rb, 4, "read-at-offset-4");
  b.last_txn_valid = 1;
  reply_and_complete(&b, "reply");
  return wait_child(c);
}

/* ================================================================== second_call */
static void sc_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb a = {0};
  wb_txn(&a, BC_TRANSACTION, 0, 1, 0, "one", 4, NULL, 0);
  bt_wr(&b, &a, 0, "call-A-write-only");
  struct wb s = {0};
  wb_txn(&s, BC_TRANSACTION, 0, 2, 0, "two", 4, NULL, 0);
  bt_wr(&b, &s, 1, "call-B-while-A-pending");
  bt_extended_error(&b, "call-B");
  struct wb o = {0};
  wb_txn(&o, BC_TRANSACTION, 0, 3, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
  bt_wr(&b, &o, 1, "oneway-while-A-pending");
  bt_signal(S.c2p[1]);
  bt_wr(&b, NULL, 1, "wait-reply-A");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  bt_signal(S.c2p[1]);
}

static int s_second_call(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", sc_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  serve_one(&b, "recv", "ok\0\0", 4);
  bt_wait(S.c2p[0]);
  serve_one(&b, "recv", NULL, 0);
  return wait_child(c);
}

/* ================================================================== mgr_replacement */
static void mr_mgr1(void* arg) {
  (void)arg;
  struct bt b;
  bt_open(&b, "mgr1");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]); /* to the client */
  serve_one(&b, "recv", "m1\0\0", 4);
  bt_wait(S2.p2c[0]); /* then exits */
}

static void mr_mgr2(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S3.p2c[0]); /* the client saw the old manager die */
  bt_open(&b, "mgr2");
  int zero = 0, ok = 0;
  for (int i = 0; i < 500 && !ok; i++) {
    if (ioctl(b.fd, BINDER_SET_CONTEXT_MGR, &zero) == 0)
      ok = 1;
    else
      usleep(10000);
  }
  bt_log(&b, "set-context-mgr: %s", ok ? "ok" : "busy");
  bt_signal(S3.c2p[1]);
  serve_one(&b, "recv", "m2\0\0", 4);
  serve_one(&b, "recv", "m2\0\0", 4);
  bt_wait(S3.p2c[0]);
}

static void mr_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  handle_cmd(&w, BC_INCREFS, 0);
  handle_cmd(&w, BC_ACQUIRE, 0);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 0, 0xd0);
  bt_wr(&b, &w, 0, "ref-and-watch-handle-0");
  call_plain(&b, 0, 1, 0, "call-mgr1");
  bt_signal(S2.p2c[1]); /* mgr1 may exit */
  bt_wr(&b, NULL, 1, "mgr1-death");
  struct wb d = {0};
  wb_u32(&d, BC_DEAD_BINDER_DONE);
  wb_u64(&d, 0xd0);
  bt_wr(&b, &d, 0, "dead-binder-done");
  bt_signal(S3.p2c[1]);
  bt_wait(S3.c2p[0]); /* mgr2 is the manager */
  call_plain(&b, 0, 2, 0, "call-handle-0");
  struct wb n = {0};
  handle_cmd(&n, BC_INCREFS, 0);
  handle_cmd(&n, BC_ACQUIRE, 0);
  bt_wr(&b, &n, 0, "ref-handle-0-again");
  struct wb c = {0};
  wb_handle_cookie(&c, BC_CLEAR_DEATH_NOTIFICATION, 0, 0xd0);
  bt_wr(&b, &c, 1, "clear-old-watch");
  struct wb r = {0};
  wb_handle_cookie(&r, BC_REQUEST_DEATH_NOTIFICATION, 0, 0xd1);
  bt_wr(&b, &r, 1, "watch-handle-0");
  struct wb r1 = {0};
  wb_u32(&r1, BC_DEAD_BINDER_DONE);
  wb_u64(&r1, 0xd1);
  wb_handle_cookie(&r1, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xd2);
  bt_wr(&b, &r1, 0, "watch-handle-1");
  read_nonblock(&b, "nothing-pending");
  call_plain(&b, 1, 3, 0, "call-handle-1");
  bt_signal(S3.p2c[1]);
}

static int s_mgr_replacement(void) {
  bt_sync_init(&S);
  bt_sync_init(&S2);
  bt_sync_init(&S3);
  pid_t c = fork_role("client", mr_client, NULL);
  pid_t m1 = fork_role("mgr1", mr_mgr1, NULL);
  int rc = wait_child(m1);
  pid_t m2 = fork_role("mgr2", mr_mgr2, NULL);
  rc |= wait_child(c);
  return wait_child(m2) | rc;
}

/* ================================================================== node_identity */
static void ni_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-node");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  b.last_txn_valid = 0;
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, 0x9999, 0x7f);
  struct wb w2 = {0};
  wb_txn(&w2, BC_TRANSACTION, 0, 2, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w2, 1, "send-node-other-cookie");
  bt_extended_error(&b, "other-cookie");
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE,
             0x7f | FLAT_BINDER_FLAG_ACCEPTS_FDS);
  struct wb w3 = {0};
  wb_txn(&w3, BC_TRANSACTION, 0, 3, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w3, 1, "send-node-other-flags");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  bt_signal(S.c2p[1]);
  /* the manager calls our node */
  bt_wr(&b, NULL, 1, "recv");
  bt_log(&b, "target ptr=%#llx cookie=%#llx", (unsigned long long)b.last_txn.target.ptr,
         (unsigned long long)b.last_txn.cookie);
  reply_and_complete(&b, "reply");
  bt_wait(S.p2c[0]);
}

static int s_node_identity(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ni_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-and-reply");
  /* reply to code 3 with the manager's own node (ptr 0) as a BINDER object */
  bt_wr(&b, NULL, 1, "recv");
  static uint8_t rd[24];
  static binder_size_t roffs[1] = {0};
  put_binder(rd, 0, BINDER_TYPE_BINDER, 0, 0, 0);
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, rd, sizeof rd, roffs, 1);
  bt_wr(&b, &r, 1, "reply-own-node");
  bt_wait(S.c2p[0]);
  /* the node was created without ACCEPTS_FDS: a later object's flags do not change that */
  int p[2];
  if (pipe(p)) abort();
  static uint8_t fd_data[24];
  static binder_size_t foffs[1] = {0};
  put_fd(fd_data, 0, p[0], 0);
  b.last_txn_valid = 0;
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 1, 4, TF_ACCEPT_FDS, fd_data, sizeof fd_data, foffs, 1);
  bt_wr(&b, &t, 1, "send-fd-to-client-node");
  bt_extended_error(&b, "send-fd");
  call_plain(&b, 1, 5, 0, "call-client-node");
  node_info(&b, 1, "client-node");
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== handle_recycling */
static void hr_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[72];
  static binder_size_t offs[3] = {0, 24, 48};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  put_binder(data, 24, BINDER_TYPE_BINDER, 0x2000, 0x2001, 0x7f);
  put_binder(data, 48, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 3);
  bt_wr(&b, &w, 1, "send-A-B-A");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, 0x2000, 0x2001);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, 0x2000, 0x2001);
  bt_wr(&b, &d, 0, "ack-B");
  node_debug_walk(&b, "nodes");
  bt_wait(S.p2c[0]); /* the manager looked at its handle 1 */
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x3000, 0x3001, 0x7f);
  struct wb w2 = {0};
  wb_txn(&w2, BC_TRANSACTION, 0, 2, 0, data, 24, offs, 1);
  bt_wr(&b, &w2, 1, "send-C");
  struct wb d2 = {0};
  wb_free(&d2, b.last_buffer);
  wb_ptr_cookie(&d2, BC_INCREFS_DONE, 0x3000, 0x3001);
  wb_ptr_cookie(&d2, BC_ACQUIRE_DONE, 0x3000, 0x3001);
  bt_wr(&b, &d2, 0, "ack-C");
  node_debug_walk(&b, "nodes");
  bt_signal(S.c2p[1]);
}

static int s_handle_recycling(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", hr_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  node_info(&b, 1, "in-buffer");
  /* keep only B; A's handle goes away with the buffer, before its owner read BR_INCREFS */
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 2);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-B-and-reply");
  node_info(&b, 1, "after-free");
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w2 = {0};
  handle_cmd(&w2, BC_ACQUIRE, 1);
  wb_free(&w2, b.last_buffer);
  wb_txn(&w2, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w2, 1, "keep-C-and-reply");
  bt_wait(S.c2p[0]);
  node_info(&b, 1, "C");
  node_info(&b, 2, "B");
  return wait_child(c);
}

/* ================================================================== reply_to_dead_caller */
static void rdc_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call"); /* killed while waiting */
}

static int s_reply_to_dead_caller(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", rdc_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  kill(c, SIGKILL);
  int rc = wait_child(c);
  bt_log(&b, "caller killed: %d", rc == 128 + SIGKILL);
  usleep(200000);
  reply_and_complete(&b, "reply-to-dead-caller");
  bt_extended_error(&b, "replier");
  read_nonblock(&b, "nothing-pending");
  return 0;
}

/* ================================================================== nested_three */
/* client -> mgr -> server -> client: the last call is routed to the client's waiting thread */
static void n3_server(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x5000, 0x5001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "register");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, 0x5000, 0x5001);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, 0x5000, 0x5001);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wr(&b, NULL, 1, "recv-from-mgr");
  binder_uintptr_t in = b.last_buffer;
  uint32_t h = 0;
  if (b.last_txn_valid && b.last_txn.offsets_size)
    h = ((const struct flat_binder_object*)(uintptr_t)b.last_txn.data.ptr.buffer)->handle;
  struct wb c = {0};
  wb_txn(&c, BC_TRANSACTION, h, 3, 0, "cb\0\0", 4, NULL, 0);
  bt_wr(&b, &c, 1, "call-client-node");
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_free(&r, in);
  wb_txn(&r, BC_REPLY, 0, 0, 0, "srv", 4, NULL, 0);
  bt_wr(&b, &r, 1, "reply-to-mgr");
}

static void n3_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S2.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 2, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "call-mgr");
  struct wb r = {0};
  wb_ptr_cookie(&r, BC_INCREFS_DONE, 0x1000, 0x1001);
  wb_ptr_cookie(&r, BC_ACQUIRE_DONE, 0x1000, 0x1001);
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, "cli", 4, NULL, 0);
  bt_wr(&b, &r, 1, "reply-to-server");
  bt_signal(S2.c2p[1]);
  bt_wr(&b, NULL, 1, "wait-reply");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
}

static int s_nested_three(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_sync_init(&S2);
  pid_t s = fork_role("server", n3_server, NULL);
  pid_t c = fork_role("client", n3_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, 1);
  wb_free(&k, b.last_buffer);
  wb_txn(&k, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &k, 1, "keep-and-reply");
  bt_wait(S.c2p[0]);
  bt_signal(S2.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-from-client");
  binder_uintptr_t in = b.last_buffer;
  uint32_t h = 0;
  if (b.last_txn_valid && b.last_txn.offsets_size)
    h = ((const struct flat_binder_object*)(uintptr_t)b.last_txn.data.ptr.buffer)->handle;
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_handle(data, 0, BINDER_TYPE_HANDLE, h);
  struct wb c2 = {0};
  wb_txn(&c2, BC_TRANSACTION, 1, 4, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &c2, 1, "call-server");
  bt_wait(S2.c2p[0]); /* the client read the completion of its reply to the server */
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_free(&r, in);
  wb_txn(&r, BC_REPLY, 0, 0, 0, "mgr", 4, NULL, 0);
  bt_wr(&b, &r, 1, "reply-to-client");
  int rc = wait_child(c);
  return wait_child(s) | rc;
}

/* ================================================================== priority */
static int my_nice(void) {
  errno = 0;
  return getpriority(PRIO_PROCESS, (id_t)gettid());
}

static void prio_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10)) abort();
  bt_open(&b, "client");
  call_plain(&b, 0, 1, 0, "call-at-nice-10");
  bt_log(&b, "nice=%d", my_nice());
}

static int s_priority(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", prio_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 19); /* node min_priority 19 (the FLAT_BINDER_FLAG_PRIORITY_MASK byte) */
  bt_log(&b, "nice before=%d", my_nice());
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  bt_log(&b, "nice while handling=%d", my_nice());
  reply_and_complete(&b, "reply");
  bt_log(&b, "nice after reply=%d", my_nice());
  return wait_child(c);
}

/* ================================================================== txn_bad_args */
static void tba_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  int n = 0;
  /* a transaction without data: delivered with size 0 */
  struct wb z = {0};
  wb_txn(&z, BC_TRANSACTION, 0, 1, 0, NULL, 0, NULL, 0);
  b.last_txn_valid = 0;
  bt_wr(&b, &z, 1, "empty");
  n += delivered(&b, 0);
  if (b.last_txn_valid) {
    struct wb f = {0};
    wb_free(&f, b.last_buffer);
    bt_wr(&b, &f, 0, "free");
  }
  struct {
    const char* name;
    int kind;
  } cases[] = {
      {"data-null", 0},       {"offsets-unmapped", 1},  {"sg-buffers-size-unaligned", 2},
      {"ptr-without-sg", 3},  {"fd-invalid", 4},        {"fda-empty", 5},
      {"fda-empty-at-end", 6}, {"ptr-child-parent-self", 7},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    static uint8_t data[8 + 40 + 40];
    static binder_size_t offs[3];
    static uint8_t parent[16];
    memset(data, 0, sizeof data);
    struct wb w = {0};
    uint32_t code = 10 + (uint32_t)i;
    struct binder_buffer_object p;
    memset(&p, 0, sizeof p);
    p.hdr.type = BINDER_TYPE_PTR;
    p.buffer = (binder_uintptr_t)(uintptr_t)parent;
    p.length = sizeof parent;
    struct binder_fd_array_object fda;
    memset(&fda, 0, sizeof fda);
    fda.hdr.type = BINDER_TYPE_FDA;
    switch (cases[i].kind) {
      case 0:
        wb_txn(&w, BC_TRANSACTION, 0, code, 0, NULL, 8, NULL, 0);
        break;
      case 1:
        put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0);
        wb_txn(&w, BC_TRANSACTION, 0, code, 0, data, 24, (const binder_size_t*)(uintptr_t)0x10,
               1);
        break;
      case 2:
        wb_txn_sg(&w, BC_TRANSACTION_SG, 0, code, 0, "abcd", 4, NULL, 0, 12);
        break;
      case 3:
        memcpy(data + 8, &p, sizeof p);
        offs[0] = 8;
        wb_txn(&w, BC_TRANSACTION, 0, code, 0, data, 48, offs, 1);
        break;
      case 4:
        put_fd(data, 0, 9999, 0);
        offs[0] = 0;
        wb_txn(&w, BC_TRANSACTION, 0, code, 0, data, 24, offs, 1);
        break;
      case 5:
      case 6:
        memcpy(data + 8, &p, sizeof p);
        fda.num_fds = 0;
        fda.parent = 0;
        fda.parent_offset = cases[i].kind == 5 ? 8 : sizeof parent;
        memcpy(data + 48, &fda, sizeof fda);
        offs[0] = 8;
        offs[1] = 48;
        wb_txn_sg(&w, BC_TRANSACTION_SG, 0, code, 0, data, 80, offs, 2, sizeof parent);
        break;
      case 7: {
        struct binder_buffer_object c = p;
        c.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
        c.parent = 1; /* itself */
        c.parent_offset = 0;
        memcpy(data + 8, &p, sizeof p);
        memcpy(data + 48, &c, sizeof c);
        offs[0] = 8;
        offs[1] = 48;
        wb_txn_sg(&w, BC_TRANSACTION_SG, 0, code, 0, data, 88, offs, 2, 2 * sizeof parent);
        break;
      }
    }
    b.last_txn_valid = 0;
    bt_wr(&b, &w, 1, cases[i].name);
    n += delivered(&b, 0);
    bt_extended_error(&b, cases[i].name);
    if (b.last_txn_valid) {
      struct wb f = {0};
      wb_free(&f, b.last_buffer);
      bt_wr(&b, &f, 0, "free");
    }
  }
  report_delivered(S.c2p[1], n);
}

static int s_txn_bad_args(void) {
  static struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", tba_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, FLAT_BINDER_FLAG_ACCEPTS_FDS);
  static struct server_thread st = {&b, NULL, {-1, -1}};
  start_server_thread(&st);
  bt_signal(S.p2c[1]);
  wait_served(&st, S.c2p[0]);
  return wait_child(c);
}

/* ================================================================== death_clear_race */
/* client owns R (0x1000, released first) and P (0x2000) */
static void dcr_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[48];
  static binder_size_t offs[2] = {0, 24};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  put_binder(data, 24, BINDER_TYPE_BINDER, 0x2000, 0x2001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 2);
  bt_wr(&b, &w, 1, "send-binders");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  for (uint64_t p = 0x1000; p <= 0x2000; p += 0x1000) {
    wb_ptr_cookie(&d, BC_INCREFS_DONE, p, p + 1);
    wb_ptr_cookie(&d, BC_ACQUIRE_DONE, p, p + 1);
  }
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
  bt_wr(&b, NULL, 1, "after-R-dropped");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* exits */
}

static int s_death_clear_race(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", dcr_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  handle_cmd(&w, BC_ACQUIRE, 2);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xe1);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 2, 0xe2);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-watch-reply");
  bt_wait(S.c2p[0]);
  /* dropping R's last ref discards its registration silently */
  struct wb r = {0};
  handle_cmd(&r, BC_RELEASE, 1);
  bt_wr(&b, &r, 0, "drop-R");
  read_nonblock(&b, "nothing-pending");
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  bt_signal(S.p2c[1]);
  int rc = wait_child(c);
  bt_wr(&b, NULL, 1, "death-of-P");
  /* clear after delivery, before BC_DEAD_BINDER_DONE: the CLEAR_DONE waits for the DONE */
  struct wb cl = {0};
  wb_handle_cookie(&cl, BC_CLEAR_DEATH_NOTIFICATION, 2, 0xe2);
  bt_wr(&b, &cl, 0, "clear-P");
  read_nonblock(&b, "before-done");
  struct wb dn = {0};
  wb_u32(&dn, BC_DEAD_BINDER_DONE);
  wb_u64(&dn, 0xe2);
  bt_wr(&b, &dn, 1, "done-P");
  read_nonblock(&b, "nothing-pending");
  struct wb dn2 = {0};
  wb_u32(&dn2, BC_DEAD_BINDER_DONE);
  wb_u64(&dn2, 0xe2);
  bt_wr(&b, &dn2, 0, "done-P-again");
  read_nonblock(&b, "nothing-pending");
  return rc;
}

/* ================================================================== clear_buf */
static void cb_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  call_plain(&b, 0, 1, TF_CLEAR_BUF, "call-clear-buf");
  bt_wait(S.p2c[0]); /* the manager looked at the freed buffer (the next call may reuse it) */
  /* the reply buffer of a call whose reply asked for clearing */
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 2, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call");
  const volatile uint8_t* p = (const volatile uint8_t*)(uintptr_t)b.last_buffer;
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free-reply");
  bt_log(&b, "reply buffer after free: %02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
}

static int s_clear_buf(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", cb_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  for (int i = 0; i < 2; i++) {
    bt_wr(&b, NULL, 1, "recv");
    const volatile uint8_t* p = (const volatile uint8_t*)(uintptr_t)b.last_buffer;
    struct wb w = {0};
    wb_free(&w, b.last_buffer);
    wb_txn(&w, BC_REPLY, 0, 0, i == 1 ? TF_CLEAR_BUF : 0, "rply", 4, NULL, 0);
    bt_wr(&b, &w, 1, "free-and-reply");
    bt_log(&b, "call buffer after free: %02x%02x%02x%02x", p[0], p[1], p[2], p[3]);
    if (i == 0) bt_signal(S.p2c[1]);
  }
  return wait_child(c);
}

/* ================================================================== node_info_errors */
static void nie_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  node_info(&b, 0, "not-manager");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 0);
  bt_wr(&b, &w, 0, "acquire-handle-0");
  node_info(&b, 0, "not-manager-with-ref");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &t, 1, "send-node");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  struct binder_node_debug_info di;
  memset(&di, 0, sizeof di);
  di.cookie = 0x77; /* only ptr is an input */
  if (ioctl(b.fd, BINDER_GET_NODE_DEBUG_INFO, &di) == 0)
    bt_log(&b, "debug-info with junk cookie: ptr=%#llx cookie=%#llx",
           (unsigned long long)di.ptr, (unsigned long long)di.cookie);
  else
    bt_log(&b, "debug-info with junk cookie: errno=%d", errno);
  bt_result(&b, "debug-info-null-arg", ioctl(b.fd, BINDER_GET_NODE_DEBUG_INFO, NULL));
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
}

static int s_node_info_errors(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", nie_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  node_info(&b, 0, "manager-handle-0");
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv", "ok\0\0", 4);
  bt_wait(S.c2p[0]);
  node_info(&b, 1, "buffer-freed");
  node_info(&b, 99, "no-such-handle");
  struct binder_node_info_for_ref info;
  memset(&info, 0, sizeof info);
  info.handle = 1;
  info.weak_count = 5;
  bt_result(&b, "junk-in-weak-count", ioctl(b.fd, BINDER_GET_NODE_INFO_FOR_REF, &info));
  bt_result(&b, "null-arg", ioctl(b.fd, BINDER_GET_NODE_INFO_FOR_REF, NULL));
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== freeze */
static void fz_server(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "register");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  serve_one(&b, "recv", NULL, 0); /* the one-way sent while frozen is delivered at once */
  bt_signal(S.c2p[1]);
  serve_one(&b, "recv", "ok\0\0", 4); /* a call after thawing */
  bt_wait(S.p2c[0]);
}

static void frozen_info(struct bt* b, pid_t pid, const char* label) {
  struct binder_frozen_status_info fi;
  memset(&fi, 0, sizeof fi);
  fi.pid = (uint32_t)pid;
  if (ioctl(b->fd, BINDER_GET_FROZEN_INFO, &fi) == 0)
    bt_log(b, "%s: sync_recv=%u async_recv=%u", label, fi.sync_recv, fi.async_recv);
  else
    bt_log(b, "%s: errno=%d", label, errno);
}

static int do_freeze(struct bt* b, pid_t pid, int enable) {
  struct binder_freeze_info fi;
  memset(&fi, 0, sizeof fi);
  fi.pid = (uint32_t)pid;
  fi.enable = (uint32_t)enable;
  fi.timeout_ms = 100;
  return ioctl(b->fd, BINDER_FREEZE, &fi);
}

static int s_freeze(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t s = fork_role("server", fz_server, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, 1);
  wb_free(&k, b.last_buffer);
  wb_txn(&k, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &k, 1, "keep-and-reply");
  bt_wait(S.c2p[0]);
  frozen_info(&b, s, "before-freeze");
  bt_result(&b, "freeze", do_freeze(&b, s, 1));
  frozen_info(&b, s, "frozen");
  b.last_txn_valid = 0;
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 1, 2, 0, "sync", 4, NULL, 0);
  bt_wr(&b, &t, 1, "call-frozen");
  bt_extended_error(&b, "call-frozen");
  struct wb o = {0};
  wb_txn(&o, BC_TRANSACTION, 1, 3, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
  bt_wr(&b, &o, 1, "oneway-frozen");
  bt_wait(S.c2p[0]); /* the server took (and freed) the one-way */
  frozen_info(&b, s, "after-calls");
  bt_result(&b, "unfreeze", do_freeze(&b, s, 0));
  frozen_info(&b, s, "thawed");
  call_plain(&b, 1, 4, 0, "call-thawed");
  frozen_info(&b, 999999, "no-such-pid");
  bt_result(&b, "freeze-no-such-pid", do_freeze(&b, 999999, 1));
  bt_signal(S.p2c[1]);
  return wait_child(s);
}

/* ================================================================== unmapped_target */
static void ut_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  call_plain(&b, 0, 1, 0, "call-before-mmap");
  bt_extended_error(&b, "before-mmap");
  call_plain(&b, 0, 2, TF_ONE_WAY, "oneway-before-mmap");
  bt_extended_error(&b, "oneway-before-mmap");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
  call_plain(&b, 0, 3, 0, "call-mapped");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
  call_plain(&b, 0, 4, 0, "call-after-munmap");
  bt_extended_error(&b, "after-munmap");
}

static int s_unmapped_target(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ut_client, NULL);
  bt_open_nomap(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  void* m = mmap(NULL, BT_MAP_SIZE, PROT_READ, MAP_PRIVATE, b.fd, 0);
  bt_result(&b, "mmap", m == MAP_FAILED ? -1 : 0);
  b.map = m;
  b.map_size = BT_MAP_SIZE;
  read_nonblock(&b, "nothing-queued-while-unmapped");
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv", "ok\0\0", 4);
  bt_wait(S.c2p[0]);
  bt_result(&b, "munmap", munmap(m, BT_MAP_SIZE));
  bt_signal(S.p2c[1]);
  int rc = wait_child(c);
  void* m2 = mmap(NULL, BT_MAP_SIZE, PROT_READ, MAP_PRIVATE, b.fd, 0);
  bt_result(&b, "mmap-again", m2 == MAP_FAILED ? -1 : 0);
  return rc;
}

/* ================================================================== oneway_nodes */
/* one-ways are serialized per node: a held buffer stalls its node only */
static void on_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S2.p2c[0]);
  bt_open(&b, "client");
  struct wb l = {0};
  wb_txn(&l, BC_TRANSACTION, 0, 1, 0, "find", 4, NULL, 0);
  bt_wr(&b, &l, 1, "lookup");
  const struct flat_binder_object* o = (const void*)(uintptr_t)b.last_txn.data.ptr.buffer;
  uint32_t hx = o[0].handle, hy = o[1].handle;
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, hx);
  handle_cmd(&k, BC_ACQUIRE, hy);
  wb_free(&k, b.last_buffer);
  bt_wr(&b, &k, 0, "keep-and-free");
  static const uint32_t target[4] = {0, 0, 1, 0};
  static const uint32_t flags[4] = {TF_ONE_WAY, TF_ONE_WAY, TF_ONE_WAY, 0};
  for (int i = 0; i < 4; i++) {
    struct wb w = {0};
    wb_txn(&w, BC_TRANSACTION, target[i] ? hy : hx, 11 + (uint32_t)i, flags[i], "msg", 4, NULL, 0);
    bt_wr(&b, &w, flags[i] & TF_ONE_WAY, flags[i] ? "oneway" : "call-write-only");
  }
  bt_signal(S2.c2p[1]);
  bt_wr(&b, NULL, 1, "wait-reply");
}

static void on_server(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[48];
  static binder_size_t offs[2] = {0, 24};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  put_binder(data, 24, BINDER_TYPE_BINDER, 0x2000, 0x2001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 2);
  bt_wr(&b, &w, 1, "register-X-Y");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  for (uint64_t p = 0x1000; p <= 0x2000; p += 0x1000) {
    wb_ptr_cookie(&d, BC_INCREFS_DONE, p, p + 1);
    wb_ptr_cookie(&d, BC_ACQUIRE_DONE, p, p + 1);
  }
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the client sent everything */
  bt_wr(&b, NULL, 1, "recv");
  binder_uintptr_t first = b.last_buffer;
  bt_log(&b, "target ptr=%#llx", (unsigned long long)b.last_txn.target.ptr);
  bt_wr(&b, NULL, 1, "recv-holding-first");
  bt_log(&b, "target ptr=%#llx", (unsigned long long)b.last_txn.target.ptr);
  binder_uintptr_t second = b.last_buffer;
  bt_wr(&b, NULL, 1, "recv-holding-first");
  bt_log(&b, "target ptr=%#llx", (unsigned long long)b.last_txn.target.ptr);
  reply_and_complete(&b, "reply");
  read_nonblock(&b, "held-back");
  struct wb f = {0};
  wb_free(&f, first);
  wb_free(&f, second);
  bt_wr(&b, &f, 1, "free-first-two");
  bt_log(&b, "target ptr=%#llx", (unsigned long long)b.last_txn.target.ptr);
  struct wb f2 = {0};
  wb_free(&f2, b.last_buffer);
  bt_wr(&b, &f2, 0, "free");
  read_nonblock(&b, "nothing-pending");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
}

static int s_oneway_nodes(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_sync_init(&S2);
  pid_t cl = fork_role("client", on_client, NULL);
  pid_t sv = fork_role("server", on_server, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, 1);
  handle_cmd(&k, BC_ACQUIRE, 2);
  wb_free(&k, b.last_buffer);
  wb_txn(&k, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &k, 1, "keep-and-reply");
  bt_wait(S.c2p[0]);
  bt_signal(S2.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-lookup");
  static uint8_t rd[48];
  static binder_size_t roffs[2] = {0, 24};
  put_handle(rd, 0, BINDER_TYPE_HANDLE, 1);
  put_handle(rd, 24, BINDER_TYPE_HANDLE, 2);
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, rd, sizeof rd, roffs, 2);
  bt_wr(&b, &r, 1, "reply-handles");
  bt_wait(S2.c2p[0]);
  bt_signal(S.p2c[1]);
  int rc = wait_child(cl);
  bt_wait(S.c2p[0]);
  bt_signal(S.p2c[1]);
  return wait_child(sv) | rc;
}

/* ================================================================== ack_mismatch */
static void am_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-node");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, 0xbad);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, 0xbad);
  bt_wr(&b, &d, 0, "ack-wrong-cookie");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager dropped its ref */
  read_nonblock(&b, "after-drop");
  node_debug_walk(&b, "nodes");
  struct wb a = {0};
  wb_ptr_cookie(&a, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&a, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &a, 1, "ack-right-cookie");
  node_debug_walk(&b, "nodes");
}

static int s_ack_mismatch(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", am_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "keep-and-reply");
  bt_wait(S.c2p[0]);
  struct wb r = {0};
  handle_cmd(&r, BC_RELEASE, 1);
  bt_wr(&b, &r, 0, "release");
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== caller_thread_exit */
static void cte_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 0, "call-write-only");
  int zero = 0;
  bt_result(&b, "thread-exit-while-waiting", ioctl(b.fd, BINDER_THREAD_EXIT, &zero));
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager replied */
  read_nonblock(&b, "new-thread-first-read");
  read_nonblock(&b, "no-reply");
  call_plain(&b, 0, 2, 0, "call-again");
}

static int s_caller_thread_exit(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", cte_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  bt_wr(&b, NULL, 1, "recv");
  reply_and_complete(&b, "reply-to-exited-thread");
  bt_extended_error(&b, "replier");
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv", "ok\0\0", 4);
  return wait_child(c);
}

static void fz_server_update(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "register");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager sent its one-ways and thawed us */
  for (int i = 0; i < 8; i++) {
    struct wb f = {0};
    if (i) wb_free(&f, b.last_buffer);
    b.last_txn_valid = 0;
    set_nonblock(&b, 1);
    bt_wr(&b, &f, 1, "recv");
    set_nonblock(&b, 0);
    if (!b.last_txn_valid) break;
  }
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]);
}

/* ================================================================== update_txn */
/* TF_UPDATE_TXN: a one-way to a frozen process replaces an older one queued on the same node */
static int s_update_txn(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t s = fork_role("server", fz_server_update, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, 1);
  wb_free(&k, b.last_buffer);
  wb_txn(&k, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &k, 1, "keep-and-reply");
  bt_wait(S.c2p[0]); /* the server is registered and not reading */
  bt_result(&b, "freeze", do_freeze(&b, s, 1));
  static const struct {
    uint32_t code, flags;
    const char* payload;
  } sends[] = {
      {5, TF_ONE_WAY | TF_UPDATE_TXN, "A\0\0\0"}, /* delivered to the process queue */
      {5, TF_ONE_WAY | TF_UPDATE_TXN, "B\0\0\0"}, /* queued on the node behind A */
      {6, TF_ONE_WAY | TF_UPDATE_TXN, "C\0\0\0"}, /* other code: queued */
      {5, TF_ONE_WAY | TF_UPDATE_TXN, "D\0\0\0"}, /* replaces B */
      {5, TF_ONE_WAY, "E\0\0\0"},                 /* no UPDATE flag: queued */
  };
  for (size_t i = 0; i < sizeof sends / sizeof sends[0]; i++) {
    struct wb o = {0};
    wb_txn(&o, BC_TRANSACTION, 1, sends[i].code, sends[i].flags, sends[i].payload, 4, NULL, 0);
    bt_wr(&b, &o, 1, "oneway");
  }
  frozen_info(&b, s, "frozen");
  bt_result(&b, "unfreeze", do_freeze(&b, s, 0));
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  bt_signal(S.p2c[1]);
  return wait_child(s);
}

/* ================================================================== freeze_busy */
static void fb_server(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "server");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "register");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wr(&b, NULL, 1, "recv");
  bt_signal(S.c2p[1]); /* holding the call */
  bt_wait(S.p2c[0]);
  reply_and_complete(&b, "reply");
  bt_wait(S.p2c[0]);
}

static int s_freeze_busy(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t s = fork_role("server", fb_server, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv-register");
  struct wb k = {0};
  handle_cmd(&k, BC_ACQUIRE, 1);
  wb_free(&k, b.last_buffer);
  wb_txn(&k, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &k, 1, "keep-and-reply");
  bt_wait(S.c2p[0]);
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 1, 2, 0, "sync", 4, NULL, 0);
  bt_wr(&b, &t, 0, "call-write-only");
  bt_wait(S.c2p[0]); /* the server holds the call */
  bt_result(&b, "freeze-while-busy", do_freeze(&b, s, 1));
  frozen_info(&b, s, "after-failed-freeze");
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "wait-reply");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  bt_result(&b, "freeze-idle", do_freeze(&b, s, 1));
  bt_result(&b, "unfreeze", do_freeze(&b, s, 0));
  bt_signal(S.p2c[1]);
  return wait_child(s);
}

/* ================================================================== reply_sg */
static void rsg_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, TF_ACCEPT_FDS, "sg?", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call");
  if (b.last_txn_valid && b.last_txn.offsets_size == 3 * sizeof(binder_size_t)) {
    const uint8_t* d = (const uint8_t*)(uintptr_t)b.last_txn.data.ptr.buffer;
    struct binder_buffer_object pa, ch;
    memcpy(&pa, d + 8, sizeof pa);
    memcpy(&ch, d + 48, sizeof ch);
    const struct sg_parent* p = (const void*)(uintptr_t)pa.buffer;
    bt_log(&b, "parent.child_ptr fixed up: %d, child payload '%s'", p->child_ptr == ch.buffer,
           (const char*)(uintptr_t)ch.buffer);
    read_fd_text(&b, (int)(uint32_t)p->pad, "fda[0]");
  }
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
}

static int s_reply_sg(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", rsg_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  int pp[2];
  if (pipe(pp)) abort();
  if (write(pp[1], "sg-fd", 5) != 5) abort();
  close(pp[1]);
  static struct sg_parent parent;
  static char child[16] = "reply-child";
  parent.child_ptr = (binder_uintptr_t)(uintptr_t)child;
  parent.pad = (uint64_t)(uint32_t)pp[0]; /* the fd array (one fd) lives in the pad word */
  static uint8_t data[8 + 40 + 40 + 32];
  struct binder_buffer_object a, ch;
  memset(&a, 0, sizeof a);
  a.hdr.type = BINDER_TYPE_PTR;
  a.buffer = (binder_uintptr_t)(uintptr_t)&parent;
  a.length = sizeof parent;
  memcpy(data + 8, &a, sizeof a);
  memset(&ch, 0, sizeof ch);
  ch.hdr.type = BINDER_TYPE_PTR;
  ch.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
  ch.buffer = (binder_uintptr_t)(uintptr_t)child;
  ch.length = sizeof child;
  ch.parent = 0;
  ch.parent_offset = offsetof(struct sg_parent, child_ptr);
  memcpy(data + 48, &ch, sizeof ch);
  struct binder_fd_array_object fda;
  memset(&fda, 0, sizeof fda);
  fda.hdr.type = BINDER_TYPE_FDA;
  fda.num_fds = 1;
  fda.parent = 0;
  fda.parent_offset = offsetof(struct sg_parent, pad);
  memcpy(data + 88, &fda, sizeof fda);
  static binder_size_t offs[3] = {8, 48, 88};
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_txn_sg(&r, BC_REPLY_SG, 0, 0, 0, data, sizeof data, offs, 3, sizeof parent + sizeof child);
  bt_wr(&b, &r, 1, "reply-sg");
  bt_extended_error(&b, "replier");
  close(pp[0]);
  return wait_child(c);
}

/* ================================================================== poll_states */
static void ps_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  print_poll(&b, "idle");
  struct wb o = {0};
  wb_txn(&o, BC_TRANSACTION, 0, 1, TF_ONE_WAY, "ow\0\0", 4, NULL, 0);
  bt_wr(&b, &o, 0, "oneway-write-only");
  print_poll(&b, "oneway-completion-queued");
  bt_wr(&b, NULL, 1, "read");
  print_poll(&b, "drained");
  struct wb s = {0};
  wb_txn(&s, BC_TRANSACTION, 0, 2, 0, "call", 4, NULL, 0);
  bt_wr(&b, &s, 0, "call-write-only");
  print_poll(&b, "sync-completion-deferred");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* the manager replied */
  print_poll(&b, "reply-queued");
  bt_wr(&b, NULL, 1, "read");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
  print_poll(&b, "drained");
}

static int s_poll_states(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ps_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  serve_one(&b, "recv", NULL, 0);
  bt_wait(S.c2p[0]);
  serve_one(&b, "recv", "ok\0\0", 4);
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ================================================================== death_looper_routing */
/* death work of a looper thread goes to that thread; BR_DEAD_BINDER goes to the process */
static void* dlr_t2(void* arg) {
  (void)arg;
  struct bt t = g_srv;
  t.role = "mgr-t2";
  t.last_txn_valid = 0;
  struct wb e = {0};
  wb_u32(&e, BC_ENTER_LOOPER);
  bt_wr(&t, &e, 1, "enter-looper"); /* first read of a new thread: returns at once */
  bt_signal(T.c2p[1]);
  bt_wr(&t, NULL, 1, "recv"); /* blocks until the client dies */
  struct wb d = {0};
  wb_u32(&d, BC_DEAD_BINDER_DONE);
  wb_u64(&d, 0xa2);
  wb_handle_cookie(&d, BC_CLEAR_DEATH_NOTIFICATION, 1, 0xa2);
  bt_wr(&t, &d, 1, "done-and-clear");
  bt_signal(T.c2p[1]);
  return NULL;
}

static void dlr_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-node");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_wait(S.p2c[0]); /* exits */
}

static int s_death_looper_routing(void) {
  bt_sync_init(&S);
  bt_sync_init(&T);
  pid_t c = fork_role("client", dlr_client, NULL);
  struct bt* b = &g_srv;
  bt_open(b, "mgr-t1");
  become_mgr(b, 0);
  bt_signal(S.p2c[1]);
  struct wb e = {0};
  wb_u32(&e, BC_ENTER_LOOPER);
  bt_wr(b, &e, 1, "enter-looper-recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xa1);
  wb_free(&w, b->last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(b, &w, 1, "watch-and-reply");
  pthread_t t2;
  if (pthread_create(&t2, NULL, dlr_t2, NULL)) abort();
  bt_wait(T.c2p[0]); /* t2 is a looper too, about to wait for process work */
  struct wb cl = {0};
  wb_handle_cookie(&cl, BC_CLEAR_DEATH_NOTIFICATION, 1, 0xa1);
  bt_wr(b, &cl, 1, "clear"); /* to this looper thread, not to t2 */
  struct wb r = {0};
  wb_handle_cookie(&r, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xa2);
  bt_wr(b, &r, 0, "watch-again");
  bt_signal(S.p2c[1]);
  int rc = wait_child(c);
  bt_wait(T.c2p[0]); /* t2 got the death and cleared */
  pthread_join(t2, NULL);
  struct wb r3 = {0};
  wb_handle_cookie(&r3, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xa3);
  bt_wr(b, &r3, 1, "watch-dead-node");
  return rc;
}

/* ================================================================== ioctl_null_args */
static int s_ioctl_null_args(void) {
  struct bt b;
  bt_open(&b, "mgr");
  bt_result(&b, "set-context-mgr-ext-null", ioctl(b.fd, BINDER_SET_CONTEXT_MGR_EXT, NULL));
  bt_result(&b, "enable-oneway-spam-detection-null",
            ioctl(b.fd, BINDER_ENABLE_ONEWAY_SPAM_DETECTION, NULL));
  bt_result(&b, "get-extended-error-null", ioctl(b.fd, BINDER_GET_EXTENDED_ERROR, NULL));
  bt_result(&b, "freeze-null", ioctl(b.fd, BINDER_FREEZE, NULL));
  bt_result(&b, "get-frozen-info-null", ioctl(b.fd, BINDER_GET_FROZEN_INFO, NULL));
  bt_result(&b, "thread-exit-null", ioctl(b.fd, BINDER_THREAD_EXIT, NULL));
  bt_result(&b, "set-idle-priority", ioctl(b.fd, BINDER_SET_IDLE_PRIORITY, NULL));
  struct flat_binder_object o;
  memset(&o, 0, sizeof o);
  o.hdr.type = BINDER_TYPE_HANDLE; /* the type is not checked */
  o.binder = 0x4000;
  o.cookie = 0x4001;
  int r = -1;
  for (int i = 0; i < 300; i++) {
    r = ioctl(b.fd, BINDER_SET_CONTEXT_MGR_EXT, &o);
    if (r == 0 || errno != EBUSY) break;
    usleep(10000); /* the previous run's manager is still being released */
  }
  bt_result(&b, "set-context-mgr-ext-handle-type", r);
  node_debug_walk(&b, "nodes"); /* the manager node has the object's ptr and cookie */
  return 0;
}

/* ================================================================== death_two_nodes */
/* a read stops after a BR_DEAD_BINDER: two deaths need two reads */
static void dtn_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[48];
  static binder_size_t offs[2] = {0, 24};
  put_binder(data, 0, BINDER_TYPE_BINDER, 0x1000, 0x1001, 0x7f);
  put_binder(data, 24, BINDER_TYPE_BINDER, 0x2000, 0x2001, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 2);
  bt_wr(&b, &w, 1, "send-binders");
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  for (uint64_t p = 0x1000; p <= 0x2000; p += 0x1000) {
    wb_ptr_cookie(&d, BC_INCREFS_DONE, p, p + 1);
    wb_ptr_cookie(&d, BC_ACQUIRE_DONE, p, p + 1);
  }
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* exits */
}

static int s_death_two_nodes(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", dtn_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  handle_cmd(&w, BC_ACQUIRE, 1);
  handle_cmd(&w, BC_ACQUIRE, 2);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xf1);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 2, 0xf2);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "watch-and-reply");
  bt_wait(S.c2p[0]);
  bt_signal(S.p2c[1]);
  int rc = wait_child(c);
  bt_wr(&b, NULL, 1, "death-1");
  bt_wr(&b, NULL, 1, "death-2");
  struct wb d = {0};
  wb_u32(&d, BC_DEAD_BINDER_DONE);
  wb_u64(&d, 0xf1);
  wb_u32(&d, BC_DEAD_BINDER_DONE);
  wb_u64(&d, 0xf2);
  wb_handle_cookie(&d, BC_CLEAR_DEATH_NOTIFICATION, 1, 0xf1);
  wb_handle_cookie(&d, BC_CLEAR_DEATH_NOTIFICATION, 2, 0xf2);
  bt_wr(&b, &d, 1, "done-and-clear");
  read_nonblock(&b, "nothing-pending");
  return rc;
}

/* ================================================================== oneway_binder */
static void ob_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[24];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, TF_ONE_WAY, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "oneway-binder");
  ack_node(&b, NODE_PTR, NODE_COOKIE, 1);
  bt_signal(S.c2p[1]);
  bt_wr(&b, NULL, 1, "after-receiver-freed");
  node_debug_walk(&b, "nodes");
}

static int s_oneway_binder(void) {
  struct bt b;
  bt_sync_init(&S);
  pid_t c = fork_role("client", ob_client, NULL);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]); /* the owner read and acked its node's references */
  serve_one(&b, "recv", NULL, 0);
  return wait_child(c);
}

/* ================================================================== spawn_accounting */
/* at most one BR_SPAWN_LOOPER is outstanding until a thread registers; registered spawned threads
 * count against max_threads */
static void* sa_register(void* arg) {
  struct bt t = g_srv;
  t.role = (const char*)arg;
  struct wb w = {0};
  wb_u32(&w, BC_REGISTER_LOOPER);
  bt_wr(&t, &w, 0, "register-looper");
  bt_log(&t, "registered");
  return NULL;
}

static void sa_spawn(const char* role) {
  pthread_t t;
  if (pthread_create(&t, NULL, sa_register, (void*)role)) abort();
  pthread_join(t, NULL);
}

static int s_spawn_accounting(void) {
  bt_sync_init(&S);
  pid_t c = fork_role("client", pool_client, NULL);
  struct bt* b = &g_srv;
  bt_open(b, "mgr-t1");
  become_mgr(b, 0);
  uint32_t max = 2;
  bt_result(b, "set-max-threads-2", ioctl(b->fd, BINDER_SET_MAX_THREADS, &max));
  struct wb e = {0};
  wb_u32(&e, BC_ENTER_LOOPER);
  bt_wr(b, &e, 0, "enter-looper");
  bt_signal(S.p2c[1]);
  bt_wr(b, NULL, 1, "recv1");
  reply_and_complete(b, "reply1");
  bt_signal(S.p2c[1]);
  bt_wr(b, NULL, 1, "recv2-spawn-pending");
  reply_and_complete(b, "reply2");
  sa_spawn("mgr-t2");
  bt_signal(S.p2c[1]);
  bt_wr(b, NULL, 1, "recv3");
  reply_and_complete(b, "reply3");
  sa_spawn("mgr-t3");
  sa_spawn("mgr-t4"); /* not requested */
  bt_signal(S.p2c[1]);
  bt_wr(b, NULL, 1, "recv4-pool-full");
  reply_and_complete(b, "reply4");
  return wait_child(c);
}

/* ------------------------------------------------------------------ main */
static const struct {
  const char* name;
  int (*fn)(void);
} scenarios[] = {
    {"ioctl_basics", s_ioctl_basics},
    {"thread_pool", s_thread_pool},
    {"nonlooper_thread", s_nonlooper_thread},
    {"txn_flags", s_txn_flags},
    {"reply_fds", s_reply_fds},
    {"weak_handle", s_weak_handle},
    {"self_call", s_self_call},
    {"free_buffer_misuse", s_free_buffer_misuse},
    {"sg_secctx", s_sg_secctx},
    {"handle_passing", s_handle_passing},
    {"ref_underflow", s_ref_underflow},
    {"death_misc", s_death_misc},
    {"thread_exit_reply", s_thread_exit_reply},
    {"exit_pending_oneway", s_exit_pending_oneway},
    {"async_space", s_async_space},
    {"oneway_spam", s_oneway_spam},
    {"sync_too_large", s_sync_too_large},
    {"extended_error", s_extended_error},
    {"rw_edges", s_rw_edges},
    {"spawn_quirks", s_spawn_quirks},
    {"second_call", s_second_call},
    {"mgr_replacement", s_mgr_replacement},
    {"node_identity", s_node_identity},
    {"handle_recycling", s_handle_recycling},
    {"reply_to_dead_caller", s_reply_to_dead_caller},
    {"nested_three", s_nested_three},
    {"priority", s_priority},
    {"txn_bad_args", s_txn_bad_args},
    {"death_clear_race", s_death_clear_race},
    {"clear_buf", s_clear_buf},
    {"node_info_errors", s_node_info_errors},
    {"freeze", s_freeze},
    {"unmapped_target", s_unmapped_target},
    {"oneway_nodes", s_oneway_nodes},
    {"ack_mismatch", s_ack_mismatch},
    {"caller_thread_exit", s_caller_thread_exit},
    {"update_txn", s_update_txn},
    {"freeze_busy", s_freeze_busy},
    {"reply_sg", s_reply_sg},
    {"poll_states", s_poll_states},
    {"death_looper_routing", s_death_looper_routing},
    {"ioctl_null_args", s_ioctl_null_args},
    {"death_two_nodes", s_death_two_nodes},
    {"oneway_binder", s_oneway_binder},
    {"spawn_accounting", s_spawn_accounting},
};

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || strcmp(argv[1], "list") == 0) {
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) puts(scenarios[i].name);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    if (strcmp(argv[1], scenarios[i].name) == 0) {
      alarm(20);
      bt_role_pid("mgr", getpid());
      return scenarios[i].fn();
    }
  }
  fprintf(stderr, "unknown scenario %s\n", argv[1]);
  return 2;
}
