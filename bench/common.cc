#include "bench/common.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace nb::bench {

int64_t nowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

RttStats rttStats(std::vector<int64_t> samples_ns) {
  RttStats stats;
  stats.n = samples_ns.size();
  if (samples_ns.empty()) {
    return stats;
  }
  std::sort(samples_ns.begin(), samples_ns.end());
  const size_t n = samples_ns.size();
  const size_t p99 =
      std::min(n - 1, static_cast<size_t>(std::ceil(0.99 * static_cast<double>(n))) - 1);
  stats.p50_us = static_cast<double>(samples_ns[n / 2]) / 1000.0;
  stats.p99_us = static_cast<double>(samples_ns[p99]) / 1000.0;
  return stats;
}

Budget rttBudget(size_t size, double scale, int64_t max_ms) {
  Budget budget;
  size_t warmup = 300;
  size_t iters = 2000;
  if (size >= kMaxPayload) {
    warmup = 50;
    iters = 300;
  } else if (size >= 64 * 1024) {
    iters = 1000;
  }
  budget.warmup = std::max<size_t>(2, static_cast<size_t>(static_cast<double>(warmup) * scale));
  budget.iters = std::max<size_t>(5, static_cast<size_t>(static_cast<double>(iters) * scale));
  budget.max_ns = max_ms * 1000000;
  return budget;
}

std::string rttLine(size_t size, const RttStats& stats) {
  return absl::StrFormat("rtt %d %d %.3f %.3f", size, stats.n, stats.p50_us, stats.p99_us);
}

std::string rateLine(size_t size, size_t count, int64_t elapsed_ns) {
  const double secs = static_cast<double>(std::max<int64_t>(elapsed_ns, 1)) / 1e9;
  const double per_s = static_cast<double>(count) / secs;
  return absl::StrFormat("rate %d %d %.1f %.1f", size, count, per_s,
                         per_s * static_cast<double>(size) / 1e6);
}

std::vector<uint8_t> makePayload(size_t size) {
  std::vector<uint8_t> payload(size);
  for (size_t i = 0; i < size; ++i) {
    payload[i] = static_cast<uint8_t>((i * 131 + 7) & 0xff);
  }
  return payload;
}

void dieErrno(const char* what) {
  std::fprintf(stderr, "bench: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

void die(const std::string& what) {
  std::fprintf(stderr, "bench: %s\n", what.c_str());
  std::exit(1);
}

void setPlacement(const std::string& placement) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (placement == "cpu0") {
    CPU_SET(0, &set);
  } else {
    const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    for (long cpu = 0; cpu < cpus; ++cpu) {
      CPU_SET(static_cast<int>(cpu), &set);
    }
  }
  if (::sched_setaffinity(0, sizeof set, &set) != 0) {
    dieErrno("sched_setaffinity");
  }
}

std::string flagOr(const Flags& flags, const std::string& key, const std::string& fallback) {
  auto it = flags.find(key);
  return it == flags.end() ? fallback : it->second;
}

int64_t intFlag(const Flags& flags, const std::string& key, int64_t fallback) {
  int64_t value = fallback;
  auto it = flags.find(key);
  if (it != flags.end() && !absl::SimpleAtoi(it->second, &value)) {
    die(absl::StrCat("--", key, ": not a number: ", it->second));
  }
  return value;
}

double doubleFlag(const Flags& flags, const std::string& key, double fallback) {
  double value = fallback;
  auto it = flags.find(key);
  if (it != flags.end() && !absl::SimpleAtod(it->second, &value)) {
    die(absl::StrCat("--", key, ": not a number: ", it->second));
  }
  return value;
}

int64_t rssKiB(pid_t pid) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  int64_t total = 0;
  while (std::getline(in, line)) {
    for (const char* key : {"RssAnon:", "RssFile:", "RssShmem:"}) {
      if (line.rfind(key, 0) == 0) {
        int64_t kib = 0;
        std::istringstream(line.substr(std::strlen(key))) >> kib;
        total += kib;
      }
    }
  }
  return total;
}

}  // namespace nb::bench
