// servicemanager: the Binder context manager speaking AOSP's IServiceManager (options.h for the
// flags). Runs a looper pool until SIGTERM/SIGINT.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cmds/servicemanager/binding.h"
#include "cmds/servicemanager/handler.h"
#include "cmds/servicemanager/options.h"
#include "runtime/device_flags.h"
#include "runtime/process_state.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"

namespace sm = nb::servicemanager;
namespace rt = nb::runtime;

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<rt::CommonFlags> flags = rt::parseCommonFlags(args);
  if (!flags.ok()) {
    std::cerr << "servicemanager: " << flags.status().message() << "\n"
              << sm::usage() << rt::commonFlagsUsage();
    return 2;
  }
  absl::StatusOr<sm::Options> options = sm::parseOptions(args, flags->sm_layout);
  if (!options.ok()) {
    std::cerr << "servicemanager: " << options.status().message() << "\n"
              << sm::usage() << rt::commonFlagsUsage();
    return 2;
  }
  if (options->help) {
    std::cout << sm::usage() << rt::commonFlagsUsage();
    return 0;
  }
  spdlog::set_default_logger(spdlog::stderr_color_mt("servicemanager"));
  spdlog::set_level(spdlog::level::from_str(options->log_level));

  std::vector<std::string> declared;
  if (options->declared_file.has_value()) {
    std::ifstream in(*options->declared_file);
    if (!in) {
      spdlog::error("cannot read --declared {}", *options->declared_file);
      return 2;
    }
    std::stringstream text;
    text << in.rdbuf();
    absl::StatusOr<std::vector<std::string>> parsed = sm::parseDeclared(text.str());
    if (!parsed.ok()) {
      spdlog::error("{}: {}", *options->declared_file, std::string(parsed.status().message()));
      return 2;
    }
    declared = *std::move(parsed);
  }

  // Signals go to the sigwait below, not to the looper threads.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const rt::ProcessOptions process_options = flags->processOptions();
  absl::StatusOr<std::shared_ptr<rt::ProcessState>> state = rt::ProcessState::open(process_options);
  if (!state.ok()) {
    spdlog::error("cannot open {}: {}", process_options.device.toString(),
                  std::string(state.status().message()));
    return 1;
  }
  sm::RuntimeEnv env(*state);
  sm::HandlerOptions handler_options;
  handler_options.layout = options->layout;
  handler_options.allow_add = options->allow_add;
  sm::ServiceManagerHandler handler(handler_options, env);
  handler.registry().setDeclared(declared);
  env.setHandler(&handler);
  auto binder = std::make_shared<sm::ServiceManagerBinder>(handler);

  // A previous manager being released answers EBUSY for a moment: retry briefly.
  absl::Status became = (*state)->becomeContextManager(binder);
  for (int i = 0; i < 40 && absl::IsUnavailable(became); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    became = (*state)->becomeContextManager(binder);
  }
  if (!became.ok()) {
    spdlog::error("cannot become the context manager on {}: {}", process_options.device.toString(),
                  std::string(became.message()));
    return 1;
  }
  (*state)->startThreadPool();
  spdlog::info("context manager on {} (Android {} layout{}{}, {} declared instances)",
               process_options.device.toString(), rt::serviceManagerLayoutName(options->layout),
               rt::isLegacyServiceManager(options->layout) ? ", legacy numeric protocol" : "",
               options->allow_add.has_value() ? ", addService allow-list" : "", declared.size());

  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  spdlog::info("signal {}: stopping", sig);
  env.setHandler(nullptr);
  if (!(*state)->shutdown()) {
    spdlog::warn("looper threads did not stop in time");
    std::fflush(nullptr);
    std::_Exit(0);  // a looper may still use the handler: skip destructors; the driver cleans up
  }
  return 0;
}
