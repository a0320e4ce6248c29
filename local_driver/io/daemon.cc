#include "local_driver/io/daemon.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "local_driver/client/seqpacket.h"
#include "local_driver/io/device_server.h"
#include "spdlog/spdlog.h"

namespace nb::driver::io {
namespace {

int listenOn(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    errno = ENAMETOOLONG;
    return -1;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    return -1;
  }
  // We hold the lock, so a socket file left here belongs to a dead daemon: replace it.
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::chmod(path.c_str(), 0666) != 0 || ::listen(fd, 128) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  return fd;
}

// Holds DIR/binderd.lock with flock for the daemon's lifetime. Returns the fd, or -1 with errno
// (EWOULDBLOCK: a live binderd holds it).
int takeLock(const std::string& dir) {
  std::string path = dir + "/" + kLockFileName;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    errno = err;
    return -1;
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] ssize_t w = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return fd;
}

std::string readLockOwner(const std::string& dir) {
  std::string path = dir + "/" + kLockFileName;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return "?";
  }
  char buf[32] = {};
  ssize_t n = ::read(fd, buf, sizeof(buf) - 1);
  ::close(fd);
  std::string owner(buf, n > 0 ? static_cast<size_t>(n) : 0);
  while (!owner.empty() && (owner.back() == '\n' || owner.back() == ' ')) {
    owner.pop_back();
  }
  return owner.empty() ? "?" : owner;
}

}  // namespace

std::string defaultSocketDir() {
  const char* dir = std::getenv("NETBINDER_DIR");
  return dir != nullptr && dir[0] != '\0' ? dir : "/run/netbinder";
}

int runDaemon(const DaemonOptions& options) {
  const std::string& dir = options.dir;
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
    spdlog::error("cannot create {}: {}", dir, std::strerror(errno));
    return 1;
  }
  int lock_fd = takeLock(dir);
  if (lock_fd < 0) {
    if (errno == EWOULDBLOCK) {
      spdlog::error("{} is in use by a running binderd (pid {})", dir, readLockOwner(dir));
    } else {
      spdlog::error("cannot lock {}/{}: {}", dir, kLockFileName, std::strerror(errno));
    }
    return 1;
  }
  // Signals are taken synchronously by this thread only.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::vector<std::unique_ptr<DeviceServer>> servers;
  std::vector<std::string> paths;
  for (const char* name : kDeviceNames) {
    std::string path = dir + "/" + name;
    int fd = listenOn(path);
    if (fd < 0) {
      spdlog::error("cannot listen on {}: {}", path, std::strerror(errno));
      for (const auto& p : paths) {
        ::unlink(p.c_str());
      }
      ::close(lock_fd);
      return 1;
    }
    paths.push_back(path);
    DriverOptions driver_options;
    driver_options.security_context = options.security_context;
    servers.push_back(
        std::make_unique<DeviceServer>(name, fd, options.force_inline, std::move(driver_options)));
  }
  std::vector<std::thread> threads;
  for (auto& server : servers) {
    threads.emplace_back([&server] {
      int err = server->run();
      if (err != 0) {
        spdlog::error("{}: event loop failed: {}", server->name(), std::strerror(err));
        ::kill(::getpid(), SIGTERM);
      }
    });
  }
  spdlog::info("binderd {} serving {} (pid {})", "0.1", dir, ::getpid());
  int sig = 0;
  while (sigwait(&set, &sig) != 0 || sig == SIGHUP) {
  }
  spdlog::info("signal {}: shutting down", sig);
  for (auto& server : servers) {
    server->stop();
  }
  for (auto& t : threads) {
    t.join();
  }
  servers.clear();
  for (const auto& p : paths) {
    ::unlink(p.c_str());
  }
  ::close(lock_fd);
  return 0;
}

int runDump(const std::string& dir, client::wire::AdminKind kind,
            const std::vector<std::string>& devices, std::ostream& out, std::ostream& err) {
  for (const auto& device : devices) {
    std::string path = dir + "/" + device;
    int sock = client::connectSeqpacket(path.c_str());
    if (sock < 0) {
      err << "binderd: cannot connect to " << path << ": " << std::strerror(-sock) << "\n";
      return 1;
    }
    client::wire::AdminRequest req;
    req.kind = static_cast<uint32_t>(kind);
    int e = client::sendMessage(sock, client::wire::Op::kAdmin, 0, client::bytesOf(req));
    if (devices.size() > 1) {
      out << "=== " << device << " ===\n";
    }
    while (e == 0) {
      client::Message msg;
      e = client::recvMessage(sock, msg);
      msg.closeFds();
      if (e != 0) {
        break;
      }
      if (msg.header.error != 0) {
        e = msg.header.error;
        break;
      }
      if (msg.payload.empty()) {
        break;
      }
      out.write(reinterpret_cast<const char*>(msg.payload.data()),
                static_cast<std::streamsize>(msg.payload.size()));
    }
    ::close(sock);
    if (e != 0) {
      err << "binderd: dump of " << path << " failed: " << std::strerror(e) << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace nb::driver::io
