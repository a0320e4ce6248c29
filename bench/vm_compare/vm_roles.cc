#include "bench/vm_compare/vm_roles.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/common.h"
#include "bench/raw_echo.h"
#include "local_driver/io/daemon.h"
#include "runtime/binder.h"
#include "runtime/device.h"
#include "runtime/parcel_binder.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"
#include "runtime/raw_call.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace nb::bench::vmcmp {
namespace {

// As bench/binder_roles.cc: 4 MiB receive areas (the kernel's maximum) so that 1 MiB fits, and a
// started pool.
std::shared_ptr<runtime::ProcessState> openState(const Flags& flags, uint32_t max_threads) {
  runtime::ProcessOptions options;
  auto device = flags.find("device");
  options.device = runtime::resolveDevice(
      device == flags.end() ? std::nullopt : std::optional<std::string>(device->second));
  options.receive_area_size = kBenchReceiveArea;
  options.max_threads = max_threads;
  // binderd's socket path exists a moment before it accepts: retry for up to 10 s.
  auto state = runtime::ProcessState::open(options);
  for (int attempt = 0; !state.ok() && attempt < 200; ++attempt) {
    ::usleep(50000);
    state = runtime::ProcessState::open(options);
  }
  if (!state.ok()) {
    die(absl::StrCat("open ", options.device.toString(), ": ", state.status().ToString()));
  }
  (*state)->startThreadPool();
  return *state;
}

// The echo node: bench/binder_roles.cc's BenchNode for kEchoCode (the reply is the request's
// bytes, straight from the received buffer).
class EchoNode final : public runtime::LocalBinder {
 public:
  EchoNode() : LocalBinder(u"netbinder.bench.INode") {}

  bool takesRawTransactions() const override { return true; }

  void onRawTransaction(const runtime::RawTransaction& call,
                        runtime::RawResponder* responder) override {
    if (responder == nullptr) {
      return;
    }
    if (call.tr.code == kEchoCode) {
      (void)responder->replyBuffer({call.buffer.data, {}, {}}, 0);
    } else {
      (void)responder->replyStatus(-74);  // UNKNOWN_TRANSACTION
    }
  }
};

// The context manager: hands out the echo node, as a service manager would.
class Hub final : public runtime::LocalBinder {
 public:
  explicit Hub(std::shared_ptr<EchoNode> echo)
      : LocalBinder(u"netbinder.bench.IHub"), echo_(std::move(echo)) {}

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override {
    if (code != kGetEchoCode || reply == nullptr) {
      return LocalBinder::onTransact(code, data, reply, flags);
    }
    runtime::writeBinder(*reply, echo_);
    return absl::OkStatus();
  }

 private:
  const std::shared_ptr<EchoNode> echo_;
};

}  // namespace

int runBinderdRole(const Flags& flags) {
  const std::string dir = flagOr(flags, "dir", "");
  if (dir.empty()) {
    die("--role binderd needs --dir");
  }
  // stdout is not for logs here; warnings and errors go to stderr (the role's log file).
  auto logger = spdlog::stderr_color_mt("binderd");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);
  driver::io::DaemonOptions options;
  options.dir = dir;
  return driver::io::runDaemon(options);
}

int runServerRole(const Flags& flags) {
  auto state = openState(flags, 16);
  auto echo = std::make_shared<EchoNode>();
  auto hub = std::make_shared<Hub>(echo);
  absl::Status became;
  // A manager of an earlier run may still be going away (the kernel answers EBUSY meanwhile).
  for (int attempt = 0; attempt < 250; ++attempt) {
    became = state->becomeContextManager(hub);
    if (became.ok()) {
      break;
    }
    ::usleep(20000);
  }
  if (!became.ok()) {
    die(absl::StrCat("becomeContextManager: ", became.ToString()));
  }
  std::printf("ready %s\n", state->options().device.toString().c_str());
  std::fflush(stdout);
  state->joinThreadPool();
  return 0;
}

int runClientRole(const Flags& flags) {
  const double scale = doubleFlag(flags, "scale", 1.0);
  const auto max_ms = static_cast<int64_t>(doubleFlag(flags, "max-ms", 2000));
  auto state = openState(flags, 4);
  std::printf("backend %s\n", state->options().device.toString().c_str());

  // The echo node's handle, from the hub (handle 0).
  codec::ParcelWriter request;
  auto reply = state->contextObject()->transact(kGetEchoCode, request);
  if (!reply.ok()) {
    die(absl::StrCat("hub call: ", reply.status().ToString()));
  }
  codec::ParcelReader reader = reply->reader();
  auto echo = runtime::readBinder(reader, *state);
  if (!echo.ok() || *echo == nullptr || (*echo)->asProxy() == nullptr) {
    die(absl::StrCat("hub reply: ", echo.ok() ? "not a handle" : echo.status().ToString()));
  }
  const uint32_t handle = (*echo)->asProxy()->handle();
  reply->release();

  printEchoRtts(*state, handle, kEchoCode, flagOr(flags, "sizes", "0"), scale, max_ms);
  std::printf("done\n");
  std::fflush(stdout);
  // Leave without tearing the pool down politely, as bench's clients do.
  std::_Exit(0);
}

}  // namespace nb::bench::vmcmp
