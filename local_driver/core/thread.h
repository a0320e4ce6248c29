// Thread: one client thread of a process (kernel struct binder_thread; Rust thread.rs): looper
// state, its own work list, the transaction stack, the two error slots and the extended error.
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <vector>

#include "local_driver/core/driver.h"
#include "local_driver/core/work_item.h"

namespace nb::driver {

struct Process;
struct Transaction;

// Looper state bits, values as the kernel's enum (shown in the debugfs "l" field).
enum LooperState : uint32_t {
  kLooperRegistered = 0x01,
  kLooperEntered = 0x02,
  kLooperExited = 0x04,
  kLooperInvalid = 0x08,
  kLooperWaiting = 0x10,
  kLooperPoll = 0x20,
};

// A read that delivered a transaction with fds and waits for the client to install them.
struct PendingFdRead {
  Transaction* t = nullptr;  // dequeued, not yet on the stack nor freed
  size_t cmd_pos = 0;        // position of its BR code in read_out (to roll back on failure)
  size_t end_pos = 0;        // position after its payload
  uint32_t cmd = 0;
  bool wait_for_proc_work = false;
  bool nonblock = false;
};

inline constexpr int kMinNice = -20;
inline constexpr int kMaxNice = 19;

struct Thread {
  Thread() {
    return_error.cmd = BR_OK;
    reply_error.cmd = BR_OK;
  }
  Thread(const Thread&) = delete;
  Thread& operator=(const Thread&) = delete;

  Process* proc = nullptr;
  Tid tid = 0;
  uint32_t looper = 0;
  // New threads start with need_return so their first read returns at once (§17.6); set by flush;
  // cleared at the end of every ioctl.
  bool looper_need_return = true;
  // The todo holds non-deferred work (deferred work, e.g. a sync call's TRANSACTION_COMPLETE or
  // node work queued at transfer, does not wake the thread by itself).
  bool process_todo = false;
  WorkList todo;
  // INVARIANT: the top is either this thread's outgoing sync call (from == this) or an incoming
  // one it has to reply to (to_thread == this).
  Transaction* transaction_stack = nullptr;
  ErrorWork return_error;  // failures of this thread's own command; blocks the write loop
  ErrorWork reply_error;   // BR_DEAD_REPLY / BR_FAILED_REPLY for this thread's outgoing call
  binder_extended_error ee{0, BR_OK, 0};

  // Scheduling (§8.5): the nice the client last reported or the core last set, and a change the
  // client has still to apply (returned with the next kDone result).
  int nice = 0;
  bool nice_pending = false;
  bool nice_known = false;  // `nice` is the thread's real nice (reported, or set and pending)

  bool parked = false;  // a read returned WouldBlock and the client waits
  bool parked_for_proc_work = false;
  PendingFdRead pending_fd_read;
};

}  // namespace nb::driver
