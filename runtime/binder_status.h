// Errors of Binder calls as absl::Status, and the libbinder status_t values that travel in
// TF_STATUS_CODE replies.
//
//   driver return / status_t                   absl code            isDeadObject()
//   BR_DEAD_REPLY, DEAD_OBJECT (-EPIPE)        kUnavailable         true
//   BR_FAILED_REPLY, FAILED_TRANSACTION        kAborted
//   BR_FROZEN_REPLY                            kFailedPrecondition
//   BR_ERROR                                   kInternal
//   UNKNOWN_TRANSACTION (-EBADMSG)             kUnimplemented
//   BAD_VALUE (-EINVAL)                        kInvalidArgument
//   PERMISSION_DENIED (-EPERM)                 kPermissionDenied
//   NAME_NOT_FOUND (-ENOENT)                   kNotFound
//   BAD_TYPE, NOT_ENOUGH_DATA                  kDataLoss / kOutOfRange
//   any other status_t                         kUnknown ("status_t N")
//
// Every Status made here carries the numeric status_t as a payload-free message suffix; use
// statusToStatusT() to get a status_t back for a reply.
#pragma once

#include <cstdint>

#include "absl/status/status.h"

namespace nb::runtime {

using status_t = int32_t;

inline constexpr status_t kOk = 0;
inline constexpr status_t kUnknownError = INT32_MIN;
inline constexpr status_t kNoMemory = -12;          // -ENOMEM
inline constexpr status_t kInvalidOperation = -38;  // -ENOSYS
inline constexpr status_t kBadValue = -22;          // -EINVAL
inline constexpr status_t kBadType = kUnknownError + 1;
inline constexpr status_t kNameNotFound = -2;      // -ENOENT
inline constexpr status_t kPermissionDenied = -1;  // -EPERM
inline constexpr status_t kNoInit = -19;           // -ENODEV
inline constexpr status_t kAlreadyExists = -17;    // -EEXIST
inline constexpr status_t kDeadObject = -32;       // -EPIPE
inline constexpr status_t kFailedTransaction = kUnknownError + 2;
inline constexpr status_t kUnknownTransaction = -74;  // -EBADMSG
inline constexpr status_t kNotEnoughData = -61;       // -ENODATA
inline constexpr status_t kTimedOut = -110;           // -ETIMEDOUT

// The Status for a driver error return (BR_DEAD_REPLY, BR_FAILED_REPLY, BR_FROZEN_REPLY,
// BR_ERROR); `what` names the call.
absl::Status statusFromDriverReturn(uint32_t br, const char* what);
// The Status for a status_t carried by a TF_STATUS_CODE reply (or returned by an onTransact).
absl::Status statusFromStatusT(status_t status);
// The status_t to send back for `status` (kOk for OK).
status_t statusToStatusT(const absl::Status& status);
// True for the errors that mean the remote object is gone (BR_DEAD_REPLY, DEAD_OBJECT).
bool isDeadObject(const absl::Status& status);

}  // namespace nb::runtime

namespace nb::codec {
struct AidlStatus;
}

namespace nb::runtime {
// An AIDL Status read from a reply (codec/parcel_headers.h) as an absl::Status:
// EX_SECURITY → PermissionDenied, EX_ILLEGAL_ARGUMENT/EX_NULL_POINTER/EX_BAD_PARCELABLE →
// InvalidArgument, EX_ILLEGAL_STATE → FailedPrecondition, EX_UNSUPPORTED_OPERATION →
// Unimplemented, EX_SERVICE_SPECIFIC → Unknown ("service-specific error N: message"), others →
// Unknown. The message carries the exception name and the server's message.
absl::Status statusFromAidl(const codec::AidlStatus& status);
}  // namespace nb::runtime
