#include "tests/local_driver/io/binderd_harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "local_driver/client/binder_client.h"
#include "local_driver/client/seqpacket.h"

namespace nb::testing {

namespace {

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Daemon::Daemon() {
  char tmpl[] = "/tmp/nb-binderd-test.XXXXXX";
  if (::mkdtemp(tmpl) != nullptr) {
    dir_ = tmpl;
  }
}

Daemon::~Daemon() {
  stop();
  if (!dir_.empty()) {
    std::string cmd = "rm -rf '" + dir_ + "'";
    [[maybe_unused]] int r = std::system(cmd.c_str());
  }
}

bool Daemon::start(const std::vector<std::string>& extra_args) {
  if (dir_.empty()) {
    return false;
  }
  pid_ = ::fork();
  if (pid_ == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    if (devnull >= 0 && std::getenv("NB_TEST_DAEMON_LOG") == nullptr) {
      ::dup2(devnull, 2);
    }
    if (devnull > 2) {
      ::close(devnull);
    }
    std::vector<const char*> argv = {NB_BINDERD_PATH, "--dir", dir_.c_str(), "--log-level", "warn"};
    for (const auto& a : extra_args) {
      argv.push_back(a.c_str());
    }
    argv.push_back(nullptr);
    ::execv(NB_BINDERD_PATH, const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  const int64_t deadline = nowMs() + 10000;
  while (nowMs() < deadline) {
    // Connectable, not merely present: a dead daemon's stale sockets may still be there.
    bool all = true;
    for (const char* dev : {"binder", "hwbinder", "vndbinder"}) {
      int fd = client::connectSeqpacket(socket(dev).c_str());
      all = all && fd >= 0;
      if (fd >= 0) {
        ::close(fd);
      }
    }
    if (all) {
      return true;
    }
    int status;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int Daemon::stop() {
  if (pid_ <= 0) {
    return -1;
  }
  ::kill(pid_, SIGTERM);
  int status = waitExit(pid_, 10000);
  pid_ = -1;
  return status;
}

std::string Daemon::dump(const char* kind, const char* device) const {
  std::string cmd =
      std::string(NB_BINDERD_PATH) + " --dump " + kind + " --dir '" + dir_ + "' --device " + device;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) {
    return "";
  }
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) {
    out.append(buf, n);
  }
  return ::pclose(p) == 0 ? out : "";
}

bool Daemon::waitStatsLine(const std::string& line, int timeout_ms) const {
  const int64_t deadline = nowMs() + timeout_ms;
  for (;;) {
    std::string stats = dump("stats");
    if (stats.find(line) != std::string::npos) {
      return true;
    }
    if (nowMs() > deadline) {
      std::fprintf(stderr, "stats without \"%s\":\n%s", line.c_str(), stats.c_str());
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

int Daemon::fdCount() const {
  std::string path = "/proc/" + std::to_string(pid_) + "/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    return -1;
  }
  int n = 0;
  while (dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') {
      ++n;
    }
  }
  ::closedir(dir);
  return n;
}

int Daemon::settledFdCount() const {
  int last = fdCount();
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    int now = fdCount();
    if (now == last) {
      return now;
    }
    last = now;
  }
  return last;
}

int Daemon::waitFdCount(int want, int timeout_ms) const {
  const int64_t deadline = nowMs() + timeout_ms;
  int n = fdCount();
  while (n > want && nowMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    n = fdCount();
  }
  if (n > want) {
    // Diagnostics for a leak: what the daemon still holds.
    std::string cmd = "ls -l /proc/" + std::to_string(pid_) + "/fd >&2";
    [[maybe_unused]] int r = std::system(cmd.c_str());
  }
  return n;
}

pid_t spawn(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = body();
    ::_exit(rc);
  }
  return pid;
}

int waitExit(pid_t pid, int timeout_ms) {
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
    if (r < 0 || nowMs() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Pipe::Pipe() { [[maybe_unused]] int r = ::pipe2(fds_, O_CLOEXEC); }

Pipe::~Pipe() {
  closeRead();
  closeWrite();
}

void Pipe::send(int64_t value) {
  [[maybe_unused]] ssize_t r = ::write(fds_[1], &value, sizeof(value));
}

bool Pipe::recv(int64_t* value, int timeout_ms) {
  pollfd pfd{fds_[0], POLLIN, 0};
  if (::poll(&pfd, 1, timeout_ms) != 1) {
    return false;
  }
  return ::read(fds_[0], value, sizeof(*value)) == sizeof(*value);
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

BinderClient::BinderClient(const std::string& socket_path, int flags) {
  fd_ = nb_binder_open(socket_path.c_str(), O_RDWR | O_CLOEXEC | flags);
}

BinderClient::~BinderClient() {
  if (map_ != nullptr) {
    nb_binder_munmap(map_, map_size_);
  }
  if (fd_ >= 0) {
    nb_binder_close(fd_);
  }
}

int BinderClient::map(size_t size) {
  void* p = nb_binder_mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (p == MAP_FAILED) {
    return errno;
  }
  map_ = p;
  map_size_ = size;
  return 0;
}

int BinderClient::ioctl(unsigned long request, void* arg) {
  return nb_binder_ioctl(fd_, request, arg) == 0 ? 0 : errno;
}

int BinderClient::version(int32_t* out) {
  binder_version v{};
  int err = ioctl(BINDER_VERSION, &v);
  *out = v.protocol_version;
  return err;
}

int BinderClient::writeRead(const std::vector<uint8_t>& write, std::vector<uint8_t>* read,
                            size_t read_size) {
  std::vector<uint8_t> buf(read_size);
  binder_write_read bwr{};
  bwr.write_buffer = reinterpret_cast<binder_uintptr_t>(write.data());
  bwr.write_size = write.size();
  bwr.read_buffer = reinterpret_cast<binder_uintptr_t>(buf.data());
  bwr.read_size = read_size;
  int err = ioctl(BINDER_WRITE_READ, &bwr);
  if (read != nullptr) {
    buf.resize(bwr.read_consumed);
    *read = std::move(buf);
  }
  return err;
}

int BinderClient::transact(const std::vector<uint8_t>& write, const std::vector<uint32_t>& until,
                           std::vector<Returned>* out) {
  std::vector<uint8_t> w = write;
  for (int round = 0; round < 100; ++round) {
    std::vector<uint8_t> read;
    int err = writeRead(w, &read, 4096);
    w.clear();
    if (err != 0) {
      return err;
    }
    for (const Returned& r : parse(read)) {
      out->push_back(r);
      for (uint32_t cmd : until) {
        if (r.cmd == cmd) {
          return 0;
        }
      }
    }
  }
  return ETIMEDOUT;
}

void BinderClient::putU32(std::vector<uint8_t>& w, uint32_t v) {
  const auto* p = reinterpret_cast<const uint8_t*>(&v);
  w.insert(w.end(), p, p + sizeof(v));
}

void BinderClient::putTransaction(std::vector<uint8_t>& w, uint32_t cmd, uint32_t handle,
                                  uint32_t code, uint32_t flags, const void* data, size_t size,
                                  const binder_size_t* offsets, size_t offsets_count) {
  putU32(w, cmd);
  binder_transaction_data tr{};
  tr.target.handle = handle;
  tr.code = code;
  tr.flags = flags;
  tr.data_size = size;
  tr.offsets_size = offsets_count * sizeof(binder_size_t);
  tr.data.ptr.buffer = reinterpret_cast<binder_uintptr_t>(data);
  tr.data.ptr.offsets = reinterpret_cast<binder_uintptr_t>(offsets);
  const auto* p = reinterpret_cast<const uint8_t*>(&tr);
  w.insert(w.end(), p, p + sizeof(tr));
}

void BinderClient::putFreeBuffer(std::vector<uint8_t>& w, binder_uintptr_t buffer) {
  putU32(w, BC_FREE_BUFFER);
  const auto* p = reinterpret_cast<const uint8_t*>(&buffer);
  w.insert(w.end(), p, p + sizeof(buffer));
}

void BinderClient::putPtrCookie(std::vector<uint8_t>& w, uint32_t cmd, uint64_t ptr,
                                uint64_t cookie) {
  putU32(w, cmd);
  binder_ptr_cookie pc{ptr, cookie};
  const auto* p = reinterpret_cast<const uint8_t*>(&pc);
  w.insert(w.end(), p, p + sizeof(pc));
}

void BinderClient::putHandleCookie(std::vector<uint8_t>& w, uint32_t cmd, uint32_t handle,
                                   uint64_t cookie) {
  putU32(w, cmd);
  binder_handle_cookie hc{};
  hc.handle = handle;
  hc.cookie = cookie;
  const auto* p = reinterpret_cast<const uint8_t*>(&hc);
  w.insert(w.end(), p, p + sizeof(hc));
}

std::vector<Returned> BinderClient::parse(const std::vector<uint8_t>& read) {
  std::vector<Returned> out;
  size_t pos = 0;
  while (pos + sizeof(uint32_t) <= read.size()) {
    Returned r;
    std::memcpy(&r.cmd, read.data() + pos, sizeof(uint32_t));
    pos += sizeof(uint32_t);
    const size_t size = _IOC_SIZE(r.cmd);
    if (pos + size > read.size()) {
      break;
    }
    if (r.cmd == BR_TRANSACTION || r.cmd == BR_REPLY) {
      std::memcpy(&r.txn, read.data() + pos, sizeof(r.txn));
      const auto* payload = reinterpret_cast<const uint8_t*>(r.txn.data.ptr.buffer);
      if (payload != nullptr) {
        r.data.assign(payload, payload + r.txn.data_size);
      }
    } else if (r.cmd == BR_TRANSACTION_SEC_CTX) {
      std::memcpy(&r.txn, read.data() + pos, sizeof(r.txn));
    } else if (size >= sizeof(uint64_t)) {
      std::memcpy(&r.cookie, read.data() + pos + size - sizeof(uint64_t), sizeof(uint64_t));
    }
    pos += size;
    out.push_back(std::move(r));
  }
  return out;
}

const char* brName(uint32_t cmd) {
  switch (cmd) {
    case BR_NOOP:
      return "BR_NOOP";
    case BR_TRANSACTION_COMPLETE:
      return "BR_TRANSACTION_COMPLETE";
    case BR_TRANSACTION:
      return "BR_TRANSACTION";
    case BR_REPLY:
      return "BR_REPLY";
    case BR_DEAD_REPLY:
      return "BR_DEAD_REPLY";
    case BR_FAILED_REPLY:
      return "BR_FAILED_REPLY";
    case BR_DEAD_BINDER:
      return "BR_DEAD_BINDER";
    case BR_SPAWN_LOOPER:
      return "BR_SPAWN_LOOPER";
    case BR_INCREFS:
      return "BR_INCREFS";
    case BR_ACQUIRE:
      return "BR_ACQUIRE";
    case BR_RELEASE:
      return "BR_RELEASE";
    case BR_DECREFS:
      return "BR_DECREFS";
    case BR_ERROR:
      return "BR_ERROR";
    default:
      return "BR_?";
  }
}

}  // namespace nb::testing
