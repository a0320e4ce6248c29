// echo_service: serves netbinder.example.IEcho (cmds/echo/echo_interface.h) as "echo".
//
//   echo_service [--name NAME] [--timeout-ms N] [common flags]
//
// Registers with the context manager (retrying for up to --timeout-ms, default 10000, while no
// manager answers), prints "echo_service: registered as NAME" and serves until killed. SIGPIPE is
// ignored: dumpTo and socketEcho write into fds whose reader may be gone (EPIPE is reported).
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "cmds/echo/echo_interface.h"
#include "runtime/binder_status.h"
#include "runtime/device_flags.h"
#include "runtime/service_manager.h"

namespace {

int usage(std::ostream& os, int code) {
  os << "usage: echo_service [--name NAME] [--timeout-ms N] [common flags]\n"
     << nb::runtime::commonFlagsUsage();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  namespace rt = nb::runtime;
  namespace echo = nb::examples::echo;
  std::signal(SIGPIPE, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<rt::CommonFlags> flags = rt::parseCommonFlags(args);
  if (!flags.ok()) {
    std::cerr << "echo_service: " << flags.status().message() << "\n";
    return usage(std::cerr, 10);
  }
  std::string name = echo::kEchoServiceName;
  long timeout_ms = 10000;
  for (size_t i = 0; i < args.size(); ++i) {
    if ((args[i] == "--name" || args[i] == "--timeout-ms") && i + 1 < args.size()) {
      if (args[i] == "--name") {
        name = args[++i];
      } else {
        char* end = nullptr;
        timeout_ms = std::strtol(args[++i].c_str(), &end, 10);
        if (*end != '\0' || timeout_ms < 0) {
          std::cerr << "echo_service: bad --timeout-ms " << args[i] << "\n";
          return 10;
        }
      }
    } else if (args[i] == "-h" || args[i] == "--help") {
      return usage(std::cout, 0);
    } else {
      std::cerr << "echo_service: unknown argument " << args[i] << "\n";
      return usage(std::cerr, 10);
    }
  }

  absl::StatusOr<std::shared_ptr<rt::ProcessState>> state =
      rt::ProcessState::open(flags->processOptions());
  if (!state.ok()) {
    std::cerr << "echo_service: cannot open " << flags->deviceSpec().toString() << ": "
              << state.status().message() << "\n";
    return 1;
  }
  (*state)->startThreadPool();
  auto service = std::make_shared<echo::EchoService>(
      *state, rt::serviceManagerHeaderFormat(flags->sm_layout), flags->sm_layout);
  rt::ServiceManager sm(*state, flags->sm_layout);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  absl::Status added;
  for (auto backoff = std::chrono::milliseconds(10);;
       backoff = std::min(backoff * 2, std::chrono::milliseconds(500))) {
    added = sm.addService(name, service);
    if (added.ok() || std::chrono::steady_clock::now() + backoff > deadline) {
      break;
    }
    std::this_thread::sleep_for(backoff);
  }
  if (!added.ok()) {
    std::cerr << "echo_service: cannot register " << name << ": " << added.message() << "\n";
    (*state)->shutdown();
    return rt::isDeadObject(added) ? 20 : 1;
  }
  std::printf("echo_service: registered as %s\n", name.c_str());
  std::fflush(stdout);
  (*state)->joinThreadPool();
  return 0;
}
