// A context-manager executable for the cmds tests when cmds/servicemanager is not built: the
// runtime tests' TestServiceManager (newest layout) as handle 0 until SIGTERM.
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "runtime/process_state.h"
#include "tests/runtime/test_service_manager.h"

int main() {
  namespace rt = nb::runtime;
  auto state = rt::ProcessState::open(rt::ProcessOptions{});
  if (!state.ok()) {
    std::fprintf(stderr, "test_context_manager: %s\n", state.status().ToString().c_str());
    return 1;
  }
  auto manager = std::make_shared<rt::testing::TestServiceManager>(*state);
  absl::Status status;
  for (int i = 0; i < 250; ++i) {  // a previous manager may still be being released
    status = (*state)->becomeContextManager(manager);
    if (!absl::IsUnavailable(status)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!status.ok()) {
    std::fprintf(stderr, "test_context_manager: %s\n", status.ToString().c_str());
    return 1;
  }
  (*state)->joinThreadPool();
  return 0;
}
