// Multi-process harness for the runtime's integration tests.
//
// Backend: NB_TEST_BACKEND=kernel runs against /dev/binder (the binder-vm ctest); otherwise the
// test starts the built binderd (NB_BINDERD_PATH) in a private temp dir and exports
// NETBINDER_DIR, so every role's resolveDevice(nullopt) picks binderd. Roles run in forked
// children that open their own ProcessState (the parent never touches Binder, so fork is safe).
// Every wait is bounded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace nb::runtime::testing {

bool kernelBackend();

// binderd in a fresh temp dir (no-op for the kernel backend).
class Backend {
 public:
  Backend() = default;
  ~Backend();
  // Starts binderd and sets NETBINDER_DIR (binderd backend), or checks /dev/binder (kernel).
  // Returns "" on success, else why not.
  std::string start();
  void stop();

 private:
  std::string dir_;
  pid_t pid_ = -1;
};

// Runs `body` in a forked child (stdout/stderr kept); the child _exits with its return value.
pid_t spawnRole(const std::function<int()>& body);
// The child's exit code, 128+signal, or -1 after `timeout_ms` (the child is then killed).
int waitRole(pid_t pid, int timeout_ms = 30000);

// A one-way pipe of int64 values between roles.
class Pipe {
 public:
  Pipe();
  ~Pipe();
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
  bool send(int64_t value);
  // False on EOF or timeout.
  bool recv(int64_t* value, int timeout_ms = 20000);
  void closeRead();
  void closeWrite();
  int readFd() const { return fds_[0]; }

 private:
  int fds_[2] = {-1, -1};
};

// Fails a role: prints where and why, returns from the role with exit code 1.
#define ROLE_CHECK(cond)                                                                          \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      std::fprintf(stderr, "[role %d] %s:%d: check failed: %s\n", ::getpid(), __FILE__, __LINE__, \
                   #cond);                                                                        \
      return 1;                                                                                   \
    }                                                                                             \
  } while (0)
#define ROLE_CHECK_OK(expr)                                                                    \
  do {                                                                                         \
    const auto& role_status_ = (expr);                                                         \
    if (!role_status_.ok()) {                                                                  \
      std::fprintf(stderr, "[role %d] %s:%d: %s: %s\n", ::getpid(), __FILE__, __LINE__, #expr, \
                   std::string(role_status_.status().ToString()).c_str());                     \
      return 1;                                                                                \
    }                                                                                          \
  } while (0)

}  // namespace nb::runtime::testing
