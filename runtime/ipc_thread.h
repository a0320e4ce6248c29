// IpcThread: the per-thread Binder engine (libbinder IPCThreadState). One per (thread,
// ProcessState), created on first use through ProcessState::thread(); never shared between
// threads.
//
// It owns the thread's BC write queue and BR read buffer and runs the BINDER_WRITE_READ loop
// (kernel-binder.md §3): transact() writes BC_TRANSACTION and waits for BR_REPLY (sync) or
// BR_TRANSACTION_COMPLETE (one-way), executing every other BR it reads meanwhile — incoming
// BR_TRANSACTIONs included, which is how a nested call A→B→A runs on A's waiting thread (§6.3).
// Node reference BRs are answered (BR_INCREFS → BC_INCREFS_DONE, BR_ACQUIRE → BC_ACQUIRE_DONE),
// BR_DEAD_BINDER runs obituaries then BC_DEAD_BINDER_DONE, BR_SPAWN_LOOPER starts a pool thread.
#pragma once

#include <linux/android/binder.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/parcel_writer.h"
#include "runtime/raw_call.h"
#include "runtime/received_parcel.h"

namespace nb::runtime {

class ProcessState;
class LocalBinder;

class IpcThread {
 public:
  explicit IpcThread(ProcessState& state);
  // Kernel backend: flushes queued commands and tells the driver the thread is gone
  // (BINDER_THREAD_EXIT) if the ProcessState still exists. binderd learns it from the thread's
  // connection closing.
  ~IpcThread();
  IpcThread(const IpcThread&) = delete;
  IpcThread& operator=(const IpcThread&) = delete;

  absl::StatusOr<ReceivedParcel> transact(uint32_t handle, uint32_t code,
                                          const codec::ParcelWriter& data, uint32_t flags);
  // raw_call.h transactRaw.
  absl::StatusOr<RawResult> transactRaw(uint32_t handle, uint32_t code, uint32_t flags,
                                        const RawBuffer& buffer);
  // Runs the looper until the ProcessState stops (BC_REGISTER_LOOPER for a spawned thread,
  // BC_ENTER_LOOPER for the main one), then BC_EXIT_LOOPER.
  void joinLoop(bool is_main);
  absl::Status setupPolling();
  absl::Status handlePolledCommands();
  // Write-only BINDER_WRITE_READ of the queued commands.
  absl::Status flush();
  // True while the thread runs joinLoop: its next ioctl is never far, so a buffer free can wait
  // for it (ProcessState::freeBuffer).
  bool defersFrees() const { return looping_; }
  void queueFree(binder_uintptr_t buffer) { queue(BC_FREE_BUFFER, &buffer, sizeof(buffer)); }

 private:
  void queue(uint32_t cmd);
  void queue(uint32_t cmd, const void* payload, size_t size);
  void queueTransaction(uint32_t cmd, uint32_t handle, uint32_t code, uint32_t flags,
                        std::span<const uint8_t> data, std::span<const binder_size_t> offsets);
  absl::Status talk(bool receive);
  bool hasInput() const { return in_pos_ < in_size_; }
  template <typename T>
  absl::StatusOr<T> readPayload();
  // Reads (blocking if nothing is buffered) and returns the next BR code.
  absl::StatusOr<uint32_t> nextCommand();
  absl::Status executeCommand(uint32_t cmd);
  absl::Status executeTransactionCommand(bool with_secctx);
  absl::Status executeRefCommand(uint32_t cmd);
  absl::Status executeDeadBinder();
  absl::Status skipUnknownCommand(uint32_t cmd);
  absl::Status executeTransaction(const binder_transaction_data& tr);
  absl::Status sendReply(const codec::ParcelWriter& reply, const absl::Status& status);
  // Waits for BR_REPLY (want_reply) or BR_TRANSACTION_COMPLETE.
  absl::StatusOr<ReceivedParcel> waitForResponse(bool want_reply, const char* what);
  // The driver's answer to a call, undecoded (waitForResponse decodes it for parcel calls).
  absl::StatusOr<RawResult> waitForRaw(bool want_reply);
  void queueRaw(uint32_t cmd, uint32_t handle, uint32_t code, uint32_t flags,
                const RawBuffer& buffer);
  absl::Status executeRawTransaction(LocalBinder& target, const binder_transaction_data& tr,
                                     ReceivedParcel& request);
  friend class RawReplyEngine;

  ProcessState& state_;
  std::weak_ptr<ProcessState> state_weak_;
  std::vector<uint8_t> out_;
  // 256 bytes as libbinder: room for several small BRs plus one transaction (≥ 76 bytes).
  std::array<uint8_t, 256> in_{};
  size_t in_size_ = 0;
  size_t in_pos_ = 0;
  bool polling_ = false;
  bool looping_ = false;
  // Transactions this thread is part of right now (calls it waits in + calls it executes): a
  // dead reply by thread exit is only exact at depth 1 (raw_call.h replyDead).
  int depth_ = 0;
};

}  // namespace nb::runtime
