// bench: netbinder's speed as ratios to the raw transports, measured in the same run (issue 7).
//
//   bench [--json FILE] [--scale X] [--max-ms N] [--repeat N] [--placements cpu0,any]
//         [--no-gateway] [--build-dir DIR] [--mem-peers P] [--mem-proxies M]
//
// --mem-peers / --mem-proxies: the gateway memory row's peers and names per peer at --scale 1
// (defaults 100 and 250: 25k imports take about a minute here, the 100 x 1000 several;
// scaled down by --scale < 1 like every count, at least 4 and 10).
//
// Every placement is run --repeat times (3) with fresh processes; the table gives per row the
// median over the repeats (and the ratio's min-max).
//
// The harness (this process, single-threaded, never touching gRPC or binder itself) measures every
// row in each placement: "cpu0" pins itself to CPU 0 before starting anything, so binderd, the
// servicemanagers, servers, clients, relays and gateways all inherit it; "any" leaves every process
// to the scheduler. Ratios are taken within a placement only. With --role R it is one of the
// processes the harness spawns instead (binder_roles.h, grpc_floor.h).
#include <netinet/in.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/binder_roles.h"
#include "bench/common.h"
#include "bench/fake_peers.h"
#include "bench/grpc_floor.h"
#include "bench/procs.h"
#include "bench/report.h"
#include "bench/sock_floor.h"

namespace nb::bench {
namespace {

namespace fs = std::filesystem;

struct Options {
  std::string json = "bench-results.json";
  double scale = 1.0;
  int64_t max_ms = 2000;
  int repeat = 3;
  std::vector<std::string> placements = {"cpu0", "any"};
  bool gateway = true;
  std::string build_dir;
  int mem_peers = 100;
  int mem_proxies = 250;
};

// One line of the table. Round-trip rows have p50/p99 (µs); rate rows have `rate` (per second).
struct Row {
  std::string placement;
  std::string name;
  size_t size = 0;
  bool is_rate = false;
  double p50 = 0, p99 = 0, rate = 0;
  size_t n = 0;
  std::string floor_name;  // empty: no floor (the ratio's denominator is named by floor_name)
  double floor_value = 0;  // p50 µs or rate
  double ratio = 0;        // value / floor, 0 = none
  std::string target;      // e.g. "<= 1.25"; empty = none
  std::string verdict;     // "hold", "MISS", "" (no target), "fail" (the product failed the call),
                           // "n/a" (not measured)
  std::string note;
  double limit = 0;      // the target's bound on `ratio` (0 = no target)
  bool at_most = true;   // target is ratio <= limit (else >= limit)
  double ratio_min = 0;  // over the repeats (aggregate())
  double ratio_max = 0;
  int runs = 1;  // repeats that measured this row
};

// One row per (placement, row, size) over the repeats, in the first repeat's order: medians of
// p50, p99, rate, floor and ratio (each repeat's ratio pairs a row with the floor measured next to
// it), the ratio's min-max, the verdict from the median ratio. A row failed in every repeat stays
// as the first repeat's.
std::vector<Row> aggregate(const std::vector<std::vector<Row>>& repeats) {
  std::vector<Row> out;
  if (repeats.empty()) {
    return out;
  }
  for (const Row& first : repeats.front()) {
    std::vector<const Row*> ok;
    std::string why;  // the first failed repeat's reason
    for (const auto& rows : repeats) {
      for (const Row& row : rows) {
        if (row.placement == first.placement && row.name == first.name && row.size == first.size) {
          if (row.verdict != "n/a" && row.verdict != "fail") {
            ok.push_back(&row);
          } else if (why.empty()) {
            why = row.note;
          }
        }
      }
    }
    if (ok.empty()) {
      out.push_back(first);
      continue;
    }
    Row row = *ok.front();
    std::vector<double> p50, p99, rate, floor, ratio;
    size_t n = 0;
    for (const Row* r : ok) {
      p50.push_back(r->p50);
      p99.push_back(r->p99);
      rate.push_back(r->rate);
      floor.push_back(r->floor_value);
      if (r->ratio > 0) {
        ratio.push_back(r->ratio);
      }
      n += r->n;
    }
    row.p50 = median(p50);
    row.p99 = median(p99);
    row.rate = median(rate);
    row.floor_value = median(floor);
    row.n = n;
    row.runs = static_cast<int>(ok.size());
    row.ratio = median(ratio);
    if (!ratio.empty()) {
      row.ratio_min = *std::min_element(ratio.begin(), ratio.end());
      row.ratio_max = *std::max_element(ratio.begin(), ratio.end());
    }
    if (row.limit > 0 && row.ratio > 0) {
      row.verdict =
          (row.at_most ? row.ratio <= row.limit : row.ratio >= row.limit) ? "hold" : "MISS";
    }
    row.note.clear();
    if (!row.is_rate && row.p50 > 0 && row.p99 > 5 * row.p50) {
      row.note = absl::StrFormat("p99 = %.1f x p50 (target <= 5)", row.p99 / row.p50);
    }
    if (row.runs < static_cast<int>(repeats.size())) {
      row.note += absl::StrFormat("%sfailed in %d of %d repeats%s%s", row.note.empty() ? "" : "; ",
                                  static_cast<int>(repeats.size()) - row.runs,
                                  static_cast<int>(repeats.size()), why.empty() ? "" : ": ", why);
    }
    out.push_back(row);
  }
  return out;
}

std::string selfExe() { return fs::read_symlink("/proc/self/exe").string(); }

// CPU seconds: every CPU's busy time (/proc/stat: user nice system irq softirq steal), and ours
// (this process and its reaped children). busy - ours = what other programs used meanwhile.
struct CpuTimes {
  double busy_s = 0;
  double ours_s = 0;
  int64_t wall_ns = 0;
};

CpuTimes cpuTimes() {
  CpuTimes times;
  std::istringstream in(readFirstLine("/proc/stat", "cpu "));
  std::string cpu;
  uint64_t v[8] = {};
  in >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  times.busy_s = static_cast<double>(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / hz;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage usage{};
    ::getrusage(who, &usage);
    times.ours_s += static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  times.wall_ns = nowNs();
  return times;
}

// Other programs' CPU use between `a` and `b`, in % of all CPUs (about +-5%: /proc/stat counts
// in ticks, softirq work done for us counts as theirs).
double foreignPercent(const CpuTimes& a, const CpuTimes& b) {
  const double wall = static_cast<double>(b.wall_ns - a.wall_ns) / 1e9;
  const double cpus = static_cast<double>(::sysconf(_SC_NPROCESSORS_ONLN));
  return 100.0 * ((b.busy_s - a.busy_s) - (b.ours_s - a.ours_s)) / (wall * cpus);
}

int freeTcpPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    dieErrno("bind");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool waitForPath(const std::string& path, int timeout_ms) {
  const int64_t deadline = nowNs() + int64_t{timeout_ms} * 1000000;
  while (nowNs() < deadline) {
    if (fs::exists(path)) {
      return true;
    }
    ::usleep(20000);
  }
  return false;
}

// Parsed result lines of a client role.
struct RoleResult {
  bool ok = false;
  std::vector<std::vector<std::string>> lines;  // split "rtt ..." / "rate ..." lines
  std::string error;                            // the role's last log line when it failed
};

class Harness {
 public:
  Harness(Options options, std::string root)
      : options_(std::move(options)), root_(std::move(root)), self_(selfExe()) {}

  void run() {
    std::vector<std::vector<Row>> repeats;
    for (int repeat = 1; repeat <= options_.repeat; ++repeat) {
      rows_.clear();
      for (const std::string& placement : options_.placements) {
        setPlacement(placement);
        const CpuTimes before = cpuTimes();
        runPlacement(placement, repeat);  // every child is reaped by the time it returns
        const CpuTimes after = cpuTimes();
        noise_.push_back(absl::StrFormat(
            "repeat %d, %s: %.0f s measuring, other programs used %.0f%% of the CPUs meanwhile",
            repeat, placement, static_cast<double>(after.wall_ns - before.wall_ns) / 1e9,
            foreignPercent(before, after)));
      }
      repeats.push_back(std::move(rows_));
    }
    setPlacement("any");
    rows_ = aggregate(repeats);
  }

  const std::vector<Row>& rows() const { return rows_; }
  // Per placement: how long it took and the CPU other programs used meanwhile.
  const std::vector<std::string>& noise() const { return noise_; }

 private:
  std::string tool(const std::string& sub) const { return options_.build_dir + "/" + sub; }

  std::vector<std::string> scaleArgs() const {
    return {"--scale", absl::StrCat(options_.scale), "--max-ms", absl::StrCat(options_.max_ms)};
  }

  // Runs `bench --role client ...` in host `dir` and collects its result lines.
  RoleResult runRole(Procs& procs, const std::string& name, const std::string& role,
                     std::vector<std::string> args, const std::string& dir, int timeout_ms) {
    std::vector<std::string> argv = {self_, "--role", role};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> env;
    if (!dir.empty()) {
      env.push_back("NETBINDER_DIR=" + dir);
    }
    Procs::Child* child = procs.spawn(name, argv, env, true);
    RoleResult result;
    const int64_t deadline = nowNs() + int64_t{timeout_ms} * 1000000;
    while (auto line = procs.readLine(child, static_cast<int>((deadline - nowNs()) / 1000000))) {
      result.lines.push_back(absl::StrSplit(*line, ' ', absl::SkipEmpty()));
    }
    result.ok = procs.finish(child, 5000) && !result.lines.empty();
    if (!result.ok) {
      const std::string tail = procs.logTail(name);
      std::fprintf(stderr, "bench: %s failed:\n%s", name.c_str(), tail.c_str());
      std::vector<std::string> lines = absl::StrSplit(tail, '\n', absl::SkipWhitespace());
      result.error = lines.empty() ? "exited without output"
                                   : std::string(absl::StripAsciiWhitespace(lines.back()));
    }
    return result;
  }

  // binderd + servicemanager + the bench server (nodes PREFIX0..3) in `dir`; false on failure.
  bool startHost(Procs& procs, const std::string& tag, const std::string& dir) {
    fs::create_directories(dir);
    const std::vector<std::string> env = {"NETBINDER_DIR=" + dir};
    procs.spawn("binderd-" + tag,
                {tool("local_driver/binderd"), "--dir", dir, "--log-level", "warn"}, env, false);
    if (!waitForPath(dir + "/binder", 10000)) {
      std::fprintf(stderr, "bench: binderd %s did not start:\n%s", tag.c_str(),
                   procs.logTail("binderd-" + tag).c_str());
      return false;
    }
    procs.spawn("servicemanager-" + tag, {tool("cmds/servicemanager/servicemanager")}, env, false);
    Procs::Child* server =
        procs.spawn("server-" + tag, {self_, "--role", "binder-server", "--nodes", "4"}, env, true);
    auto ready = procs.readLine(server, 15000);
    if (!ready || *ready != "ready") {
      std::fprintf(stderr, "bench: bench server %s not ready:\n%s", tag.c_str(),
                   procs.logTail("server-" + tag).c_str());
      return false;
    }
    return true;
  }

  static std::optional<std::pair<double, double>> rttOf(const RoleResult& result, size_t size,
                                                        size_t* n = nullptr) {
    for (const auto& line : result.lines) {
      size_t got = 0;
      double p50 = 0, p99 = 0;
      if (line.size() == 5 && line[0] == "rtt" && absl::SimpleAtoi(line[1], &got) && got == size &&
          absl::SimpleAtod(line[3], &p50) && absl::SimpleAtod(line[4], &p99)) {
        if (n != nullptr) {
          (void)absl::SimpleAtoi(line[2], n);
        }
        return std::make_pair(p50, p99);
      }
    }
    return std::nullopt;
  }

  // The reason of a "fail SIZE why" line for `size`, or empty.
  static std::string failOf(const RoleResult& result, size_t size) {
    for (const auto& line : result.lines) {
      size_t got = 0;
      if (line.size() >= 2 && line[0] == "fail" && absl::SimpleAtoi(line[1], &got) && got == size) {
        return absl::StrJoin(line.begin() + 2, line.end(), " ");
      }
    }
    return "";
  }

  // A round-trip row the product failed (the role reported why): verdict "fail", the reason.
  static void markFailed(Row& row, const RoleResult& result) {
    std::string why = failOf(result, row.size);
    if (why.empty() && !result.lines.empty()) {
      why = result.error;
    }
    if (!why.empty()) {
      row.verdict = "fail";
      row.note = why;
    }
  }

  static std::optional<double> rateOf(const RoleResult& result) {
    for (const auto& line : result.lines) {
      double per_s = 0;
      if (line.size() == 5 && line[0] == "rate" && absl::SimpleAtod(line[3], &per_s)) {
        return per_s;
      }
    }
    return std::nullopt;
  }

  void verdictMax(Row& row, double limit) {
    row.limit = limit;
    row.at_most = true;
    row.target = absl::StrFormat("<= %.2f", limit);
    row.verdict = row.ratio <= limit ? "hold" : "MISS";
  }
  void verdictMin(Row& row, double limit) {
    row.limit = limit;
    row.at_most = false;
    row.target = absl::StrFormat(">= %.2f", limit);
    row.verdict = row.ratio >= limit ? "hold" : "MISS";
  }

  Row rttRow(const std::string& placement, const std::string& name, size_t size,
             const std::optional<std::pair<double, double>>& rtt, size_t n) {
    Row row;
    row.placement = placement;
    row.name = name;
    row.size = size;
    row.n = n;
    if (rtt) {
      row.p50 = rtt->first;
      row.p99 = rtt->second;
    } else {
      row.verdict = "n/a";
    }
    return row;
  }

  void addP99Check(Row& row) {
    if (row.p50 > 0 && row.p99 > 5 * row.p50) {
      row.note = absl::StrFormat("p99 = %.1f x p50 (target <= 5)", row.p99 / row.p50);
    }
  }

  void runPlacement(const std::string& placement, int repeat) {
    std::fprintf(stderr, "bench: repeat %d, placement %s, load %s\n", repeat, placement.c_str(),
                 loadAvg().c_str());
    const std::string dir = absl::StrCat(root_, "/", placement, "-", repeat);
    fs::create_directories(dir);
    const std::string host_a = dir + "/host-a";
    const std::string sizes = absl::StrJoin(kPayloadSizes, ",");

    // ---- binderd sync round trip vs the relay floors ------------------------------------------
    std::vector<std::pair<double, double>> binderd_rtt(std::size(kPayloadSizes));
    {
      Procs procs(dir);
      const bool up = startHost(procs, "a", host_a);
      RoleResult binder;
      if (up) {
        std::vector<std::string> args = {"--service", "bench.0", "--mode", "rtt", "--sizes", sizes};
        for (auto& arg : scaleArgs()) {
          args.push_back(arg);
        }
        binder = runRole(procs, "client-rtt", "binder-client", args, host_a, 300000);
      }
      for (size_t i = 0; i < std::size(kPayloadSizes); ++i) {
        const size_t size = kPayloadSizes[i];
        const Budget budget = rttBudget(size, options_.scale, options_.max_ms);
        size_t n = 0;
        auto rtt = rttOf(binder, size, &n);
        if (rtt) {
          binderd_rtt[i] = *rtt;
        }
        const RttStats relay = relayRtt(size, false, budget);
        Row floor_row = rttRow(placement, "floor: uds relay", size,
                               std::make_pair(relay.p50_us, relay.p99_us), relay.n);
        Row row = rttRow(placement, "binderd sync rtt", size, rtt, n);
        if (!rtt) {
          markFailed(row, binder);
        }
        row.floor_name = "uds relay";
        row.floor_value = relay.p50_us;
        Row memfd_row;
        if (size == kMaxPayload) {
          const RttStats memfd = relayRtt(size, true, budget);
          memfd_row = rttRow(placement, "floor: uds relay memfd", size,
                             std::make_pair(memfd.p50_us, memfd.p99_us), memfd.n);
          row.floor_name = "uds relay memfd";
          row.floor_value = memfd.p50_us;
        }
        if (rtt) {
          row.ratio = row.p50 / row.floor_value;
          if (size <= 4096 || size == kMaxPayload) {
            verdictMax(row, 1.25);
          }
          addP99Check(row);
        }
        rows_.push_back(floor_row);
        if (size == kMaxPayload) {
          rows_.push_back(memfd_row);
        }
        rows_.push_back(row);
      }

      // ---- one-way throughput vs the pipelined relay -----------------------------------------
      for (size_t size : {size_t{128}, size_t{64 * 1024}}) {
        const size_t count = std::max<size_t>(
            50, static_cast<size_t>((size == 128 ? 20000.0 : 2000.0) * options_.scale));
        const Rate floor = relayPipelined(size, count);
        Row floor_row;
        floor_row.placement = placement;
        floor_row.name = "floor: uds relay pipelined";
        floor_row.size = size;
        floor_row.is_rate = true;
        floor_row.rate = floor.per_s;
        floor_row.n = count;
        rows_.push_back(floor_row);
        for (int nodes : {1, 4}) {
          Row row;
          row.placement = placement;
          row.name = absl::StrCat("binderd one-way, ", nodes, " node", nodes > 1 ? "s" : "");
          row.size = size;
          row.is_rate = true;
          row.n = count;
          row.floor_name = "uds relay pipelined";
          row.floor_value = floor.per_s;
          RoleResult result =
              up ? runRole(
                       procs, absl::StrCat("client-oneway-", size, "-", nodes), "binder-client",
                       {"--service", "bench.0", "--mode", "oneway", "--size", absl::StrCat(size),
                        "--nodes", absl::StrCat(nodes), "--count", absl::StrCat(count)},
                       host_a, 120000)
                 : RoleResult{};
          if (auto rate = rateOf(result)) {
            row.rate = *rate;
            row.ratio = row.rate / floor.per_s;
            if (size == 128) {
              verdictMin(row, 0.8);
            }
          } else {
            row.verdict = "n/a";
          }
          rows_.push_back(row);
        }
      }

      // ---- client threads (scaling) ---------------------------------------------------------
      threadRows(procs, placement, "binderd", "bench.0", host_a, {1, 2, 4, 8}, up);
      if (up) {
        idleClientRow(procs, placement, host_a);
      }

      // ---- gateway ----------------------------------------------------------------------------
      if (options_.gateway && up) {
        gatewayRows(procs, placement, dir, host_a, binderd_rtt, sizes);
      }
    }
    // ---- gateway memory per imported proxy and per peer (fresh processes) ---------------------
    // Memory does not depend on where the scheduler runs things: measured in the last placement.
    if (options_.gateway && placement == options_.placements.back()) {
      Procs procs(dir);
      gatewayMemoryRows(procs, placement, dir);
    }
  }

  // Least-squares slope of y over x.
  static double slope(const std::vector<std::pair<double, double>>& points) {
    const double n = static_cast<double>(points.size());
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const auto& [x, y] : points) {
      sx += x;
      sy += y;
      sxx += x * x;
      sxy += x * y;
    }
    const double den = n * sxx - sx * sx;
    return den == 0 ? 0 : (n * sxy - sx * sy) / den;
  }

  // An importing bindergw (host M: binderd + servicemanager) and the fake-peers role
  // (fake_peers.h): P peers with 1 name each, added in steps, then every peer's names grown to
  // M in steps; the gateway's RSS after each step. KiB per peer = slope over the first phase,
  // KiB per imported proxy = slope over the second (least squares over the steps).
  void gatewayMemoryRows(Procs& procs, const std::string& placement, const std::string& dir) {
    const int peers =
        std::max(4, static_cast<int>(options_.mem_peers * std::min(1.0, options_.scale)));
    const int proxies =
        std::max(10, static_cast<int>(options_.mem_proxies * std::min(1.0, options_.scale)));
    constexpr int kPoints = 4;
    Row per_proxy;
    per_proxy.placement = placement;
    per_proxy.name = absl::StrCat("gateway KiB/imported proxy (", peers, "x", proxies, ")");
    per_proxy.is_rate = true;
    per_proxy.n = static_cast<size_t>(peers) * static_cast<size_t>(proxies);
    Row per_peer;
    per_peer.placement = placement;
    per_peer.name = absl::StrCat("gateway KiB per peer (", peers, " peers)");
    // Not measured: the fake-peers role's last words (e.g. a step that was not imported in time).
    auto reason = [](const RoleResult& r) { return r.ok ? std::string() : r.error; };
    per_peer.is_rate = true;
    per_peer.n = static_cast<size_t>(peers);
    per_proxy.verdict = per_peer.verdict = "n/a";
    const std::string bindergw = tool("gateway/bindergw");
    const std::string host = dir + "/host-m";
    RoleResult result;
    if (fs::exists(bindergw) && startHost(procs, "m", host)) {
      const int port = freeTcpPort();
      Procs::Child* gw = procs.spawn(
          "gw-m",
          {bindergw, "--gateway-id", "gwM", "--listen", absl::StrCat("127.0.0.1:", port),
           "--import", "fake*", "--log-level", "warn", "--discovery-interval-ms", "250"},
          {"NETBINDER_DIR=" + host}, false);
      result = runRole(procs, "fake-peers", "fake-peers",
                       {"--connect", absl::StrCat("127.0.0.1:", port), "--gateway-pid",
                        absl::StrCat(gw->pid), "--peers", absl::StrCat(peers), "--proxies",
                        absl::StrCat(proxies), "--points", absl::StrCat(kPoints)},
                       "", 900000);
    }
    std::vector<std::pair<double, double>> by_peer, by_proxy;
    for (const auto& line : result.lines) {
      double count_peers = 0, count_proxies = 0, kib = 0;
      if (line.size() == 5 && line[0] == "mem" && absl::SimpleAtod(line[2], &count_peers) &&
          absl::SimpleAtod(line[3], &count_proxies) && absl::SimpleAtod(line[4], &kib)) {
        (line[1] == "peers" ? by_peer : by_proxy)
            .emplace_back(line[1] == "peers" ? count_peers : count_proxies, kib);
      }
    }
    if (result.ok && by_peer.size() >= 2 && by_proxy.size() >= 2) {
      per_proxy.rate = slope(by_proxy);
      per_proxy.floor_name = "target KiB";
      per_proxy.floor_value = 1;
      per_proxy.ratio = std::max(per_proxy.rate, 0.01) / 1.0;
      verdictMax(per_proxy, 1.0);
      per_peer.rate = slope(by_peer);
      per_peer.verdict = "";
      per_peer.note =
          absl::StrFormat("RSS %.0f MiB at %d x %d", by_proxy.back().second / 1024, peers, proxies);
    }
    if (per_proxy.verdict == "n/a") {
      per_proxy.note = per_peer.note = reason(result);
    }
    rows_.push_back(per_proxy);
    rows_.push_back(per_peer);
  }

  // binderd's memory per idle client: its RSS (anon + file + shmem, /proc/PID/status) before and
  // after kIdleClients client processes that made one call each and stay connected.
  void idleClientRow(Procs& procs, const std::string& placement, const std::string& host) {
    constexpr int kIdleClients = 32;
    Procs::Child* binderd = procs.find("binderd-a");
    Row row;
    row.placement = placement;
    row.name = absl::StrCat("binderd KiB per idle client (", kIdleClients, ")");
    row.is_rate = true;
    row.n = kIdleClients;
    if (binderd == nullptr) {
      row.verdict = "n/a";
      rows_.push_back(row);
      return;
    }
    const int64_t before = rssKiB(binderd->pid);
    std::vector<Procs::Child*> idle;
    bool ok = true;
    for (int i = 0; i < kIdleClients && ok; ++i) {
      idle.push_back(
          procs.spawn(absl::StrCat("client-idle-", i),
                      {self_, "--role", "binder-client", "--service", "bench.0", "--mode", "idle"},
                      {"NETBINDER_DIR=" + host}, true));
      auto ready = procs.readLine(idle.back(), 15000);
      ok = ready && *ready == "ready";
    }
    ::usleep(200000);  // let binderd finish the last connection's set-up
    const int64_t after = rssKiB(binderd->pid);
    for (Procs::Child* child : idle) {
      procs.stop(child);
    }
    if (!ok || before <= 0 || after <= 0) {
      row.verdict = "n/a";
    } else {
      row.rate = static_cast<double>(after - before) / kIdleClients;
      row.floor_name = "target KiB";
      row.floor_value = 64;
      row.ratio = std::max(row.rate, 0.01) / 64.0;
      verdictMax(row, 1.0);
    }
    rows_.push_back(row);
  }

  void threadRows(Procs& procs, const std::string& placement, const std::string& what,
                  const std::string& service, const std::string& host,
                  const std::vector<int>& counts, bool up) {
    const int64_t ms = std::max<int64_t>(100, static_cast<int64_t>(1000 * options_.scale));
    double one = 0;
    for (int threads : counts) {
      Row row;
      row.placement = placement;
      row.name =
          absl::StrCat(what, " calls/s, ", threads, " client thread", threads > 1 ? "s" : "");
      row.size = 128;
      row.is_rate = true;
      RoleResult result =
          up ? runRole(procs, absl::StrCat("client-", what, "-threads-", threads), "binder-client",
                       {"--service", service, "--mode", "threads", "--threads",
                        absl::StrCat(threads), "--size", "128", "--ms", absl::StrCat(ms)},
                       host, 120000)
             : RoleResult{};
      if (auto rate = rateOf(result)) {
        row.rate = *rate;
        if (threads == counts.front()) {
          one = *rate;
        } else if (one > 0) {
          row.floor_name = absl::StrCat(counts.front(), " thread");
          row.floor_value = one;
          row.ratio = *rate / one;
          if (what == "gateway" && threads == 16) {
            verdictMin(row, 2.0);
          }
        }
      } else {
        row.verdict = "n/a";
      }
      rows_.push_back(row);
    }
  }

  void gatewayRows(Procs& procs, const std::string& placement, const std::string& dir,
                   const std::string& host_a, const std::vector<std::pair<double, double>>& binderd,
                   const std::string& sizes) {
    const std::string bindergw = tool("gateway/bindergw");
    if (!fs::exists(bindergw)) {
      std::fprintf(stderr, "bench: %s not built, gateway rows skipped\n", bindergw.c_str());
      return;
    }
    // gRPC floors first (their own processes), TCP loopback and unix:: ping-pong, then the
    // one-direction bandwidth of 1 MiB frames.
    std::vector<RoleResult> grpc;
    std::vector<RoleResult> grpc_bw;
    const size_t bw_count = std::max<size_t>(4, static_cast<size_t>(256 * options_.scale));
    for (const std::string& transport : {std::string("tcp"), std::string("unix")}) {
      const std::string listen =
          transport == "tcp" ? "127.0.0.1:0" : absl::StrCat("unix:", dir, "/grpc-floor.sock");
      Procs::Child* server =
          procs.spawn("grpc-server-" + transport,
                      {self_, "--role", "grpc-server", "--listen", listen}, {}, true);
      auto ready = procs.readLine(server, 15000);
      std::vector<std::string> words;
      if (ready) {
        words = absl::StrSplit(*ready, ' ');
      }
      if (words.size() != 2 || words[0] != "ready") {
        std::fprintf(stderr, "bench: gRPC floor server failed:\n%s",
                     procs.logTail("grpc-server-" + transport).c_str());
        grpc.emplace_back();
        grpc_bw.emplace_back();
        continue;
      }
      const std::string connect = transport == "tcp" ? "127.0.0.1:" + words[1] : listen;
      std::vector<std::string> args = {"--connect", connect, "--sizes", sizes};
      for (auto& arg : scaleArgs()) {
        args.push_back(arg);
      }
      grpc.push_back(runRole(procs, "grpc-client-" + transport, "grpc-client", args, "", 300000));
      grpc_bw.push_back(runRole(procs, "grpc-bw-" + transport, "grpc-client",
                                {"--connect", connect, "--mode", "stream", "--size",
                                 absl::StrCat(kMaxPayload), "--count", absl::StrCat(bw_count)},
                                "", 300000));
      procs.stop(server);
    }

    // Host B and the two gateways.
    const std::string host_b = dir + "/host-b";
    if (!startHost(procs, "b", host_b)) {
      return;
    }
    const int port = freeTcpPort();
    // 4 MiB receive areas (as every bench process) so that 1 MiB calls fit.
    const std::vector<std::string> common = {"--insecure",
                                             "--log-level",
                                             "warn",
                                             "--discovery-interval-ms",
                                             "200",
                                             "--receive-area-bytes",
                                             absl::StrCat(kBenchReceiveArea)};
    std::vector<std::string> gw_b = {
        bindergw,   "--gateway-id", "gwB", "--listen", absl::StrCat("127.0.0.1:", port),
        "--export", "bench.*"};
    gw_b.insert(gw_b.end(), common.begin(), common.end());
    procs.spawn("gw-b", gw_b, {"NETBINDER_DIR=" + host_b}, false);
    std::vector<std::string> gw_a = {bindergw,
                                     "--gateway-id",
                                     "gwA",
                                     "--connect",
                                     absl::StrCat("127.0.0.1:", port),
                                     "--import",
                                     "bench.*",
                                     "--import-prefix",
                                     "b."};
    gw_a.insert(gw_a.end(), common.begin(), common.end());
    procs.spawn("gw-a", gw_a, {"NETBINDER_DIR=" + host_a}, false);

    std::vector<std::string> args = {"--service", "b.bench.0", "--mode", "rtt", "--sizes", sizes};
    for (auto& arg : scaleArgs()) {
      args.push_back(arg);
    }
    RoleResult gw = runRole(procs, "client-gw-rtt", "binder-client", args, host_a, 300000);
    for (size_t i = 0; i < std::size(kPayloadSizes); ++i) {
      const size_t size = kPayloadSizes[i];
      for (size_t t = 0; t < grpc.size(); ++t) {
        size_t n = 0;
        auto rtt = rttOf(grpc[t], size, &n);
        rows_.push_back(rttRow(
            placement,
            t == 0 ? "floor: gRPC stream ping-pong tcp" : "floor: gRPC stream ping-pong unix:",
            size, rtt, n));
      }
      size_t n = 0;
      auto rtt = rttOf(gw, size, &n);
      Row row = rttRow(placement, "gateway rtt A->B (tcp)", size, rtt, n);
      if (!rtt) {
        markFailed(row, gw);
      }
      auto grpc_tcp = rttOf(grpc[0], size);
      if (rtt && grpc_tcp && binderd[i].first > 0) {
        row.floor_name = "gRPC tcp + 2 x binderd";
        row.floor_value = grpc_tcp->first + 2 * binderd[i].first;
        row.ratio = row.p50 / row.floor_value;
        if (size == 128) {
          verdictMax(row, 1.3);
        }
        addP99Check(row);
      }
      rows_.push_back(row);
    }
    threadRows(procs, placement, "gateway", "b.bench.0", host_a, {1, 16}, true);

    // ---- bandwidth: 1 MiB calls and a pipe stream vs gRPC's one-direction stream ---------------
    for (size_t t = 0; t < grpc_bw.size(); ++t) {
      Row row;
      row.placement = placement;
      row.name = t == 0 ? "floor: gRPC stream MB/s tcp" : "floor: gRPC stream MB/s unix:";
      row.size = kMaxPayload;
      row.is_rate = true;
      row.n = bw_count;
      if (auto mb = mbOf(grpc_bw[t])) {
        row.rate = *mb;
      } else {
        row.verdict = "n/a";
      }
      rows_.push_back(row);
    }
    const std::optional<double> grpc_mb = grpc_bw.empty() ? std::nullopt : mbOf(grpc_bw[0]);
    auto bandwidthRow = [&](const std::string& name, size_t size, size_t n,
                            const RoleResult& result) {
      Row row;
      row.placement = placement;
      row.name = name;
      row.size = size;
      row.is_rate = true;
      row.n = n;
      if (auto mb = mbOf(result)) {
        row.rate = *mb;
        if (grpc_mb) {
          row.floor_name = "gRPC stream MB/s tcp";
          row.floor_value = *grpc_mb;
          row.ratio = row.rate / *grpc_mb;
          verdictMin(row, 0.7);
        }
      } else {
        // Not measured (n/a, the exit status says so) whatever failed, with the reason.
        row.verdict = "n/a";
        row.note = failOf(result, size);
        if (row.note.empty()) {
          row.note = result.error;
        }
      }
      rows_.push_back(row);
    };
    // kSink (empty reply) calls one after the other: the payload crosses one way. (2 or 3 callers
    // were slower here, the gateways' copies are CPU-bound on 2 vCPUs, and 3 once met ENOSPC.)
    constexpr int kGatewayCallers = 1;
    const int64_t ms = std::max<int64_t>(200, static_cast<int64_t>(2000 * options_.scale));
    RoleResult calls = runRole(procs, "client-gw-mb", "binder-client",
                               {"--service", "b.bench.0", "--mode", "threads", "--code", "sink",
                                "--threads", absl::StrCat(kGatewayCallers), "--size",
                                absl::StrCat(kMaxPayload), "--ms", absl::StrCat(ms)},
                               host_a, 120000);
    size_t n_calls = 0;
    for (const auto& line : calls.lines) {
      if (line.size() == 5 && line[0] == "rate") {
        (void)absl::SimpleAtoi(line[2], &n_calls);
      }
    }
    bandwidthRow(absl::StrCat("gateway MB/s, 1 MiB calls, ", kGatewayCallers, " caller",
                              kGatewayCallers > 1 ? "s" : ""),
                 kMaxPayload, n_calls, calls);
    // A pipe's write end passed from A to B's server, which writes into it (gateway fd stream).
    const size_t pipe_bytes =
        std::max<size_t>(1 << 20, static_cast<size_t>(256.0 * options_.scale) << 20);
    RoleResult pipe =
        runRole(procs, "client-gw-pipe", "binder-client",
                {"--service", "b.bench.0", "--mode", "pipe", "--bytes", absl::StrCat(pipe_bytes)},
                host_a, 300000);
    bandwidthRow("gateway MB/s, pipe fd stream B->A", pipe_bytes, 1, pipe);
  }

  static std::optional<double> mbOf(const RoleResult& result) {
    for (const auto& line : result.lines) {
      double mb = 0;
      if (line.size() == 5 && line[0] == "rate" && absl::SimpleAtod(line[4], &mb)) {
        return mb;
      }
    }
    return std::nullopt;
  }

  const Options options_;
  const std::string root_;
  const std::string self_;
  std::vector<Row> rows_;
  std::vector<std::string> noise_;
};

void printTable(const std::vector<Row>& rows, FILE* out) {
  std::string placement;
  for (const Row& row : rows) {
    if (row.placement != placement) {
      placement = row.placement;
      std::fprintf(out, "\n== placement %s: %s\n", placement.c_str(),
                   placement == "cpu0" ? "every process pinned to CPU 0"
                                       : "unpinned (the scheduler places every process)");
      std::fprintf(out, "%-36s %8s %12s %10s  %-24s %12s %7s %-11s %8s %s\n", "row", "size",
                   "p50 us|per s", "p99 us", "floor", "floor", "ratio", "(min-max)", "target",
                   "verdict");
    }
    const std::string value =
        (row.verdict == "n/a" || row.verdict == "fail") && row.p50 == 0 && row.rate == 0
            ? "failed"
            : (row.is_rate ? absl::StrFormat(row.rate < 10 ? "%.2f" : "%.0f", row.rate)
                           : absl::StrFormat("%.1f", row.p50));
    const std::string p99 = row.is_rate || row.p99 == 0 ? "" : absl::StrFormat("%.1f", row.p99);
    const std::string floor_value = row.floor_name.empty()
                                        ? ""
                                        : (row.is_rate ? absl::StrFormat("%.0f", row.floor_value)
                                                       : absl::StrFormat("%.1f", row.floor_value));
    const std::string ratio = row.ratio > 0 ? absl::StrFormat("%.2f", row.ratio) : "";
    const std::string range = row.ratio_max > row.ratio_min
                                  ? absl::StrFormat("(%.2f-%.2f)", row.ratio_min, row.ratio_max)
                                  : "";
    std::fprintf(out, "%-36s %8s %12s %10s  %-24s %12s %7s %-11s %8s %s%s%s\n", row.name.c_str(),
                 sizeName(row.size).c_str(), value.c_str(), p99.c_str(), row.floor_name.c_str(),
                 floor_value.c_str(), ratio.c_str(), range.c_str(), row.target.c_str(),
                 row.verdict.c_str(), row.note.empty() ? "" : "  ", row.note.c_str());
  }
}

void writeJson(const std::vector<Row>& rows, const Options& options, const std::string& started,
               const std::string& load_start, const std::vector<std::string>& noise,
               const std::string& path) {
  std::ofstream out(path);
  out << "{\n  \"date\": " << jsonString(started) << ",\n  \"cpu\": " << jsonString(cpuModel())
      << ",\n  \"nproc\": " << ::sysconf(_SC_NPROCESSORS_ONLN)
      << ",\n  \"kernel\": " << jsonString(kernelRelease())
      << ",\n  \"loadavg_start\": " << jsonString(load_start)
      << ",\n  \"loadavg_end\": " << jsonString(loadAvg()) << ",\n  \"scale\": " << options.scale
      << ",\n  \"max_ms\": " << options.max_ms << ",\n  \"repeat\": " << options.repeat
      << ",\n  \"noise\": [";
  for (size_t i = 0; i < noise.size(); ++i) {
    out << (i == 0 ? "" : ", ") << jsonString(noise[i]);
  }
  out << "],\n  \"rows\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    out << "    {\"placement\": " << jsonString(r.placement) << ", \"row\": " << jsonString(r.name)
        << ", \"bytes\": " << r.size << ", \"n\": " << r.n;
    if (r.is_rate) {
      out << ", \"per_s\": " << absl::StrFormat("%.1f", r.rate);
    } else {
      out << absl::StrFormat(", \"p50_us\": %.3f, \"p99_us\": %.3f", r.p50, r.p99);
    }
    out << ", \"floor\": " << jsonString(r.floor_name)
        << absl::StrFormat(
               ", \"floor_value\": %.3f, \"ratio\": %.4f, \"ratio_min\": %.4f, "
               "\"ratio_max\": %.4f, \"runs\": %d",
               r.floor_value, r.ratio, r.ratio_min, r.ratio_max, r.runs)
        << ", \"target\": " << jsonString(r.target) << ", \"verdict\": " << jsonString(r.verdict)
        << ", \"note\": " << jsonString(r.note) << "}" << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  out << "  ]\n}\n";
}

Flags parseFlags(int argc, char** argv, int first) {
  Flags flags;
  for (int i = first; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0) {
      die("unexpected argument " + key);
    }
    key = key.substr(2);
    if (key == "no-gateway") {
      flags[key] = "1";
    } else if (i + 1 < argc) {
      flags[key] = argv[++i];
    } else {
      die("--" + key + " needs a value");
    }
  }
  return flags;
}

int runHarness(const Flags& flags) {
  Options options;
  for (const auto& [key, value] : flags) {
    if (key == "json") {
      options.json = value;
    } else if (key == "scale") {
      if (!absl::SimpleAtod(value, &options.scale) || options.scale <= 0) {
        die("--scale: " + value);
      }
    } else if (key == "max-ms") {
      if (!absl::SimpleAtoi(value, &options.max_ms) || options.max_ms <= 0) {
        die("--max-ms: " + value);
      }
    } else if (key == "repeat") {
      if (!absl::SimpleAtoi(value, &options.repeat) || options.repeat <= 0) {
        die("--repeat: " + value);
      }
    } else if (key == "placements") {
      options.placements = absl::StrSplit(value, ',');
    } else if (key == "no-gateway") {
      options.gateway = false;
    } else if (key == "build-dir") {
      options.build_dir = value;
    } else if (key == "mem-peers" || key == "mem-proxies") {
      int n = 0;
      if (!absl::SimpleAtoi(value, &n) || n <= 0) {
        die("--" + key + ": " + value);
      }
      (key == "mem-peers" ? options.mem_peers : options.mem_proxies) = n;
    } else {
      die("unknown flag --" + key);
    }
  }
  if (options.build_dir.empty()) {
    options.build_dir = fs::path(selfExe()).parent_path().parent_path().string();
  }
  std::string root = "/tmp/nb-bench.XXXXXX";
  if (::mkdtemp(root.data()) == nullptr) {
    dieErrno("mkdtemp");
  }
  const std::string started = nowUtc();
  const std::string load_start = loadAvg();
  std::printf("# netbinder bench, %s; %s, %ld CPUs, kernel %s; load at start %s\n", started.c_str(),
              cpuModel().c_str(), ::sysconf(_SC_NPROCESSORS_ONLN), kernelRelease().c_str(),
              load_start.c_str());
  std::printf(
      "# p50/p99 of round trips in us; rates per second; ratio = row / floor (rates: "
      "row / floor, higher is better)\n");
  std::fflush(stdout);
  Harness harness(options, root);
  harness.run();
  printTable(harness.rows(), stdout);
  std::printf("\n# load at end %s\n", loadAvg().c_str());
  for (const std::string& line : harness.noise()) {
    std::printf("# %s\n", line.c_str());
  }
  writeJson(harness.rows(), options, started, load_start, harness.noise(), options.json);
  std::printf("# JSON: %s\n", options.json.c_str());
  if (std::getenv("NB_BENCH_KEEP_DIR") == nullptr) {
    fs::remove_all(root);
  } else {
    std::printf("# logs kept in %s\n", root.c_str());
  }
  for (const Row& row : harness.rows()) {
    if (row.verdict == "n/a") {
      return 1;  // a row could not be measured (set-up or a role failed): the smoke test sees it
    }
  }
  return 0;
}

}  // namespace
}  // namespace nb::bench

int main(int argc, char** argv) {
  using namespace nb::bench;
  if (argc >= 3 && std::string(argv[1]) == "--role") {
    const std::string role = argv[2];
    const Flags flags = parseFlags(argc, argv, 3);
    if (role == "binder-server") {
      return runBinderServer(flags);
    }
    if (role == "binder-client") {
      return runBinderClient(flags);
    }
    if (role == "grpc-server") {
      return runGrpcServer(flags);
    }
    if (role == "grpc-client") {
      return runGrpcClient(flags);
    }
    if (role == "fake-peers") {
      return runFakePeers(flags);
    }
    die("unknown role " + role);
  }
  return runHarness(parseFlags(argc, argv, 1));
}
