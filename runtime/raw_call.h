// Raw calls: transaction buffers handed over and taken as the driver sees them (data, offsets and
// the scatter-gather area), for objects that forward Binder calls without parsing them — the
// gateway's proxy nodes and the calls it makes on behalf of remote callers.
//
//   transactRaw          a call from the calling thread with a prepared buffer (BC_TRANSACTION or
//                        BC_TRANSACTION_SG); the outcome keeps the driver's distinctions (reply,
//                        TF_STATUS_CODE reply, BR_FAILED_REPLY with its extended error,
//                        BR_DEAD_REPLY, BR_FROZEN_REPLY). A sync call's wait executes incoming
//                        nested transactions on this thread, like every call of the runtime.
//   LocalBinder::takesRawTransactions / onRawTransaction (binder.h)
//                        an object that wants BR_TRANSACTION's buffer as it is; it answers through
//                        a RawResponder (sync calls only).
//
// Objects written into a raw buffer must be kept alive until the send is over, as ParcelWriter
// does: LocalObjectRegistry::noteFlattened for a BINDER object, ProcessState::holdForSend for a
// HANDLE; the send ends those holds (any outcome).
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/received_parcel.h"

namespace nb::runtime {

class ProcessState;

struct RawBuffer {
  std::span<const uint8_t> data;
  std::span<const binder_size_t> offsets;
  // The scatter-gather area (BINDER_TYPE_PTR payloads, each 8-aligned), empty without PTRs.
  std::span<const uint8_t> buffers;
};

// A received transaction (BR_TRANSACTION) as the driver delivered it. Valid during the call only.
struct RawTransaction {
  const binder_transaction_data& tr;  // code, flags, sender_pid, sender_euid, target cookie
  RawBuffer buffer;
};

// The scatter-gather area of a driver buffer: the PTR payloads the driver placed after the
// offsets array (8-aligned), as many bytes as the PTR objects of `data` name.
std::span<const uint8_t> scatterGatherArea(const binder_transaction_data& tr);

enum class RawOutcome : uint8_t {
  kReply,        // BR_REPLY with a buffer (or the completion of a one-way call)
  kStatusCode,   // BR_REPLY with TF_STATUS_CODE: `status`
  kFailedReply,  // BR_FAILED_REPLY; `error_errno` from BINDER_GET_EXTENDED_ERROR (0 if none)
  kDeadReply,    // BR_DEAD_REPLY
  kFrozenReply,  // BR_FROZEN_REPLY
};

struct RawResult {
  RawOutcome outcome = RawOutcome::kReply;
  ReceivedParcel parcel;             // kReply of a sync call: owns the driver buffer
  std::span<const uint8_t> buffers;  // its scatter-gather area
  uint32_t flags = 0;                // the reply's flags
  int32_t status = 0;                // kStatusCode
  int32_t error_errno = 0;           // kFailedReply (positive errno)
};

// A call from the calling thread. Errors (absl::Status) are only for a device that cannot be
// used (the ioctl failed); every driver answer is a RawResult.
absl::StatusOr<RawResult> transactRaw(ProcessState& state, uint32_t handle, uint32_t code,
                                      uint32_t flags, const RawBuffer& buffer);

// How a raw object answers a sync call. Exactly one reply* per call; if the object answers
// nothing the runtime replies FAILED_TRANSACTION.
class RawResponder {
 public:
  virtual ~RawResponder() = default;
  // BC_REPLY (BC_REPLY_SG with buffers) with `flags` (TF_CLEAR_BUF, TF_ACCEPT_FDS pass through).
  virtual absl::Status replyBuffer(const RawBuffer& buffer, uint32_t flags) = 0;
  // A TF_STATUS_CODE reply.
  virtual absl::Status replyStatus(int32_t status) = 0;
  // The caller sees BR_FAILED_REPLY. A replier cannot send it directly: the runtime sends a reply
  // the driver must reject (an offset outside the data), which fails the caller's transaction with
  // BR_FAILED_REPLY (extended error EINVAL) exactly as a bad reply from any process would.
  virtual absl::Status replyFailed() = 0;
  // The caller sees BR_DEAD_REPLY: the thread leaves the driver (BINDER_THREAD_EXIT), which fails
  // the transaction it serves with BR_DEAD_REPLY, and re-enters as a looper. Only possible when
  // that transaction is the thread's only one (no call of the thread is nested around it);
  // otherwise it falls back to replyFailed() and returns FailedPrecondition.
  virtual absl::Status replyDead() = 0;
  bool replied() const { return replied_; }

 protected:
  bool replied_ = false;
};

}  // namespace nb::runtime
