#include "bench/raw_echo.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "runtime/raw_call.h"

namespace nb::bench {

std::string rawCallProblem(runtime::ProcessState& state, uint32_t handle, uint32_t code,
                           std::span<const uint8_t> data, std::optional<size_t> expect) {
  auto result = runtime::transactRaw(state, handle, code, 0, {data, {}, {}});
  if (!result.ok()) {
    return absl::StrCat("transact: ", result.status().ToString());
  }
  switch (result->outcome) {
    case runtime::RawOutcome::kReply:
      break;
    case runtime::RawOutcome::kStatusCode:
      return absl::StrCat("status reply ", result->status);
    case runtime::RawOutcome::kFailedReply:
      return absl::StrCat("BR_FAILED_REPLY errno ", result->error_errno, " (",
                          std::strerror(result->error_errno), ")");
    case runtime::RawOutcome::kDeadReply:
      return "BR_DEAD_REPLY";
    case runtime::RawOutcome::kFrozenReply:
      return "BR_FROZEN_REPLY";
  }
  if (expect.has_value() && result->parcel.dataSize() != *expect) {
    return absl::StrCat("echo of ", *expect, " bytes came back as ", result->parcel.dataSize());
  }
  return "";
}

}  // namespace nb::bench
