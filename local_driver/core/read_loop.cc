// The read half of BINDER_WRITE_READ (kernel binder_thread_read; kernel-binder.md §3.2, §17.5–7,
// §17.12): waiting (as a parked read), draining work into BR_* commands, fd installation at
// delivery, and BR_SPAWN_LOOPER.
#include <algorithm>
#include <cstring>

#include "local_driver/core/context.h"

namespace nb::driver {
namespace {

// Nothing is dequeued unless a whole BR_TRANSACTION_SEC_CTX fits (§3.2 step 4).
constexpr size_t kMinReadRoom = sizeof(binder_transaction_data_secctx) + sizeof(uint32_t);

WriteReadResult done(int error) { return {WriteReadResult::Kind::kDone, error, {}}; }

std::span<uint8_t> readRoom(const binder_write_read& bwr, std::span<uint8_t> out) {
  const uint64_t room = bwr.read_size - bwr.read_consumed;
  return out.first(static_cast<size_t>(std::min<uint64_t>(room, out.size())));
}

}  // namespace

// 6.1: any thread without a transaction stack and with an empty own queue may take process work,
// looper or not (§17.5).
bool Context::availableForProcWork(const Thread* thread) const {
  return thread->transaction_stack == nullptr && thread->todo.empty();
}

bool Context::hasWork(const Thread* thread, bool do_proc_work) const {
  return thread->process_todo || thread->looper_need_return ||
         (do_proc_work && !thread->proc->todo.empty());
}

WriteReadResult Context::readPart(Process* proc, Thread* thread, binder_write_read& bwr,
                                  std::span<uint8_t> out, bool nonblock) {
  if (bwr.read_consumed > bwr.read_size) {
    finishIoctl(thread);
    return done(EFAULT);
  }
  out = readRoom(bwr, out);
  const bool wait_for_proc_work = availableForProcWork(thread);
  if (wait_for_proc_work) {
    setNice(thread, proc->identity.nice);  // proc->default_priority
  }
  if (!hasWork(thread, wait_for_proc_work)) {
    return park(proc, thread, wait_for_proc_work, nonblock);
  }
  ReturnWriter w(out, 0, stats_, proc->stats);
  // A read starting at read_consumed == 0 begins with a BR_NOOP placeholder.
  if (bwr.read_consumed == 0 && !w.put(BR_NOOP)) {
    finishIoctl(thread);
    return done(EFAULT);
  }
  return drain(proc, thread, bwr, out, w.pos(), wait_for_proc_work, nonblock);
}

WriteReadResult Context::park(Process* proc, Thread* thread, bool wait_for_proc_work,
                              bool nonblock) {
  if (nonblock) {
    finishIoctl(thread);
    return done(EAGAIN);
  }
  thread->parked = true;
  thread->looper |= kLooperWaiting;
  if (wait_for_proc_work) {
    thread->parked_for_proc_work = true;
    proc->waiting_threads.push_back(thread);
  }
  return {WriteReadResult::Kind::kWouldBlock, 0, {}};
}

WriteReadResult Context::drain(Process* proc, Thread* thread, binder_write_read& bwr,
                               std::span<uint8_t> out, size_t pos, bool wait_for_proc_work,
                               bool nonblock) {
  ReturnWriter w(out, pos, stats_, proc->stats);
  for (;;) {
    WorkList* list = nullptr;
    if (!thread->todo.empty()) {
      list = &thread->todo;
    } else if (wait_for_proc_work && !proc->todo.empty()) {
      list = &proc->todo;
    } else {
      // Only the BR_NOOP so far and no need_return: wait again (a read never returns empty).
      if (bwr.read_consumed + w.pos() == sizeof(uint32_t) && !thread->looper_need_return) {
        wait_for_proc_work = availableForProcWork(thread);
        if (wait_for_proc_work) {
          setNice(thread, proc->identity.nice);
        }
        if (!hasWork(thread, wait_for_proc_work)) {
          return park(proc, thread, wait_for_proc_work, nonblock);
        }
        continue;
      }
      break;
    }
    if (w.remaining() < kMinReadRoom) {
      break;
    }
    WorkItem* item = list->popFront();
    if (thread->todo.empty()) {
      thread->process_todo = false;
    }
    const Drained r = deliverWork(proc, thread, item, w, wait_for_proc_work);
    if (r == Drained::kFault) {
      finishIoctl(thread);
      return done(EFAULT);
    }
    if (r == Drained::kNeedFds) {
      thread->pending_fd_read.nonblock = nonblock;
      WriteReadResult result{WriteReadResult::Kind::kInstallFds, 0, {}};
      for (FdFixup& fixup : thread->pending_fd_read.t->buffer->fd_fixups) {
        result.fds.push_back(FdInstall{std::move(fixup.file), fixup.area_offset});
      }
      return result;
    }
    if (r == Drained::kStop) {
      break;
    }
  }
  return finishRead(proc, thread, bwr, out, w.pos());
}

WriteReadResult Context::finishRead(Process* proc, Thread* thread, binder_write_read& bwr,
                                    std::span<uint8_t> out, size_t pos) {
  const bool from_start = bwr.read_consumed == 0;
  bwr.read_consumed += pos;
  WriteReadResult result = done(0);
  // BR_SPAWN_LOOPER (6.1 C driver, §3.2 step 7): written over word 0 of the read buffer, whatever
  // read_consumed was on entry (there it lands on data of an earlier read, or on this read's
  // BR_NOOP placeholder). Not at read_buffer + read_consumed: out starts there, so with
  // read_consumed != 0 on entry the client writes the word (overwrite_word0_with_spawn).
  if (proc->requested_threads == 0 && proc->waiting_threads.empty() &&
      proc->requested_threads_started < proc->max_threads &&
      (thread->looper & (kLooperRegistered | kLooperEntered)) != 0) {
    proc->requested_threads++;
    if (from_start && pos >= sizeof(uint32_t)) {
      ReturnWriter w(out, pos, stats_, proc->stats);
      w.overwrite(0, BR_SPAWN_LOOPER);
    } else {
      ReturnWriter w(out, pos, stats_, proc->stats);
      w.countOnly(BR_SPAWN_LOOPER);
      result.overwrite_word0_with_spawn = true;
    }
  }
  if (!proc->todo.empty()) {
    wakeupProc(proc);
  }
  finishIoctl(thread);
  return result;
}

Context::Drained Context::deliverWork(Process* proc, Thread* thread, WorkItem* w, ReturnWriter& out,
                                      bool wait_for_proc_work) {
  switch (w->type) {
    case WorkType::kTransaction:
      return deliverTransaction(proc, thread, static_cast<Transaction*>(w), out,
                                wait_for_proc_work);
    case WorkType::kReturnError: {
      auto* e = static_cast<ErrorWork*>(w);
      const uint32_t cmd = e->cmd;
      e->cmd = BR_OK;
      return out.put(cmd) ? Drained::kContinue : Drained::kFault;
    }
    case WorkType::kTransactionComplete:
    case WorkType::kOnewaySpamSuspect: {
      const uint32_t cmd =
          w->type == WorkType::kOnewaySpamSuspect && proc->oneway_spam_detection_enabled
              ? BR_ONEWAY_SPAM_SUSPECT
              : BR_TRANSACTION_COMPLETE;
      freeCodeWork(static_cast<CodeWork*>(w));
      return out.put(cmd) ? Drained::kContinue : Drained::kFault;
    }
    case WorkType::kNode:
      return writeNodeWork(proc, static_cast<Node*>(w), out) ? Drained::kContinue : Drained::kFault;
    case WorkType::kDeadBinder:
    case WorkType::kDeadBinderAndClear:
    case WorkType::kClearDeathNotification:
      return deliverDeath(proc, static_cast<Death*>(w), out);
  }
  return Drained::kContinue;
}

Context::Drained Context::deliverDeath(Process* proc, Death* death, ReturnWriter& out) {
  const bool clear_done = death->type == WorkType::kClearDeathNotification;
  const uint32_t cmd = clear_done ? BR_CLEAR_DEATH_NOTIFICATION_DONE : BR_DEAD_BINDER;
  const binder_uintptr_t cookie = death->cookie;
  if (clear_done) {
    freeDeath(proc, death);
  } else {
    proc->delivered_death.pushBack(death);  // until BC_DEAD_BINDER_DONE
  }
  if (!out.put(cmd, cookie)) {
    return Drained::kFault;
  }
  // BR_DEAD_BINDER can cause transactions: userspace gets control at once.
  return clear_done ? Drained::kContinue : Drained::kStop;
}

Context::Drained Context::deliverTransaction(Process* proc, Thread* thread, Transaction* t,
                                             ReturnWriter& out, bool wait_for_proc_work) {
  const Buffer* buf = t->buffer;
  binder_transaction_data_secctx tr{};
  binder_transaction_data& trd = tr.transaction_data;
  uint32_t cmd = BR_REPLY;
  if (buf->target_node != nullptr) {
    trd.target.ptr = buf->target_node->ptr;
    trd.cookie = buf->target_node->cookie;
    cmd = BR_TRANSACTION;
    // Mainline priority (§8.5): a sync call runs at the caller's nice when that is below the
    // node's min_priority, else at min_priority; a oneway call only raises a lower priority.
    const int min_priority = buf->target_node->min_priority;
    const bool oneway = (t->flags & TF_ONE_WAY) != 0;
    t->saved_priority = thread->nice;
    if (t->priority < min_priority && !oneway) {
      setNice(thread, t->priority);
    } else if (!oneway || t->saved_priority > min_priority) {
      setNice(thread, min_priority);
    }
  }
  trd.code = t->code;
  trd.flags = t->flags;
  trd.sender_euid = t->sender_euid;
  trd.sender_pid = t->from != nullptr ? t->sender_pid : 0;  // 0 for oneway, replies, dead senders
  trd.data_size = buf->data_size;
  trd.offsets_size = buf->offsets_size;
  trd.data.ptr.buffer = userAddress(proc, buf->offset);
  trd.data.ptr.offsets = trd.data.ptr.buffer + ((buf->data_size + 7) & ~uint64_t{7});
  const size_t cmd_pos = out.pos();
  bool ok = false;
  if (t->has_secctx) {
    cmd = BR_TRANSACTION_SEC_CTX;
    tr.secctx = userAddress(proc, buf->offset + t->secctx_offset);
    ok = out.put(cmd, tr);
  } else {
    ok = out.put(cmd, trd);
  }
  if (!ok) {
    return Drained::kFault;
  }
  if (!buf->fd_fixups.empty()) {
    thread->pending_fd_read = PendingFdRead{t, cmd_pos, out.pos(), cmd, wait_for_proc_work, false};
    return Drained::kNeedFds;
  }
  completeDelivery(thread, t, cmd);
  return Drained::kStop;  // exactly one transaction per read
}

void Context::completeDelivery(Thread* thread, Transaction* t, uint32_t cmd) {
  t->buffer->allow_user_free = true;
  if (cmd != BR_REPLY && (t->flags & TF_ONE_WAY) == 0) {
    t->to_parent = thread->transaction_stack;
    t->to_thread = thread;
    thread->transaction_stack = t;
  } else {
    freeTransaction(t);
  }
}

// The client could not install the files (kernel binder_apply_fd_fixups failure): the
// transaction fails back to its sender and the buffer is freed; a failed incoming reply is
// reported to this reader as BR_FAILED_REPLY.
void Context::failFdDelivery(Process* proc, Thread* thread, Transaction* t, uint32_t cmd,
                             ReturnWriter& out) {
  (void)thread;
  Buffer* buf = t->buffer;
  buf->transaction = nullptr;
  cleanupTransaction(t, BR_FAILED_REPLY);
  freeBuf(proc, buf, /*is_failure=*/true);
  if (cmd == BR_REPLY) {
    (void)out.put(BR_FAILED_REPLY);
  }
}

WriteReadResult Context::fdsInstalled(ProcId id, Tid tid, binder_write_read& bwr,
                                      std::span<uint8_t> read_out, std::span<const int> numbers) {
  Process* proc = findProc(id);
  if (proc == nullptr) {
    return done(EBADF);
  }
  Thread* thread = getThread(proc, tid);
  const PendingFdRead p = thread->pending_fd_read;
  if (p.t == nullptr) {
    return done(EINVAL);
  }
  thread->pending_fd_read = {};
  std::span<uint8_t> out = readRoom(bwr, read_out);
  Buffer* buf = p.t->buffer;
  bool ok = buf != nullptr && proc->mapped && numbers.size() == buf->fd_fixups.size() &&
            std::all_of(numbers.begin(), numbers.end(), [](int n) { return n >= 0; });
  if (ok) {
    for (size_t i = 0; i < numbers.size(); ++i) {
      const uint32_t number = static_cast<uint32_t>(numbers[i]);
      // SAFETY: fixup offsets were computed inside this buffer at translation time.
      std::memcpy(proc->area.data() + buf->fd_fixups[i].area_offset, &number, sizeof(number));
      if (buf->fd_fixups[i].in_fda) {
        buf->fda_fds.push_back(numbers[i]);
      }
    }
    buf->fd_fixups.clear();
    completeDelivery(thread, p.t, p.cmd);
    return finishRead(proc, thread, bwr, out, p.end_pos);
  }
  std::vector<int> installed;
  std::copy_if(numbers.begin(), numbers.end(), std::back_inserter(installed),
               [](int n) { return n >= 0; });
  if (!installed.empty()) {
    effects_.closeClientFds(proc->id, std::move(installed));
  }
  ReturnWriter w(out, p.cmd_pos, stats_, proc->stats);
  failFdDelivery(proc, thread, p.t, p.cmd, w);
  if (p.cmd == BR_REPLY) {
    return finishRead(proc, thread, bwr, out, w.pos());
  }
  return drain(proc, thread, bwr, out, w.pos(), p.wait_for_proc_work, p.nonblock);
}

}  // namespace nb::driver
