#include "bench/binder_roles.h"

#include <fcntl.h>
#include <linux/android/binder.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/common.h"
#include "bench/raw_echo.h"
#include "runtime/binder.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"
#include "runtime/raw_call.h"
#include "runtime/service_manager.h"

namespace nb::bench {
namespace {

std::shared_ptr<runtime::ProcessState> openState(uint32_t max_threads) {
  runtime::ProcessOptions options;
  options.receive_area_size = kBenchReceiveArea;
  options.max_threads = max_threads;
  auto state = runtime::ProcessState::open(options);
  if (!state.ok()) {
    die(absl::StrCat("open binder: ", state.status().ToString()));
  }
  (*state)->startThreadPool();
  return *state;
}

// The oneways every node of this server has counted (one counter for all nodes).
struct Counter {
  std::mutex mu;
  std::condition_variable cv;
  uint64_t count = 0;  // guarded by mu
};

class BenchNode final : public runtime::LocalBinder {
 public:
  explicit BenchNode(Counter* counter) : LocalBinder(u"netbinder.bench.INode"), counter_(counter) {}

  bool takesRawTransactions() const override { return true; }

  void onRawTransaction(const runtime::RawTransaction& call,
                        runtime::RawResponder* responder) override {
    switch (call.tr.code) {
      case kEchoCode:
        if (responder != nullptr) {
          (void)responder->replyBuffer({call.buffer.data, {}, {}}, 0);
        }
        return;
      case kCountCode: {
        std::lock_guard lock(counter_->mu);
        ++counter_->count;
        counter_->cv.notify_all();
        return;
      }
      case kWaitCountCode: {
        uint64_t target = 0;
        if (call.buffer.data.size() >= sizeof target) {
          std::memcpy(&target, call.buffer.data.data(), sizeof target);
        }
        uint64_t count = 0;
        {
          std::unique_lock lock(counter_->mu);
          counter_->cv.wait_for(lock, std::chrono::seconds(30),
                                [&] { return counter_->count >= target; });
          count = counter_->count;
        }
        if (responder != nullptr) {
          const auto* bytes = reinterpret_cast<const uint8_t*>(&count);
          (void)responder->replyBuffer({{bytes, sizeof count}, {}, {}}, 0);
        }
        return;
      }
      case kSinkCode:
        if (responder != nullptr) {
          (void)responder->replyBuffer({}, 0);
        }
        return;
      case kDumpCode:
        if (responder != nullptr) {
          const int err = dump(call.buffer);
          if (err == 0) {
            (void)responder->replyBuffer({}, 0);
          } else {
            (void)responder->replyStatus(-err);
          }
        }
        return;
      default:
        if (responder != nullptr) {
          (void)responder->replyStatus(-74);  // UNKNOWN_TRANSACTION
        }
    }
  }

  // kDump: an fd object at offset 0, then the uint64 byte count. 0 or an errno.
  static int dump(const runtime::RawBuffer& buffer) {
    binder_fd_object object{};
    uint64_t bytes = 0;
    if (buffer.offsets.size() != 1 || buffer.offsets[0] != 0 ||
        buffer.data.size() < sizeof object + sizeof bytes) {
      return EINVAL;
    }
    std::memcpy(&object, buffer.data.data(), sizeof object);
    std::memcpy(&bytes, buffer.data.data() + sizeof object, sizeof bytes);
    if (object.hdr.type != BINDER_TYPE_FD) {
      return EINVAL;
    }
    const int fd = static_cast<int>(object.fd);
    // One period (256) longer than a write, so that any write can start at done % 256.
    static const std::vector<uint8_t> chunk = makePayload(kDumpChunk + 256);
    uint64_t done = 0;
    while (done < bytes) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kDumpChunk, bytes - done));
      const ssize_t wrote = ::write(fd, chunk.data() + (done % 256), n);
      if (wrote < 0) {
        if (errno == EINTR) {
          continue;
        }
        return errno;
      }
      done += static_cast<uint64_t>(wrote);
    }
    return 0;
  }
  static constexpr size_t kDumpChunk = 64 * 1024;

 private:
  Counter* const counter_;
};

// A service looked up by name, held for the client's lifetime.
struct Target {
  std::shared_ptr<runtime::IBinder> binder;
  uint32_t handle = 0;
};

Target lookup(const std::shared_ptr<runtime::ProcessState>& state, const std::string& name) {
  runtime::ServiceManager sm(state);
  auto binder = sm.waitForService(name, std::chrono::seconds(30));
  if (!binder.ok() || *binder == nullptr || (*binder)->asProxy() == nullptr) {
    die(absl::StrCat("service ", name,
                     " not found: ", binder.ok() ? "null" : binder.status().ToString()));
  }
  return {*binder, (*binder)->asProxy()->handle()};
}

void call(runtime::ProcessState& state, uint32_t handle, uint32_t code,
          std::span<const uint8_t> data, std::optional<size_t> expect) {
  if (std::string error = rawCallProblem(state, handle, code, data, expect); !error.empty()) {
    die(error);
  }
}

uint64_t waitCount(runtime::ProcessState& state, uint32_t handle, uint64_t target) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(&target);
  auto result =
      runtime::transactRaw(state, handle, kWaitCountCode, 0, {{bytes, sizeof target}, {}, {}});
  if (!result.ok() || result->outcome != runtime::RawOutcome::kReply ||
      result->parcel.dataSize() < sizeof(uint64_t)) {
    die("waitCount failed");
  }
  uint64_t count = 0;
  std::memcpy(&count, result->parcel.data().data(), sizeof count);
  return count;
}

void runRtt(const std::shared_ptr<runtime::ProcessState>& state, const Target& target,
            const Flags& flags) {
  const double scale = doubleFlag(flags, "scale", 1.0);
  const int64_t max_ms = intFlag(flags, "max-ms", 3000);
  printEchoRtts(*state, target.handle, kEchoCode, flagOr(flags, "sizes", "0"), scale, max_ms);
}

void runOneway(const std::shared_ptr<runtime::ProcessState>& state, const std::string& service,
               const Flags& flags) {
  const size_t size = static_cast<size_t>(intFlag(flags, "size", 128));
  const int64_t nodes = intFlag(flags, "nodes", 1);
  const size_t count = static_cast<size_t>(intFlag(flags, "count", 10000));
  // service is PREFIX0: the other nodes are PREFIX1.. .
  const std::string prefix = service.substr(0, service.size() - 1);
  std::vector<Target> targets;
  for (int64_t i = 0; i < nodes; ++i) {
    targets.push_back(lookup(state, absl::StrCat(prefix, i)));
  }
  const std::vector<uint8_t> payload = makePayload(size);
  const uint64_t base = waitCount(*state, targets[0].handle, 0);
  size_t refused = 0;
  const int64_t start = nowNs();
  for (size_t i = 0; i < count; ++i) {
    const uint32_t handle = targets[i % targets.size()].handle;
    for (;;) {
      auto result = runtime::transactRaw(*state, handle, kCountCode, TF_ONE_WAY, {payload, {}, {}});
      if (!result.ok()) {
        die(absl::StrCat("oneway: ", result.status().ToString()));
      }
      if (result->outcome == runtime::RawOutcome::kReply) {
        break;
      }
      // The target's async space is full: let it drain (counted, reported on stderr), for 30 s
      // at most.
      ++refused;
      if (nowNs() - start > 30'000'000'000) {
        die(absl::StrCat("one-way calls still refused after 30 s (outcome ",
                         static_cast<int>(result->outcome), ")"));
      }
      std::this_thread::yield();
    }
  }
  waitCount(*state, targets[0].handle, base + count);
  const int64_t elapsed = nowNs() - start;
  if (refused != 0) {
    std::fprintf(stderr, "bench: %zu one-way sends refused (async space full) and retried\n",
                 refused);
  }
  std::printf("%s\n", rateLine(size, count, elapsed).c_str());
}

void runThreads(const std::shared_ptr<runtime::ProcessState>& state, const Target& target,
                const Flags& flags) {
  const int64_t threads = intFlag(flags, "threads", 1);
  const size_t size = static_cast<size_t>(intFlag(flags, "size", 128));
  const bool sink = flagOr(flags, "code", "echo") == "sink";
  const uint32_t code = sink ? kSinkCode : kEchoCode;
  const size_t expect = sink ? 0 : size;
  const int64_t duration_ns = intFlag(flags, "ms", 1000) * 1000000;
  const std::vector<uint8_t> payload = makePayload(size);
  std::atomic<bool> go{false};
  std::atomic<size_t> total{0};
  int64_t start = 0;
  std::vector<std::thread> workers;
  for (int64_t t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      while (!go.load()) {
        std::this_thread::yield();
      }
      size_t calls = 0;
      const int64_t deadline = start + duration_ns;
      while (nowNs() < deadline) {
        call(*state, target.handle, code, payload, expect);
        ++calls;
      }
      total += calls;
    });
  }
  start = nowNs();
  go = true;
  for (auto& worker : workers) {
    worker.join();
  }
  std::printf("%s\n", rateLine(size, total.load(), nowNs() - start).c_str());
}

// kDump through a pipe: the service writes `bytes` into our pipe's write end (passed as an fd
// object), a thread reads the read end until EOF and checks the pattern. MB/s from the call's
// start to EOF (the service's copy of the write end is closed after its reply).
void runPipe(const std::shared_ptr<runtime::ProcessState>& state, const Target& target,
             const Flags& flags) {
  const uint64_t bytes = static_cast<uint64_t>(intFlag(flags, "bytes", 1 << 20));
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    dieErrno("pipe2");
  }
  uint64_t got = 0;
  bool mismatch = false;
  int64_t eof_ns = 0;
  std::atomic<bool> eof{false};
  std::thread reader([&] {
    const std::vector<uint8_t> reference = makePayload(64 * 1024 + 256);
    std::vector<uint8_t> buf(64 * 1024);
    for (;;) {
      const ssize_t n = ::read(p[0], buf.data(), buf.size());
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        break;
      }
      if (std::memcmp(buf.data(), reference.data() + (got % 256), static_cast<size_t>(n)) != 0) {
        mismatch = true;
      }
      got += static_cast<uint64_t>(n);
    }
    eof_ns = nowNs();
    eof = true;
  });
  std::vector<uint8_t> request(sizeof(binder_fd_object) + sizeof bytes);
  binder_fd_object object{};
  object.hdr.type = BINDER_TYPE_FD;
  object.fd = static_cast<uint32_t>(p[1]);
  std::memcpy(request.data(), &object, sizeof object);
  std::memcpy(request.data() + sizeof object, &bytes, sizeof bytes);
  const binder_size_t offsets[] = {0};
  const int64_t start = nowNs();
  auto result = runtime::transactRaw(*state, target.handle, kDumpCode, 0,
                                     {request, std::span<const binder_size_t>(offsets), {}});
  ::close(p[1]);  // ours; the service's copy goes with its request buffer: then EOF
  std::string error;
  if (!result.ok()) {
    error = absl::StrCat("transact: ", result.status().ToString());
  } else if (result->outcome == runtime::RawOutcome::kStatusCode) {
    error = absl::StrCat("status reply ", result->status);
  } else if (result->outcome == runtime::RawOutcome::kFailedReply) {
    error = absl::StrCat("BR_FAILED_REPLY errno ", result->error_errno, " (",
                         std::strerror(result->error_errno), ")");
  } else if (result->outcome != runtime::RawOutcome::kReply) {
    error = absl::StrCat("outcome ", static_cast<int>(result->outcome));
  }
  // EOF within 60 s of the reply, else "no EOF" (the reader may block forever: we _Exit).
  const int64_t deadline = nowNs() + 60'000'000'000;
  while (error.empty() && !eof.load() && nowNs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (error.empty() && !eof.load()) {
    error = absl::StrCat("no EOF within 60 s of the reply (read ", got, " bytes)");
  }
  if (!error.empty()) {
    std::printf("fail %llu %s\n", static_cast<unsigned long long>(bytes), error.c_str());
    std::fflush(stdout);
    std::_Exit(0);
  }
  reader.join();
  if (got != bytes || mismatch) {
    error = absl::StrCat("read ", got, " of ", bytes, " bytes", mismatch ? ", pattern wrong" : "");
  }
  if (!error.empty()) {
    std::printf("fail %llu %s\n", static_cast<unsigned long long>(bytes), error.c_str());
    return;
  }
  ::close(p[0]);
  std::printf("%s\n", rateLine(static_cast<size_t>(bytes), 1, eof_ns - start).c_str());
}

}  // namespace

int runBinderServer(const Flags& flags) {
  const int64_t nodes = intFlag(flags, "nodes", 4);
  const std::string prefix = flagOr(flags, "prefix", "bench.");
  ::signal(SIGPIPE, SIG_IGN);  // kDump into a closed pipe is EPIPE, not death
  auto state = openState(16);
  Counter counter;
  std::vector<std::shared_ptr<BenchNode>> objects;
  runtime::ServiceManager sm(state);
  for (int64_t i = 0; i < nodes; ++i) {
    objects.push_back(std::make_shared<BenchNode>(&counter));
    const std::string name = absl::StrCat(prefix, i);
    // The service manager may still be starting: retry for 10 s.
    absl::Status added;
    for (int attempt = 0; attempt < 200; ++attempt) {
      added = sm.addService(name, objects.back());
      if (added.ok()) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!added.ok()) {
      die(absl::StrCat("addService ", name, ": ", added.ToString()));
    }
  }
  std::printf("ready\n");
  std::fflush(stdout);
  state->joinThreadPool();
  return 0;
}

int runBinderClient(const Flags& flags) {
  const std::string service = flagOr(flags, "service", "bench.0");
  const std::string mode = flagOr(flags, "mode", "rtt");
  auto state = openState(4);
  if (mode == "oneway") {
    runOneway(state, service, flags);
  } else {
    const Target target = lookup(state, service);
    if (mode == "idle") {
      // One call (the connection and its receive area exist), then idle until killed.
      call(*state, target.handle, kEchoCode, makePayload(128), 128);
      std::printf("ready\n");
      std::fflush(stdout);
      for (;;) {
        ::pause();
      }
    }
    if (mode == "rtt") {
      runRtt(state, target, flags);
    } else if (mode == "threads") {
      runThreads(state, target, flags);
    } else if (mode == "pipe") {
      runPipe(state, target, flags);
    } else {
      die(absl::StrCat("unknown --mode ", mode));
    }
  }
  std::fflush(stdout);
  // Leave without tearing the pool down politely: the harness only needs the lines.
  std::_Exit(0);
}

}  // namespace nb::bench
