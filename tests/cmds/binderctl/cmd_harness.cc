#include "tests/cmds/binderctl/cmd_harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace nb::cmds::testing {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

bool connectable(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::vector<char*> cArgs(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const auto& a : argv) {
    out.push_back(const_cast<char*>(a.c_str()));
  }
  out.push_back(nullptr);
  return out;
}

// Exit code, 128+signal, or -1 after the deadline (then killed).
int waitChild(pid_t pid, int64_t deadline_ms) {
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status)
                               : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (nowMs() > deadline_ms) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void terminate(pid_t* pid) {
  if (*pid > 0) {
    ::kill(*pid, SIGTERM);
    if (waitChild(*pid, nowMs() + 3000) < 0) {
      ::kill(*pid, SIGKILL);
    }
    *pid = -1;
  }
}

}  // namespace

std::string binderctlPath() { return NB_BINDERCTL_PATH; }
std::string echoClientPath() { return NB_ECHO_CLIENT_PATH; }

RunResult runCommand(const std::vector<std::string>& argv, int timeout_ms) {
  RunResult result;
  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.err = "pipe failed";
    return result;
  }
  std::vector<char*> args = cArgs(argv);
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    ::execv(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  const int64_t deadline = nowMs() + timeout_ms;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0 && nowMs() < deadline) {
    int r = ::poll(fds, 2, 50);
    if (r < 0 && errno != EINTR) {
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
        char buf[4096];
        ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n > 0) {
          sinks[i]->append(buf, static_cast<size_t>(n));
        } else if (n == 0 || errno != EINTR) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
          --open_fds;
        }
      }
    }
  }
  for (auto& p : fds) {
    if (p.fd >= 0) {
      ::close(p.fd);
    }
  }
  result.rc = waitChild(pid, std::max<int64_t>(deadline, nowMs() + 100));
  return result;
}

std::string describe(const RunResult& r) {
  return "rc=" + std::to_string(r.rc) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

Daemons::~Daemons() { stop(); }

pid_t Daemons::spawn(const std::vector<std::string>& argv, const std::string& log_name) {
  std::vector<char*> args = cArgs(argv);
  const std::string log = dir_ + "/" + log_name + ".log";
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

std::string Daemons::start(bool context_manager, bool echo_service) {
  char tmpl[] = "/tmp/nb-cmds-test.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return "mkdtemp failed";
  }
  dir_ = tmpl;
  binderd_ = spawn({NB_BINDERD_PATH, "--dir", dir_, "--log-level", "warn"}, "binderd");
  int64_t deadline = nowMs() + 10000;
  while (!connectable(dir_ + "/binder")) {
    if (nowMs() > deadline) {
      return "binderd did not come up";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::setenv("NETBINDER_DIR", dir_.c_str(), 1);
  deadline = nowMs() + 10000;
  if (context_manager) {
    manager_ = spawn({NB_CONTEXT_MANAGER_PATH}, "servicemanager");
    // The manager is up when a PING to handle 0 answers: `binderctl check` exits 20 until then.
    RunResult r;
    do {
      r = runCommand({binderctlPath(), "check", "nothing"}, 5000);
      if (r.rc == 0) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (nowMs() < deadline);
    if (r.rc != 0) {
      return "the context manager did not come up: " + describe(r);
    }
  }
  deadline = nowMs() + 10000;
  if (echo_service) {
    echo_ = spawn({NB_ECHO_SERVICE_PATH}, "echo_service");
    RunResult r;
    do {
      r = runCommand({binderctlPath(), "check", "echo"}, 5000);
      if (r.rc == 0 && r.out.find(": found") != std::string::npos) {
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (nowMs() < deadline);
    return "echo_service did not register: " + describe(r);
  }
  return "";
}

void Daemons::killEcho() {
  if (echo_ > 0) {
    ::kill(echo_, SIGKILL);
    waitChild(echo_, nowMs() + 5000);
    echo_ = -1;
  }
}

void Daemons::stop() {
  terminate(&echo_);
  terminate(&manager_);
  terminate(&binderd_);
  if (!dir_.empty()) {
    ::unsetenv("NETBINDER_DIR");
    if (std::getenv("NB_TEST_KEEP_DIR") == nullptr) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
    dir_.clear();
  }
}

}  // namespace nb::cmds::testing
