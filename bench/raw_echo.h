// One sync raw call as the benchmark clients make it, checked (bench and bench_vm_compare).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "runtime/process_state.h"

namespace nb::bench {

// Calls `code` on `handle` with `data` (runtime/raw_call.h transactRaw). Returns "" on a reply of
// `expect` bytes (any size when nullopt), else what went wrong, for the row's error.
std::string rawCallProblem(runtime::ProcessState& state, uint32_t handle, uint32_t code,
                           std::span<const uint8_t> data, std::optional<size_t> expect);

// The round-trip rows of a client role: for each size in `sizes` ("0,128,..."), echo calls of
// `code` on `handle` within rttBudget(size, scale, max_ms), printing "rtt ..." or, when a call
// fails, "fail SIZE why" (the next size still runs).
void printEchoRtts(runtime::ProcessState& state, uint32_t handle, uint32_t code,
                   const std::string& sizes, double scale, int64_t max_ms);

}  // namespace nb::bench
