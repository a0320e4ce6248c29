// BC_TRANSACTION / BC_REPLY (kernel binder_transaction, binder_proc_transaction,
// binder_send_failed_reply; kernel-binder.md §5.3, §6.1–§6.3, §8), and the work-queue helpers.
#include <algorithm>
#include <cstring>

#include "local_driver/core/context.h"
#include "local_driver/core/user_error.h"

namespace nb::driver {

// --- work queues and wake-ups ---

void Context::enqueueThreadWork(Thread* thread, WorkItem* w) {
  thread->todo.pushBack(w);
  thread->process_todo = true;
}

// Deferred: queued, but does not make the thread runnable by itself (a sync call's
// TRANSACTION_COMPLETE waits for the reply; node work queued at transfer, §6.4).
void Context::enqueueDeferredThreadWork(Thread* thread, WorkItem* w) { thread->todo.pushBack(w); }

void Context::enqueueProcWork(Process* proc, WorkItem* w) { proc->todo.pushBack(w); }

void Context::wakeupThread(Process* proc, Thread* thread) {
  if (proc->is_dead) {
    return;
  }
  if (thread->parked) {
    effects_.wakeThread(proc->id, thread->tid);
  }
  if ((thread->looper & kLooperPoll) != 0) {
    effects_.wakePollers(proc->id);
  }
}

// The most recent waiter for process work is chosen first (LIFO) and leaves the waiting list.
Thread* Context::selectThread(Process* proc) {
  if (proc->waiting_threads.empty()) {
    return nullptr;
  }
  Thread* thread = proc->waiting_threads.back();
  proc->waiting_threads.pop_back();
  thread->parked_for_proc_work = false;
  return thread;
}

void Context::wakeupProc(Process* proc) {
  if (proc->is_dead) {
    return;
  }
  if (Thread* thread = selectThread(proc)) {
    wakeupThread(proc, thread);
    return;
  }
  // No parked thread: poll-mode threads available for process work re-check.
  for (const auto& [tid, thread] : proc->threads) {
    if ((thread->looper & kLooperPoll) != 0 && availableForProcWork(thread.get())) {
      effects_.wakePollers(proc->id);
      return;
    }
  }
}

// --- pools ---

Transaction* Context::newTransaction() {
  Transaction* t = nullptr;
  if (free_txns_.empty()) {
    txn_pool_.push_back(std::make_unique<Transaction>());
    t = txn_pool_.back().get();
  } else {
    t = free_txns_.back();
    free_txns_.pop_back();
  }
  t->reset();
  stats_.created(StatObj::kTransaction);
  return t;
}

// Frees `t` (kernel binder_free_transaction): the target's outstanding count drops and the buffer,
// if any, is detached (it stays allocated until BC_FREE_BUFFER).
void Context::freeTransaction(Transaction* t) {
  if (t->to_proc != nullptr) {
    t->to_proc->outstanding_txns--;
  }
  if (t->buffer != nullptr && t->buffer->transaction == t) {
    t->buffer->transaction = nullptr;
  }
  dequeueWork(t);
  t->reset();
  free_txns_.push_back(t);
  stats_.deleted(StatObj::kTransaction);
}

CodeWork* Context::newCodeWork(WorkType type) {
  CodeWork* w = nullptr;
  if (free_codes_.empty()) {
    code_pool_.push_back(std::make_unique<CodeWork>());
    w = code_pool_.back().get();
  } else {
    w = free_codes_.back();
    free_codes_.pop_back();
  }
  w->type = type;
  stats_.created(StatObj::kTransactionComplete);
  return w;
}

void Context::freeCodeWork(CodeWork* w) {
  dequeueWork(w);
  free_codes_.push_back(w);
  stats_.deleted(StatObj::kTransactionComplete);
}

// --- stacks and failure routing ---

void Context::popTransaction(Thread* target_thread, Transaction* t) {
  // INVARIANT (checked by callers): t is the top of target_thread's stack.
  if (target_thread->transaction_stack == t) {
    target_thread->transaction_stack = t->from_parent;
  }
  t->from = nullptr;
}

// Delivers `error_code` to the first live thread waiting in t's chain (kernel
// binder_send_failed_reply): dead intermediate callers are skipped and their transactions freed.
void Context::sendFailedReply(Transaction* t, uint32_t error_code) {
  for (;;) {
    Thread* target_thread = t->from;
    if (target_thread != nullptr) {
      if (target_thread->transaction_stack != t) {
        // Cannot happen by the stack invariant (the kernel BUG()s). Keep `t` alive rather than
        // free a transaction a stack still points at.
        NB_BINDER_USER_ERROR("failed reply: transaction {} is not on top of its sender's stack",
                             t->debug_id);
        return;
      }
      popTransaction(target_thread, t);
      if (target_thread->reply_error.cmd == BR_OK) {
        target_thread->reply_error.cmd = error_code;
        enqueueThreadWork(target_thread, &target_thread->reply_error);
        wakeupThread(target_thread->proc, target_thread);
      }
      // else: a second reply error while one is pending (several sync calls without waiting):
      // dropped, as the kernel does ("Unexpected reply error").
      freeTransaction(t);
      return;
    }
    Transaction* next = t->from_parent;
    freeTransaction(t);
    if (next == nullptr) {
      return;
    }
    t = next;
  }
}

void Context::cleanupTransaction(Transaction* t, uint32_t error_code) {
  if (t->buffer != nullptr && t->buffer->target_node != nullptr && (t->flags & TF_ONE_WAY) == 0) {
    sendFailedReply(t, error_code);
  } else {
    freeTransaction(t);
  }
}

// Reports a failure of the thread's own BC_TRANSACTION/BC_REPLY (kernel err_* labels).
void Context::failTransaction(Thread* thread, Transaction* in_reply_to, uint64_t t_debug_id,
                              BinderError err) {
  const binder_extended_error ee{static_cast<uint32_t>(t_debug_id), err.reply, -err.errno_source};
  if (in_reply_to != nullptr) {
    NB_BINDER_USER_ERROR("{}:{} reply {} failed: BR {:#x} errno {}", thread->proc->identity.pid,
                         thread->tid, t_debug_id, err.reply, err.errno_source);
    // A failed reply is not the replier's error: it gets BR_TRANSACTION_COMPLETE, and the caller
    // (or the nearest live one up the chain) gets the error and the extended error.
    Thread* from = in_reply_to->from;
    if (from != nullptr && from->ee.command == BR_OK) {
      from->ee = ee;
    }
    thread->return_error.cmd = BR_TRANSACTION_COMPLETE;
    enqueueThreadWork(thread, &thread->return_error);
    sendFailedReply(in_reply_to, err.reply);
    return;
  }
  NB_BINDER_USER_ERROR("{}:{} transaction {} failed: BR {:#x} errno {}", thread->proc->identity.pid,
                       thread->tid, t_debug_id, err.reply, err.errno_source);
  thread->ee = ee;
  thread->return_error.cmd = err.reply;
  enqueueThreadWork(thread, &thread->return_error);
}

// --- target resolution ---

BinderError Context::resolveReplyTarget(Thread* thread, Transaction** in_reply_to,
                                        Thread** target_thread) {
  Transaction* t = thread->transaction_stack;
  if (t == nullptr || t->to_thread != thread) {
    return BinderError::failed(EPROTO);  // no stack / top is not addressed to this thread
  }
  thread->transaction_stack = t->to_parent;
  *in_reply_to = t;
  setNice(thread, t->saved_priority);  // before the caller is checked, as binder_transaction
  Thread* from = t->from;
  if (from == nullptr) {
    return BinderError::dead();  // the caller died: replier gets COMPLETE, chain gets DEAD_REPLY
  }
  if (from->transaction_stack != t) {
    *in_reply_to = nullptr;
    return BinderError::failed(EPROTO);
  }
  *target_thread = from;
  return BinderError::none();
}

// Non-reply target: the node behind the handle (0 = context manager), with a local strong ref and
// a tmp ref taken (returned in *target_node even on a later failure, for the caller to drop).
BinderError Context::resolveTarget(Process* proc, Thread* thread, const binder_transaction_data& tr,
                                   Node** target_node, Thread** target_thread) {
  Node* node = nullptr;
  if (tr.target.handle != 0) {
    const NodeRef* ref = getRef(proc, tr.target.handle, /*need_strong=*/true);
    if (ref == nullptr) {
      return BinderError::failed(EINVAL);  // invalid handle, or weak-only (§17.3)
    }
    node = ref->node;
  } else {
    if (mgr_node_ == nullptr) {
      return BinderError::dead(EINVAL);  // no context manager (§17.9)
    }
    node = mgr_node_;
    if (node->owner != nullptr && node->owner->identity.pid == proc->identity.pid) {
      return BinderError::failed(EINVAL);  // the manager calling handle 0
    }
  }
  if (node->owner == nullptr) {
    return BinderError::dead(EINVAL);  // the node's owner died
  }
  Process* target_proc = node->owner;
  if (target_proc == proc) {
    return BinderError::failed(EINVAL);  // self transaction
  }
  (void)incNode(node, /*strong=*/true, /*internal=*/false, nullptr);
  incNodeTmpRef(node);
  *target_node = node;
  if ((tr.flags & TF_ONE_WAY) != 0) {
    return BinderError::none();
  }
  // §8.1: no new sync call while an unread transaction heads the todo, or while the stack top is
  // not an incoming call to this thread (no two outstanding sync calls from one thread).
  const WorkItem* head = thread->todo.front();
  if (head != nullptr && head->type == WorkType::kTransaction) {
    return BinderError::failed(EPROTO);
  }
  Transaction* tmp = thread->transaction_stack;
  if (tmp != nullptr && tmp->to_thread != thread) {
    return BinderError::failed(EPROTO);
  }
  // §6.3: a nested call goes to the thread of the target process that waits in this chain.
  for (; tmp != nullptr; tmp = tmp->from_parent) {
    if (tmp->from != nullptr && tmp->from->proc == target_proc) {
      *target_thread = tmp->from;
      break;
    }
  }
  return BinderError::none();
}

// Queues `t` to the target (kernel binder_proc_transaction). Returns 0 or the BR error.
uint32_t Context::procTransaction(Transaction* t, Process* target, Thread* target_thread) {
  Node* node = t->buffer->target_node;
  const bool oneway = (t->flags & TF_ONE_WAY) != 0;
  bool pending_async = false;
  if (oneway) {
    // §8.3: one oneway per node in flight; later ones wait in the node's async_todo until the
    // delivered one's buffer is freed.
    pending_async = node->has_async_transaction;
    node->has_async_transaction = true;
  }
  if (target->is_frozen) {
    target->sync_recv |= !oneway;
    target->async_recv |= oneway;
    if (!oneway) {
      return BR_FROZEN_REPLY;
    }
  }
  if (target->is_dead) {
    return BR_DEAD_REPLY;
  }
  if (target_thread == nullptr && !pending_async) {
    target_thread = selectThread(target);
  }
  if (target_thread != nullptr) {
    enqueueThreadWork(target_thread, t);
    wakeupThread(target, target_thread);
  } else if (!pending_async) {
    enqueueProcWork(target, t);
    wakeupProc(target);
  } else {
    Transaction* outdated = nullptr;
    if ((t->flags & TF_UPDATE_TXN) != 0 && target->is_frozen) {
      outdated = findOutdatedTransaction(t, node->async_todo);
    }
    node->async_todo.pushBack(t);
    if (outdated != nullptr) {
      replaceOutdatedTransaction(target, outdated);
    }
  }
  target->outstanding_txns++;
  return 0;
}

// TF_UPDATE_TXN (§7.5): a queued oneway to a frozen process with the same target process, code,
// flags, sender pid and target node is superseded by the new one (kernel
// binder_can_update_transaction).
Transaction* Context::findOutdatedTransaction(const Transaction* t, const WorkList& async_todo) {
  constexpr uint32_t kBoth = TF_ONE_WAY | TF_UPDATE_TXN;
  for (WorkItem* w = async_todo.front(); w != nullptr; w = w->next) {
    auto* queued = static_cast<Transaction*>(w);
    if ((queued->flags & t->flags & kBoth) != kBoth || queued->to_proc != t->to_proc ||
        queued->code != t->code || queued->flags != t->flags || queued->buffer == nullptr ||
        queued->buffer->pid != t->buffer->pid) {
      continue;
    }
    const Node* a = queued->buffer->target_node;
    const Node* b = t->buffer->target_node;
    if (a != nullptr && b != nullptr && a->ptr == b->ptr && a->cookie == b->cookie) {
      return queued;
    }
  }
  return nullptr;
}

// Drops the superseded oneway: its buffer is released and freed, the transaction freed.
void Context::replaceOutdatedTransaction(Process* target, Transaction* outdated) {
  dequeueWork(outdated);
  Buffer* buf = outdated->buffer;
  outdated->buffer = nullptr;
  buf->transaction = nullptr;
  releaseBufferObjects(target, buf, /*is_failure=*/false);
  releaseBuffer(target, buf);
  freeTransaction(outdated);  // also drops its outstanding count
}

// --- BC_TRANSACTION / BC_REPLY ---

void Context::handleTransaction(Process* proc, Thread* thread, const binder_transaction_data& tr,
                                bool reply, uint64_t extra_buffers_size) {
  const uint64_t t_debug_id = nextDebugId();
  thread->ee = {static_cast<uint32_t>(t_debug_id), BR_OK, 0};
  Transaction* in_reply_to = nullptr;
  Thread* target_thread = nullptr;
  Node* target_node = nullptr;
  BinderError err = reply ? resolveReplyTarget(thread, &in_reply_to, &target_thread)
                          : resolveTarget(proc, thread, tr, &target_node, &target_thread);
  if (!err.ok()) {
    if (target_node != nullptr) {
      decNode(target_node, /*strong=*/true, /*internal=*/false);
      decNodeTmpRef(target_node);
    }
    failTransaction(thread, in_reply_to, t_debug_id, err);
    return;
  }
  Process* target_proc = reply ? target_thread->proc : target_node->owner;
  Transaction* t = newTransaction();
  t->debug_id = t_debug_id;
  t->from = (!reply && (tr.flags & TF_ONE_WAY) == 0) ? thread : nullptr;
  t->to_proc = target_proc;
  t->to_thread = target_thread;
  t->code = tr.code;
  t->flags = tr.flags;         // not filtered (§17.10)
  t->priority = thread->nice;  // task_nice(current), for every transaction
  t->is_reply = reply;
  t->sender_pid = proc->identity.pid;
  t->sender_tid = thread->tid;
  t->sender_euid = proc->identity.euid;
  err = buildTransaction(proc, thread, t, tr, extra_buffers_size, target_node, in_reply_to);
  if (err.ok()) {
    err = submitTransaction(thread, t, in_reply_to, target_thread);
  }
  if (!err.ok()) {
    failTransaction(thread, in_reply_to, t_debug_id, err);
  }
  if (target_node != nullptr) {
    decNodeTmpRef(target_node);
  }
}

// Allocates the buffer in the target, appends the security context, copies and translates the
// payload. On failure everything acquired here is released and `t` is freed.
BinderError Context::buildTransaction(Process* proc, Thread* thread, Transaction* t,
                                      const binder_transaction_data& tr, uint64_t buffers_size,
                                      Node* target_node, Transaction* in_reply_to) {
  Process* target = t->to_proc;
  uint64_t extra = buffers_size;
  uint64_t secctx_size = 0;
  if (target_node != nullptr && target_node->txn_security_ctx) {
    if (secctx_.empty()) {
      // The reference kernel cannot produce a context for the sender (kernel-binder.md §6.7;
      // observed EINVAL on 6.1): the transaction fails before any allocation.
      decNode(target_node, /*strong=*/true, /*internal=*/false);
      t->to_proc = nullptr;
      freeTransaction(t);
      return BinderError::failed(EINVAL);
    }
    secctx_size = (secctx_.size() + 7) & ~uint64_t{7};
    if (extra > UINT64_MAX - secctx_size) {
      extra = UINT64_MAX;  // CVE-2019-2181: overflow must fail, not allocate small
    } else {
      extra += secctx_size;
    }
  }
  Buffer* buf = nullptr;
  const bool is_async = !t->is_reply && (t->flags & TF_ONE_WAY) != 0;
  BinderError err = extra == UINT64_MAX
                        ? BinderError::failed(EINVAL)
                        : allocBuffer(target, tr, extra, is_async, proc->identity.pid, &buf);
  if (!err.ok()) {
    if (target_node != nullptr) {
      decNode(target_node, /*strong=*/true, /*internal=*/false);
    }
    t->to_proc = nullptr;
    freeTransaction(t);
    return err;
  }
  buf->target_node = target_node;  // takes over the local strong ref of the transaction
  buf->transaction = t;
  buf->clear_on_free = (t->flags & TF_CLEAR_BUF) != 0;
  t->buffer = buf;
  if (secctx_size != 0) {
    const uint64_t off =
        ((tr.data_size + 7) & ~uint64_t{7}) + ((tr.offsets_size + 7) & ~uint64_t{7}) + buffers_size;
    // SAFETY: the allocation holds ALIGN8(data)+ALIGN8(offsets)+buffers_size+secctx_size bytes.
    std::memcpy(target->area.data() + buf->offset + off, secctx_.data(), secctx_.size());
    t->has_secctx = true;
    t->secctx_offset = off;
  }
  const bool allow_fds =
      t->is_reply ? (in_reply_to->flags & TF_ACCEPT_FDS) != 0 : target_node->accept_fds;
  err = copyAndTranslate(proc, thread, target, t, tr, buffers_size, allow_fds);
  if (!err.ok()) {
    discardTransaction(t);
  }
  return err;
}

// Frees a transaction that was never queued, with its buffer (objects released as a failure).
void Context::discardTransaction(Transaction* t) {
  Buffer* buf = t->buffer;
  Process* target = t->to_proc;
  if (buf != nullptr) {
    buf->transaction = nullptr;
    t->buffer = nullptr;
    releaseBufferObjects(target, buf, /*is_failure=*/true);
    releaseBuffer(target, buf);
  }
  t->to_proc = nullptr;  // never counted as outstanding
  freeTransaction(t);
}

// Queues a built transaction (the tail of kernel binder_transaction).
BinderError Context::submitTransaction(Thread* thread, Transaction* t, Transaction* in_reply_to,
                                       Thread* target_thread) {
  Process* target = t->to_proc;
  CodeWork* tcomplete =
      newCodeWork(t->buffer->oneway_spam_suspect ? WorkType::kOnewaySpamSuspect
                                                 : WorkType::kTransactionComplete);
  if (t->is_reply) {
    enqueueThreadWork(thread, tcomplete);
    popTransaction(target_thread, in_reply_to);
    enqueueThreadWork(target_thread, t);
    target->outstanding_txns++;
    wakeupThread(target, target_thread);
    freeTransaction(in_reply_to);
    return BinderError::none();
  }
  uint32_t rc = 0;
  if ((t->flags & TF_ONE_WAY) == 0) {
    // The COMPLETE is deferred until the reply (or an error) arrives, so the caller does not
    // return to userspace in between (§6.1).
    enqueueDeferredThreadWork(thread, tcomplete);
    t->need_reply = true;
    t->from_parent = thread->transaction_stack;
    thread->transaction_stack = t;
    rc = procTransaction(t, target, target_thread);
    if (rc != 0) {
      popTransaction(thread, t);
    }
  } else {
    rc = procTransaction(t, target, nullptr);
    enqueueThreadWork(thread, tcomplete);
  }
  if (rc != 0) {
    freeCodeWork(tcomplete);
    discardTransaction(t);
    return BinderError{rc, 0};
  }
  return BinderError::none();
}

}  // namespace nb::driver
