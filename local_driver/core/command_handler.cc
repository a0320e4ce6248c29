// The write half of BINDER_WRITE_READ: parses the BC_* stream, one handleBcXxx per command
// (kernel binder_thread_write; kernel-binder.md §3.1, §4).
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "local_driver/core/context.h"
#include "local_driver/core/user_error.h"

namespace nb::driver {

// Reader over one write buffer. Commands are packed with no alignment (the kernel reads fields
// with get_user one by one). The kernel does not stop a command at write_size: a command or payload
// crossing it is completed from the client's memory after the write buffer (and write_consumed may
// then exceed write_size, tests/conformance rw_edges). binderd gets the write_size bytes inline;
// the rest is read through ClientMemory, and a fault is EFAULT.
class CommandCursor {
 public:
  CommandCursor(std::span<const uint8_t> bytes, ClientMemory* memory, uint64_t base)
      : bytes_(bytes), memory_(memory), base_(base) {}
  bool atEnd() const { return pos_ >= bytes_.size(); }
  size_t pos() const { return pos_; }
  template <typename T>
  bool read(T* out) {
    uint8_t tmp[sizeof(T)];
    const size_t avail = pos_ < bytes_.size() ? std::min(sizeof(T), bytes_.size() - pos_) : 0;
    if (avail > 0) {
      // SAFETY: avail <= bytes_.size() - pos_.
      std::memcpy(tmp, bytes_.data() + pos_, avail);
    }
    if (avail < sizeof(T)) {
      const uint64_t offset = pos_ + avail;
      if (memory_ == nullptr || base_ > UINT64_MAX - offset ||
          !memory_->read(base_ + offset, std::span<uint8_t>(tmp + avail, sizeof(T) - avail))) {
        return false;
      }
    }
    std::memcpy(out, tmp, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }

 private:
  std::span<const uint8_t> bytes_;
  ClientMemory* memory_;
  uint64_t base_;  // client address of bytes_[0]
  size_t pos_ = 0;
};

int Context::writeLoop(Process* proc, Thread* thread, binder_write_read& bwr,
                       std::span<const uint8_t> bytes) {
  CommandCursor in(bytes, proc->memory.get(), bwr.write_buffer + bwr.write_consumed);
  // Stops early while a return_error is pending: userspace must read it first (§3.1), and the
  // rest of the buffer stays unconsumed with the ioctl returning 0 (§17.15).
  while (!in.atEnd() && thread->return_error.cmd == BR_OK) {
    const size_t start = in.pos();
    uint32_t cmd = 0;
    if (!in.read(&cmd)) {
      return EFAULT;  // the command's bytes are not readable
    }
    stats_.countBc(cmd);
    proc->stats.countBc(cmd);
    const int ret = handleBcCommand(proc, thread, cmd, in);
    if (ret != 0) {
      return ret;
    }
    // write_consumed advances after each complete command only.
    bwr.write_consumed += in.pos() - start;
  }
  return 0;
}

namespace {
// Reads the payload T of a command, then runs f on it; EFAULT when the payload is truncated.
template <typename T, typename F>
int withPayload(CommandCursor& in, F&& f) {
  T value{};
  return in.read(&value) ? f(value) : EFAULT;
}
}  // namespace

// One line per BC command (§4).
int Context::handleBcCommand(Process* proc, Thread* thread, uint32_t cmd, CommandCursor& in) {
  switch (cmd) {
    case BC_INCREFS:
    case BC_ACQUIRE:
    case BC_RELEASE:
    case BC_DECREFS:
      return withPayload<uint32_t>(
          in, [&](uint32_t target) { return handleBcRefCount(proc, thread, cmd, target); });
    case BC_INCREFS_DONE:
    case BC_ACQUIRE_DONE:
      return withPayload<binder_ptr_cookie>(
          in, [&](const binder_ptr_cookie& pc) { return handleBcNodeDone(proc, cmd, pc), 0; });
    case BC_ATTEMPT_ACQUIRE:
    case BC_ACQUIRE_RESULT:
      return EINVAL;  // never supported
    case BC_FREE_BUFFER:
      return withPayload<binder_uintptr_t>(
          in, [&](binder_uintptr_t ptr) { return handleBcFreeBuffer(proc, thread, ptr), 0; });
    case BC_TRANSACTION_SG:
    case BC_REPLY_SG:
      return withPayload<binder_transaction_data_sg>(in, [&](const binder_transaction_data_sg& tr) {
        return handleTransaction(proc, thread, tr.transaction_data, cmd == BC_REPLY_SG,
                                 tr.buffers_size),
               0;
      });
    case BC_TRANSACTION:
    case BC_REPLY:
      return withPayload<binder_transaction_data>(in, [&](const binder_transaction_data& tr) {
        return handleTransaction(proc, thread, tr, cmd == BC_REPLY, 0), 0;
      });
    case BC_REGISTER_LOOPER:
      return handleBcRegisterLooper(proc, thread), 0;
    case BC_ENTER_LOOPER:
      return handleBcEnterLooper(thread), 0;
    case BC_EXIT_LOOPER:
      thread->looper |= kLooperExited;
      return 0;
    case BC_REQUEST_DEATH_NOTIFICATION:
    case BC_CLEAR_DEATH_NOTIFICATION:
      // binder_handle_cookie is packed (12 bytes): the handle, then the cookie.
      return withPayload<uint32_t>(in, [&](uint32_t target) {
        return withPayload<binder_uintptr_t>(in, [&](binder_uintptr_t cookie) {
          return handleBcDeathNotification(proc, thread, cmd, target, cookie), 0;
        });
      });
    case BC_DEAD_BINDER_DONE:
      return withPayload<binder_uintptr_t>(in, [&](binder_uintptr_t cookie) {
        return handleBcDeadBinderDone(proc, thread, cookie), 0;
      });
    default:
      return EINVAL;
  }
}

int Context::handleBcRefCount(Process* proc, Thread* thread, uint32_t cmd, uint32_t target) {
  const bool strong = cmd == BC_ACQUIRE || cmd == BC_RELEASE;
  const bool increment = cmd == BC_INCREFS || cmd == BC_ACQUIRE;
  int ret = -1;
  // Handle 0 always means the current context manager: a ref is created if needed (desc 0
  // preferred). The manager itself may not do this (ioctl EINVAL).
  if (increment && target == 0 && mgr_node_ != nullptr) {
    if (mgr_node_->owner == proc) {
      return EINVAL;
    }
    uint32_t desc = 0;
    ret = incRefForNode(proc, mgr_node_, strong, nullptr, &desc);
  }
  if (ret != 0) {
    // Invalid handles, weak->strong promotion attempts and underflows are ignored (logged by
    // the kernel), never ioctl errors.
    if (updateRefForHandle(proc, target, increment, strong) != 0) {
      NB_BINDER_USER_ERROR("{}:{} refcount change on invalid ref {}", proc->identity.pid,
                           thread->tid, target);
    }
  }
  return 0;
}

void Context::handleBcNodeDone(Process* proc, uint32_t cmd, const binder_ptr_cookie& pc) {
  Node* node = getNode(proc, pc.ptr);
  if (node == nullptr || node->cookie != pc.cookie) {
    return;  // no such node / cookie mismatch: ignored
  }
  const bool strong = cmd == BC_ACQUIRE_DONE;
  bool& pending = strong ? node->pending_strong_ref : node->pending_weak_ref;
  if (!pending) {
    return;  // BC_*_DONE without a pending BR_*: ignored
  }
  pending = false;
  // Drops the temporary local ref taken when the BR_INCREFS/BR_ACQUIRE was read.
  decNode(node, strong, /*internal=*/false);
}

void Context::handleBcFreeBuffer(Process* proc, Thread* /*thread*/, uint64_t data_ptr) {
  if (data_ptr < proc->user_base) {
    return;
  }
  auto it = proc->buffers.find(data_ptr - proc->user_base);
  if (it == proc->buffers.end()) {
    NB_BINDER_USER_ERROR("{} BC_FREE_BUFFER {:#x} no match", proc->identity.pid, data_ptr);
    return;  // no match: ignored
  }
  Buffer* buf = it->second;
  if (!buf->allow_user_free) {
    NB_BINDER_USER_ERROR("{} BC_FREE_BUFFER {:#x} matched unreturned or currently freeing buffer",
                         proc->identity.pid, data_ptr);
    return;  // not yet delivered, or already being freed (CVE-2019-2025): ignored
  }
  buf->allow_user_free = false;
  freeBuf(proc, buf, /*is_failure=*/false);
}

void Context::handleBcRegisterLooper(Process* proc, Thread* thread) {
  if ((thread->looper & kLooperEntered) != 0) {
    thread->looper |= kLooperInvalid;  // REGISTER after ENTER
  } else if (proc->requested_threads == 0) {
    thread->looper |= kLooperInvalid;  // not spawned on request
  } else {
    proc->requested_threads--;
    proc->requested_threads_started++;
  }
  thread->looper |= kLooperRegistered;
}

void Context::handleBcEnterLooper(Thread* thread) {
  if ((thread->looper & kLooperRegistered) != 0) {
    thread->looper |= kLooperInvalid;  // ENTER after REGISTER
  }
  thread->looper |= kLooperEntered;
}

}  // namespace nb::driver
