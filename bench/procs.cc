#include "bench/procs.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "bench/common.h"

namespace nb::bench {

Procs::~Procs() { stopAll(); }

Procs::Child* Procs::spawn(const std::string& name, const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, bool capture_stdout) {
  const std::string log = log_dir_ + "/" + name + ".log";
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    dieErrno("open log");
  }
  int out[2] = {-1, -1};
  if (capture_stdout && ::pipe2(out, O_CLOEXEC) != 0) {
    dieErrno("pipe");
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    dieErrno("fork");
  }
  if (pid == 0) {
    // The harness is single-threaded, so the environment may be changed here.
    for (const std::string& entry : env) {
      ::putenv(const_cast<char*>(entry.c_str()));
    }
    ::dup2(capture_stdout ? out[1] : log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(log_fd);
  auto child = std::make_unique<Child>();
  child->name = name;
  child->pid = pid;
  if (capture_stdout) {
    ::close(out[1]);
    child->out_fd = out[0];
  }
  children_.push_back(std::move(child));
  return children_.back().get();
}

std::optional<std::string> Procs::readLine(Child* child, int timeout_ms) {
  const int64_t deadline = nowNs() + int64_t{timeout_ms} * 1000000;
  for (;;) {
    const size_t nl = child->pending.find('\n');
    if (nl != std::string::npos) {
      std::string line = child->pending.substr(0, nl);
      child->pending.erase(0, nl + 1);
      return line;
    }
    const int64_t left_ms = (deadline - nowNs()) / 1000000;
    if (child->out_fd < 0 || left_ms <= 0) {
      return std::nullopt;
    }
    pollfd pfd{child->out_fd, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left_ms)) <= 0) {
      continue;
    }
    char buf[4096];
    const ssize_t n = ::read(child->out_fd, buf, sizeof buf);
    if (n <= 0) {
      ::close(child->out_fd);
      child->out_fd = -1;
      continue;
    }
    child->pending.append(buf, static_cast<size_t>(n));
  }
}

bool Procs::finish(Child* child, int timeout_ms) {
  const int64_t deadline = nowNs() + int64_t{timeout_ms} * 1000000;
  int status = 0;
  while (child->pid > 0) {
    const pid_t got = ::waitpid(child->pid, &status, WNOHANG);
    if (got == child->pid) {
      child->pid = -1;
      return WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    if (nowNs() > deadline) {
      stop(child);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

void Procs::stop(Child* child) {
  if (child->out_fd >= 0) {
    ::close(child->out_fd);
    child->out_fd = -1;
  }
  if (child->pid <= 0) {
    return;
  }
  ::kill(child->pid, SIGTERM);
  const int64_t deadline = nowNs() + 2'000'000'000;
  int status = 0;
  while (::waitpid(child->pid, &status, WNOHANG) == 0) {
    if (nowNs() > deadline) {
      ::kill(child->pid, SIGKILL);
      ::waitpid(child->pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  child->pid = -1;
}

Procs::Child* Procs::find(const std::string& name) {
  for (auto& child : children_) {
    if (child->name == name && child->pid > 0) {
      return child.get();
    }
  }
  return nullptr;
}

void Procs::stopAll() {
  // Last started first: clients and gateways before the daemons they use.
  for (auto it = children_.rbegin(); it != children_.rend(); ++it) {
    stop(it->get());
  }
  children_.clear();
}

std::string Procs::logTail(const std::string& name) const {
  std::ifstream in(log_dir_ + "/" + name + ".log");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  std::ostringstream out;
  for (size_t i = lines.size() > 8 ? lines.size() - 8 : 0; i < lines.size(); ++i) {
    out << "    " << lines[i] << "\n";
  }
  return out.str();
}

}  // namespace nb::bench
