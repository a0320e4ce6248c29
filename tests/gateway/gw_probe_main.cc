// gw_probe: one check of a Binder service per run, for the gateway test scripts
// (tests/gateway/*.sh). It is an ordinary netbinder client: it cannot tell whether NAME is a
// local service or one that bindergw imported from another host, which is the point.
//
//   gw_probe [common flags] [--wait-ms N] [--deadline-ms N] COMMAND ARGS...
//     echo NAME TEXT               IEcho.echo(TEXT) on NAME; the reply must equal TEXT
//     callback NAME                IEcho.callBack(EchoCallback, msg): the callback runs exactly
//                                  once, on this (the calling) thread — nested-call affinity
//     oneway NAME N                N one-way record(v) with fresh unique values, then getRecorded:
//                                  its last N values must be exactly those, in order (a one-way
//                                  refused with BR_FAILED_REPLY — async space full — is resent)
//     lookup NAME OTHER TEXT       IEcho.lookup(OTHER) on NAME, then echo(TEXT) on that binder
//     death NAME TIMEOUT_MS        linkToDeath on NAME, prints "linked" (flushed), waits for
//                                  binderDied: 0 when it fires, 1 after TIMEOUT_MS
//     wait-service NAME TIMEOUT_MS checkService until NAME is registered
//     wait-gone NAME TIMEOUT_MS    checkService until NAME is not registered
//     gw-state                     prints netbinder.gateway's table dump (IGateway code 1)
//     memfd NAME SIZE [--seal] [--read-only]
//                                  IEcho.echoMemfd of a memfd with SIZE seeded pseudo-random bytes
//                                  (--seal: F_SEAL_SHRINK|GROW|WRITE|SEAL after writing;
//                                  --read-only: sent as an O_RDONLY open): the returned fd must
//                                  have the same bytes, seals and access mode (F_GETFL)
//     pipe-dump NAME BYTES         IEcho.dumpTo(pipe write end, BYTES), closing ours when it
//                                  returns; a reader thread reads to EOF: exactly BYTES bytes of
//                                  dumpPatternByte (FNV-1a 64 printed), MB/s printed
//     socket-echo NAME BYTES       IEcho.socketEcho(one end of a socketpair, ours closed); BYTES
//                                  seeded bytes written by one thread, then shutdown(SHUT_WR);
//                                  the echo read by another must be exactly those, then EOF
//     chardev NAME                 IEcho.readFd(/dev/null) must FAIL: exit 0 when the call failed,
//                                  1 when it succeeded (a gateway refuses a character device;
//                                  without a gateway it passes — a gateway-only check)
//
// NAME is looked up with checkService, retried for --wait-ms (default 10000). Every run is
// bounded by --deadline-ms (default 120000): a call that hangs (a lost peer) ends the process
// with a message and exit 1. Exit: 0 ok; 1 a failed check, call or timeout; 10 usage; 20 the
// device cannot be opened or NAME is not registered. Errors are one line on stderr, prefixed
// "gw_probe: ".
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cmds/echo/echo_interface.h"
#include "codec/parcel_headers.h"
#include "runtime/binder_status.h"
#include "runtime/device_flags.h"
#include "runtime/proxy.h"
#include "runtime/service_manager.h"

namespace {

namespace rt = nb::runtime;
namespace echo = nb::examples::echo;
using Clock = std::chrono::steady_clock;

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 10;
constexpr int kExitUnavailable = 20;

// The gateway's introspection service (bindergw): code 1 replies Status + String16.
constexpr char kGatewayServiceName[] = "netbinder.gateway";
constexpr char16_t kGatewayDescriptor[] = u"netbinder.gateway.IGateway";
constexpr uint32_t kGatewayDumpTables = 1;

const char kUsage[] =
    "usage: gw_probe [common flags] [--wait-ms N] [--deadline-ms N] COMMAND ARGS...\n"
    "  echo NAME TEXT | latency NAME N | callback NAME | oneway NAME N |\n"
    "  lookup NAME OTHER TEXT |\n"
    "  death NAME TIMEOUT_MS | wait-service NAME TIMEOUT_MS | wait-gone NAME TIMEOUT_MS |\n"
    "  gw-state | memfd NAME SIZE [--seal] [--read-only] | pipe-dump NAME BYTES |\n"
    "  socket-echo NAME BYTES | chardev NAME\n";

int fail(int code, const std::string& message) {
  std::fprintf(stderr, "gw_probe: %s\n", message.c_str());
  return code;
}

int64_t elapsedMs(Clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count();
}

bool parseCount(const std::string& text, long* out) {
  char* end = nullptr;
  *out = std::strtol(text.c_str(), &end, 10);
  return !text.empty() && *end == '\0' && *out >= 0;
}

// Ends the process after `ms` whatever it is doing (a call into a lost peer may block).
void startWatchdog(long ms, std::string what) {
  std::thread([ms, what = std::move(what)] {
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    std::fprintf(stderr, "gw_probe: %s did not finish within the deadline (%ld ms)\n", what.c_str(),
                 ms);
    std::fflush(nullptr);
    ::_exit(kExitFailed);
  }).detach();
}

// ---- fd helpers ----------------------------------------------------------------------------

// A seeded byte stream (xorshift64*): both ends of a check generate the same one.
class ByteStream {
 public:
  explicit ByteStream(uint64_t seed) : x_(seed | 1) {}
  uint8_t next() {
    x_ ^= x_ >> 12;
    x_ ^= x_ << 25;
    x_ ^= x_ >> 27;
    return static_cast<uint8_t>((x_ * 0x2545F4914F6CDD1DULL) >> 56);
  }
  void fill(uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      p[i] = next();
    }
  }

 private:
  uint64_t x_;
};

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
uint64_t fnv1a(uint64_t h, const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h = (h ^ p[i]) * 0x100000001b3ULL;
  }
  return h;
}

// Writes all of [p, p+n); a socket without SIGPIPE. Returns 0 or the errno.
int writeAll(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK) {
      w = ::write(fd, p, n);
    }
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w < 0) {
      return errno;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return 0;
}

// Up to `limit` bytes of `fd` by pread from offset 0.
absl::StatusOr<std::vector<uint8_t>> preadAll(int fd, size_t limit) {
  std::vector<uint8_t> out(limit);
  size_t have = 0;
  while (have < limit) {
    ssize_t n = ::pread(fd, out.data() + have, limit - have, static_cast<off_t>(have));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return absl::InternalError(std::string("pread: ") + std::strerror(errno));
    }
    if (n == 0) {
      break;
    }
    have += static_cast<size_t>(n);
  }
  out.resize(have);
  return out;
}

// Reads `fd` to EOF, checking each byte against `expect(index)`.
struct StreamCheck {
  uint64_t count = 0;
  uint64_t fnv = kFnvOffset;
  int64_t first_mismatch = -1;  // index of the first wrong byte
  int error = 0;                // read errno
};

template <typename Expect>
StreamCheck readAndCheck(int fd, Expect expect) {
  StreamCheck c;
  std::vector<uint8_t> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      c.error = errno;
      return c;
    }
    if (n == 0) {
      return c;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (c.first_mismatch < 0 && buf[static_cast<size_t>(i)] != expect(c.count + i)) {
        c.first_mismatch = static_cast<int64_t>(c.count + static_cast<uint64_t>(i));
      }
    }
    c.fnv = fnv1a(c.fnv, buf.data(), static_cast<size_t>(n));
    c.count += static_cast<uint64_t>(n);
  }
}

std::string describeCheck(const StreamCheck& c, long expected) {
  std::string out = std::to_string(c.count) + " bytes (expected " + std::to_string(expected) + ")";
  if (c.first_mismatch >= 0) {
    out += ", first wrong byte at " + std::to_string(c.first_mismatch);
  }
  if (c.error != 0) {
    out += ", read error: " + std::string(std::strerror(c.error));
  }
  return out;
}

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

const char* accessModeName(int mode) {
  switch (mode) {
    case O_RDONLY:
      return "O_RDONLY";
    case O_WRONLY:
      return "O_WRONLY";
    case O_RDWR:
      return "O_RDWR";
    default:
      return "O_ACCMODE?";
  }
}

// Joins `t` within `ms`; otherwise ends the process (a stuck stream: nothing left to unwind).
void joinWithin(std::thread& t, std::future<void>& done, long ms, const std::string& what) {
  if (done.wait_for(std::chrono::milliseconds(ms)) != std::future_status::ready) {
    std::fprintf(stderr, "gw_probe: %s did not finish within %ld ms\n", what.c_str(), ms);
    std::fflush(nullptr);
    ::_exit(kExitFailed);
  }
  t.join();
}

class DeathWaiter final : public rt::DeathRecipient {
 public:
  void binderDied(const std::weak_ptr<rt::IBinder>& /*who*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    died_ = true;
    cv_.notify_all();
  }
  bool waitFor(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return died_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool died_ = false;  // guarded by mu_
};

class Probe {
 public:
  Probe(std::shared_ptr<rt::ProcessState> state, rt::ServiceManagerLayout layout, long wait_ms)
      : state_(std::move(state)),
        sm_(state_, layout),
        format_(rt::serviceManagerHeaderFormat(layout)),
        wait_ms_(wait_ms) {}

  int run(const std::string& command, const std::vector<std::string>& a);

 private:
  // NAME's binder, retried for wait_ms_; nullptr after printing why not.
  std::shared_ptr<rt::IBinder> find(const std::string& name);
  int echoText(const std::string& name, const std::string& text);
  int latency(const std::string& name, long count);
  int callback(const std::string& name);
  int oneway(const std::string& name, long count);
  int lookup(const std::string& name, const std::string& other, const std::string& text);
  int death(const std::string& name, long timeout_ms);
  int waitFor(const std::string& name, bool present, long timeout_ms);
  int gatewayState();
  int memfd(const std::string& name, long size, bool seal, bool read_only);
  int pipeDump(const std::string& name, long bytes);
  int socketEcho(const std::string& name, long bytes);
  int charDevice(const std::string& name);

  const std::shared_ptr<rt::ProcessState> state_;
  rt::ServiceManager sm_;
  const nb::codec::InterfaceHeaderFormat format_;
  const long wait_ms_;
};

std::shared_ptr<rt::IBinder> Probe::find(const std::string& name) {
  const auto start = Clock::now();
  absl::Status last = absl::OkStatus();
  for (auto backoff = std::chrono::milliseconds(10);;
       backoff = std::min(backoff * 2, std::chrono::milliseconds(200))) {
    absl::StatusOr<std::shared_ptr<rt::IBinder>> b = sm_.checkService(name);
    if (b.ok() && *b != nullptr) {
      return *b;
    }
    last = b.ok() ? absl::NotFoundError("not registered") : b.status();
    if (elapsedMs(start) + backoff.count() > wait_ms_) {
      break;
    }
    std::this_thread::sleep_for(backoff);
  }
  fail(kExitUnavailable, "service " + name + " not found within " + std::to_string(wait_ms_) +
                             " ms: " + std::string(last.message()));
  return nullptr;
}

int Probe::run(const std::string& command, const std::vector<std::string>& a) {
  long n = 0;
  if (command == "echo" && a.size() == 2) {
    return echoText(a[0], a[1]);
  }
  if (command == "latency" && a.size() == 2 && parseCount(a[1], &n) && n > 0) {
    return latency(a[0], n);
  }
  if (command == "callback" && a.size() == 1) {
    return callback(a[0]);
  }
  if (command == "oneway" && a.size() == 2 && parseCount(a[1], &n) && n > 0) {
    return oneway(a[0], n);
  }
  if (command == "lookup" && a.size() == 3) {
    return lookup(a[0], a[1], a[2]);
  }
  if (command == "death" && a.size() == 2 && parseCount(a[1], &n)) {
    return death(a[0], n);
  }
  if ((command == "wait-service" || command == "wait-gone") && a.size() == 2 &&
      parseCount(a[1], &n)) {
    return waitFor(a[0], command == "wait-service", n);
  }
  if (command == "gw-state" && a.empty()) {
    return gatewayState();
  }
  if (command == "memfd" && a.size() >= 2 && parseCount(a[1], &n)) {
    bool seal = false;
    bool read_only = false;
    bool ok = true;
    for (size_t i = 2; i < a.size(); ++i) {
      seal = seal || a[i] == "--seal";
      read_only = read_only || a[i] == "--read-only";
      ok = ok && (a[i] == "--seal" || a[i] == "--read-only");
    }
    if (ok) {
      return memfd(a[0], n, seal, read_only);
    }
  }
  if (command == "pipe-dump" && a.size() == 2 && parseCount(a[1], &n)) {
    return pipeDump(a[0], n);
  }
  if (command == "socket-echo" && a.size() == 2 && parseCount(a[1], &n)) {
    return socketEcho(a[0], n);
  }
  if (command == "chardev" && a.size() == 1) {
    return charDevice(a[0]);
  }
  std::cerr << "gw_probe: bad command or arguments: " << command << "\n" << kUsage;
  return kExitUsage;
}

int Probe::echoText(const std::string& name, const std::string& text) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  absl::StatusOr<std::string> got = echo::EchoProxy(b, format_).echo(text);
  if (!got.ok()) {
    return fail(kExitFailed, "echo on " + name + " failed: " + got.status().ToString());
  }
  if (*got != text) {
    return fail(kExitFailed,
                "echo on " + name + " replied \"" + *got + "\", sent \"" + text + "\"");
  }
  std::printf("echo %s: ok (\"%s\")\n", name.c_str(), got->c_str());
  return kExitOk;
}

// N echo round trips of a 16-byte string, one after the other: p50 / p99 / max in microseconds.
// A measurement, printed; it asserts only that every call succeeded.
int Probe::latency(const std::string& name, long count) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  echo::EchoProxy proxy(b, format_);
  std::vector<double> us;
  us.reserve(static_cast<size_t>(count));
  for (long i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::string> got = proxy.echo("latency-probe-16");
    const auto end = std::chrono::steady_clock::now();
    if (!got.ok()) {
      return fail(kExitFailed, "echo on " + name + " failed: " + got.status().ToString());
    }
    us.push_back(std::chrono::duration<double, std::micro>(end - start).count());
  }
  std::sort(us.begin(), us.end());
  auto at = [&](double q) {
    return us[static_cast<size_t>(q * static_cast<double>(us.size() - 1))];
  };
  std::printf("latency %s: %ld calls, p50 %.0f us, p99 %.0f us, max %.0f us\n", name.c_str(), count,
              at(0.5), at(0.99), us.back());
  return kExitOk;
}

int Probe::callback(const std::string& name) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  auto cb = std::make_shared<echo::EchoCallback>(u"cb:", format_);
  const std::string msg = "ping-" + std::to_string(::getpid());
  const pid_t caller = ::gettid();
  absl::StatusOr<std::string> answer = echo::EchoProxy(b, format_).callBack(cb, msg);
  if (!answer.ok()) {
    return fail(kExitFailed, "callBack on " + name + " failed: " + answer.status().ToString());
  }
  if (*answer != "cb:" + msg) {
    return fail(kExitFailed, "callBack on " + name + " replied \"" + *answer +
                                 "\", expected \"cb:" + msg + "\"");
  }
  if (cb->calls() != 1) {
    return fail(kExitFailed, "callBack on " + name + ": the callback ran " +
                                 std::to_string(cb->calls()) + " times, expected once");
  }
  if (cb->lastThread() != caller) {
    return fail(kExitFailed, "callBack on " + name + ": the callback ran on thread " +
                                 std::to_string(cb->lastThread()) + ", not on the calling thread " +
                                 std::to_string(caller) + " (nested-call thread affinity broken)");
  }
  std::printf("callback %s: ok (\"%s\", 1 call, on the calling thread %d)\n", name.c_str(),
              answer->c_str(), static_cast<int>(caller));
  return kExitOk;
}

int Probe::oneway(const std::string& name, long count) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  echo::EchoProxy proxy(b, format_);
  // Fresh values: a random 30-bit start, so neither an earlier run nor a restarted service's
  // leftovers can pass for this run's sequence.
  std::random_device rd;
  const uint32_t first = (rd() & 0x3fffffffu) | 0x40000000u;
  std::vector<int32_t> sent;
  sent.reserve(static_cast<size_t>(count));
  for (long i = 0; i < count; ++i) {
    sent.push_back(static_cast<int32_t>((first + static_cast<uint32_t>(i)) & 0x7fffffffu));
  }
  // A flood can fill the receiver's async buffer space faster than it drains: the driver then
  // refuses the one-way with BR_FAILED_REPLY (Aborted) without queueing it, as the kernel does,
  // and the same value is sent again after a pause — order is kept, nothing is lost or doubled.
  // Refusals are counted and printed; 30 s (or --wait-ms) without progress is a failure.
  const int64_t poll_ms = std::max<int64_t>(wait_ms_, 30000);
  const auto start = Clock::now();
  long refused = 0;
  for (long i = 0; i < count; ++i) {
    const auto first_try = Clock::now();
    for (auto pause = std::chrono::milliseconds(1);;
         pause = std::min(pause * 2, std::chrono::milliseconds(50))) {
      absl::Status s = proxy.record(sent[static_cast<size_t>(i)]);
      if (s.ok()) {
        break;
      }
      if (!absl::IsAborted(s) || elapsedMs(first_try) > poll_ms) {
        return fail(kExitFailed, "record #" + std::to_string(i) + " on " + name +
                                     " failed: " + s.ToString() + " (" + std::to_string(refused) +
                                     " refusals before)");
      }
      ++refused;
      std::this_thread::sleep_for(pause);
    }
  }
  const int64_t send_ms = elapsedMs(start);
  // A sync call may overtake one-ways still queued: poll until the last one has landed.
  absl::StatusOr<std::vector<int32_t>> recorded;
  for (;;) {
    recorded = proxy.getRecorded();
    if (!recorded.ok()) {
      return fail(kExitFailed,
                  "getRecorded on " + name + " failed: " + recorded.status().ToString());
    }
    if (!recorded->empty() && recorded->back() == sent.back()) {
      break;
    }
    if (elapsedMs(start) > send_ms + poll_ms) {
      size_t arrived = 0;
      for (int32_t v : *recorded) {
        arrived += (v >= sent.front() && v <= sent.back()) ? 1 : 0;
      }
      return fail(kExitFailed, "oneway on " + name + ": " + std::to_string(arrived) + " of " +
                                   std::to_string(count) + " arrived within " +
                                   std::to_string(poll_ms) + " ms after sending");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const size_t n = static_cast<size_t>(count);
  if (recorded->size() < n) {
    return fail(kExitFailed, "oneway on " + name + ": only " + std::to_string(recorded->size()) +
                                 " values recorded, sent " + std::to_string(count));
  }
  const size_t base = recorded->size() - n;
  for (size_t i = 0; i < n; ++i) {
    if ((*recorded)[base + i] != sent[i]) {
      return fail(kExitFailed, "oneway on " + name + ": recorded value " + std::to_string(i) +
                                   " of the last " + std::to_string(count) + " is " +
                                   std::to_string((*recorded)[base + i]) + ", sent " +
                                   std::to_string(sent[i]) + " (lost, duplicated or reordered)");
    }
  }
  std::printf(
      "oneway %s: ok (%ld sent in %lld ms, %ld refused and resent, all recorded in order after "
      "%lld ms)\n",
      name.c_str(), count, static_cast<long long>(send_ms), refused,
      static_cast<long long>(elapsedMs(start)));
  return kExitOk;
}

int Probe::lookup(const std::string& name, const std::string& other, const std::string& text) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  absl::StatusOr<std::shared_ptr<rt::IBinder>> found = echo::EchoProxy(b, format_).lookup(other);
  if (!found.ok()) {
    return fail(kExitFailed,
                "lookup(" + other + ") on " + name + " failed: " + found.status().ToString());
  }
  if (*found == nullptr) {
    return fail(kExitFailed, "lookup(" + other + ") on " + name + " returned null (" + name +
                                 "'s service manager has no " + other + ")");
  }
  absl::StatusOr<std::string> got = echo::EchoProxy(*found, format_).echo(text);
  if (!got.ok()) {
    return fail(kExitFailed, "echo on the binder " + name + " returned for " + other +
                                 " failed: " + got.status().ToString());
  }
  if (*got != text) {
    return fail(kExitFailed, "echo on the binder " + name + " returned for " + other +
                                 " replied \"" + *got + "\", sent \"" + text + "\"");
  }
  std::printf("lookup %s -> %s: ok (echo \"%s\")\n", name.c_str(), other.c_str(), got->c_str());
  return kExitOk;
}

int Probe::death(const std::string& name, long timeout_ms) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  rt::Proxy* proxy = b->asProxy();
  if (proxy == nullptr) {
    return fail(kExitFailed, name + " is an object of this process; nothing to link to");
  }
  auto waiter = std::make_shared<DeathWaiter>();
  if (absl::Status s = proxy->linkToDeath(waiter); !s.ok()) {
    return fail(kExitFailed, "linkToDeath on " + name + " failed (" +
                                 (rt::isDeadObject(s) ? "already dead" : s.ToString()) + ")");
  }
  std::printf("linked\n");
  std::fflush(stdout);
  const auto start = Clock::now();
  if (!waiter->waitFor(std::chrono::milliseconds(timeout_ms))) {
    return fail(kExitFailed, "no death notification for " + name + " within " +
                                 std::to_string(timeout_ms) + " ms");
  }
  std::printf("died: %s (%lld ms after linking)\n", name.c_str(),
              static_cast<long long>(elapsedMs(start)));
  return kExitOk;
}

int Probe::waitFor(const std::string& name, bool present, long timeout_ms) {
  const auto start = Clock::now();
  std::string last;
  for (;;) {
    absl::StatusOr<std::shared_ptr<rt::IBinder>> b = sm_.checkService(name);
    if (b.ok() && (*b != nullptr) == present) {
      std::printf("%s: %s after %lld ms\n", name.c_str(), present ? "registered" : "gone",
                  static_cast<long long>(elapsedMs(start)));
      return kExitOk;
    }
    last = b.ok() ? (*b != nullptr ? "still registered" : "not registered")
                  : std::string(b.status().message());
    if (elapsedMs(start) >= timeout_ms) {
      return fail(kExitFailed, name + (present ? " not registered" : " still registered") +
                                   " after " + std::to_string(timeout_ms) + " ms (last: " + last +
                                   ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Probe::gatewayState() {
  std::shared_ptr<rt::IBinder> b = find(kGatewayServiceName);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  nb::codec::ParcelWriter request;
  if (absl::Status s = nb::codec::writeInterfaceToken(request, kGatewayDescriptor, format_);
      !s.ok()) {
    return fail(kExitFailed, "interface token: " + s.ToString());
  }
  absl::StatusOr<rt::ReceivedParcel> reply = b->transact(kGatewayDumpTables, request);
  if (!reply.ok()) {
    return fail(kExitFailed,
                std::string(kGatewayServiceName) + " code 1 failed: " + reply.status().ToString());
  }
  nb::codec::ParcelReader r = reply->reader();
  if (absl::Status s = echo::readReplyStatus(r); !s.ok()) {
    return fail(kExitFailed, std::string(kGatewayServiceName) + " code 1: " + s.ToString());
  }
  absl::StatusOr<std::string> text = r.readString16AsUtf8();
  if (!text.ok()) {
    return fail(kExitFailed, std::string(kGatewayServiceName) +
                                 " code 1: bad reply: " + text.status().ToString());
  }
  std::fputs(text->c_str(), stdout);
  if (text->empty() || text->back() != '\n') {
    std::fputc('\n', stdout);
  }
  return kExitOk;
}

int Probe::memfd(const std::string& name, long size, bool seal, bool read_only) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  const auto n = static_cast<size_t>(size);
  std::vector<uint8_t> bytes(n);
  ByteStream(0x6e62ULL ^ static_cast<uint64_t>(size)).fill(bytes.data(), n);
  int fd = ::memfd_create("gw-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    return fail(kExitFailed, "memfd_create: " + std::string(std::strerror(errno)));
  }
  if (int err = writeAll(fd, bytes.data(), n); err != 0) {
    ::close(fd);
    return fail(kExitFailed, "write to the memfd: " + std::string(std::strerror(err)));
  }
  if (seal &&
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) != 0) {
    ::close(fd);
    return fail(kExitFailed, "F_ADD_SEALS: " + std::string(std::strerror(errno)));
  }
  if (read_only) {
    int ro = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
    ::close(fd);
    if (ro < 0) {
      return fail(kExitFailed, "read-only reopen: " + std::string(std::strerror(errno)));
    }
    fd = ro;
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  const int mode = ::fcntl(fd, F_GETFL) & O_ACCMODE;
  const auto start = Clock::now();
  absl::StatusOr<int> copy = echo::EchoProxy(b, format_).echoMemfd(fd);
  const int64_t call_ms = elapsedMs(start);
  ::close(fd);
  if (!copy.ok()) {
    return fail(kExitFailed, "echoMemfd on " + name + " failed: " + copy.status().ToString());
  }
  // One byte more than sent is read to notice a longer file.
  absl::StatusOr<std::vector<uint8_t>> read = preadAll(*copy, n + 1);
  const int got_seals = ::fcntl(*copy, F_GET_SEALS);
  const int got_mode = ::fcntl(*copy, F_GETFL) & O_ACCMODE;
  struct stat st {};
  const bool stat_ok = ::fstat(*copy, &st) == 0;
  ::close(*copy);
  if (!read.ok()) {
    return fail(kExitFailed,
                "echoMemfd on " + name + ": reading the returned fd: " + read.status().ToString());
  }
  const std::vector<uint8_t>& got = *read;
  if (got.size() != n || got != bytes) {
    size_t at = 0;
    while (at < std::min(got.size(), n) && got[at] == bytes[at]) {
      ++at;
    }
    return fail(
        kExitFailed,
        "echoMemfd on " + name + ": the returned fd holds " +
            (got.size() > n ? "more than " + std::to_string(n) : std::to_string(got.size())) +
            " bytes, sent " + std::to_string(n) + "; first difference at " + std::to_string(at));
  }
  if (got_seals != seals) {
    return fail(kExitFailed, "echoMemfd on " + name + ": seals " +
                                 hex(static_cast<uint32_t>(got_seals)) + ", sent " +
                                 hex(static_cast<uint32_t>(seals)));
  }
  if (got_mode != mode) {
    return fail(kExitFailed, "echoMemfd on " + name + ": access mode " + accessModeName(got_mode) +
                                 ", sent " + accessModeName(mode));
  }
  std::printf("memfd %s: ok (%zu bytes equal, seals %s, %s, %s, %lld ms)\n", name.c_str(), n,
              hex(static_cast<uint32_t>(seals)).c_str(), accessModeName(mode),
              stat_ok && S_ISREG(st.st_mode) ? "regular file" : "not a regular file",
              static_cast<long long>(call_ms));
  return kExitOk;
}

int Probe::pipeDump(const std::string& name, long bytes) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return fail(kExitFailed, "pipe: " + std::string(std::strerror(errno)));
  }
  StreamCheck check;
  std::promise<void> finished;
  std::future<void> done = finished.get_future();
  std::thread reader([&check, &finished, fd = p[0]] {
    check = readAndCheck(fd, [](uint64_t i) { return echo::dumpPatternByte(i); });
    finished.set_value();
  });
  const auto start = Clock::now();
  absl::Status s = echo::EchoProxy(b, format_).dumpTo(p[1], bytes);
  const int64_t call_ms = elapsedMs(start);
  ::close(p[1]);  // the service's copy goes with its request parcel: then EOF
  joinWithin(reader, done, 60000, "pipe-dump's reader (no EOF after the call returned)");
  const int64_t total_ms = std::max<int64_t>(elapsedMs(start), 1);
  ::close(p[0]);
  if (!s.ok()) {
    return fail(kExitFailed, "dumpTo on " + name + " failed: " + s.ToString() + " (read " +
                                 describeCheck(check, bytes) + ")");
  }
  if (check.count != static_cast<uint64_t>(bytes) || check.first_mismatch >= 0 ||
      check.error != 0) {
    return fail(kExitFailed, "dumpTo on " + name + ": read " + describeCheck(check, bytes));
  }
  std::printf(
      "pipe-dump %s: ok (%ld bytes, pattern ok, fnv1a64 %s, call %lld ms, EOF after %lld ms, "
      "%.1f MB/s)\n",
      name.c_str(), bytes, hex(check.fnv).c_str(), static_cast<long long>(call_ms),
      static_cast<long long>(total_ms),
      static_cast<double>(bytes) / 1e6 / (static_cast<double>(total_ms) / 1000.0));
  return kExitOk;
}

int Probe::socketEcho(const std::string& name, long bytes) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return fail(kExitFailed, "socketpair: " + std::string(std::strerror(errno)));
  }
  const auto start = Clock::now();
  absl::Status s = echo::EchoProxy(b, format_).socketEcho(sv[1]);
  ::close(sv[1]);
  if (!s.ok()) {
    ::close(sv[0]);
    return fail(kExitFailed, "socketEcho on " + name + " failed: " + s.ToString());
  }
  const uint64_t seed = 0x736f636bULL ^ static_cast<uint64_t>(bytes);
  std::atomic<int> write_error{0};
  std::promise<void> finished;
  std::future<void> done = finished.get_future();
  std::thread writer([&write_error, &finished, fd = sv[0], bytes, seed] {
    ByteStream stream(seed);
    std::vector<uint8_t> buf(256 * 1024);
    for (uint64_t left = static_cast<uint64_t>(bytes); left > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), left));
      stream.fill(buf.data(), n);
      if (int err = writeAll(fd, buf.data(), n); err != 0) {
        write_error = err;
        break;
      }
      left -= n;
    }
    ::shutdown(fd, SHUT_WR);  // the half-close the echo must answer with its own
    finished.set_value();
  });
  // readAndCheck asks for each index once, in order, until the first mismatch.
  ByteStream expected(seed);
  StreamCheck check = readAndCheck(sv[0], [&expected](uint64_t) { return expected.next(); });
  joinWithin(writer, done, 60000, "socket-echo's writer");
  const int64_t total_ms = std::max<int64_t>(elapsedMs(start), 1);
  ::close(sv[0]);
  if (write_error != 0) {
    return fail(kExitFailed, "socket-echo on " + name + ": writing failed after the echo read " +
                                 describeCheck(check, bytes) + ": " +
                                 std::strerror(write_error.load()));
  }
  if (check.count != static_cast<uint64_t>(bytes) || check.first_mismatch >= 0 ||
      check.error != 0) {
    return fail(kExitFailed,
                "socket-echo on " + name + ": echo read " + describeCheck(check, bytes));
  }
  std::printf(
      "socket-echo %s: ok (%ld bytes each way, echo equal, EOF after our SHUT_WR, "
      "%lld ms, %.1f MB/s)\n",
      name.c_str(), bytes, static_cast<long long>(total_ms),
      static_cast<double>(bytes) / 1e6 / (static_cast<double>(total_ms) / 1000.0));
  return kExitOk;
}

int Probe::charDevice(const std::string& name) {
  std::shared_ptr<rt::IBinder> b = find(name);
  if (b == nullptr) {
    return kExitUnavailable;
  }
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return fail(kExitFailed, "open /dev/null: " + std::string(std::strerror(errno)));
  }
  absl::StatusOr<std::vector<uint8_t>> got = echo::EchoProxy(b, format_).readFd(fd);
  ::close(fd);
  if (got.ok()) {
    return fail(kExitFailed, "readFd(/dev/null) on " + name + " succeeded (" +
                                 std::to_string(got->size()) +
                                 " bytes): a character device was passed, not refused");
  }
  std::printf("chardev %s: ok (readFd(/dev/null) refused: %s)\n", name.c_str(),
              got.status().ToString().c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed stream is an error to report, not a death
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<rt::CommonFlags> flags = rt::parseCommonFlags(args);
  if (!flags.ok()) {
    std::cerr << "gw_probe: " << flags.status().message() << "\n" << kUsage;
    return kExitUsage;
  }
  long wait_ms = 10000;
  long deadline_ms = 120000;
  size_t i = 0;
  for (; i < args.size() && args[i].rfind("--", 0) == 0; ++i) {
    if (args[i] == "--help") {
      std::cout << kUsage << rt::commonFlagsUsage();
      return kExitOk;
    }
    long* target = args[i] == "--wait-ms"       ? &wait_ms
                   : args[i] == "--deadline-ms" ? &deadline_ms
                                                : nullptr;
    if (target == nullptr || i + 1 >= args.size() || !parseCount(args[i + 1], target)) {
      std::cerr << "gw_probe: bad option " << args[i] << "\n" << kUsage;
      return kExitUsage;
    }
    ++i;
  }
  if (i >= args.size()) {
    std::cerr << kUsage;
    return kExitUsage;
  }
  const std::string command = args[i];
  const std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                      args.end());
  startWatchdog(deadline_ms, command);

  absl::StatusOr<std::shared_ptr<rt::ProcessState>> state =
      rt::ProcessState::open(flags->processOptions());
  if (!state.ok()) {
    return fail(kExitUnavailable, "cannot open " + flags->deviceSpec().toString() + ": " +
                                      std::string(state.status().message()));
  }
  (*state)->startThreadPool();  // callbacks and death notifications are read by the pool
  int rc = kExitUsage;
  {
    Probe probe(*state, flags->sm_layout, wait_ms);
    rc = probe.run(command, rest);
  }
  std::fflush(stdout);
  (*state)->shutdown();
  return rc;
}
