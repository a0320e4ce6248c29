#include "tests/runtime/harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace nb::runtime::testing {
namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[maybe_unused]] bool connectable(const std::string& path) {
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

}  // namespace

bool kernelBackend() {
  const char* backend = std::getenv("NB_TEST_BACKEND");
#ifndef NB_BINDERD_PATH
  (void)backend;
  return true;  // the static (binder-vm) build has no binderd
#else
  return backend != nullptr && std::string(backend) == "kernel";
#endif
}

Backend::~Backend() { stop(); }

std::string Backend::start() {
  if (kernelBackend()) {
    ::unsetenv("NETBINDER_DIR");
    struct stat st {};
    if (::stat("/dev/binder", &st) != 0 || !S_ISCHR(st.st_mode)) {
      return "no /dev/binder character device";
    }
    return "";
  }
#ifdef NB_BINDERD_PATH
  char tmpl[] = "/tmp/nb-runtime-test.XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return "mkdtemp failed";
  }
  dir_ = tmpl;
  pid_ = ::fork();
  if (pid_ == 0) {
    if (std::getenv("NB_TEST_DAEMON_LOG") == nullptr) {
      int devnull = ::open("/dev/null", O_WRONLY);
      ::dup2(devnull, 2);
    }
    ::execl(NB_BINDERD_PATH, NB_BINDERD_PATH, "--dir", dir_.c_str(), "--log-level", "warn",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const int64_t deadline = nowMs() + 10000;
  while (!connectable(dir_ + "/binder")) {
    if (nowMs() > deadline) {
      return "binderd did not come up";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::setenv("NETBINDER_DIR", dir_.c_str(), 1);
  return "";
#else
  return "built without binderd";
#endif
}

void Backend::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    if (waitRole(pid_, 5000) < 0) {
      ::kill(pid_, SIGKILL);
    }
    pid_ = -1;
  }
  if (!dir_.empty()) {
    ::unsetenv("NETBINDER_DIR");
    std::string cmd = "rm -rf '" + dir_ + "'";
    [[maybe_unused]] int rc = std::system(cmd.c_str());
    dir_.clear();
  }
}

pid_t spawnRole(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = body();
    std::fflush(nullptr);
    ::_exit(rc);
  }
  return pid;
}

int waitRole(pid_t pid, int timeout_ms) {
  const int64_t deadline = nowMs() + timeout_ms;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
      }
      return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (nowMs() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Pipe::Pipe() {
  if (::pipe2(fds_, O_CLOEXEC) != 0) {
    fds_[0] = fds_[1] = -1;
  }
}

Pipe::~Pipe() {
  closeRead();
  closeWrite();
}

bool Pipe::send(int64_t value) {
  return ::write(fds_[1], &value, sizeof(value)) == static_cast<ssize_t>(sizeof(value));
}

bool Pipe::recv(int64_t* value, int timeout_ms) {
  pollfd pfd{fds_[0], POLLIN, 0};
  int r = 0;
  do {
    r = ::poll(&pfd, 1, timeout_ms);
  } while (r < 0 && errno == EINTR);
  if (r <= 0) {
    return false;
  }
  return ::read(fds_[0], value, sizeof(*value)) == static_cast<ssize_t>(sizeof(*value));
}

void Pipe::closeRead() {
  if (fds_[0] >= 0) {
    ::close(fds_[0]);
    fds_[0] = -1;
  }
}

void Pipe::closeWrite() {
  if (fds_[1] >= 0) {
    ::close(fds_[1]);
    fds_[1] = -1;
  }
}

}  // namespace nb::runtime::testing
