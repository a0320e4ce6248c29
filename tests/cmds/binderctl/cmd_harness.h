// Process harness for the cmds integration tests (binderctl, echo): binderd in a private temp dir
// (NETBINDER_DIR exported to every child), a context manager (cmds/servicemanager when built, else
// the runtime tests' TestServiceManager wrapped as an executable), the echo service; commands run
// as child processes with their stdout/stderr captured. Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace nb::cmds::testing {

struct RunResult {
  int rc = -1;  // exit code, 128+signal, or -1 on timeout (the child is killed)
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is a path) with the current environment; captures stdout and stderr.
RunResult runCommand(const std::vector<std::string>& argv, int timeout_ms = 30000);
// "rc=N\nstdout:\n...\nstderr:\n..." for assertion messages.
std::string describe(const RunResult& r);

class Daemons {
 public:
  Daemons() = default;
  ~Daemons();
  Daemons(const Daemons&) = delete;
  Daemons& operator=(const Daemons&) = delete;

  // Starts binderd (+ the context manager, + echo_service and waits until `binderctl check echo`
  // finds it). Returns "" on success, else why not.
  std::string start(bool context_manager, bool echo_service);
  void stop();
  void killEcho();  // SIGKILL to echo_service (dead-object tests)
  const std::string& dir() const { return dir_; }

 private:
  pid_t spawn(const std::vector<std::string>& argv, const std::string& log_name);

  std::string dir_;
  pid_t binderd_ = -1;
  pid_t manager_ = -1;
  pid_t echo_ = -1;
};

// Paths of the built binaries (compile definitions).
std::string binderctlPath();
std::string echoClientPath();

}  // namespace nb::cmds::testing
