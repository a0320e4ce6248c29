// Helpers the two benchmark harnesses (bench, bench_vm_compare) share for their tables and JSON:
// medians, size names, JSON strings, and what machine and moment a run was on.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace nb::bench {

// The median of `values` (0 when empty).
double median(std::vector<double> values);
// "0 B", "128 B", "4 KiB", "1 MiB" (exact multiples only take the larger unit).
std::string sizeName(size_t size);
// `s` as a JSON string literal, quotes included.
std::string jsonString(const std::string& s);
// The first line of `path` that starts with `prefix` ("" for the first line); "" if none.
std::string readFirstLine(const std::string& path, const std::string& prefix);
std::string cpuModel();       // /proc/cpuinfo "model name"
std::string kernelRelease();  // uname -r
std::string loadAvg();        // /proc/loadavg
std::string nowUtc();         // "2026-11-30 01:12:39 UTC"

}  // namespace nb::bench
