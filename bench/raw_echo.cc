#include "bench/raw_echo.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/common.h"
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

void printEchoRtts(runtime::ProcessState& state, uint32_t handle, uint32_t code,
                   const std::string& sizes, double scale, int64_t max_ms) {
  for (absl::string_view part : absl::StrSplit(sizes, ',')) {
    size_t size = 0;
    if (!absl::SimpleAtoi(part, &size)) {
      die(absl::StrCat("--sizes: ", part));
    }
    const std::vector<uint8_t> payload = makePayload(size);
    std::string error;
    std::vector<int64_t> samples = measureRtt(rttBudget(size, scale, max_ms), [&] {
      if (error.empty()) {
        error = rawCallProblem(state, handle, code, payload, size);
      }
    });
    if (error.empty()) {
      std::printf("%s\n", rttLine(size, rttStats(std::move(samples))).c_str());
    } else {
      std::printf("fail %zu %s\n", size, error.c_str());
    }
    std::fflush(stdout);
  }
}

}  // namespace nb::bench
