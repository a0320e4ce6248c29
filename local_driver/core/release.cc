// Teardown (kernel-binder.md §10): BINDER_THREAD_EXIT / thread release, node release at owner
// death, and process release.
#include <algorithm>

#include "local_driver/core/context.h"

namespace nb::driver {

// kernel binder_thread_release: incoming calls on the stack are detached (the top one, if it is
// addressed to this thread, is failed back with BR_DEAD_REPLY); outgoing ones lose their sender;
// the thread's queue is flushed.
void Context::threadRelease(Process* proc, Thread* thread) {
  if (Transaction* limbo = thread->pending_fd_read.t) {
    thread->pending_fd_read = {};
    Buffer* buf = limbo->buffer;
    if (buf != nullptr) {
      buf->transaction = nullptr;
    }
    cleanupTransaction(limbo, BR_DEAD_REPLY);
    if (buf != nullptr && !proc->is_dead) {
      freeBuf(proc, buf, /*is_failure=*/true);
    }
  }
  auto& waiting = proc->waiting_threads;
  waiting.erase(std::remove(waiting.begin(), waiting.end(), thread), waiting.end());
  Transaction* t = thread->transaction_stack;
  Transaction* send_reply = (t != nullptr && t->to_thread == thread) ? t : nullptr;
  while (t != nullptr) {
    if (t->to_thread == thread) {
      if (t->to_proc != nullptr) {
        t->to_proc->outstanding_txns--;
      }
      t->to_proc = nullptr;
      t->to_thread = nullptr;
      if (t->buffer != nullptr) {
        t->buffer->transaction = nullptr;
        t->buffer = nullptr;
      }
      t = t->to_parent;
    } else if (t->from == thread) {
      t->from = nullptr;
      t = t->from_parent;
    } else {
      break;  // not this thread's: cannot happen by the stack invariant
    }
  }
  thread->transaction_stack = nullptr;
  if (send_reply != nullptr) {
    sendFailedReply(send_reply, BR_DEAD_REPLY);
  }
  releaseWork(proc, thread->todo);
  if ((thread->looper & kLooperPoll) != 0) {
    effects_.wakePollers(proc->id);  // pollers of this thread must re-evaluate (POLLFREE analog)
  }
  proc->threads.erase(thread->tid);
  stats_.deleted(StatObj::kThread);
}

// kernel binder_release_work. Deviation: the buffer of an undelivered transaction is freed here
// (released as a failure), where the C driver leaves it allocated until the target exits.
void Context::releaseWork(Process* proc, WorkList& list) {
  while (WorkItem* w = list.popFront()) {
    switch (w->type) {
      case WorkType::kTransaction: {
        auto* t = static_cast<Transaction*>(w);
        Buffer* buf = t->buffer;
        if (buf != nullptr) {
          buf->transaction = nullptr;
        }
        cleanupTransaction(t, BR_DEAD_REPLY);
        // A dying process's buffers go with its area, unreleased (its nodes are already dead).
        if (buf != nullptr && !proc->is_dead) {
          freeBuf(proc, buf, /*is_failure=*/true);
        }
        break;
      }
      case WorkType::kReturnError:
        static_cast<ErrorWork*>(w)->cmd = BR_OK;
        break;
      case WorkType::kTransactionComplete:
      case WorkType::kOnewaySpamSuspect:
        freeCodeWork(static_cast<CodeWork*>(w));
        break;
      case WorkType::kDeadBinder:
        // Still owned by its ref while registered; freed with the ref otherwise.
        if (static_cast<Death*>(w)->ref == nullptr) {
          freeDeath(proc, static_cast<Death*>(w));
        }
        break;
      case WorkType::kDeadBinderAndClear:
      case WorkType::kClearDeathNotification:
        freeDeath(proc, static_cast<Death*>(w));
        break;
      case WorkType::kNode:
        break;  // dropped, as the kernel does
    }
  }
}

// kernel binder_node_release: pending oneways are discarded; a node nobody references is freed;
// otherwise it becomes dead (owner cleared, kept in dead_nodes_) and every ref with a death
// registration gets BR_DEAD_BINDER on its process queue.
void Context::nodeRelease(Node* node) {
  Process* proc = node->owner;
  while (WorkItem* w = node->async_todo.popFront()) {
    auto* t = static_cast<Transaction*>(w);
    if (t->buffer != nullptr) {
      t->buffer->transaction = nullptr;
      t->buffer = nullptr;  // freed with the dying process's area
    }
    freeTransaction(t);
  }
  dequeueWork(node);
  auto it = proc->nodes.find(node->ptr);
  std::unique_ptr<Node> owned = std::move(it->second);
  proc->nodes.erase(it);
  if (node == mgr_node_) {
    mgr_node_ = nullptr;
  }
  if (node->refs.empty() && node->tmp_refs == 0) {
    stats_.deleted(StatObj::kNode);
    return;  // `owned` frees it
  }
  node->owner = nullptr;
  node->local_strong_refs = 0;
  node->local_weak_refs = 0;
  dead_nodes_.emplace(node, std::move(owned));
  for (NodeRef* ref : node->refs) {
    Death* death = ref->death;
    if (death == nullptr) {
      continue;
    }
    dequeueWork(death);
    death->type = WorkType::kDeadBinder;
    enqueueProcWork(ref->proc, death);
    wakeupProc(ref->proc);
  }
}

// kernel binder_deferred_release (§10.2).
void Context::releaseProcess(ProcId id) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return;
  }
  if (mgr_node_ != nullptr && mgr_node_->owner == proc) {
    mgr_node_ = nullptr;  // a new manager may register, with the pinned euid only
  }
  proc->is_dead = true;
  proc->is_frozen = false;
  proc->sync_recv = false;
  proc->async_recv = false;
  while (!proc->threads.empty()) {
    threadRelease(proc, proc->threads.begin()->second.get());
  }
  while (!proc->nodes.empty()) {
    nodeRelease(proc->nodes.begin()->second.get());
  }
  while (!proc->refs.empty()) {
    deleteRef(proc->refs.all().begin()->second.get());
  }
  releaseWork(proc, proc->todo);
  releaseWork(proc, proc->delivered_death);
  // Remaining buffers are dropped with the area: their objects are not released (the kernel's
  // binder_alloc_deferred_release), their nodes are dead and their refs gone.
  for (auto& [offset, buf] : proc->buffers) {
    if (buf->transaction != nullptr) {
      buf->transaction->buffer = nullptr;
    }
  }
  procs_.erase(static_cast<uint32_t>(id));
  stats_.deleted(StatObj::kProc);
}

}  // namespace nb::driver
