#include "gateway/transport/close_reason.h"

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nb::gateway {
namespace {

constexpr char kPayloadUrl[] = "type.netbinder.dev/nb.gateway.CloseReason";

absl::StatusCode statusCodeFor(netbinder::v1::ErrorCode code) {
  using netbinder::v1::ErrorCode;
  switch (code) {
    case ErrorCode::ERROR_CODE_UNSPECIFIED:
    case ErrorCode::ERROR_CODE_GOING_AWAY:
      return absl::StatusCode::kUnavailable;
    case ErrorCode::ERROR_CODE_KEEPALIVE_TIMEOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case ErrorCode::ERROR_CODE_VERSION_MISMATCH:
      return absl::StatusCode::kFailedPrecondition;
    case ErrorCode::ERROR_CODE_PERMISSION_DENIED:
      return absl::StatusCode::kPermissionDenied;
    case ErrorCode::ERROR_CODE_LIMIT_EXCEEDED:
      return absl::StatusCode::kResourceExhausted;
    case ErrorCode::ERROR_CODE_UNIMPLEMENTED:
      return absl::StatusCode::kUnimplemented;
    case ErrorCode::ERROR_CODE_INTERNAL:
      return absl::StatusCode::kInternal;
    default:
      return absl::StatusCode::kAborted;  // the peer broke a protocol rule
  }
}

}  // namespace

namespace detail {

absl::Status makeCloseStatus(netbinder::v1::ErrorCode code, absl::string_view message,
                             bool by_peer) {
  absl::Status status(statusCodeFor(code),
                      absl::StrCat(by_peer ? "peer sent " : "", netbinder::v1::ErrorCode_Name(code),
                                   ": ", message));
  status.SetPayload(kPayloadUrl,
                    absl::Cord(absl::StrCat(static_cast<int>(code), by_peer ? ":peer" : ":local")));
  return status;
}

}  // namespace detail

CloseReason closeReasonOf(const absl::Status& why) {
  CloseReason out;
  auto payload = why.GetPayload(kPayloadUrl);
  if (!payload) {
    return out;
  }
  std::string text(*payload);
  auto colon = text.find(':');
  int code = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(text.substr(0, colon), &code) ||
      !netbinder::v1::ErrorCode_IsValid(code)) {
    return out;
  }
  out.code = static_cast<netbinder::v1::ErrorCode>(code);
  out.by_peer = text.substr(colon + 1) == "peer";
  return out;
}

}  // namespace nb::gateway
