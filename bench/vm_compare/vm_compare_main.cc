// bench_vm_compare: binderd's sync round trip beside the Linux kernel driver's, measured in one run
// inside ../shared/tools/binder-vm (issue 7; deploy/bench-vm.sh; docs/performance.md "Kernel
// driver vs binderd (binder-vm)").
//
//   bench_vm_compare [--sizes 0,128,4096,65536,1048576] [--scale X] [--max-ms N] [--repeat N]
//                    [--placements cpu0,any] [--backends kernel,binderd]
//                    [--kernel-device /dev/binder] [--json FILE]
//
// Per placement the harness (this process, single-threaded, never touching binder itself) starts
// an echo server on the kernel device, binderd (this executable with --role binderd) and an echo
// server on it; then, --repeat times, a fresh client process per backend measures every size (the
// order of the two backends alternates between repeats). Server and client are the same code on
// both backends (vm_roles.h: the runtime's raw calls, as bench/binder_roles.cc); only --device
// differs. "cpu0" pins the harness to CPU 0 before starting anything, so every process inherits
// it; "any" leaves them to the scheduler. Per size the table gives the median over the repeats of
// each backend's p50 and p99, and ratio = binderd / kernel (median of the per-repeat ratios, and
// their min-max). The table goes to stdout, then a line "== json" and the JSON.
// Exit status 0 only when every row was measured in every repeat.
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/common.h"
#include "bench/procs.h"
#include "bench/report.h"
#include "bench/vm_compare/vm_roles.h"

namespace nb::bench::vmcmp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBackends[] = {"kernel", "binderd"};

struct Options {
  std::vector<size_t> sizes = {0, 128, 4096, 64 * 1024, 1024 * 1024};
  double scale = 1.0;
  int64_t max_ms = 2000;
  int repeat = 3;
  std::vector<std::string> placements;
  std::vector<std::string> backends = {"kernel", "binderd"};
  std::string kernel_device = "/dev/binder";
  std::string json_path;
};

// One backend's result for one size in one repeat.
struct Sample {
  bool ok = false;
  size_t n = 0;
  double p50_us = 0;
  double p99_us = 0;
  std::string error;  // when !ok
};

// results[placement][backend][size] = one Sample per repeat.
using Results = std::map<std::string, std::map<std::string, std::map<size_t, std::vector<Sample>>>>;

long onlineCpus() { return ::sysconf(_SC_NPROCESSORS_ONLN); }

class Harness {
 public:
  Harness(Options options, std::string self, std::string log_dir)
      : options_(std::move(options)), self_(std::move(self)), log_dir_(std::move(log_dir)) {}

  // Measures every placement; false if something could not be started at all.
  bool run(Results* results) {
    for (const std::string& placement : options_.placements) {
      setPlacement(placement);
      if (!runPlacement(placement, &(*results)[placement])) {
        return false;
      }
    }
    return true;
  }

 private:
  // The device path each backend's processes get as --device.
  std::map<std::string, std::string> startServers(Procs& procs, const std::string& placement) {
    std::map<std::string, std::string> devices;
    for (const std::string& backend : options_.backends) {
      std::string device = options_.kernel_device;
      if (backend == "binderd") {
        const std::string dir = absl::StrCat(log_dir_, "/nb-", placement);
        fs::create_directories(dir);
        procs.spawn("binderd-" + placement, {self_, "--role", "binderd", "--dir", dir}, {}, false);
        device = dir + "/binder";
        // binderd creates its device sockets once it serves them.
        struct stat st {};
        for (int i = 0; i < 3000 && ::stat(device.c_str(), &st) != 0; ++i) {
          ::usleep(10000);
        }
        if (::stat(device.c_str(), &st) != 0) {
          std::fprintf(stderr, "bench_vm_compare: binderd did not create %s\n%s", device.c_str(),
                       procs.logTail("binderd-" + placement).c_str());
          return {};
        }
      }
      const std::string name = absl::StrCat("server-", backend, "-", placement);
      Procs::Child* server =
          procs.spawn(name, {self_, "--role", "server", "--device", device}, {}, true);
      std::optional<std::string> ready = procs.readLine(server, 60000);
      if (!ready.has_value() || ready->rfind("ready ", 0) != 0) {
        std::fprintf(stderr, "bench_vm_compare: %s did not start on %s\n%s", name.c_str(),
                     device.c_str(), procs.logTail(name).c_str());
        return {};
      }
      devices[backend] = device;
    }
    return devices;
  }

  bool runPlacement(const std::string& placement,
                    std::map<std::string, std::map<size_t, std::vector<Sample>>>* rows) {
    Procs procs(log_dir_);
    const std::map<std::string, std::string> devices = startServers(procs, placement);
    if (devices.size() != options_.backends.size()) {
      return false;
    }
    const std::string sizes = absl::StrJoin(options_.sizes, ",");
    for (int r = 0; r < options_.repeat; ++r) {
      std::vector<std::string> order = options_.backends;
      if (r % 2 == 1) {
        std::reverse(order.begin(), order.end());
      }
      for (const std::string& backend : order) {
        std::fprintf(stderr, "bench_vm_compare: %s repeat %d/%d: %s\n", placement.c_str(), r + 1,
                     options_.repeat, backend.c_str());
        runClient(procs, placement, backend, devices.at(backend), sizes, r, &(*rows)[backend]);
      }
    }
    procs.stopAll();
    return true;
  }

  void runClient(Procs& procs, const std::string& placement, const std::string& backend,
                 const std::string& device, const std::string& sizes, int repeat,
                 std::map<size_t, std::vector<Sample>>* row) {
    const std::string name = absl::StrCat("client-", backend, "-", placement, "-", repeat);
    Procs::Child* client =
        procs.spawn(name,
                    {self_, "--role", "client", "--device", device, "--sizes", sizes, "--scale",
                     absl::StrCat(options_.scale), "--max-ms", absl::StrCat(options_.max_ms)},
                    {}, true);
    std::map<size_t, Sample> got;
    std::string problem;
    // Generous: under TCG a 1 MiB warm-up alone can take seconds.
    const int line_timeout_ms = static_cast<int>(std::max<int64_t>(options_.max_ms * 4, 120000));
    for (;;) {
      std::optional<std::string> line = procs.readLine(client, line_timeout_ms);
      if (!line.has_value()) {
        problem = "client ended early";
        break;
      }
      std::vector<std::string> parts = absl::StrSplit(*line, ' ');
      if (parts[0] == "done") {
        break;
      }
      if (parts[0] == "backend") {
        // "kernel:/dev/binder" or "binderd:/tmp/.../binder": the device really is that backend.
        if (parts.size() < 2 || parts[1].rfind(backend + ":", 0) != 0) {
          problem = absl::StrCat("client opened ", parts.size() < 2 ? "?" : parts[1],
                                 ", expected backend ", backend);
          break;
        }
        continue;
      }
      size_t size = 0;
      if (parts.size() < 3 || !absl::SimpleAtoi(parts[1], &size)) {
        continue;
      }
      Sample sample;
      if (parts[0] == "rtt" && parts.size() >= 5) {
        sample.ok = absl::SimpleAtoi(parts[2], &sample.n) &&
                    absl::SimpleAtod(parts[3], &sample.p50_us) &&
                    absl::SimpleAtod(parts[4], &sample.p99_us);
      } else if (parts[0] == "fail") {
        sample.error = line->substr(parts[0].size() + parts[1].size() + 2);
      }
      got[size] = sample;
    }
    if (!procs.finish(client, 10000) && problem.empty()) {
      problem = "client exited with an error";
    }
    if (!problem.empty()) {
      std::fprintf(stderr, "bench_vm_compare: %s: %s\n%s", name.c_str(), problem.c_str(),
                   procs.logTail(name).c_str());
    }
    for (size_t size : options_.sizes) {
      auto it = got.find(size);
      Sample sample;
      if (it != got.end()) {
        sample = it->second;
      } else {
        sample.error = problem.empty() ? "no result" : problem;
      }
      (*row)[size].push_back(sample);
    }
  }

  const Options options_;
  const std::string self_;
  const std::string log_dir_;
};

// What the table and the JSON say about one size in one placement.
struct Row {
  size_t size = 0;
  bool complete = false;  // every backend measured in every repeat
  std::map<std::string, double> p50, p99;
  std::map<std::string, size_t> n;  // timed round trips, summed over repeats
  std::vector<double> ratio_p50, ratio_p99;
  std::string error;
};

Row summarize(const Options& options,
              const std::map<std::string, std::map<size_t, std::vector<Sample>>>& rows,
              size_t size) {
  Row row;
  row.size = size;
  row.complete = true;
  for (const std::string& backend : options.backends) {
    std::vector<double> p50, p99;
    auto b = rows.find(backend);
    const std::vector<Sample>* samples = nullptr;
    if (b != rows.end() && b->second.count(size) != 0) {
      samples = &b->second.at(size);
    }
    if (samples == nullptr || samples->empty()) {
      row.complete = false;
      continue;
    }
    for (const Sample& s : *samples) {
      if (!s.ok) {
        row.complete = false;
        if (row.error.empty()) {
          row.error = absl::StrCat(backend, ": ", s.error);
        }
        continue;
      }
      p50.push_back(s.p50_us);
      p99.push_back(s.p99_us);
      row.n[backend] += s.n;
    }
    if (!p50.empty()) {
      row.p50[backend] = median(p50);
      row.p99[backend] = median(p99);
    }
  }
  auto k = rows.find("kernel");
  auto d = rows.find("binderd");
  if (k != rows.end() && d != rows.end() && k->second.count(size) && d->second.count(size)) {
    const auto& ks = k->second.at(size);
    const auto& ds = d->second.at(size);
    for (size_t r = 0; r < std::min(ks.size(), ds.size()); ++r) {
      if (ks[r].ok && ds[r].ok && ks[r].p50_us > 0 && ks[r].p99_us > 0) {
        row.ratio_p50.push_back(ds[r].p50_us / ks[r].p50_us);
        row.ratio_p99.push_back(ds[r].p99_us / ks[r].p99_us);
      }
    }
  }
  return row;
}

std::string ratioCell(const std::vector<double>& ratios) {
  if (ratios.empty()) {
    return "-";
  }
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  if (ratios.size() == 1) {
    return absl::StrFormat("%.2f", ratios[0]);
  }
  return absl::StrFormat("%.2f (%.2f-%.2f)", median(ratios), *lo, *hi);
}

std::string usCell(const Options& options, const std::map<std::string, double>& values,
                   const std::string& backend) {
  if (std::find(options.backends.begin(), options.backends.end(), backend) ==
      options.backends.end()) {
    return "-";  // not selected (--backends)
  }
  auto it = values.find(backend);
  return it == values.end() ? "failed" : absl::StrFormat("%.1f", it->second);
}

std::string ratioJson(const std::vector<double>& ratios) {
  if (ratios.empty()) {
    return "null";
  }
  const auto [lo, hi] = std::minmax_element(ratios.begin(), ratios.end());
  return absl::StrFormat("{\"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"per_repeat\": [%s]}",
                         median(ratios), *lo, *hi,
                         absl::StrJoin(ratios, ", ", [](std::string* out, double v) {
                           absl::StrAppend(out, absl::StrFormat("%.4f", v));
                         }));
}

// Prints the table and the JSON; returns true when every row is complete.
bool report(const Options& options, const Results& results, const std::string& started,
            const std::string& note) {
  bool all = true;
  std::ostringstream json;
  json << "{\n  \"benchmark\": \"bench_vm_compare\",\n  \"date\": " << jsonString(started)
       << ",\n  \"cpu\": " << jsonString(cpuModel()) << ",\n  \"cpus\": " << onlineCpus()
       << ",\n  \"kernel\": " << jsonString(kernelRelease())
       << ",\n  \"kernel_device\": " << jsonString(options.kernel_device)
       << ",\n  \"scale\": " << options.scale << ",\n  \"max_ms\": " << options.max_ms
       << ",\n  \"repeat\": " << options.repeat << ",\n  \"note\": " << jsonString(note)
       << ",\n  \"placements\": [";
  std::printf(
      "# p50/p99 of sync round trips (SIZE bytes echoed back) in us, median over %d repeat(s)\n"
      "# ratio = binderd / kernel: median of the per-repeat ratios (min-max)\n",
      options.repeat);
  if (!note.empty()) {
    std::printf("# %s\n", note.c_str());
  }
  bool first_placement = true;
  for (const std::string& placement : options.placements) {
    std::printf("\n== placement %s: %s\n", placement.c_str(),
                placement == "cpu0" ? "every process pinned to CPU 0"
                : onlineCpus() == 1 ? "unpinned (1 CPU: every process on CPU 0)"
                                    : "unpinned (the scheduler places every process)");
    std::printf("%-8s %11s %11s %12s %12s  %-22s %-22s\n", "size", "kernel p50", "kernel p99",
                "binderd p50", "binderd p99", "ratio p50", "ratio p99");
    json << (first_placement ? "" : ",") << "\n    {\"placement\": " << jsonString(placement)
         << ", \"rows\": [";
    first_placement = false;
    auto rows_it = results.find(placement);
    bool first_row = true;
    for (size_t size : options.sizes) {
      Row row = rows_it == results.end() ? Row{size, false, {}, {}, {}, {}, {}, "not measured"}
                                         : summarize(options, rows_it->second, size);
      all = all && row.complete;
      std::printf(
          "%-8s %11s %11s %12s %12s  %-22s %-22s%s\n", sizeName(size).c_str(),
          usCell(options, row.p50, "kernel").c_str(), usCell(options, row.p99, "kernel").c_str(),
          usCell(options, row.p50, "binderd").c_str(), usCell(options, row.p99, "binderd").c_str(),
          ratioCell(row.ratio_p50).c_str(), ratioCell(row.ratio_p99).c_str(),
          row.error.empty() ? "" : ("  fail: " + row.error).c_str());
      json << (first_row ? "" : ",") << "\n      {\"size\": " << size
           << ", \"complete\": " << (row.complete ? "true" : "false");
      first_row = false;
      for (const char* backend : kBackends) {
        json << ", " << jsonString(backend) << ": ";
        if (row.p50.count(backend) == 0) {
          json << "null";
        } else {
          json << absl::StrFormat("{\"p50_us\": %.3f, \"p99_us\": %.3f, \"round_trips\": %d}",
                                  row.p50.at(backend), row.p99.at(backend), row.n[backend]);
        }
      }
      json << ", \"ratio_p50\": " << ratioJson(row.ratio_p50)
           << ", \"ratio_p99\": " << ratioJson(row.ratio_p99);
      if (!row.error.empty()) {
        json << ", \"error\": " << jsonString(row.error);
      }
      json << "}";
    }
    json << "\n    ]}";
  }
  json << "\n  ],\n  \"complete\": " << (all ? "true" : "false") << "\n}\n";
  std::printf("\n== json\n%s", json.str().c_str());
  std::fflush(stdout);
  if (!options.json_path.empty()) {
    std::ofstream(options.json_path) << json.str();
  }
  return all;
}

Flags parseFlags(int argc, char** argv, int first) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      die(absl::StrCat("unexpected argument ", arg));
    }
    arg = arg.substr(2);
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      flags[arg.substr(0, eq)] = arg.substr(eq + 1);
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      flags[arg] = argv[++i];
    } else {
      flags[arg] = "";
    }
  }
  return flags;
}

std::vector<std::string> listFlag(const Flags& flags, const std::string& key,
                                  std::vector<std::string> fallback) {
  auto it = flags.find(key);
  if (it == flags.end()) {
    return fallback;
  }
  return absl::StrSplit(it->second, ',', absl::SkipEmpty());
}

int runHarness(const Flags& flags) {
  Options options;
  for (const auto& [key, value] : flags) {
    bool ok = true;
    if (key == "sizes") {
      options.sizes.clear();
      for (absl::string_view part : absl::StrSplit(value, ',', absl::SkipEmpty())) {
        size_t size = 0;
        ok = ok && absl::SimpleAtoi(part, &size);
        options.sizes.push_back(size);
      }
    } else if (key == "scale") {
      ok = absl::SimpleAtod(value, &options.scale);
    } else if (key == "max-ms") {
      ok = absl::SimpleAtoi(value, &options.max_ms);
    } else if (key == "repeat") {
      ok = absl::SimpleAtoi(value, &options.repeat) && options.repeat > 0;
    } else if (key == "kernel-device") {
      options.kernel_device = value;
    } else if (key == "json") {
      options.json_path = value;
    } else if (key != "placements" && key != "backends") {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr,
                   "usage: bench_vm_compare [--sizes a,b,..] [--scale X] [--max-ms N] "
                   "[--repeat N] [--placements cpu0,any] [--backends kernel,binderd] "
                   "[--kernel-device PATH] [--json FILE]   (bad --%s)\n",
                   key.c_str());
      return 2;
    }
  }
  const long cpus = onlineCpus();
  std::string note;
  if (cpus > 1) {
    options.placements = listFlag(flags, "placements", {"cpu0", "any"});
  } else {
    options.placements = listFlag(flags, "placements", {"any"});
    note = "1 CPU: every process shares CPU 0 in any placement; no separate pinned placement";
  }
  options.backends = listFlag(flags, "backends", {"kernel", "binderd"});
  for (const std::string& b : options.backends) {
    if (b != "kernel" && b != "binderd") {
      die(absl::StrCat("--backends: unknown backend ", b));
    }
  }
  for (const std::string& p : options.placements) {
    if (p != "cpu0" && p != "any") {
      die(absl::StrCat("--placements: unknown placement ", p));
    }
  }

  char tmpl[] = "/tmp/nb-vmcmp.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    dieErrno("mkdtemp");
  }
  const std::string log_dir = tmpl;
  const std::string started = nowUtc();
  std::printf("# bench_vm_compare, %s; %s, %ld CPUs, kernel %s; load at start %s\n",
              started.c_str(), cpuModel().c_str(), cpus, kernelRelease().c_str(),
              readFirstLine("/proc/loadavg", "").c_str());
  std::fflush(stdout);
  Results results;
  Harness harness(options, fs::read_symlink("/proc/self/exe").string(), log_dir);
  const bool started_all = harness.run(&results);
  const bool complete = report(options, results, started, note);
  if (std::getenv("NB_BENCH_KEEP_DIR") == nullptr && started_all && complete) {
    std::error_code ignored;
    fs::remove_all(log_dir, ignored);
  } else {
    std::fprintf(stderr, "bench_vm_compare: logs kept in %s\n", log_dir.c_str());
  }
  return started_all && complete ? 0 : 1;
}

}  // namespace
}  // namespace nb::bench::vmcmp

int main(int argc, char** argv) {
  using namespace nb::bench::vmcmp;
  using nb::bench::Flags;
  if (argc >= 3 && std::string(argv[1]) == "--role") {
    const std::string role = argv[2];
    const Flags flags = parseFlags(argc, argv, 3);
    if (role == "binderd") {
      return runBinderdRole(flags);
    }
    if (role == "server") {
      return runServerRole(flags);
    }
    if (role == "client") {
      return runClientRole(flags);
    }
    nb::bench::die("unknown --role " + role);
  }
  return runHarness(parseFlags(argc, argv, 1));
}
