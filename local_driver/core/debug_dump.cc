// debugfs-format dumps (kernel-binder.md §13.2; C print_binder_* functions of 6.1): "state",
// "transactions" and "stats". Kernel pointers printed with %pK are shown as 0 (kptr_restrict).
#include <cinttypes>
#include <cstdarg>
#include <cstdio>

#include "local_driver/core/context.h"

namespace nb::driver {
namespace {

void appendf(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void appendf(std::string& out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  if (n > 0) {
    out.append(buf, static_cast<size_t>(std::min<int>(n, sizeof(buf) - 1)));
  }
}

constexpr const char* kBcNames[] = {"BC_TRANSACTION",
                                    "BC_REPLY",
                                    "BC_ACQUIRE_RESULT",
                                    "BC_FREE_BUFFER",
                                    "BC_INCREFS",
                                    "BC_ACQUIRE",
                                    "BC_RELEASE",
                                    "BC_DECREFS",
                                    "BC_INCREFS_DONE",
                                    "BC_ACQUIRE_DONE",
                                    "BC_ATTEMPT_ACQUIRE",
                                    "BC_REGISTER_LOOPER",
                                    "BC_ENTER_LOOPER",
                                    "BC_EXIT_LOOPER",
                                    "BC_REQUEST_DEATH_NOTIFICATION",
                                    "BC_CLEAR_DEATH_NOTIFICATION",
                                    "BC_DEAD_BINDER_DONE",
                                    "BC_TRANSACTION_SG",
                                    "BC_REPLY_SG"};
constexpr const char* kBrNames[] = {"BR_ERROR",
                                    "BR_OK",
                                    "BR_TRANSACTION",
                                    "BR_REPLY",
                                    "BR_ACQUIRE_RESULT",
                                    "BR_DEAD_REPLY",
                                    "BR_TRANSACTION_COMPLETE",
                                    "BR_INCREFS",
                                    "BR_ACQUIRE",
                                    "BR_RELEASE",
                                    "BR_DECREFS",
                                    "BR_ATTEMPT_ACQUIRE",
                                    "BR_NOOP",
                                    "BR_SPAWN_LOOPER",
                                    "BR_FINISHED",
                                    "BR_DEAD_BINDER",
                                    "BR_CLEAR_DEATH_NOTIFICATION_DONE",
                                    "BR_FAILED_REPLY",
                                    "BR_FROZEN_REPLY",
                                    "BR_ONEWAY_SPAM_SUSPECT"};
constexpr const char* kObjNames[] = {
    "proc", "thread", "node", "ref", "death", "transaction", "transaction_complete"};
static_assert(std::size(kBcNames) == Stats::kBcCount);
static_assert(std::size(kBrNames) == Stats::kBrCount);
static_assert(std::size(kObjNames) == Stats::kObjCount);

void printStats(std::string& out, const char* prefix, const Stats& s) {
  for (size_t i = 0; i < Stats::kBcCount; ++i) {
    if (s.bc[i] != 0) {
      appendf(out, "%s%s: %" PRIu64 "\n", prefix, kBcNames[i], s.bc[i]);
    }
  }
  for (size_t i = 0; i < Stats::kBrCount; ++i) {
    if (s.br[i] != 0) {
      appendf(out, "%s%s: %" PRIu64 "\n", prefix, kBrNames[i], s.br[i]);
    }
  }
  for (size_t i = 0; i < Stats::kObjCount; ++i) {
    if (s.obj_created[i] != 0 || s.obj_deleted[i] != 0) {
      appendf(out, "%s%s: active %" PRId64 " total %" PRIu64 "\n", prefix, kObjNames[i],
              static_cast<int64_t>(s.obj_created[i] - s.obj_deleted[i]), s.obj_created[i]);
    }
  }
}

}  // namespace

void Context::dumpTransaction(std::string& out, const char* prefix, const Transaction* t,
                              const Process* printing) const {
  const Process* to_proc = t->to_proc;
  appendf(out, "%s %" PRIu64 ": %016x from %d:%d to %d:%d code %x flags %x pri %d r%d", prefix,
          t->debug_id, 0u, t->sender_pid, t->sender_tid, to_proc ? to_proc->identity.pid : 0,
          t->to_thread ? t->to_thread->tid : 0, t->code, t->flags, t->priority,
          t->need_reply ? 1 : 0);
  if (printing != to_proc) {
    out += "\n";  // the buffer belongs to another process: not shown (as the C driver)
    return;
  }
  const Buffer* buf = t->buffer;
  if (buf == nullptr) {
    out += " buffer free\n";
    return;
  }
  if (buf->target_node != nullptr) {
    appendf(out, " node %" PRIu64, buf->target_node->debug_id);
  }
  appendf(out, " size %" PRIu64 ":%" PRIu64 " data %016" PRIx64 "\n", buf->data_size,
          buf->offsets_size, to_proc ? userAddress(to_proc, buf->offset) : 0);
}

void Context::dumpWork(std::string& out, const char* prefix, const char* txn_prefix,
                       const WorkItem* w, const Process* printing) const {
  switch (w->type) {
    case WorkType::kTransaction:
      dumpTransaction(out, txn_prefix, static_cast<const Transaction*>(w), printing);
      break;
    case WorkType::kReturnError:
      appendf(out, "%stransaction error: %u\n", prefix, static_cast<const ErrorWork*>(w)->cmd);
      break;
    case WorkType::kTransactionComplete:
    case WorkType::kOnewaySpamSuspect:
      appendf(out, "%stransaction complete\n", prefix);
      break;
    case WorkType::kNode: {
      const auto* node = static_cast<const Node*>(w);
      appendf(out, "%snode work %" PRIu64 ": u%016" PRIx64 " c%016" PRIx64 "\n", prefix,
              node->debug_id, node->ptr, node->cookie);
      break;
    }
    case WorkType::kDeadBinder:
      appendf(out, "%shas dead binder\n", prefix);
      break;
    case WorkType::kDeadBinderAndClear:
      appendf(out, "%shas cleared dead binder\n", prefix);
      break;
    case WorkType::kClearDeathNotification:
      appendf(out, "%shas cleared death notification\n", prefix);
      break;
  }
}

void Context::dumpNode(std::string& out, const Node* node) const {
  appendf(out,
          "  node %" PRIu64 ": u%016" PRIx64 " c%016" PRIx64
          " hs %d hw %d ls %d lw %d is %d iw %zu tr %d",
          node->debug_id, node->ptr, node->cookie, node->has_strong_ref ? 1 : 0,
          node->has_weak_ref ? 1 : 0, node->local_strong_refs, node->local_weak_refs,
          node->internal_strong_refs, node->refs.size(), node->tmp_refs);
  if (!node->refs.empty()) {
    out += " proc";
    for (const NodeRef* ref : node->refs) {
      appendf(out, " %d", ref->proc->identity.pid);
    }
  }
  out += "\n";
  if (node->owner != nullptr) {
    node->async_todo.forEach([&](const WorkItem* w) {
      dumpWork(out, "    ", "    pending async transaction", w, node->owner);
    });
  }
}

void Context::dumpThread(std::string& out, const Thread* thread, bool print_always) const {
  const size_t start = out.size();
  appendf(out, "  thread %d: l %02x need_return %d tr 0\n", thread->tid, thread->looper,
          thread->looper_need_return ? 1 : 0);
  const size_t header = out.size();
  const Transaction* t = thread->transaction_stack;
  while (t != nullptr) {
    if (t->from == thread) {
      dumpTransaction(out, "    outgoing transaction", t, thread->proc);
      t = t->from_parent;
    } else if (t->to_thread == thread) {
      dumpTransaction(out, "    incoming transaction", t, thread->proc);
      t = t->to_parent;
    } else {
      dumpTransaction(out, "    bad transaction", t, thread->proc);
      t = nullptr;
    }
  }
  thread->todo.forEach([&](const WorkItem* w) {
    dumpWork(out, "    ", "    pending transaction", w, thread->proc);
  });
  if (!print_always && out.size() == header) {
    out.resize(start);
  }
}

void Context::dumpProc(std::string& out, const Process* proc, bool print_all) const {
  const size_t start = out.size();
  appendf(out, "proc %d\ncontext %s\n", proc->identity.pid, name_.c_str());
  const size_t header = out.size();
  for (const auto& [tid, thread] : proc->threads) {
    dumpThread(out, thread.get(), print_all);
  }
  for (const auto& [ptr, node] : proc->nodes) {
    if (print_all || node->has_async_transaction) {
      dumpNode(out, node.get());
    }
  }
  if (print_all) {
    for (const auto& [desc, ref] : proc->refs.all()) {
      appendf(out, "  ref %" PRIu64 ": desc %u %snode %" PRIu64 " s %d w %d d %016x\n",
              ref->debug_id, ref->desc, ref->node->owner ? "" : "dead ", ref->node->debug_id,
              ref->strong, ref->weak, 0u);
    }
  }
  for (const auto& [offset, buf] : proc->buffers) {
    appendf(out,
            "  buffer %" PRIu64 ": %016" PRIx64 " size %" PRIu64 ":%" PRIu64 ":%" PRIu64 " %s\n",
            buf->debug_id, userAddress(proc, offset), buf->data_size, buf->offsets_size,
            buf->extra_size, buf->transaction ? "active" : "delivered");
  }
  proc->todo.forEach(
      [&](const WorkItem* w) { dumpWork(out, "  ", "  pending transaction", w, proc); });
  if (!proc->delivered_death.empty()) {
    out += "  has delivered dead binder\n";
  }
  if (!print_all && out.size() == header) {
    out.resize(start);
  }
}

std::string Context::dumpState() const {
  std::string out = "binder state:\n";
  if (!dead_nodes_.empty()) {
    out += "dead nodes:\n";
  }
  for (const auto& [node, owned] : dead_nodes_) {
    dumpNode(out, node);
  }
  for (const auto& [id, proc] : procs_) {
    dumpProc(out, proc.get(), true);
  }
  return out;
}

std::string Context::dumpTransactions() const {
  std::string out = "binder transactions:\n";
  for (const auto& [id, proc] : procs_) {
    dumpProc(out, proc.get(), false);
  }
  return out;
}

std::string Context::dumpStats() const {
  std::string out = "binder stats:\n";
  printStats(out, "", stats_);
  for (const auto& [id, p] : procs_) {
    const Process* proc = p.get();
    appendf(out, "proc %d\ncontext %s\n", proc->identity.pid, name_.c_str());
    appendf(out, "  threads: %zu\n", proc->threads.size());
    appendf(out,
            "  requested threads: %u+%u/%u\n  ready threads %zu\n  free async space %" PRIu64 "\n",
            proc->requested_threads, proc->requested_threads_started, proc->max_threads,
            proc->waiting_threads.size(), proc->alloc.freeAsyncSpace());
    appendf(out, "  nodes: %zu\n", proc->nodes.size());
    int strong = 0;
    int weak = 0;
    for (const auto& [desc, ref] : proc->refs.all()) {
      strong += ref->strong;
      weak += ref->weak;
    }
    appendf(out, "  refs: %zu s %d w %d\n", proc->refs.size(), strong, weak);
    appendf(out, "  buffers: %zu\n", proc->alloc.allocatedCount());
    // Pages: the area is the daemon's memfd; "active" approximates the pages holding buffers.
    const uint64_t total_pages = proc->alloc.areaSize() / 4096;
    const uint64_t active = std::min(total_pages, (proc->alloc.allocatedBytes() + 4095) / 4096);
    appendf(out, "  pages: %" PRIu64 ":0:%" PRIu64 "\n  pages high watermark: %" PRIu64 "\n",
            active, total_pages - active, active);
    size_t pending = 0;
    proc->todo.forEach([&](const WorkItem* w) { pending += w->type == WorkType::kTransaction; });
    appendf(out, "  pending transactions: %zu\n", pending);
    printStats(out, "  ", proc->stats);
  }
  return out;
}

}  // namespace nb::driver
