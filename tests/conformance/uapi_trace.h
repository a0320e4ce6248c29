/*
 * uapi_trace.h — a tiny harness for Binder conformance scenarios, written against the kernel UAPI
 * header <linux/android/binder.h> and libc only (no netbinder code), so that the same scenario
 * source runs, built statically, on the real kernel driver inside tools/binder-vm, and, built
 * dynamically, on binderd through libnetbinder_preload.so.
 *
 * Each role (a process of the scenario) prints one line per observation, prefixed with its role
 * name. Lines are normalized: no addresses, no real pids (pids print as role names), so the traces
 * of the two drivers can be compared per role (tests/conformance/compare_traces.sh).
 */
#ifndef NB_UAPI_TRACE_H
#define NB_UAPI_TRACE_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/android/binder.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define BT_MAP_SIZE (128u * 1024u)

struct bt {
  int fd;
  const char* role;
  uint8_t* map;
  size_t map_size;
  /* the last transaction buffer delivered by a read (for BC_FREE_BUFFER / inspection) */
  binder_uintptr_t last_buffer;
  struct binder_transaction_data last_txn;
  int last_txn_valid;
  /* secctx of the last BR_TRANSACTION_SEC_CTX read (0 for other transactions) */
  binder_uintptr_t last_secctx;
  /* the last BR code decoded by a read */
  uint32_t last_cmd;
};

/* pids of the scenario's roles, so that sender_pid prints as a role name */
#define BT_MAX_ROLES 8
static struct {
  pid_t pid;
  const char* name;
} bt_roles[BT_MAX_ROLES];
static int bt_nroles;

static void bt_role_pid(const char* name, pid_t pid) {
  if (bt_nroles < BT_MAX_ROLES) {
    bt_roles[bt_nroles].pid = pid;
    bt_roles[bt_nroles].name = name;
    bt_nroles++;
  }
}

static const char* bt_pid_name(pid_t pid) {
  if (pid == 0)
    return "0";
  for (int i = 0; i < bt_nroles; i++)
    if (bt_roles[i].pid == pid)
      return bt_roles[i].name;
  return "unknown";
}

static int bt_silent; /* when set, bt_wr prints nothing (outcomes the kernel itself varies on) */

static void bt_log(const struct bt* b, const char* fmt, ...) {
  char line[2048];
  if (bt_silent)
    return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  printf("%s: %s\n", b->role, line);
  fflush(stdout);
}

static void bt_die(const struct bt* b, const char* what) {
  printf("%s: FATAL %s errno=%d\n", b ? b->role : "?", what, errno);
  fflush(stdout);
  _exit(99);
}

static const char* bt_device(void) {
  const char* d = getenv("BINDER_DEVICE");
  return d && *d ? d : "/dev/binder";
}

/* Opens the device and checks the version, without mapping it. */
static void bt_open_nomap(struct bt* b, const char* role) {
  memset(b, 0, sizeof *b);
  b->role = role;
  b->fd = open(bt_device(), O_RDWR | O_CLOEXEC);
  if (b->fd < 0)
    bt_die(b, "open");
  struct binder_version v = {0};
  if (ioctl(b->fd, BINDER_VERSION, &v) < 0)
    bt_die(b, "BINDER_VERSION");
  if (v.protocol_version != BINDER_CURRENT_PROTOCOL_VERSION)
    bt_die(b, "protocol version");
}

/* Opens the device, checks the version, maps `size` bytes read-only. */
static void bt_open_sized(struct bt* b, const char* role, size_t size) {
  bt_open_nomap(b, role);
  b->map_size = size;
  void* m = mmap(NULL, b->map_size, PROT_READ, MAP_PRIVATE, b->fd, 0);
  if (m == MAP_FAILED)
    bt_die(b, "mmap");
  b->map = (uint8_t*)m;
}

/* Opens the device, checks the version, maps BT_MAP_SIZE read-only. */
static void bt_open(struct bt* b, const char* role) { bt_open_sized(b, role, BT_MAP_SIZE); }

/* Prints the outcome of a plain ioctl (or any call returning -1/errno): "ok" or the errno. */
static inline void bt_result(const struct bt* b, const char* label, int r) {
  if (r < 0)
    bt_log(b, "%s: errno=%d", label, errno);
  else
    bt_log(b, "%s: ok", label);
}

/* ---- write buffers ---- */
struct wb {
  uint8_t bytes[1024];
  size_t len;
};

static void wb_put(struct wb* w, const void* p, size_t n) {
  if (w->len + n > sizeof w->bytes)
    abort();
  memcpy(w->bytes + w->len, p, n);
  w->len += n;
}
static void wb_u32(struct wb* w, uint32_t v) { wb_put(w, &v, 4); }
static void wb_u64(struct wb* w, uint64_t v) { wb_put(w, &v, 8); }

static void wb_txn(struct wb* w, uint32_t cmd, uint32_t handle, uint32_t code, uint32_t flags,
                   const void* data, size_t data_size, const binder_size_t* offs, size_t noffs) {
  struct binder_transaction_data tr;
  memset(&tr, 0, sizeof tr);
  tr.target.handle = handle;
  tr.code = code;
  tr.flags = flags;
  tr.data_size = data_size;
  tr.offsets_size = noffs * sizeof(binder_size_t);
  tr.data.ptr.buffer = (binder_uintptr_t)(uintptr_t)data;
  tr.data.ptr.offsets = (binder_uintptr_t)(uintptr_t)offs;
  wb_u32(w, cmd);
  wb_put(w, &tr, sizeof tr);
}

static void wb_txn_sg(struct wb* w, uint32_t cmd, uint32_t handle, uint32_t code, uint32_t flags,
                      const void* data, size_t data_size, const binder_size_t* offs, size_t noffs,
                      uint64_t buffers_size) {
  struct binder_transaction_data_sg tr;
  memset(&tr, 0, sizeof tr);
  tr.transaction_data.target.handle = handle;
  tr.transaction_data.code = code;
  tr.transaction_data.flags = flags;
  tr.transaction_data.data_size = data_size;
  tr.transaction_data.offsets_size = noffs * sizeof(binder_size_t);
  tr.transaction_data.data.ptr.buffer = (binder_uintptr_t)(uintptr_t)data;
  tr.transaction_data.data.ptr.offsets = (binder_uintptr_t)(uintptr_t)offs;
  tr.buffers_size = buffers_size;
  wb_u32(w, cmd);
  wb_put(w, &tr, sizeof tr);
}

static void wb_free(struct wb* w, binder_uintptr_t buffer) {
  wb_u32(w, BC_FREE_BUFFER);
  wb_u64(w, buffer);
}

static void wb_ptr_cookie(struct wb* w, uint32_t cmd, uint64_t ptr, uint64_t cookie) {
  wb_u32(w, cmd);
  wb_u64(w, ptr);
  wb_u64(w, cookie);
}

static void wb_handle_cookie(struct wb* w, uint32_t cmd, uint32_t handle, uint64_t cookie) {
  wb_u32(w, cmd);
  wb_u32(w, handle);
  wb_u64(w, cookie);
}

/* ---- decoding ---- */
static const char* bt_br_name(uint32_t cmd) {
  switch (cmd) {
    case BR_ERROR:
      return "BR_ERROR";
    case BR_OK:
      return "BR_OK";
    case BR_TRANSACTION_SEC_CTX:
      return "BR_TRANSACTION_SEC_CTX";
    case BR_TRANSACTION:
      return "BR_TRANSACTION";
    case BR_REPLY:
      return "BR_REPLY";
    case BR_ACQUIRE_RESULT:
      return "BR_ACQUIRE_RESULT";
    case BR_DEAD_REPLY:
      return "BR_DEAD_REPLY";
    case BR_TRANSACTION_COMPLETE:
      return "BR_TRANSACTION_COMPLETE";
    case BR_INCREFS:
      return "BR_INCREFS";
    case BR_ACQUIRE:
      return "BR_ACQUIRE";
    case BR_RELEASE:
      return "BR_RELEASE";
    case BR_DECREFS:
      return "BR_DECREFS";
    case BR_ATTEMPT_ACQUIRE:
      return "BR_ATTEMPT_ACQUIRE";
    case BR_NOOP:
      return "BR_NOOP";
    case BR_SPAWN_LOOPER:
      return "BR_SPAWN_LOOPER";
    case BR_FINISHED:
      return "BR_FINISHED";
    case BR_DEAD_BINDER:
      return "BR_DEAD_BINDER";
    case BR_CLEAR_DEATH_NOTIFICATION_DONE:
      return "BR_CLEAR_DEATH_NOTIFICATION_DONE";
    case BR_FAILED_REPLY:
      return "BR_FAILED_REPLY";
    case BR_FROZEN_REPLY:
      return "BR_FROZEN_REPLY";
    case BR_ONEWAY_SPAM_SUSPECT:
      return "BR_ONEWAY_SPAM_SUSPECT";
    default:
      return NULL;
  }
}

static const char* bt_obj_name(uint32_t type) {
  switch (type) {
    case BINDER_TYPE_BINDER:
      return "BINDER";
    case BINDER_TYPE_WEAK_BINDER:
      return "WEAK_BINDER";
    case BINDER_TYPE_HANDLE:
      return "HANDLE";
    case BINDER_TYPE_WEAK_HANDLE:
      return "WEAK_HANDLE";
    case BINDER_TYPE_FD:
      return "FD";
    case BINDER_TYPE_FDA:
      return "FDA";
    case BINDER_TYPE_PTR:
      return "PTR";
    default:
      return "?";
  }
}

static int bt_in_map(const struct bt* b, binder_uintptr_t p, size_t n) {
  uintptr_t base = (uintptr_t)b->map;
  return p >= base && p - base <= b->map_size && n <= b->map_size - (p - base);
}

/* Appends a normalized description of one delivered transaction. */
static size_t bt_describe_txn(const struct bt* b, const struct binder_transaction_data* tr,
                              char* out, size_t cap) {
  size_t n = (size_t)snprintf(out, cap, "(code=%u flags=%#x pid=%s euid=%u size=%llu objs=%llu",
                              tr->code, tr->flags, bt_pid_name(tr->sender_pid), tr->sender_euid,
                              (unsigned long long)tr->data_size,
                              (unsigned long long)(tr->offsets_size / sizeof(binder_size_t)));
  if (tr->data_size && !bt_in_map(b, tr->data.ptr.buffer, tr->data_size))
    n += (size_t)snprintf(out + n, cap - n, " DATA-OUTSIDE-MAP");
  const uint8_t* data = (const uint8_t*)(uintptr_t)tr->data.ptr.buffer;
  const binder_size_t* offs = (const binder_size_t*)(uintptr_t)tr->data.ptr.offsets;
  size_t noffs = tr->offsets_size / sizeof(binder_size_t);
  /* plain data: first 16 bytes as hex, objects zero-masked */
  if (tr->data_size && noffs == 0) {
    n += (size_t)snprintf(out + n, cap - n, " data=");
    for (size_t i = 0; i < tr->data_size && i < 16 && n < cap; i++)
      n += (size_t)snprintf(out + n, cap - n, "%02x", data[i]);
  }
  for (size_t i = 0; i < noffs && n < cap; i++) {
    const struct binder_object_header* h = (const void*)(data + offs[i]);
    n += (size_t)snprintf(out + n, cap - n, " [@%llu %s", (unsigned long long)offs[i],
                          bt_obj_name(h->type));
    if (h->type == BINDER_TYPE_BINDER || h->type == BINDER_TYPE_WEAK_BINDER) {
      const struct flat_binder_object* f = (const void*)h;
      n += (size_t)snprintf(out + n, cap - n, " ptr=%#llx cookie=%#llx flags=%#x]",
                            (unsigned long long)f->binder, (unsigned long long)f->cookie, f->flags);
    } else if (h->type == BINDER_TYPE_HANDLE || h->type == BINDER_TYPE_WEAK_HANDLE) {
      const struct flat_binder_object* f = (const void*)h;
      n += (size_t)snprintf(out + n, cap - n, " handle=%u cookie=%#llx flags=%#x]", f->handle,
                            (unsigned long long)f->cookie, f->flags);
    } else if (h->type == BINDER_TYPE_FD) {
      const struct binder_fd_object* f = (const void*)h;
      n += (size_t)snprintf(out + n, cap - n, " fd-valid=%d cookie=%#llx]",
                            fcntl((int)f->fd, F_GETFD) >= 0, (unsigned long long)f->cookie);
    } else if (h->type == BINDER_TYPE_PTR) {
      const struct binder_buffer_object* p = (const void*)h;
      n += (size_t)snprintf(out + n, cap - n, " len=%llu in-map=%d flags=%#x parent=%llu@%llu]",
                            (unsigned long long)p->length, bt_in_map(b, p->buffer, p->length),
                            p->flags, (unsigned long long)p->parent,
                            (unsigned long long)p->parent_offset);
    } else if (h->type == BINDER_TYPE_FDA) {
      const struct binder_fd_array_object* a = (const void*)h;
      n += (size_t)snprintf(out + n, cap - n, " num=%llu parent=%llu@%llu]",
                            (unsigned long long)a->num_fds, (unsigned long long)a->parent,
                            (unsigned long long)a->parent_offset);
    } else {
      n += (size_t)snprintf(out + n, cap - n, "]");
    }
  }
  if (n < cap)
    n += (size_t)snprintf(out + n, cap - n, ")");
  return n < cap ? n : cap;
}

/* Decodes a read buffer into one normalized line; remembers the last transaction. */
static void bt_print_read(struct bt* b, const char* label, const uint8_t* rb, size_t len) {
  char line[4096];
  size_t n = (size_t)snprintf(line, sizeof line, "%s:", label);
  size_t pos = 0;
  while (pos + 4 <= len && n < sizeof line) {
    uint32_t cmd;
    memcpy(&cmd, rb + pos, 4);
    pos += 4;
    const char* name = bt_br_name(cmd);
    b->last_cmd = cmd;
    n += (size_t)snprintf(line + n, sizeof line - n, " %s", name ? name : "BR_UNKNOWN");
    if (!name)
      break;
    size_t sz = _IOC_SIZE(cmd);
    if (cmd == BR_ERROR)
      sz = 0; /* written as a bare code by the drivers */
    if (pos + sz > len) {
      n += (size_t)snprintf(line + n, sizeof line - n, "(TRUNCATED)");
      break;
    }
    if (cmd == BR_TRANSACTION || cmd == BR_REPLY || cmd == BR_TRANSACTION_SEC_CTX) {
      struct binder_transaction_data tr;
      memcpy(&tr, rb + pos, sizeof tr);
      n += bt_describe_txn(b, &tr, line + n, sizeof line - n);
      b->last_buffer = tr.data.ptr.buffer;
      b->last_txn = tr;
      b->last_txn_valid = 1;
      b->last_secctx = 0;
      if (cmd == BR_TRANSACTION_SEC_CTX)
        memcpy(&b->last_secctx, rb + pos + sizeof tr, sizeof b->last_secctx);
    } else if (cmd == BR_INCREFS || cmd == BR_ACQUIRE || cmd == BR_RELEASE || cmd == BR_DECREFS) {
      struct binder_ptr_cookie pc;
      memcpy(&pc, rb + pos, sizeof pc);
      n += (size_t)snprintf(line + n, sizeof line - n, "(ptr=%#llx cookie=%#llx)",
                            (unsigned long long)pc.ptr, (unsigned long long)pc.cookie);
    } else if (cmd == BR_DEAD_BINDER || cmd == BR_CLEAR_DEATH_NOTIFICATION_DONE) {
      binder_uintptr_t cookie;
      memcpy(&cookie, rb + pos, sizeof cookie);
      n +=
          (size_t)snprintf(line + n, sizeof line - n, "(cookie=%#llx)", (unsigned long long)cookie);
    }
    pos += sz;
  }
  bt_log(b, "%s", line);
}

/* One BINDER_WRITE_READ: writes w (may be NULL), reads if do_read; prints the outcome. */
static int bt_wr(struct bt* b, const struct wb* w, int do_read, const char* label) {
  static __thread uint8_t rb[4096]; /* per thread: scenarios may run several threads */
  struct binder_write_read bwr;
  memset(&bwr, 0, sizeof bwr);
  if (w) {
    bwr.write_size = w->len;
    bwr.write_buffer = (binder_uintptr_t)(uintptr_t)w->bytes;
  }
  if (do_read) {
    bwr.read_size = sizeof rb;
    bwr.read_buffer = (binder_uintptr_t)(uintptr_t)rb;
  }
  int r = ioctl(b->fd, BINDER_WRITE_READ, &bwr);
  int err = r < 0 ? errno : 0;
  if (r < 0 || (w && bwr.write_consumed != w->len))
    bt_log(b, "%s: ioctl=%d errno=%d write_consumed=%llu/%llu", label, r, err,
           (unsigned long long)bwr.write_consumed, (unsigned long long)bwr.write_size);
  if (do_read && r == 0)
    bt_print_read(b, label, rb, bwr.read_consumed);
  errno = err;
  return r;
}

static void bt_extended_error(struct bt* b, const char* label) {
  struct binder_extended_error ee;
  memset(&ee, 0, sizeof ee);
  if (ioctl(b->fd, BINDER_GET_EXTENDED_ERROR, &ee) < 0) {
    bt_log(b, "%s: GET_EXTENDED_ERROR errno=%d", label, errno);
    return;
  }
  const char* name = bt_br_name(ee.command);
  bt_log(b, "%s: extended_error command=%s param=%d", label, name ? name : "?", ee.param);
}

/* ---- process coordination: a pipe pair per direction ---- */
struct bt_sync {
  int p2c[2], c2p[2];
};
static void bt_sync_init(struct bt_sync* s) {
  if (pipe(s->p2c) || pipe(s->c2p))
    abort();
}
static void bt_signal(int fd) {
  char c = 1;
  if (write(fd, &c, 1) != 1)
    abort();
}
static void bt_wait(int fd) {
  char c;
  if (read(fd, &c, 1) != 1)
    _exit(98);
}

#endif
