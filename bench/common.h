// Shared by the harness and the roles it spawns: the clock, sample statistics, iteration budgets
// and the one-line result format a role prints on stdout for the harness to parse.
//
//   rtt SIZE N P50_US P99_US      a round-trip row (N timed round trips)
//   rate SIZE N PER_S MB_S        a throughput row (N messages or calls; MB = 1e6 B of payload)
//   ready                         a server role is listening / registered
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace nb::bench {

inline constexpr size_t kPayloadSizes[] = {0, 128, 4096, 64 * 1024, 1024 * 1024};
inline constexpr size_t kMaxPayload = 1024 * 1024;

// Monotonic clock in nanoseconds.
int64_t nowNs();

// Percentiles of round-trip samples (ns in, µs out).
struct RttStats {
  size_t n = 0;
  double p50_us = 0;
  double p99_us = 0;
};
RttStats rttStats(std::vector<int64_t> samples_ns);

// How many iterations a row gets: warm-up and timed counts (scaled by --scale, at least 5 timed)
// and a wall-clock cap on the timed part; whichever ends first.
struct Budget {
  size_t warmup = 0;
  size_t iters = 0;
  int64_t max_ns = 0;
};
Budget rttBudget(size_t size, double scale, int64_t max_ms);

// Runs `once` (one round trip) warm-up + timed times within the budget; returns the timed samples.
template <typename F>
std::vector<int64_t> measureRtt(const Budget& budget, F&& once) {
  for (size_t i = 0; i < budget.warmup; ++i) {
    once();
  }
  std::vector<int64_t> samples;
  samples.reserve(budget.iters);
  const int64_t start = nowNs();
  for (size_t i = 0; i < budget.iters; ++i) {
    const int64_t t0 = nowNs();
    once();
    const int64_t t1 = nowNs();
    samples.push_back(t1 - t0);
    if (t1 - start > budget.max_ns && samples.size() >= 5) {
      break;
    }
  }
  return samples;
}

std::string rttLine(size_t size, const RttStats& stats);
std::string rateLine(size_t size, size_t count, int64_t elapsed_ns);

// A deterministic payload of `size` bytes.
std::vector<uint8_t> makePayload(size_t size);

// A role's --key value flags, and their typed reads (a malformed number ends the role).
using Flags = std::map<std::string, std::string>;
std::string flagOr(const Flags& flags, const std::string& key, const std::string& fallback);
int64_t intFlag(const Flags& flags, const std::string& key, int64_t fallback);
double doubleFlag(const Flags& flags, const std::string& key, double fallback);

// Resident memory of a process in KiB: RssAnon + RssFile + RssShmem of /proc/PID/status.
int64_t rssKiB(pid_t pid);

// Pins the calling process (and what it starts later) to CPU 0 for "cpu0", else to every online
// CPU; exits on failure.
void setPlacement(const std::string& placement);

// Prints "bench: WHAT: strerror(errno)" to stderr and exits 1 (roles only).
[[noreturn]] void dieErrno(const char* what);
[[noreturn]] void die(const std::string& what);

}  // namespace nb::bench
