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
//
// NAME is looked up with checkService, retried for --wait-ms (default 10000). Every run is
// bounded by --deadline-ms (default 120000): a call that hangs (a lost peer) ends the process
// with a message and exit 1. Exit: 0 ok; 1 a failed check, call or timeout; 10 usage; 20 the
// device cannot be opened or NAME is not registered. Errors are one line on stderr, prefixed
// "gw_probe: ".
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
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
    "  echo NAME TEXT | callback NAME | oneway NAME N | lookup NAME OTHER TEXT |\n"
    "  death NAME TIMEOUT_MS | wait-service NAME TIMEOUT_MS | wait-gone NAME TIMEOUT_MS |\n"
    "  gw-state\n";

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
  int callback(const std::string& name);
  int oneway(const std::string& name, long count);
  int lookup(const std::string& name, const std::string& other, const std::string& text);
  int death(const std::string& name, long timeout_ms);
  int waitFor(const std::string& name, bool present, long timeout_ms);
  int gatewayState();

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

}  // namespace

int main(int argc, char** argv) {
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
