// The harness's children: spawned with fork + exec (inheriting the harness's CPU affinity, which
// is how a placement reaches every process), stdout optionally captured for result lines, stderr
// (and uncaptured stdout) into DIR/NAME.log. Every child is stopped (SIGTERM, then SIGKILL after
// 2 s) by stop() or when the Procs goes. Single-threaded use only.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace nb::bench {

class Procs {
 public:
  struct Child {
    std::string name;
    pid_t pid = -1;
    int out_fd = -1;      // the read end of its stdout, when captured
    std::string pending;  // bytes read past the last returned line
  };

  explicit Procs(std::string log_dir) : log_dir_(std::move(log_dir)) {}
  ~Procs();
  Procs(const Procs&) = delete;
  Procs& operator=(const Procs&) = delete;

  // argv[0] is the program path. `env` entries are KEY=VALUE added to the inherited environment.
  Child* spawn(const std::string& name, const std::vector<std::string>& argv,
               const std::vector<std::string>& env, bool capture_stdout);
  // The next stdout line of `child`, or nullopt on EOF / after `timeout_ms`.
  std::optional<std::string> readLine(Child* child, int timeout_ms);
  // Waits for the child to exit by itself (bounded), then stops it; true if it exited with 0.
  bool finish(Child* child, int timeout_ms);
  void stop(Child* child);
  // The running child called `name`, or null.
  Child* find(const std::string& name);
  void stopAll();
  // The last lines of NAME.log, for error messages.
  std::string logTail(const std::string& name) const;

 private:
  const std::string log_dir_;
  std::vector<std::unique_ptr<Child>> children_;
};

}  // namespace nb::bench
