#include "runtime/binder_status.h"

#include <linux/android/binder.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nb::runtime {
namespace {

constexpr char kDeadTag[] = "[dead object]";

}  // namespace

absl::Status statusFromDriverReturn(uint32_t br, const char* what) {
  switch (br) {
    case BR_DEAD_REPLY:
      return absl::UnavailableError(absl::StrCat(what, ": BR_DEAD_REPLY ", kDeadTag));
    case BR_FAILED_REPLY:
      return absl::AbortedError(absl::StrCat(what, ": BR_FAILED_REPLY (failed transaction)"));
    case BR_FROZEN_REPLY:
      return absl::FailedPreconditionError(absl::StrCat(what, ": BR_FROZEN_REPLY (target frozen)"));
    case BR_ERROR:
      return absl::InternalError(absl::StrCat(what, ": BR_ERROR"));
    default:
      return absl::InternalError(
          absl::StrCat(what, ": unexpected driver return 0x", absl::Hex(br)));
  }
}

absl::Status statusFromStatusT(status_t status) {
  std::string suffix = absl::StrCat(" (status_t ", status, ")");
  switch (status) {
    case kOk:
      return absl::OkStatus();
    case kDeadObject:
      return absl::UnavailableError(absl::StrCat("DEAD_OBJECT ", kDeadTag, suffix));
    case kFailedTransaction:
      return absl::AbortedError(absl::StrCat("FAILED_TRANSACTION", suffix));
    case kUnknownTransaction:
      return absl::UnimplementedError(absl::StrCat("UNKNOWN_TRANSACTION", suffix));
    case kBadValue:
      return absl::InvalidArgumentError(absl::StrCat("BAD_VALUE", suffix));
    case kPermissionDenied:
      return absl::PermissionDeniedError(absl::StrCat("PERMISSION_DENIED", suffix));
    case kNameNotFound:
      return absl::NotFoundError(absl::StrCat("NAME_NOT_FOUND", suffix));
    case kBadType:
      return absl::DataLossError(absl::StrCat("BAD_TYPE", suffix));
    case kNotEnoughData:
      return absl::OutOfRangeError(absl::StrCat("NOT_ENOUGH_DATA", suffix));
    case kAlreadyExists:
      return absl::AlreadyExistsError(absl::StrCat("ALREADY_EXISTS", suffix));
    case kTimedOut:
      return absl::DeadlineExceededError(absl::StrCat("TIMED_OUT", suffix));
    case kInvalidOperation:
      return absl::FailedPreconditionError(absl::StrCat("INVALID_OPERATION", suffix));
    default:
      return absl::UnknownError(absl::StrCat("status_t ", status));
  }
}

status_t statusToStatusT(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kOk;
    case absl::StatusCode::kUnavailable:
      return kDeadObject;
    case absl::StatusCode::kAborted:
      return kFailedTransaction;
    case absl::StatusCode::kUnimplemented:
      return kUnknownTransaction;
    case absl::StatusCode::kInvalidArgument:
      return kBadValue;
    case absl::StatusCode::kPermissionDenied:
      return kPermissionDenied;
    case absl::StatusCode::kNotFound:
      return kNameNotFound;
    case absl::StatusCode::kDataLoss:
      return kBadType;
    case absl::StatusCode::kOutOfRange:
      return kNotEnoughData;
    case absl::StatusCode::kAlreadyExists:
      return kAlreadyExists;
    case absl::StatusCode::kDeadlineExceeded:
      return kTimedOut;
    case absl::StatusCode::kFailedPrecondition:
      return kInvalidOperation;
    case absl::StatusCode::kResourceExhausted:
      return kNoMemory;
    default:
      return kUnknownError;
  }
}

bool isDeadObject(const absl::Status& status) {
  return status.code() == absl::StatusCode::kUnavailable &&
         absl::StrContains(status.message(), kDeadTag);
}

}  // namespace nb::runtime

#include "codec/parcel_headers.h"
#include "codec/utf16.h"

namespace nb::runtime {

absl::Status statusFromAidl(const codec::AidlStatus& status) {
  if (status.isOk()) {
    return absl::OkStatus();
  }
  const std::string message = codec::utf16ToUtf8Lossy(status.message);
  const std::string text = absl::StrCat("AIDL exception ", status.exception_code, ": ", message);
  switch (status.exception_code) {
    case codec::kExSecurity:
      return absl::PermissionDeniedError(text);
    case codec::kExIllegalArgument:
    case codec::kExNullPointer:
    case codec::kExBadParcelable:
      return absl::InvalidArgumentError(text);
    case codec::kExIllegalState:
      return absl::FailedPreconditionError(text);
    case codec::kExUnsupportedOperation:
      return absl::UnimplementedError(text);
    case codec::kExServiceSpecific:
      return absl::UnknownError(
          absl::StrCat("service-specific error ", status.service_specific_error, ": ", message));
    default:
      return absl::UnknownError(text);
  }
}

}  // namespace nb::runtime
