/*
 * binder_scenarios — conformance scenarios written only against <linux/android/binder.h>.
 * Usage: binder_scenarios NAME   (or "list"). Prints a normalized per-role trace (uapi_trace.h).
 * The same source runs on the kernel driver (static build, tools/binder-vm) and on binderd
 * (dynamic build, LD_PRELOAD=libnetbinder_preload.so); tests/conformance/expected/ holds the
 * kernel's traces, recorded with tests/conformance/record_kernel_traces.sh.
 */
#include "uapi_trace.h"

#define NODE_PTR 0x1000u
#define NODE_COOKIE 0x2000u

static pid_t fork_role(const char* name, void (*fn)(void*), void* arg) {
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) abort();
  if (pid == 0) {
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

static void become_mgr(struct bt* b, uint32_t flags) {
  if (flags == 0) {
    int zero = 0;
    if (ioctl(b->fd, BINDER_SET_CONTEXT_MGR, &zero) < 0) bt_die(b, "SET_CONTEXT_MGR");
  } else {
    struct flat_binder_object o;
    memset(&o, 0, sizeof o);
    o.hdr.type = BINDER_TYPE_BINDER;
    o.flags = flags;
    if (ioctl(b->fd, BINDER_SET_CONTEXT_MGR_EXT, &o) < 0) bt_die(b, "SET_CONTEXT_MGR_EXT");
  }
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

/* mgr side of a simple server: read one transaction, reply with `reply` bytes, free it. */
static void serve_one(struct bt* b, const char* label, const void* reply, size_t len) {
  bt_wr(b, NULL, 1, label);
  if (!b->last_txn_valid) return;
  struct wb w = {0};
  wb_free(&w, b->last_buffer);
  b->last_txn_valid = 0;
  if (!(b->last_txn.flags & TF_ONE_WAY)) wb_txn(&w, BC_REPLY, 0, 0, 0, reply, len, NULL, 0);
  bt_wr(b, &w, 1, "reply");
}

/* ------------------------------------------------------------------ txn_roundtrip */
static struct bt_sync S;

static void roundtrip_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static const char ping[] = "ping";
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 7, TF_ACCEPT_FDS, ping, 4, NULL, 0);
  bt_wr(&b, &w, 1, "call");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
}

static int s_txn_roundtrip(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  pid_t c = fork_role("client", roundtrip_client, NULL);
  bt_signal(S.p2c[1]);
  serve_one(&b, "serve", "pong", 4);
  return wait_child(c);
}

/* ------------------------------------------------------------------ refcount_handshake */
static void handshake_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[32];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-binder");
  bt_signal(S.c2p[1]); /* BR_INCREFS/BR_ACQUIRE read, not yet acknowledged */
  bt_wait(S.p2c[0]);
  struct wb d = {0};
  wb_free(&d, b.last_buffer);
  wb_ptr_cookie(&d, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&d, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  bt_wr(&b, &d, 0, "ack");
  bt_signal(S.c2p[1]);
  bt_wait(S.p2c[0]); /* mgr dropped its refs */
  bt_wr(&b, NULL, 1, "after-release");
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

static int s_refcount_handshake(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  pid_t c = fork_role("client", handshake_client, NULL);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  wb_u32(&w, BC_INCREFS);
  wb_u32(&w, 1);
  wb_u32(&w, BC_ACQUIRE);
  wb_u32(&w, 1);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "take-refs-and-reply");
  bt_wait(S.c2p[0]);
  node_info(&b, 1, "before-ack");
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  node_info(&b, 1, "after-ack");
  struct wb r = {0};
  wb_u32(&r, BC_RELEASE);
  wb_u32(&r, 1);
  wb_u32(&r, BC_DECREFS);
  wb_u32(&r, 1);
  bt_wr(&b, &r, 0, "drop-refs");
  bt_signal(S.p2c[1]);
  return wait_child(c);
}

/* ------------------------------------------------------------------ nested_call */
static void nested_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[32];
  static binder_size_t offs[1] = {0};
  put_binder(data, 0, BINDER_TYPE_BINDER, NODE_PTR, NODE_COOKIE, 0x7f);
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 1, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "call");  /* the nested call-back arrives on this same thread */
  struct wb r = {0};
  wb_ptr_cookie(&r, BC_INCREFS_DONE, NODE_PTR, NODE_COOKIE);
  wb_ptr_cookie(&r, BC_ACQUIRE_DONE, NODE_PTR, NODE_COOKIE);
  wb_free(&r, b.last_buffer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, "cb!\0", 4, NULL, 0);
  b.last_txn_valid = 0;
  bt_wr(&b, &r, 1, "reply-callback");
  bt_signal(S.c2p[1]); /* only now may the manager send the outer reply */
  bt_wr(&b, NULL, 1, "wait-reply");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
}

static int s_nested_call(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  pid_t c = fork_role("client", nested_client, NULL);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  binder_uintptr_t outer = b.last_buffer;
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 1, 2, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 1, "callback");
  bt_wait(S.c2p[0]);
  struct wb r = {0};
  wb_free(&r, b.last_buffer);
  wb_free(&r, outer);
  wb_txn(&r, BC_REPLY, 0, 0, 0, "done", 4, NULL, 0);
  bt_wr(&b, &r, 1, "reply");
  return wait_child(c);
}

/* ------------------------------------------------------------------ oneway_order */
static void oneway_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  for (uint32_t code = 1; code <= 3; code++) {
    struct wb w = {0};
    uint32_t payload = code * 0x11111111u;
    wb_txn(&w, BC_TRANSACTION, 0, code, TF_ONE_WAY, &payload, 4, NULL, 0);
    bt_wr(&b, &w, 1, "oneway");
  }
  bt_signal(S.c2p[1]);
}

static int s_oneway_order(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  pid_t c = fork_role("client", oneway_client, NULL);
  bt_signal(S.p2c[1]);
  bt_wait(S.c2p[0]);
  bt_wr(&b, NULL, 1, "recv1");
  /* the next one-way to this node waits until this buffer is freed */
  int fl = fcntl(b.fd, F_GETFL);
  fcntl(b.fd, F_SETFL, fl | O_NONBLOCK);
  /* non-blocking read: the kernel returns EAGAIN or a bare BR_NOOP here; either way no txn */
  b.last_txn_valid = 0;
  bt_silent = 1;
  bt_wr(&b, NULL, 1, "recv-before-free");
  bt_silent = 0;
  bt_log(&b, "recv-before-free: transaction delivered=%d", b.last_txn_valid);
  for (int i = 2; i <= 3; i++) {
    struct wb w = {0};
    wb_free(&w, b.last_buffer);
    bt_wr(&b, &w, 1, i == 2 ? "free-recv2" : "free-recv3");
  }
  struct wb w = {0};
  wb_free(&w, b.last_buffer);
  b.last_txn_valid = 0;
  bt_silent = 1;
  bt_wr(&b, &w, 1, "free-last");
  bt_silent = 0;
  bt_log(&b, "free-last: transaction delivered=%d", b.last_txn_valid);
  return wait_child(c);
}

/* ------------------------------------------------------------------ death_notification */
static void death_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  static uint8_t data[32];
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
  bt_wait(S.p2c[0]);
  /* exits: its node dies */
}

static int s_death_notification(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  pid_t c = fork_role("client", death_client, NULL);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  struct wb w = {0};
  wb_u32(&w, BC_ACQUIRE);
  wb_u32(&w, 1);
  wb_handle_cookie(&w, BC_REQUEST_DEATH_NOTIFICATION, 1, 0xdead);
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "watch-and-reply");
  bt_signal(S.p2c[1]);
  wait_child(c);
  bt_wr(&b, NULL, 1, "after-death");
  struct wb d = {0};
  wb_u32(&d, BC_DEAD_BINDER_DONE);
  wb_u64(&d, 0xdead);
  wb_handle_cookie(&d, BC_CLEAR_DEATH_NOTIFICATION, 1, 0xdead);
  bt_wr(&b, &d, 1, "done-and-clear");
  struct wb t = {0};
  wb_txn(&t, BC_TRANSACTION, 1, 5, 0, "dead", 4, NULL, 0);
  bt_wr(&b, &t, 1, "call-dead");
  struct wb r = {0};
  wb_u32(&r, BC_RELEASE);
  wb_u32(&r, 1);
  bt_wr(&b, &r, 0, "release");
  return 0;
}

/* ------------------------------------------------------------------ dead_reply */
static void dead_reply_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 9, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call");
  bt_extended_error(&b, "after-dead-reply");
}

static void dead_reply_mgr(void* arg) {
  (void)arg;
  struct bt b;
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  bt_signal(S.c2p[1]);
  bt_wr(&b, NULL, 1, "recv");
  /* exits without replying */
}

static int s_dead_reply(void) {
  bt_sync_init(&S);
  pid_t c = fork_role("client", dead_reply_client, NULL);
  pid_t m = fork_role("mgr", dead_reply_mgr, NULL);
  bt_wait(S.c2p[0]);
  bt_signal(S.p2c[1]);
  int rc = wait_child(m);
  return wait_child(c) | rc;
}

/* ------------------------------------------------------------------ invalid_handle */
static int s_invalid_handle(void) {
  struct bt b;
  bt_open(&b, "client");
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 42, 1, 0, "call", 4, NULL, 0);
  bt_wr(&b, &w, 1, "call-handle-42");
  bt_extended_error(&b, "handle-42");
  struct wb z = {0};
  wb_txn(&z, BC_TRANSACTION, 0, 1, 0, "call", 4, NULL, 0);
  bt_wr(&b, &z, 1, "call-no-manager");
  bt_extended_error(&b, "no-manager");
  struct wb r = {0};
  wb_u32(&r, BC_ACQUIRE);
  wb_u32(&r, 42);
  bt_wr(&b, &r, 0, "acquire-handle-42");
  return 0;
}

/* ------------------------------------------------------------------ fd_passing */
static uint32_t g_mgr_flags;

static void fd_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  int p[2];
  if (pipe(p)) abort();
  if (write(p[1], "hello-fd", 8) != 8) abort();
  close(p[1]);
  static uint8_t data[24];
  struct binder_fd_object fo;
  memset(&fo, 0, sizeof fo);
  fo.hdr.type = BINDER_TYPE_FD;
  fo.fd = (uint32_t)p[0];
  fo.cookie = 0;
  memcpy(data, &fo, sizeof fo);
  static binder_size_t offs[1] = {0};
  struct wb w = {0};
  wb_txn(&w, BC_TRANSACTION, 0, 3, 0, data, sizeof data, offs, 1);
  bt_wr(&b, &w, 1, "send-fd");
  if (b.last_txn_valid) {
    struct wb f = {0};
    wb_free(&f, b.last_buffer);
    bt_wr(&b, &f, 0, "free");
  } else {
    bt_extended_error(&b, "send-fd");
  }
  bt_log(&b, "own fd still open: %d", fcntl(p[0], F_GETFD) >= 0);
  bt_signal(S.c2p[1]);
}

static void read_fd_text(struct bt* b, int fd, const char* what) {
  char buf[32] = {0};
  ssize_t n = read(fd, buf, sizeof buf - 1);
  bt_log(b, "%s: read %zd bytes '%s'", what, n, n > 0 ? buf : "");
  close(fd);
}

static int s_fd(uint32_t mgr_flags) {
  struct bt b;
  bt_sync_init(&S);
  g_mgr_flags = mgr_flags;
  bt_open(&b, "mgr");
  become_mgr(&b, mgr_flags);
  pid_t c = fork_role("client", fd_client, NULL);
  bt_signal(S.p2c[1]);
  if (mgr_flags & FLAT_BINDER_FLAG_ACCEPTS_FDS) {
    bt_wr(&b, NULL, 1, "recv");
    const struct binder_fd_object* fo = (const void*)(uintptr_t)b.last_txn.data.ptr.buffer;
    read_fd_text(&b, (int)fo->fd, "received fd");
    struct wb w = {0};
    wb_free(&w, b.last_buffer);
    wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
    bt_wr(&b, &w, 1, "reply");
  }
  bt_wait(S.c2p[0]);
  return wait_child(c);
}
static int s_fd_passing(void) { return s_fd(FLAT_BINDER_FLAG_ACCEPTS_FDS); }
static int s_fd_rejected(void) { return s_fd(0); }

/* ------------------------------------------------------------------ scatter_gather (PTR + FDA) */
struct sg_payload {
  binder_uintptr_t child_ptr; /* fixed up to the child's copy */
  uint32_t fds[2];            /* rewritten with the receiver's fds */
};

static void sg_client(void* arg) {
  (void)arg;
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  int p1[2], p2[2];
  if (pipe(p1) || pipe(p2)) abort();
  if (write(p1[1], "one", 3) != 3 || write(p2[1], "two", 3) != 3) abort();
  close(p1[1]);
  close(p2[1]);
  static struct sg_payload parent;
  static char child[16] = "child-payload";
  parent.child_ptr = (binder_uintptr_t)(uintptr_t)child;
  parent.fds[0] = (uint32_t)p1[0];
  parent.fds[1] = (uint32_t)p2[0];
  /* data: int32 prefix (a PTR at offset 0 cannot be a parent), PTR parent, PTR child, FDA */
  static uint8_t data[8 + 40 + 40 + 32];
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
  c.parent_offset = offsetof(struct sg_payload, child_ptr);
  memcpy(data + 48, &c, sizeof c);
  struct binder_fd_array_object fda;
  memset(&fda, 0, sizeof fda);
  fda.hdr.type = BINDER_TYPE_FDA;
  fda.num_fds = 2;
  fda.parent = 0;
  fda.parent_offset = offsetof(struct sg_payload, fds);
  memcpy(data + 88, &fda, sizeof fda);
  static binder_size_t offs[3] = {8, 48, 88};
  struct wb w = {0};
  wb_txn_sg(&w, BC_TRANSACTION_SG, 0, 4, 0, data, sizeof data, offs, 3,
            sizeof parent + sizeof child);
  bt_wr(&b, &w, 1, "send-sg");
  if (b.last_txn_valid) {
    struct wb f = {0};
    wb_free(&f, b.last_buffer);
    bt_wr(&b, &f, 0, "free");
  }
  /* exact fit succeeded above; one PTR byte more than buffers_size must fail */
  c.length = sizeof child + 8;
  memcpy(data + 48, &c, sizeof c);
  struct wb w2 = {0};
  wb_txn_sg(&w2, BC_TRANSACTION_SG, 0, 4, 0, data, sizeof data, offs, 3,
            sizeof parent + sizeof child);
  bt_wr(&b, &w2, 1, "send-sg-overflow");
  bt_extended_error(&b, "sg-overflow");
  bt_signal(S.c2p[1]);
}

static int s_scatter_gather(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, FLAT_BINDER_FLAG_ACCEPTS_FDS);
  pid_t c = fork_role("client", sg_client, NULL);
  bt_signal(S.p2c[1]);
  bt_wr(&b, NULL, 1, "recv");
  const uint8_t* d = (const uint8_t*)(uintptr_t)b.last_txn.data.ptr.buffer;
  struct binder_buffer_object a, ch;
  memcpy(&a, d + 8, sizeof a);
  memcpy(&ch, d + 48, sizeof ch);
  const struct sg_payload* p = (const void*)(uintptr_t)a.buffer;
  bt_log(&b, "parent.child_ptr fixed up to the child's copy: %d",
         p->child_ptr == ch.buffer);
  bt_log(&b, "child payload: '%s'", (const char*)(uintptr_t)ch.buffer);
  read_fd_text(&b, (int)p->fds[0], "fda[0]");
  read_fd_text(&b, (int)p->fds[1], "fda[1]");
  struct wb w = {0};
  wb_free(&w, b.last_buffer);
  wb_txn(&w, BC_REPLY, 0, 0, 0, "ok\0\0", 4, NULL, 0);
  bt_wr(&b, &w, 1, "reply");
  bt_wait(S.c2p[0]);
  return wait_child(c);
}

/* ------------------------------------------------------------------ bad_offsets */
struct bad_case {
  const char* name;
  binder_size_t offs[2];
  size_t noffs;
  size_t offsets_size; /* raw, overrides noffs*8 when non-zero */
  uint32_t type;       /* object type written at offs[0] */
};

static void bad_offsets_client(void* arg) {
  (void)arg;
  static const struct bad_case cases[] = {
      {"offsets_size-not-8-aligned", {8}, 1, 4, BINDER_TYPE_BINDER},
      {"offset-misaligned", {9}, 1, 0, BINDER_TYPE_BINDER},
      {"offset-equals-data-size", {64}, 1, 0, BINDER_TYPE_BINDER},
      {"object-crosses-end", {48}, 1, 0, BINDER_TYPE_BINDER},
      {"unknown-type", {8}, 1, 0, 0x12345678},
      {"offset-far-beyond", {4096}, 1, 0, BINDER_TYPE_BINDER},
      {"overlapping", {8, 16}, 2, 0, BINDER_TYPE_BINDER},
      {"duplicate", {8, 8}, 2, 0, BINDER_TYPE_BINDER},
      {"decreasing", {32, 8}, 2, 0, BINDER_TYPE_BINDER},
  };
  struct bt b;
  bt_wait(S.p2c[0]);
  bt_open(&b, "client");
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    static uint8_t data[64];
    memset(data, 0, sizeof data);
    /* well-formed BINDER objects at 8 and 32 (CVE-2023-20938: must not gain or lose refs) */
    put_binder(data, 8, cases[i].type, NODE_PTR, NODE_COOKIE, 0x7f);
    put_binder(data, 32, BINDER_TYPE_BINDER, NODE_PTR + 0x100, NODE_COOKIE, 0x7f);
    struct wb w = {0};
    wb_txn(&w, BC_TRANSACTION, 0, 100 + (uint32_t)i, 0, data, sizeof data, cases[i].offs,
           cases[i].noffs);
    if (cases[i].offsets_size) {
      struct binder_transaction_data* tr = (void*)(w.bytes + 4);
      tr->offsets_size = cases[i].offsets_size;
    }
    bt_wr(&b, &w, 1, cases[i].name);
    bt_extended_error(&b, cases[i].name);
  }
  /* a good call after all of that still works */
  struct wb g = {0};
  wb_txn(&g, BC_TRANSACTION, 0, 1, 0, "good", 4, NULL, 0);
  bt_wr(&b, &g, 1, "good-call");
  struct wb f = {0};
  wb_free(&f, b.last_buffer);
  bt_wr(&b, &f, 0, "free");
}

static int s_bad_offsets(void) {
  struct bt b;
  bt_sync_init(&S);
  bt_open(&b, "mgr");
  become_mgr(&b, 0);
  pid_t c = fork_role("client", bad_offsets_client, NULL);
  bt_signal(S.p2c[1]);
  serve_one(&b, "serve", "ok\0\0", 4); /* only the good call arrives */
  return wait_child(c);
}

/* ------------------------------------------------------------------ main */
static const struct {
  const char* name;
  int (*fn)(void);
} scenarios[] = {
    {"txn_roundtrip", s_txn_roundtrip},
    {"refcount_handshake", s_refcount_handshake},
    {"nested_call", s_nested_call},
    {"oneway_order", s_oneway_order},
    {"death_notification", s_death_notification},
    {"dead_reply", s_dead_reply},
    {"invalid_handle", s_invalid_handle},
    {"fd_passing", s_fd_passing},
    {"fd_rejected", s_fd_rejected},
    {"scatter_gather", s_scatter_gather},
    {"bad_offsets", s_bad_offsets},
};

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2 || strcmp(argv[1], "list") == 0) {
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) puts(scenarios[i].name);
    return argc < 2 ? 2 : 0;
  }
  for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
    if (strcmp(argv[1], scenarios[i].name) == 0) {
      bt_role_pid("mgr", getpid());
      return scenarios[i].fn();
    }
  }
  fprintf(stderr, "unknown scenario %s\n", argv[1]);
  return 2;
}
