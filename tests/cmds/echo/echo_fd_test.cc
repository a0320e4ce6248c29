// The echo example's fd methods on one binderd (no gateway), called from this process through
// EchoProxy: echoMemfd (8: contents, seals and access mode of a new memfd), dumpTo (9: a pipe
// written with the pattern, EPIPE as an exception) and socketEcho (10: a socketpair end echoed
// until the half-close). After each test this process and echo_service hold as many fds as before.
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cmds/echo/echo_interface.h"
#include "runtime/process_state.h"
#include "runtime/service_manager.h"
#include "tests/cmds/binderctl/cmd_harness.h"

namespace nb::cmds::testing {
namespace {

namespace rt = nb::runtime;
namespace echo = nb::examples::echo;

// Inodes of the unix SEQPACKET sockets in PID's network namespace: binderd's per-thread client
// connections, which come and go with looper threads (the pool grows on demand).
std::set<std::string> seqpacketInodes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/unix");
  std::set<std::string> out;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, st, inode;
    if (fields >> num >> refs >> protocol >> flags >> type >> st >> inode && type == "0005") {
      out.insert(inode);
    }
  }
  return out;
}

// /proc/PID/fd entries as "N -> target", binder connections (seqpacket sockets) left out.
std::vector<std::string> fdTargets(pid_t pid) {
  const std::set<std::string> binder = seqpacketInodes(pid);
  const std::string path = "/proc/" + std::to_string(pid) + "/fd";
  std::vector<std::string> out;
  DIR* dir = ::opendir(path.c_str());
  const int own = dir != nullptr ? ::dirfd(dir) : -1;
  while (dir != nullptr) {
    dirent* e = ::readdir(dir);
    if (e == nullptr) {
      break;
    }
    char target[256] = {};
    if (e->d_name[0] == '.' || (pid == ::getpid() && std::atoi(e->d_name) == own) ||
        ::readlink((path + "/" + e->d_name).c_str(), target, sizeof(target) - 1) <= 0) {
      continue;
    }
    const std::string t = target;
    if (t.rfind("socket:[", 0) == 0 && binder.count(t.substr(8, t.size() - 9)) != 0) {
      continue;
    }
    out.push_back(std::string(e->d_name) + " -> " + t);
  }
  if (dir != nullptr) {
    ::closedir(dir);
  }
  return out;
}

int countFds(pid_t pid) { return static_cast<int>(fdTargets(pid).size()); }

std::string listFds(pid_t pid) {
  std::string out;
  for (const std::string& line : fdTargets(pid)) {
    out += line + "\n";
  }
  return out;
}

// The echo_service the harness started: a child of this process named echo_service.
pid_t findEchoService() {
  DIR* dir = ::opendir("/proc");
  pid_t found = -1;
  while (dir != nullptr && found < 0) {
    dirent* e = ::readdir(dir);
    if (e == nullptr) {
      break;
    }
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) {
      continue;
    }
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    std::getline(stat, line);
    const size_t close = line.rfind(')');
    if (close == std::string::npos || line.find("(echo_service)") == std::string::npos) {
      continue;
    }
    char state = 0;
    int ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid) == 2 && ppid == ::getpid()) {
      found = pid;
    }
  }
  if (dir != nullptr) {
    ::closedir(dir);
  }
  return found;
}

std::vector<uint8_t> randomBytes(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<uint8_t> out(n);
  for (uint8_t& b : out) {
    b = static_cast<uint8_t>(gen());
  }
  return out;
}

bool writeAll(int fd, const uint8_t* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == ENOTSOCK) {
      w = ::write(fd, p, n);
    }
    if (w < 0 && errno == EINTR) {
      continue;
    }
    if (w <= 0) {
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Everything readable from `fd` until EOF.
std::vector<uint8_t> readToEof(int fd) {
  std::vector<uint8_t> out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return out;
    }
    out.insert(out.end(), buf, buf + n);
  }
}

class EchoFdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(daemons_.start(/*context_manager=*/true, /*echo=*/true), "");
    service_pid_ = findEchoService();
    ASSERT_GT(service_pid_, 0) << "echo_service not found among this process's children";
    absl::StatusOr<std::shared_ptr<rt::ProcessState>> state =
        rt::ProcessState::open(rt::ProcessOptions{});
    ASSERT_TRUE(state.ok()) << state.status();
    state_ = *state;
    rt::ServiceManager sm(state_);
    absl::StatusOr<std::shared_ptr<rt::IBinder>> b = sm.checkService(echo::kEchoServiceName);
    ASSERT_TRUE(b.ok() && *b != nullptr) << (b.ok() ? "null" : b.status().ToString());
    proxy_ = std::make_unique<echo::EchoProxy>(
        *b, rt::serviceManagerHeaderFormat(rt::kNewestServiceManagerLayout));
    base_self_ = countFds(::getpid());
    base_service_ = countFds(service_pid_);
    base_service_list_ = listFds(service_pid_);
  }

  void TearDown() override {
    if (proxy_ != nullptr) {
      // The service closes a reply's fds right after sending and a socket worker's at EOF: poll.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (countFds(service_pid_) != base_service_ &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_EQ(countFds(service_pid_), base_service_) << "echo_service fds:\n"
                                                       << listFds(service_pid_) << "baseline:\n"
                                                       << base_service_list_;
      EXPECT_EQ(countFds(::getpid()), base_self_) << "this process's fds";
    }
    proxy_.reset();
    if (state_ != nullptr) {
      state_->shutdown();
    }
  }

  // Sends a memfd of `size` random bytes (sealed with `seals` after writing; reopened read-only
  // when `read_only`) and checks the copy.
  void roundTrip(size_t size, int seals, bool read_only) {
    const std::vector<uint8_t> bytes = randomBytes(size, static_cast<uint32_t>(size) ^ 0x5eed);
    int fd = ::memfd_create("echo-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    ASSERT_GE(fd, 0);
    ASSERT_TRUE(writeAll(fd, bytes.data(), bytes.size()));
    if (seals != 0) {
      ASSERT_EQ(::fcntl(fd, F_ADD_SEALS, seals), 0) << std::strerror(errno);
    }
    if (read_only) {
      int ro = ::open(("/proc/self/fd/" + std::to_string(fd)).c_str(), O_RDONLY | O_CLOEXEC);
      ASSERT_GE(ro, 0);
      ::close(fd);
      fd = ro;
    }
    absl::StatusOr<int> copy = proxy_->echoMemfd(fd);
    ::close(fd);
    ASSERT_TRUE(copy.ok()) << copy.status();
    std::vector<uint8_t> got(bytes.size() + 1);
    ssize_t n = ::pread(*copy, got.data(), got.size(), 0);
    got.resize(n > 0 ? static_cast<size_t>(n) : 0);
    EXPECT_TRUE(got == bytes) << "contents differ: " << got.size() << " bytes, sent " << size;
    EXPECT_EQ(::fcntl(*copy, F_GET_SEALS), seals);
    EXPECT_EQ(::fcntl(*copy, F_GETFL) & O_ACCMODE, read_only ? O_RDONLY : O_RDWR);
    ::close(*copy);
  }

  Daemons daemons_;
  pid_t service_pid_ = -1;
  std::shared_ptr<rt::ProcessState> state_;
  std::unique_ptr<echo::EchoProxy> proxy_;
  int base_self_ = -1;
  int base_service_ = -1;
  std::string base_service_list_;
};

constexpr int kAllSeals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;

TEST_F(EchoFdTest, EchoMemfdCopiesContentsSealsAndAccessMode) {
  roundTrip(1 << 20, 0, false);
  roundTrip(1 << 20, kAllSeals, false);
  roundTrip(12345, F_SEAL_GROW | F_SEAL_SHRINK, true);
  roundTrip(0, 0, false);
}

TEST_F(EchoFdTest, EchoMemfdOfAPipeIsAnException) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  absl::StatusOr<int> copy = proxy_->echoMemfd(p[0]);
  ::close(p[0]);
  ::close(p[1]);
  EXPECT_TRUE(absl::IsInvalidArgument(copy.status())) << copy.status();
}

TEST_F(EchoFdTest, DumpToWritesThePatternIntoAPipe) {
  constexpr int64_t kBytes = 10'000'000;
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  std::vector<uint8_t> got;
  std::thread reader([&got, fd = p[0]] { got = readToEof(fd); });
  absl::Status s = proxy_->dumpTo(p[1], kBytes);
  ::close(p[1]);  // the service's copy went with the request parcel: EOF follows
  reader.join();
  ::close(p[0]);
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(got.size(), static_cast<size_t>(kBytes));
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i], echo::dumpPatternByte(i)) << "byte " << i;
  }
}

TEST_F(EchoFdTest, DumpToAClosedPipeIsAnExceptionAndTheServiceLives) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ::close(p[0]);
  absl::Status s = proxy_->dumpTo(p[1], 1 << 20);
  ::close(p[1]);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;  // EX_ILLEGAL_STATE
  EXPECT_NE(s.message().find("EPIPE"), std::string::npos) << s;
  absl::StatusOr<std::string> again = proxy_->echo("still here");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, "still here");
  EXPECT_TRUE(absl::IsInvalidArgument(proxy_->dumpTo(0, -1)));
}

TEST_F(EchoFdTest, SocketEchoEchoesUntilTheHalfClose) {
  constexpr size_t kBytes = 4 << 20;
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  absl::Status s = proxy_->socketEcho(sv[1]);
  ::close(sv[1]);
  ASSERT_TRUE(s.ok()) << s;
  const std::vector<uint8_t> sent = randomBytes(kBytes, 7);
  std::vector<uint8_t> got;
  std::thread reader([&got, fd = sv[0]] { got = readToEof(fd); });
  const bool wrote = writeAll(sv[0], sent.data(), sent.size());
  ::shutdown(sv[0], SHUT_WR);
  reader.join();  // EOF: the worker saw ours, echoed everything and shut down its side
  ::close(sv[0]);
  EXPECT_TRUE(wrote);
  EXPECT_EQ(got.size(), sent.size());
  EXPECT_TRUE(got == sent);
}

TEST_F(EchoFdTest, ManySocketEchoesInTurn) {
  for (int i = 0; i < 40; ++i) {  // more than kMaxSocketEchoWorkers: finished ones are reaped
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    absl::Status s = proxy_->socketEcho(sv[1]);
    ::close(sv[1]);
    ASSERT_TRUE(s.ok()) << i << ": " << s;
    const std::string text = "round " + std::to_string(i);
    ASSERT_TRUE(writeAll(sv[0], reinterpret_cast<const uint8_t*>(text.data()), text.size()));
    ::shutdown(sv[0], SHUT_WR);
    std::vector<uint8_t> got = readToEof(sv[0]);
    ::close(sv[0]);
    EXPECT_EQ(std::string(got.begin(), got.end()), text);
  }
}

}  // namespace
}  // namespace nb::cmds::testing
