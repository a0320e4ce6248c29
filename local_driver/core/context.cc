// Context: processes and threads, mmap, the ioctls other than BINDER_WRITE_READ, poll and flush
// (kernel-binder.md §2), and the entry points of BINDER_WRITE_READ.
#include "local_driver/core/context.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "local_driver/client/netbinder_ioctl.h"

namespace nb::driver {
namespace {

constexpr uint64_t kMaxAreaSize = 4u << 20;  // §2 mmap: usable size = min(vma size, 4 MiB)

template <typename T>
bool loadArg(std::span<uint8_t> arg, T* out) {
  if (arg.size() < sizeof(T)) {
    return false;
  }
  std::memcpy(out, arg.data(), sizeof(T));
  return true;
}

// Loads a T from `arg` (copy_err when too short), runs f on it, stores it back when f returns 0.
template <typename T, typename F>
int withArg(std::span<uint8_t> arg, int copy_err, F&& f) {
  T value{};
  if (!loadArg(arg, &value)) {
    return copy_err;
  }
  const int ret = f(value);
  if (ret == 0) {
    // SAFETY: loadArg checked that arg holds sizeof(T) bytes.
    std::memcpy(arg.data(), &value, sizeof(T));
  }
  return ret;
}

WriteReadResult done(int error) { return {WriteReadResult::Kind::kDone, error, {}}; }

}  // namespace

Context::Context(std::string name, Effects& effects, DriverOptions options)
    : name_(std::move(name)),
      effects_(effects),
      secctx_(options.security_context.empty() ? std::string() : options.security_context + '\0') {}

Context::~Context() = default;

Process* Context::findProc(ProcId id) const {
  auto it = procs_.find(static_cast<uint32_t>(id));
  return it == procs_.end() ? nullptr : it->second.get();
}

Thread* Context::getThread(Process* proc, Tid tid) {
  auto it = proc->threads.find(tid);
  if (it != proc->threads.end()) {
    return it->second.get();
  }
  auto thread = std::make_unique<Thread>();
  thread->proc = proc;
  thread->tid = tid;
  Thread* raw = thread.get();
  proc->threads.emplace(tid, std::move(thread));
  stats_.created(StatObj::kThread);
  return raw;
}

ProcId Context::openProcess(ClientIdentity identity, std::unique_ptr<ClientMemory> memory) {
  auto proc = std::make_unique<Process>();
  const uint32_t id = next_proc_id_++;
  proc->id = ProcId{id};
  proc->identity = identity;
  proc->identity.nice = std::clamp(identity.nice, kMinNice, kMaxNice);
  proc->memory = std::move(memory);
  proc->debug_id = nextDebugId();
  procs_.emplace(id, std::move(proc));
  stats_.created(StatObj::kProc);
  return ProcId{id};
}

int Context::mmapArea(ProcId id, std::span<uint8_t> view, uint64_t user_base) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return ESRCH;
  }
  if (proc->ever_mapped) {
    return EBUSY;  // a second mmap, also after munmap (alloc->buffer_size stays set)
  }
  if (view.size() < 8 || user_base == 0) {
    return EINVAL;
  }
  const uint64_t size = std::min<uint64_t>(view.size(), kMaxAreaSize);
  proc->area = view.first(size);
  proc->user_base = user_base;
  proc->mapped = true;
  proc->ever_mapped = true;
  proc->alloc.init(size);
  return 0;
}

void Context::unmapArea(ProcId id) {
  if (Process* proc = findProc(id)) {
    // Like binder_alloc_vma_close: later allocations fail with ESRCH (=> BR_DEAD_REPLY). Buffers
    // stay accounted; nothing is written to the area any more.
    proc->mapped = false;
    proc->area = {};
  }
}

IoctlResult Context::ioctl(ProcId id, Tid tid, uint32_t cmd, std::span<uint8_t> arg) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return {EBADF};
  }
  Thread* thread = getThread(proc, tid);
  if (cmd == BINDER_THREAD_EXIT) {
    threadRelease(proc, thread);
    return {0};  // the thread is gone; a new one is created by its next ioctl
  }
  const int ret = dispatchIoctl(proc, thread, cmd, arg);
  finishIoctl(thread);
  return {ret};
}

// One line per ioctl. The copy-failure errno is the kernel's (EINVAL for the ones the C driver
// reports so, EFAULT otherwise); the output is copied back only on success.
int Context::dispatchIoctl(Process* proc, Thread* thread, uint32_t cmd, std::span<uint8_t> arg) {
  switch (cmd) {
    case BINDER_SET_MAX_THREADS:
      return withArg<uint32_t>(arg, EINVAL, [&](uint32_t& max) {
        proc->max_threads = max;
        return 0;
      });
    case BINDER_SET_CONTEXT_MGR_EXT:
      return withArg<flat_binder_object>(
          arg, EINVAL, [&](flat_binder_object& fbo) { return ioctlSetContextMgr(proc, &fbo); });
    case BINDER_SET_CONTEXT_MGR:
      return ioctlSetContextMgr(proc, nullptr);
    case BINDER_VERSION:
      return withArg<binder_version>(arg, EINVAL, [](binder_version& v) {
        v.protocol_version = BINDER_CURRENT_PROTOCOL_VERSION;
        return 0;
      });
    case BINDER_GET_NODE_DEBUG_INFO:
      return withArg<binder_node_debug_info>(
          arg, EFAULT, [&](binder_node_debug_info& i) { return ioctlGetNodeDebugInfo(proc, &i); });
    case BINDER_GET_NODE_INFO_FOR_REF:
      return withArg<binder_node_info_for_ref>(arg, EFAULT, [&](binder_node_info_for_ref& i) {
        return ioctlGetNodeInfoForRef(proc, &i);
      });
    case BINDER_FREEZE:
      return withArg<binder_freeze_info>(arg, EFAULT,
                                         [&](binder_freeze_info& i) { return ioctlFreeze(i); });
    case BINDER_GET_FROZEN_INFO:
      return withArg<binder_frozen_status_info>(
          arg, EFAULT, [&](binder_frozen_status_info& i) { return ioctlGetFrozenInfo(&i); });
    case BINDER_ENABLE_ONEWAY_SPAM_DETECTION:
      return withArg<uint32_t>(arg, EFAULT, [&](uint32_t& enable) {
        proc->oneway_spam_detection_enabled = enable != 0;
        return 0;
      });
    case BINDER_GET_EXTENDED_ERROR:
      return withArg<binder_extended_error>(arg, EFAULT, [&](binder_extended_error& ee) {
        ee = std::exchange(thread->ee, binder_extended_error{0, BR_OK, 0});  // read and clear
        return 0;
      });
    case NB_IOC_REF_OWNER:
      return withArg<nb_ref_owner_info>(
          arg, EFAULT, [&](nb_ref_owner_info& i) { return ioctlRefOwner(proc, &i); });
    default:
      // Includes BINDER_WRITE_READ (use writeRead), SET_IDLE_TIMEOUT/PRIORITY (never implemented)
      // and every unknown code: EINVAL, not ENOTTY (§17.15).
      return EINVAL;
  }
}

int Context::ioctlSetContextMgr(Process* proc, const flat_binder_object* fbo) {
  if (mgr_node_ != nullptr) {
    return EBUSY;
  }
  if (mgr_uid_.has_value() && *mgr_uid_ != proc->identity.euid) {
    return EPERM;  // the first manager's euid is pinned forever, even after it died
  }
  mgr_uid_ = proc->identity.euid;
  const uint64_t ptr = fbo != nullptr ? fbo->binder : 0;
  Node* node = getNode(proc, ptr);
  if (node == nullptr) {
    node = newNode(proc, ptr, fbo != nullptr ? fbo->cookie : 0, fbo != nullptr ? fbo->flags : 0);
  }
  // The driver holds a local strong+weak ref and marks both as announced: the manager never gets
  // BR_INCREFS/BR_ACQUIRE for its own node.
  node->local_weak_refs++;
  node->local_strong_refs++;
  node->has_strong_ref = true;
  node->has_weak_ref = true;
  mgr_node_ = node;
  return 0;
}

int Context::ioctlGetNodeDebugInfo(Process* proc, binder_node_debug_info* info) {
  const uint64_t ptr = info->ptr;
  *info = {};
  // Nodes ordered by ptr; the first one strictly greater (so ptr 0 is never returned, §17.14).
  auto it = proc->nodes.upper_bound(ptr);
  if (it != proc->nodes.end()) {
    const Node* node = it->second.get();
    info->ptr = node->ptr;
    info->cookie = node->cookie;
    info->has_strong_ref = node->has_strong_ref;
    info->has_weak_ref = node->has_weak_ref;
  }
  return 0;
}

int Context::ioctlGetNodeInfoForRef(Process* proc, binder_node_info_for_ref* info) {
  if (info->strong_count != 0 || info->weak_count != 0 || info->reserved1 != 0 ||
      info->reserved2 != 0 || info->reserved3 != 0) {
    return EINVAL;
  }
  if (mgr_node_ == nullptr || mgr_node_->owner != proc) {
    return EPERM;
  }
  const NodeRef* ref = getRef(proc, info->handle, /*need_strong=*/true);
  if (ref == nullptr) {
    return EINVAL;
  }
  info->strong_count =
      static_cast<uint32_t>(ref->node->local_strong_refs + ref->node->internal_strong_refs);
  info->weak_count = static_cast<uint32_t>(ref->node->local_weak_refs);
  return 0;
}

// netbinder extension (netbinder_ioctl.h). Handle 0 follows BC_TRANSACTION: the current manager;
// with none registered, the (dead) node the caller's own ref 0 still names. Weak refs count: the
// question is about the node, not about using it.
int Context::ioctlRefOwner(Process* proc, nb_ref_owner_info* info) {
  if (info->reserved != 0) {
    return EINVAL;
  }
  const Node* node = nullptr;
  if (info->handle == 0 && mgr_node_ != nullptr) {
    node = mgr_node_;
  } else if (const NodeRef* ref = getRef(proc, info->handle, /*need_strong=*/false)) {
    node = ref->node;
  }
  if (node == nullptr) {
    return EINVAL;
  }
  const Process* owner = node->owner;
  // Pointers are the owner's address space: only its own process (any of its opens) may see them.
  const bool same_process = owner != nullptr && owner->identity.pid == proc->identity.pid;
  info->owner_pid = owner != nullptr ? owner->identity.pid : 0;
  info->flags = owner != nullptr ? 0 : NB_REF_OWNER_DEAD;
  info->owner_proc_id = static_cast<uint32_t>(node->owner_id);
  info->node_ptr = same_process ? node->ptr : 0;
  info->node_cookie = same_process ? node->cookie : 0;
  return 0;
}

namespace {
bool txnsPending(const Process* proc) {
  if (proc->outstanding_txns > 0) {
    return true;
  }
  return std::any_of(proc->threads.begin(), proc->threads.end(),
                     [](const auto& t) { return t.second->transaction_stack != nullptr; });
}
}  // namespace

int Context::ioctlFreeze(const binder_freeze_info& info) {
  bool found = false;
  int ret = 0;
  for (auto& [id, proc] : procs_) {
    if (proc->identity.pid != static_cast<int32_t>(info.pid) || proc->is_dead) {
      continue;
    }
    found = true;
    proc->sync_recv = false;
    proc->async_recv = false;
    proc->is_frozen = info.enable != 0;
    // binderd never waits (the loop must not block): a busy process fails at once, as the kernel
    // does when timeout_ms elapses with transactions still pending.
    if (proc->is_frozen && txnsPending(proc.get())) {
      proc->is_frozen = false;
      ret = EAGAIN;
      break;
    }
  }
  return found ? ret : EINVAL;
}

int Context::ioctlGetFrozenInfo(binder_frozen_status_info* info) {
  bool found = false;
  info->sync_recv = 0;
  info->async_recv = 0;
  for (const auto& [id, proc] : procs_) {
    if (proc->identity.pid != static_cast<int32_t>(info->pid) || proc->is_dead) {
      continue;
    }
    found = true;
    info->sync_recv |= (proc->sync_recv ? 1u : 0u) | (txnsPending(proc.get()) ? 2u : 0u);
    info->async_recv |= proc->async_recv ? 1u : 0u;
  }
  return found ? 0 : EINVAL;
}

WriteReadResult Context::writeRead(ProcId id, Tid tid, binder_write_read& bwr,
                                   std::span<const uint8_t> write_bytes,
                                   std::span<uint8_t> read_out, bool nonblock) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return done(EBADF);
  }
  Thread* thread = getThread(proc, tid);
  if (thread->parked || thread->pending_fd_read.t != nullptr) {
    return done(EBUSY);  // io protocol violation: this thread already has an ioctl in progress
  }
  if (bwr.write_size > 0) {
    const uint64_t avail =
        bwr.write_consumed < bwr.write_size ? bwr.write_size - bwr.write_consumed : 0;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(avail, write_bytes.size()));
    const int ret = writeLoop(proc, thread, bwr, write_bytes.first(n));
    if (ret != 0) {
      bwr.read_consumed = 0;
      finishIoctl(thread);
      return done(ret);
    }
  }
  if (bwr.read_size > 0) {
    return readPart(proc, thread, bwr, read_out, nonblock);
  }
  finishIoctl(thread);
  return done(0);
}

WriteReadResult Context::resumeRead(ProcId id, Tid tid, binder_write_read& bwr,
                                    std::span<uint8_t> read_out, bool nonblock) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return done(EBADF);
  }
  Thread* thread = getThread(proc, tid);
  if (!thread->parked) {
    return done(EINVAL);
  }
  cancelWait(id, tid);
  return readPart(proc, thread, bwr, read_out, nonblock);
}

void Context::setNice(Thread* thread, int nice) {
  // Equal to what the thread runs at (its last report, or a change still pending): nothing to
  // apply. Saves the client a setpriority per call in the common case of equal nices.
  if (nice < kMinNice || nice > kMaxNice || (thread->nice_known && nice == thread->nice)) {
    return;
  }
  thread->nice = nice;
  thread->nice_pending = true;
  thread->nice_known = true;
}

void Context::setThreadNice(ProcId id, Tid tid, int nice) {
  Process* proc = findProc(id);
  if (proc == nullptr || nice < kMinNice || nice > kMaxNice) {
    return;
  }
  Thread* thread = getThread(proc, tid);
  thread->nice = nice;
  thread->nice_pending = false;  // the client's own value: nothing left to apply
  thread->nice_known = true;
}

WriteReadResult Context::attachNice(ProcId id, Tid tid, WriteReadResult result) {
  if (result.kind != WriteReadResult::Kind::kDone) {
    return result;
  }
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return result;
  }
  auto it = proc->threads.find(tid);
  if (it == proc->threads.end() || !it->second->nice_pending) {
    return result;
  }
  it->second->nice_pending = false;
  result.set_nice = true;
  result.nice = it->second->nice;
  return result;
}

void Context::cancelWait(ProcId id, Tid tid) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return;
  }
  auto it = proc->threads.find(tid);
  if (it == proc->threads.end()) {
    return;
  }
  Thread* thread = it->second.get();
  thread->parked = false;
  thread->parked_for_proc_work = false;
  thread->looper &= ~kLooperWaiting;
  auto& waiting = proc->waiting_threads;
  waiting.erase(std::remove(waiting.begin(), waiting.end(), thread), waiting.end());
}

bool Context::pollReadable(ProcId id, Tid tid) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return false;
  }
  Thread* thread = getThread(proc, tid);
  thread->looper |= kLooperPoll;
  return hasWork(thread, availableForProcWork(thread));
}

void Context::flush(ProcId id) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return;
  }
  for (auto& [tid, thread] : proc->threads) {
    thread->looper_need_return = true;
    if (thread->parked) {
      effects_.wakeThread(proc->id, tid);
    }
  }
}

}  // namespace nb::driver
