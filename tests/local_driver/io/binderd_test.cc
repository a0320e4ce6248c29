// Multi-process tests of binderd through the client library (ctest label "integration"): each
// test starts the built binderd in a private directory and runs scenario roles in forked
// children. Tests that need a working nb_driver_core skip themselves while the core is the stub
// (it answers ENOSYS), so they report "pending on the core" instead of failing.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "local_driver/client/binder_client.h"
#include "local_driver/client/seqpacket.h"
#include "tests/local_driver/io/binderd_harness.h"

namespace nb::testing {
namespace {

constexpr uint32_t kPing = 0x50494e47;  // "PING"
constexpr uint32_t kPong = 0x504f4e47;

// Parameter: run binderd with --force-inline (clients send transaction memory and files inline,
// the fallback for when process_vm_readv/pidfd_getfd are denied).
class BinderdTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { ASSERT_TRUE(startDaemon()) << "binderd did not start"; }
  bool startDaemon() {
    return daemon_.start(GetParam() ? std::vector<std::string>{"--force-inline"}
                                    : std::vector<std::string>{});
  }

  // Skips the test while nb_driver_core is the stub.
  bool coreReady() {
    BinderClient probe(daemon_.socket());
    int32_t v = 0;
    return probe.ok() && probe.version(&v) != ENOSYS;
  }

  Daemon daemon_;
};

#define REQUIRE_CORE()                                                     \
  if (!coreReady()) {                                                      \
    GTEST_SKIP() << "pending on nb_driver_core (its stub answers ENOSYS)"; \
  }

// Server role: become the context manager, tell `ready`, answer `calls` transactions on handle 0
// (sync ones with a PONG reply), then exit 0. Returns a distinct code per failure.
int serveContextManager(const std::string& socket, Pipe& ready, int calls,
                        Pipe* entered = nullptr) {
  BinderClient b(socket);
  int32_t v;
  if (!b.ok() || b.map() != 0 || b.version(&v) != 0 || v != BINDER_CURRENT_PROTOCOL_VERSION) {
    return 10;
  }
  int32_t unused = 0;
  if (b.ioctl(BINDER_SET_CONTEXT_MGR, &unused) != 0) {
    return 11;
  }
  std::vector<uint8_t> w;
  BinderClient::putU32(w, BC_ENTER_LOOPER);
  if (b.writeRead(w, nullptr, 0) != 0) {
    return 12;
  }
  ready.send(1);
  for (int done = 0; done < calls;) {
    if (entered != nullptr) {
      entered->send(1);
    }
    std::vector<Returned> got;
    if (b.transact({}, {BR_TRANSACTION}, &got) != 0) {
      return 13;
    }
    const Returned& t = got.back();
    uint32_t word = 0;
    if (t.data.size() != sizeof(word)) {
      return 14;
    }
    std::memcpy(&word, t.data.data(), sizeof(word));
    if (word != kPing) {
      return 15;
    }
    std::vector<uint8_t> reply;
    BinderClient::putFreeBuffer(reply, t.txn.data.ptr.buffer);
    if ((t.txn.flags & TF_ONE_WAY) == 0) {
      BinderClient::putTransaction(reply, BC_REPLY, 0, 0, 0, &kPong, sizeof(kPong));
      std::vector<Returned> after;
      if (b.transact(reply, {BR_TRANSACTION_COMPLETE}, &after) != 0) {
        return 16;
      }
    } else if (b.writeRead(reply, nullptr, 0) != 0) {
      return 17;
    }
    ++done;
  }
  return 0;
}

// Client role: call handle 0 with PING and expect a PONG reply.
int callContextManager(const std::string& socket, uint32_t flags) {
  BinderClient b(socket);
  int32_t v;
  if (!b.ok() || b.map() != 0 || b.version(&v) != 0) {
    return 20;
  }
  std::vector<uint8_t> w;
  BinderClient::putTransaction(w, BC_TRANSACTION, 0, 1, flags, &kPing, sizeof(kPing));
  std::vector<Returned> got;
  const bool oneway = (flags & TF_ONE_WAY) != 0;
  if (b.transact(w, {oneway ? BR_TRANSACTION_COMPLETE : BR_REPLY, BR_DEAD_REPLY, BR_FAILED_REPLY},
                 &got) != 0) {
    return 21;
  }
  if (oneway) {
    return got.back().cmd == BR_TRANSACTION_COMPLETE ? 0 : 22;
  }
  const Returned& r = got.back();
  if (r.cmd != BR_REPLY) {
    return 23;
  }
  uint32_t word = 0;
  if (r.data.size() != sizeof(word)) {
    return 24;
  }
  std::memcpy(&word, r.data.data(), sizeof(word));
  std::vector<uint8_t> free_cmd;
  BinderClient::putFreeBuffer(free_cmd, r.txn.data.ptr.buffer);
  b.writeRead(free_cmd, nullptr, 0);
  return word == kPong ? 0 : 25;
}

// ---- Daemon lifecycle (io only) ----------------------------------------------------------------

TEST_P(BinderdTest, RefusesASecondDaemonOnTheSameDir) {
  pid_t second = ::fork();
  if (second == 0) {
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 2);
    ::execl(NB_BINDERD_PATH, NB_BINDERD_PATH, "--dir", daemon_.dir().c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  EXPECT_EQ(waitExit(second, 10000), 1);
  // The first daemon is unaffected.
  BinderClient b(daemon_.socket());
  EXPECT_TRUE(b.ok());
}

TEST_P(BinderdTest, SigtermExitsCleanlyAndRemovesSockets) {
  EXPECT_EQ(daemon_.stop(), 0);
  struct stat st {};
  for (const char* dev : {"binder", "hwbinder", "vndbinder"}) {
    EXPECT_NE(::stat(daemon_.socket(dev).c_str(), &st), 0) << dev;
  }
  // A new daemon can take the directory over.
  EXPECT_TRUE(startDaemon());
}

TEST_P(BinderdTest, SigtermWithLiveClientsExitsCleanly) {
  REQUIRE_CORE();
  BinderClient b(daemon_.socket());
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.map(), 0);
  std::atomic<int> result{-1};
  std::thread reader([&] {
    int32_t v;
    b.version(&v);
    std::vector<uint8_t> w;
    BinderClient::putU32(w, BC_ENTER_LOOPER);
    std::vector<uint8_t> read;
    result = b.writeRead(w, &read, 256);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(daemon_.stop(), 0);  // releases every process; a sanitizer build reports leaks here
  reader.join();
  EXPECT_EQ(result.load(), EIO);  // the device went away under the blocked read
}

TEST_P(BinderdTest, ReplacesStaleSocketsOfADeadDaemon) {
  ::kill(daemon_.pid(), SIGKILL);
  waitExit(daemon_.pid(), 5000);
  struct stat st {};
  ASSERT_EQ(::stat(daemon_.socket().c_str(), &st), 0);  // stale socket left behind
  ASSERT_TRUE(startDaemon());
  BinderClient b(daemon_.socket());
  EXPECT_TRUE(b.ok());
}

TEST_P(BinderdTest, DumpCommandReachesTheRunningDaemon) {
  std::string cmd = std::string(NB_BINDERD_PATH) + " --dump state --dir " + daemon_.dir() +
                    " --device binder > " + daemon_.dir() + "/dump.txt";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  cmd = std::string(NB_BINDERD_PATH) + " --dump stats --dir " + daemon_.dir() + " > /dev/null";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

// ---- Client library against the daemon (io only) -----------------------------------------------

TEST_P(BinderdTest, OpenGivesAPollableBinderFdAndDupsAreBinderFds) {
  BinderClient b(daemon_.socket());
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(nb_binder_is_binder_fd(b.fd()));
  pollfd pfd{b.fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 0), 0);  // a real fd, not readable without work
  int d = nb_binder_dup(b.fd());
  ASSERT_GE(d, 0);
  EXPECT_TRUE(nb_binder_is_binder_fd(d));
  EXPECT_EQ(nb_binder_close(d), 0);
  EXPECT_FALSE(nb_binder_is_binder_fd(d));
  EXPECT_TRUE(nb_binder_is_binder_fd(b.fd()));
  // By name, resolved through $NETBINDER_DIR.
  ::setenv("NETBINDER_DIR", daemon_.dir().c_str(), 1);
  int byname = nb_binder_open("/dev/hwbinder", O_RDWR);
  EXPECT_GE(byname, 0);
  nb_binder_close(byname);
  EXPECT_LT(nb_binder_open("/dev/binderfs/nosuchdevice", O_RDWR), 0);
  EXPECT_EQ(errno, ENOENT);
}

TEST_P(BinderdTest, BogusPointersGiveTheKernelErrnos) {
  BinderClient b(daemon_.socket());
  ASSERT_TRUE(b.ok());
  auto* bogus = reinterpret_cast<void*>(0x10);
  // BINDER_VERSION's failed copy is EINVAL in the C driver; WRITE_READ's is EFAULT.
  EXPECT_EQ(b.ioctl(BINDER_VERSION, bogus), EINVAL);
  EXPECT_EQ(b.ioctl(BINDER_WRITE_READ, bogus), EFAULT);
  binder_write_read bwr{};
  bwr.write_buffer = 0x10;
  bwr.write_size = 16;
  EXPECT_EQ(b.ioctl(BINDER_WRITE_READ, &bwr), EFAULT);
  // An ioctl without direction is unknown: EINVAL, not ENOTTY.
  EXPECT_EQ(b.ioctl(_IO('b', 99), nullptr), EINVAL);
}

TEST_P(BinderdTest, MmapRules) {
  BinderClient b(daemon_.socket());
  ASSERT_TRUE(b.ok());
  void* p = nb_binder_mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd(), 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, EPERM);
  REQUIRE_CORE();
  void* area = nb_binder_mmap(nullptr, 1 << 20, PROT_READ, MAP_PRIVATE, b.fd(), 0);
  ASSERT_NE(area, MAP_FAILED) << std::strerror(errno);
  EXPECT_EQ(nb_binder_mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, b.fd(), 0), MAP_FAILED);
  EXPECT_EQ(errno, EBUSY);
  // Read-only for good: the area cannot be made writable (the kernel clears VM_MAYWRITE).
  EXPECT_NE(::mprotect(area, 4096, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(static_cast<volatile uint8_t*>(area)[0], 0);
  EXPECT_EQ(nb_binder_munmap(area, 1 << 20), 0);
}

TEST_P(BinderdTest, ForkedChildNeitherInheritsTheAreaNorSpeaksForTheParent) {
  REQUIRE_CORE();
  Pipe ready;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    int32_t unused = 0;
    if (!b.ok() || b.map() != 0 || b.version(&v) != 0 ||
        b.ioctl(BINDER_SET_CONTEXT_MGR, &unused) != 0) {
      return 90;
    }
    void* area = b.area();
    const int fd = b.fd();
    pid_t reader = spawn([&] {
      ::signal(SIGSEGV, SIG_DFL);  // die of it, even under a sanitizer's handler
      return static_cast<volatile uint8_t*>(area)[0];  // no mapping here (VM_DONTCOPY)
    });
    if (waitExit(reader) != 128 + SIGSEGV) {
      return 91;
    }
    pid_t child = spawn([&]() -> int {
      // The child's copies of the parent's descriptors must not unmap or flush the parent.
      if (nb_binder_mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE, fd, 0) != MAP_FAILED ||
          errno != EINVAL) {
        return 1;
      }
      nb_binder_munmap(area, 128 * 1024);
      nb_binder_close(fd);
      return 0;
    });
    if (waitExit(child) != 0) {
      return 92;
    }
    // Still mapped in binderd: a call to us gets a reply, not BR_DEAD_REPLY (unmapped area).
    std::vector<uint8_t> w;
    BinderClient::putU32(w, BC_ENTER_LOOPER);
    b.writeRead(w, nullptr, 0);
    ready.send(1);
    std::vector<Returned> got;
    if (b.transact({}, {BR_TRANSACTION}, &got) != 0) {
      return 93;
    }
    std::vector<uint8_t> reply;
    BinderClient::putFreeBuffer(reply, got.back().txn.data.ptr.buffer);
    BinderClient::putTransaction(reply, BC_REPLY, 0, 0, 0, &kPong, sizeof(kPong));
    std::vector<Returned> after;
    return b.transact(reply, {BR_TRANSACTION_COMPLETE}, &after) == 0 ? 0 : 94;
  });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&] { return callContextManager(sock, 0); });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, Version) {
  REQUIRE_CORE();
  BinderClient b(daemon_.socket());
  int32_t v = 0;
  ASSERT_EQ(b.version(&v), 0);
  EXPECT_EQ(v, BINDER_CURRENT_PROTOCOL_VERSION);
}

// ---- Transactions across processes (need the core) --------------------------------------------

TEST_P(BinderdTest, ContextManagerRoundTripBetweenTwoProcesses) {
  REQUIRE_CORE();
  Pipe ready;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&] { return serveContextManager(sock, ready, 1); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&] { return callContextManager(sock, 0); });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, BogusTransactionPointersFailTheTransactionNotTheDaemon) {
  REQUIRE_CORE();
  Pipe ready;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&] { return serveContextManager(sock, ready, 1); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    if (!b.ok() || b.map() != 0 || b.version(&v) != 0) {
      return 100;
    }
    // Data at an unmapped address: the kernel fails the copy (BR_FAILED_REPLY), nothing crashes.
    std::vector<uint8_t> w;
    BinderClient::putTransaction(w, BC_TRANSACTION, 0, 1, 0, reinterpret_cast<const void*>(0x10),
                                 64);
    std::vector<Returned> got;
    if (b.transact(w, {BR_REPLY, BR_DEAD_REPLY, BR_FAILED_REPLY}, &got) != 0) {
      return 101;
    }
    if (got.back().cmd != BR_FAILED_REPLY) {
      return 102;
    }
    // The process and the daemon carry on: a good call still works.
    return callContextManager(sock, 0) == 0 ? 0 : 103;
  });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, OneWayCall) {
  REQUIRE_CORE();
  Pipe ready;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&] { return serveContextManager(sock, ready, 1); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&] { return callContextManager(sock, TF_ONE_WAY); });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, BlockedReadIsWokenByACall) {
  REQUIRE_CORE();
  Pipe ready;
  Pipe entered;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&] { return serveContextManager(sock, ready, 1, &entered); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  ASSERT_TRUE(entered.recv(&x));
  // Give the server time to park in its read inside binderd before the call arrives.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  pid_t client = spawn([&] { return callContextManager(sock, 0); });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, PollReadinessFollowsWork) {
  REQUIRE_CORE();
  Pipe ready;
  Pipe polled;
  Pipe sent;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    int32_t unused = 0;
    if (!b.ok() || b.map() != 0 || b.version(&v) != 0 ||
        b.ioctl(BINDER_SET_CONTEXT_MGR, &unused) != 0) {
      return 30;
    }
    std::vector<uint8_t> w;
    BinderClient::putU32(w, BC_ENTER_LOOPER);
    b.writeRead(w, nullptr, 0);
    if (nb_binder_poll_prepare(b.fd()) != 0) {
      return 31;
    }
    pollfd pfd{b.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 0) != 0) {
      return 32;  // nothing to read yet
    }
    ready.send(1);
    int64_t y;
    if (!sent.recv(&y)) {
      return 33;
    }
    if (::poll(&pfd, 1, 5000) != 1 || (pfd.revents & POLLIN) == 0) {
      return 34;
    }
    std::vector<Returned> got;
    if (b.transact({}, {BR_TRANSACTION}, &got) != 0) {
      return 35;
    }
    std::vector<uint8_t> f;
    BinderClient::putFreeBuffer(f, got.back().txn.data.ptr.buffer);
    b.writeRead(f, nullptr, 0);
    polled.send(1);
    return ::poll(&pfd, 1, 0) == 0 ? 0 : 36;  // drained
  });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&] { return callContextManager(sock, TF_ONE_WAY); });
  EXPECT_EQ(waitExit(client), 0);
  sent.send(1);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, KillNineReturnsDaemonToBaselineFds) {
  const int baseline = daemon_.settledFdCount();
  ASSERT_GT(baseline, 0);
  Pipe ready;
  const std::string sock = daemon_.socket();
  const bool core = coreReady();
  pid_t victim = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    b.version(&v);  // opens this thread's connection
    if (core) {
      b.map();
    }
    std::thread other([&] {
      int32_t w;
      b.version(&w);  // a second thread connection
    });
    other.join();
    ready.send(1);
    ::pause();
    return 0;
  });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  EXPECT_GT(daemon_.fdCount(), baseline);
  ::kill(victim, SIGKILL);
  waitExit(victim);
  EXPECT_LE(daemon_.waitFdCount(baseline, 5000), baseline);
  if (core) {
    EXPECT_TRUE(daemon_.waitStatsLine("proc: active 0 ", 5000));
    EXPECT_TRUE(daemon_.waitStatsLine("thread: active 0 ", 5000));
  }
}

TEST_P(BinderdTest, ClosingEverythingReturnsDaemonToBaselineFds) {
  REQUIRE_CORE();
  const int baseline = daemon_.settledFdCount();
  for (int i = 0; i < 20; ++i) {
    BinderClient b(daemon_.socket(i % 2 == 0 ? "binder" : "vndbinder"));
    ASSERT_TRUE(b.ok());
    ASSERT_EQ(b.map(), 0);
    int32_t v;
    ASSERT_EQ(b.version(&v), 0);
    std::thread other([&] {
      int32_t w;
      b.version(&w);
    });
    other.join();
  }
  EXPECT_LE(daemon_.waitFdCount(baseline, 5000), baseline);
  EXPECT_TRUE(daemon_.waitStatsLine("proc: active 0 ", 5000));
}

TEST_P(BinderdTest, PeerDeathGivesDeadReplyAndDeathNotification) {
  REQUIRE_CORE();
  Pipe ready;
  Pipe entered;
  const std::string sock = daemon_.socket();
  // The manager never answers: it takes the call and waits to be killed.
  pid_t server = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    int32_t unused = 0;
    if (!b.ok() || b.map() != 0 || b.version(&v) != 0 ||
        b.ioctl(BINDER_SET_CONTEXT_MGR, &unused) != 0) {
      return 40;
    }
    std::vector<uint8_t> w;
    BinderClient::putU32(w, BC_ENTER_LOOPER);
    b.writeRead(w, nullptr, 0);
    ready.send(1);
    std::vector<Returned> got;
    b.transact({}, {BR_TRANSACTION}, &got);
    entered.send(1);
    ::pause();
    return 0;
  });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  Pipe result;
  pid_t client = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    if (!b.ok() || b.map() != 0 || b.version(&v) != 0) {
      return 50;
    }
    std::vector<uint8_t> w;
    // Take a reference to handle 0 first (as libbinder does): death needs a ref.
    BinderClient::putU32(w, BC_INCREFS);
    BinderClient::putU32(w, 0);
    BinderClient::putU32(w, BC_ACQUIRE);
    BinderClient::putU32(w, 0);
    BinderClient::putHandleCookie(w, BC_REQUEST_DEATH_NOTIFICATION, 0, 0xdead);
    BinderClient::putTransaction(w, BC_TRANSACTION, 0, 1, 0, &kPing, sizeof(kPing));
    std::vector<Returned> got;
    if (b.transact(w, {BR_REPLY, BR_DEAD_REPLY, BR_FAILED_REPLY}, &got) != 0) {
      return 51;
    }
    if (got.back().cmd != BR_DEAD_REPLY) {
      return 52;
    }
    bool dead_binder = false;
    for (const auto& r : got) {
      dead_binder = dead_binder || (r.cmd == BR_DEAD_BINDER && r.cookie == 0xdead);
    }
    // The death notification is process work: a looper thread receives it, with the dead reply
    // or after it; wait boundedly.
    std::vector<uint8_t> enter;
    BinderClient::putU32(enter, BC_ENTER_LOOPER);
    if (b.writeRead(enter, nullptr, 0) != 0 || nb_binder_poll_prepare(b.fd()) != 0) {
      return 53;
    }
    for (int round = 0; !dead_binder && round < 10; ++round) {
      pollfd pfd{b.fd(), POLLIN, 0};
      if (::poll(&pfd, 1, 5000) != 1) {
        return 54;
      }
      std::vector<uint8_t> read;
      if (b.writeRead({}, &read, 256) != 0) {
        return 55;
      }
      for (const auto& r : BinderClient::parse(read)) {
        dead_binder = dead_binder || (r.cmd == BR_DEAD_BINDER && r.cookie == 0xdead);
      }
    }
    return dead_binder ? 0 : 56;
  });
  ASSERT_TRUE(entered.recv(&x));
  ::kill(server, SIGKILL);
  waitExit(server);
  EXPECT_EQ(waitExit(client), 0);
  // Both processes are gone: nothing of them is left in the core.
  EXPECT_TRUE(daemon_.waitStatsLine("proc: active 0 ", 5000));
  EXPECT_TRUE(daemon_.waitStatsLine("transaction: active 0 ", 5000));
  EXPECT_TRUE(daemon_.waitStatsLine("node: active 0 ", 5000));
}

TEST_P(BinderdTest, ThreeDevicesHaveIndependentContextManagers) {
  REQUIRE_CORE();
  BinderClient a(daemon_.socket("binder"));
  BinderClient b(daemon_.socket("hwbinder"));
  int32_t v;
  ASSERT_EQ(a.version(&v), 0);
  ASSERT_EQ(b.version(&v), 0);
  int32_t unused = 0;
  EXPECT_EQ(a.ioctl(BINDER_SET_CONTEXT_MGR, &unused), 0);
  EXPECT_EQ(b.ioctl(BINDER_SET_CONTEXT_MGR, &unused), 0);
  BinderClient again(daemon_.socket("binder"));
  EXPECT_EQ(again.ioctl(BINDER_SET_CONTEXT_MGR, &unused), EBUSY);
}

// ---- Files and scatter-gather buffers (kInstallFds, FDA closes, inline fds/memory) -----------

// The manager accepts fds (SET_CONTEXT_MGR_EXT with FLAT_BINDER_FLAG_ACCEPTS_FDS), receives a
// BINDER_TYPE_FD and an FDA of two fds inside a PTR buffer, writes into each received fd, checks
// the FDA fds are closed once it frees the buffer, and replies.
int serveFiles(const std::string& socket, Pipe& ready) {
  BinderClient b(socket);
  int32_t v;
  if (!b.ok() || b.map() != 0 || b.version(&v) != 0) {
    return 60;
  }
  flat_binder_object mgr{};
  mgr.hdr.type = BINDER_TYPE_BINDER;
  mgr.flags = FLAT_BINDER_FLAG_ACCEPTS_FDS;
  if (b.ioctl(BINDER_SET_CONTEXT_MGR_EXT, &mgr) != 0) {
    return 61;
  }
  std::vector<uint8_t> w;
  BinderClient::putU32(w, BC_ENTER_LOOPER);
  b.writeRead(w, nullptr, 0);
  ready.send(1);
  std::vector<Returned> got;
  if (b.transact({}, {BR_TRANSACTION}, &got) != 0) {
    return 62;
  }
  const Returned& t = got.back();
  const uint8_t* data = reinterpret_cast<const uint8_t*>(t.txn.data.ptr.buffer);
  const auto* offsets = reinterpret_cast<const binder_size_t*>(t.txn.data.ptr.offsets);
  if (t.txn.offsets_size != 3 * sizeof(binder_size_t)) {
    return 63;
  }
  binder_fd_object fd_obj;
  binder_buffer_object ptr;
  std::memcpy(&fd_obj, data + offsets[0], sizeof(fd_obj));
  std::memcpy(&ptr, data + offsets[1], sizeof(ptr));
  if (fd_obj.hdr.type != BINDER_TYPE_FD || ptr.hdr.type != BINDER_TYPE_PTR) {
    return 64;
  }
  int32_t fda[2];
  std::memcpy(fda, reinterpret_cast<const void*>(ptr.buffer), sizeof(fda));
  for (int fd : {static_cast<int>(fd_obj.fd), fda[0], fda[1]}) {
    if (::write(fd, "x", 1) != 1) {
      return 65;
    }
  }
  std::vector<uint8_t> reply;
  BinderClient::putFreeBuffer(reply, t.txn.data.ptr.buffer);
  const uint32_t ok = 1;
  BinderClient::putTransaction(reply, BC_REPLY, 0, 0, 0, &ok, sizeof(ok));
  std::vector<Returned> after;
  if (b.transact(reply, {BR_TRANSACTION_COMPLETE}, &after) != 0) {
    return 66;
  }
  // FDA fds are closed by BC_FREE_BUFFER (the kernel's deferred fd close); the plain FD object's
  // fd stays with the receiver.
  if (::fcntl(fda[0], F_GETFD) != -1 || ::fcntl(fda[1], F_GETFD) != -1) {
    return 67;
  }
  if (::fcntl(static_cast<int>(fd_obj.fd), F_GETFD) == -1) {
    return 68;
  }
  return 0;
}

TEST_P(BinderdTest, FilesAndScatterGatherBuffersReachTheReceiver) {
  REQUIRE_CORE();
  Pipe ready;
  const std::string sock = daemon_.socket();
  pid_t server = spawn([&] { return serveFiles(sock, ready); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&]() -> int {
    BinderClient b(sock);
    int32_t v;
    if (!b.ok() || b.map() != 0 || b.version(&v) != 0) {
      return 70;
    }
    int pipes[3][2];
    for (auto& p : pipes) {
      if (::pipe(p) != 0) {
        return 71;
      }
    }
    // data: [u64 pad][fd object][PTR object][FDA object]; a PTR at offset 0 cannot be a parent.
    struct __attribute__((packed)) {
      uint64_t pad;
      binder_fd_object fd_obj;
      binder_buffer_object ptr;
      binder_fd_array_object fda;
    } data{};
    int32_t fd_array[2] = {pipes[1][1], pipes[2][1]};
    data.fd_obj.hdr.type = BINDER_TYPE_FD;
    data.fd_obj.fd = static_cast<uint32_t>(pipes[0][1]);
    data.ptr.hdr.type = BINDER_TYPE_PTR;
    data.ptr.buffer = reinterpret_cast<binder_uintptr_t>(fd_array);
    data.ptr.length = sizeof(fd_array);
    data.fda.hdr.type = BINDER_TYPE_FDA;
    data.fda.num_fds = 2;
    data.fda.parent = 1;  // index of the PTR object in the offsets array
    data.fda.parent_offset = 0;
    const binder_size_t offsets[3] = {8, 8 + sizeof(binder_fd_object),
                                      8 + sizeof(binder_fd_object) + sizeof(binder_buffer_object)};
    std::vector<uint8_t> w;
    BinderClient::putU32(w, BC_TRANSACTION_SG);
    binder_transaction_data_sg sg{};
    sg.transaction_data.target.handle = 0;
    sg.transaction_data.code = 3;
    sg.transaction_data.flags = TF_ACCEPT_FDS;
    sg.transaction_data.data_size = sizeof(data);
    sg.transaction_data.offsets_size = sizeof(offsets);
    sg.transaction_data.data.ptr.buffer = reinterpret_cast<binder_uintptr_t>(&data);
    sg.transaction_data.data.ptr.offsets = reinterpret_cast<binder_uintptr_t>(offsets);
    sg.buffers_size = sizeof(fd_array);
    const auto* raw = reinterpret_cast<const uint8_t*>(&sg);
    w.insert(w.end(), raw, raw + sizeof(sg));
    std::vector<Returned> got;
    if (b.transact(w, {BR_REPLY, BR_DEAD_REPLY, BR_FAILED_REPLY}, &got) != 0) {
      return 72;
    }
    if (got.back().cmd != BR_REPLY) {
      return 73;
    }
    for (auto& p : pipes) {
      char c = 0;
      if (::read(p[0], &c, 1) != 1 || c != 'x') {
        return 74;
      }
    }
    return 0;
  });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

TEST_P(BinderdTest, ManyThreadsOfOneProcessCallConcurrently) {
  REQUIRE_CORE();
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 25;
  Pipe ready;
  const std::string sock = daemon_.socket();
  pid_t server =
      spawn([&] { return serveContextManager(sock, ready, kThreads * kCallsPerThread); });
  int64_t x;
  ASSERT_TRUE(ready.recv(&x));
  pid_t client = spawn([&]() -> int {
    BinderClient b(sock);
    if (!b.ok() || b.map(1 << 20) != 0) {
      return 80;
    }
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        int32_t v;
        if (b.version(&v) != 0) {
          ++failures;
        }
        for (int i = 0; i < kCallsPerThread; ++i) {
          std::vector<uint8_t> w;
          BinderClient::putTransaction(w, BC_TRANSACTION, 0, 1, 0, &kPing, sizeof(kPing));
          std::vector<Returned> got;
          if (b.transact(w, {BR_REPLY, BR_DEAD_REPLY, BR_FAILED_REPLY}, &got) != 0 ||
              got.back().cmd != BR_REPLY) {
            ++failures;
            return;
          }
          std::vector<uint8_t> f;
          BinderClient::putFreeBuffer(f, got.back().txn.data.ptr.buffer);
          b.writeRead(f, nullptr, 0);
        }
      });
    }
    for (auto& t : threads) {
      t.join();
    }
    return failures.load() == 0 ? 0 : 81;
  });
  EXPECT_EQ(waitExit(client), 0);
  EXPECT_EQ(waitExit(server), 0);
}

// ---- Waiting, interruption, flush ---------------------------------------------------------------

// Starts a looper read on a new thread of `b`; the future yields the ioctl's errno.
std::thread blockedRead(BinderClient& b, std::atomic<int>& result, std::atomic<pid_t>& tid) {
  return std::thread([&] {
    tid = static_cast<pid_t>(::gettid());
    int32_t v;
    b.version(&v);  // a thread's first read returns at once (§17.6): start with an ioctl
    std::vector<uint8_t> w;
    BinderClient::putU32(w, BC_ENTER_LOOPER);
    std::vector<uint8_t> read;
    result = b.writeRead(w, &read, 256);
  });
}

void onSignal(int) {}

TEST_P(BinderdTest, SignalInterruptsABlockedReadWithEintr) {
  REQUIRE_CORE();
  BinderClient b(daemon_.socket());
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.map(), 0);
  struct sigaction sa {};
  sa.sa_handler = onSignal;  // no SA_RESTART: the kernel's read returns -EINTR
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  std::atomic<int> result{-1};
  std::atomic<pid_t> tid{0};
  std::thread reader = blockedRead(b, result, tid);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(result.load(), -1) << "the read should be blocked";
  ::pthread_kill(reader.native_handle(), SIGUSR1);
  reader.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_EQ(result.load(), EINTR);
  // The thread's connection is still usable.
  int32_t v;
  EXPECT_EQ(b.version(&v), 0);
}

TEST_P(BinderdTest, CloseOfADupFlushesBlockedReads) {
  REQUIRE_CORE();
  BinderClient b(daemon_.socket());
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.map(), 0);
  std::atomic<int> result{-1};
  std::atomic<pid_t> tid{0};
  std::thread reader = blockedRead(b, result, tid);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(result.load(), -1) << "the read should be blocked";
  int d = nb_binder_dup(b.fd());
  ASSERT_GE(d, 0);
  EXPECT_EQ(nb_binder_close(d), 0);  // flush: every thread returns to userspace
  reader.join();
  EXPECT_EQ(result.load(), 0);
}

TEST_P(BinderdTest, NonblockingReadWithNothingToDoIsEagain) {
  REQUIRE_CORE();
  BinderClient b(daemon_.socket(), O_NONBLOCK);
  ASSERT_TRUE(b.ok());
  ASSERT_EQ(b.map(), 0);
  int32_t v;
  ASSERT_EQ(b.version(&v), 0);
  std::vector<uint8_t> w;
  BinderClient::putU32(w, BC_ENTER_LOOPER);
  std::vector<uint8_t> read;
  EXPECT_EQ(b.writeRead(w, &read, 256), EAGAIN);
}

// The library caches O_NONBLOCK: FIONBIO through nb_binder_ioctl, and fcntl(F_SETFL) followed by
// nb_binder_refresh_flags (what the shim does), must both reach the next read.
TEST_P(BinderdTest, NonblockingSetAfterOpenIsSeenByTheNextRead) {
  REQUIRE_CORE();
  std::vector<uint8_t> w;
  BinderClient::putU32(w, BC_ENTER_LOOPER);
  std::vector<uint8_t> read;
  int32_t v;
  BinderClient by_ioctl(daemon_.socket(), 0);
  ASSERT_TRUE(by_ioctl.ok());
  ASSERT_EQ(by_ioctl.map(), 0);
  ASSERT_EQ(by_ioctl.version(&v),
            0);  // a new thread's first ioctl returns at once (§ looper_need_return)
  int on = 1;
  ASSERT_EQ(nb_binder_ioctl(by_ioctl.fd(), FIONBIO, &on), 0);
  EXPECT_NE(::fcntl(by_ioctl.fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_EQ(by_ioctl.writeRead(w, &read, 256), EAGAIN);

  BinderClient by_fcntl(daemon_.socket(), 0);
  ASSERT_TRUE(by_fcntl.ok());
  ASSERT_EQ(by_fcntl.map(), 0);
  ASSERT_EQ(by_fcntl.version(&v), 0);
  ASSERT_EQ(::fcntl(by_fcntl.fd(), F_SETFL, O_NONBLOCK), 0);
  nb_binder_refresh_flags(by_fcntl.fd());
  EXPECT_EQ(by_fcntl.writeRead(w, &read, 256), EAGAIN);
}

// ---- Robustness of the daemon against malformed clients ----------------------------------------

TEST_P(BinderdTest, MalformedRequestsDropOnlyTheirConnection) {
  const int baseline = daemon_.settledFdCount();
  auto attempt = [&](const std::vector<uint8_t>& datagram) {
    int fd = client::connectSeqpacket(daemon_.socket().c_str());
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::send(fd, datagram.data(), datagram.size(), 0),
              static_cast<ssize_t>(datagram.size()));
    client::Message reply;
    int err = client::recvMessage(fd, reply);
    // Either an error reply or the connection is closed; never a success.
    EXPECT_TRUE(err != 0 || reply.header.error != 0);
    reply.closeFds();
    ::close(fd);
  };
  auto header = [](client::wire::Op op, uint32_t payload_size) {
    client::wire::Header h;
    h.op = static_cast<uint16_t>(op);
    h.payload_size = payload_size;
    std::vector<uint8_t> out(sizeof(h));
    std::memcpy(out.data(), &h, sizeof(h));
    return out;
  };
  attempt({1, 2, 3});                            // shorter than a header
  attempt(header(client::wire::Op::kIoctl, 0));  // not a hello
  attempt(header(client::wire::Op::kReply, 0));  // daemon-to-client op
  attempt(header(static_cast<client::wire::Op>(999), 0));
  attempt(header(client::wire::Op::kOpen, 0));  // payload too short
  std::vector<uint8_t> bad_attach = header(client::wire::Op::kAttach, 16);
  bad_attach.resize(bad_attach.size() + 16, 0xab);  // unknown token
  attempt(bad_attach);
  std::vector<uint8_t> lying = header(client::wire::Op::kOpen, 1000);
  lying.resize(lying.size() + 4);  // payload_size lies
  attempt(lying);
  // Nothing of the rejected connections is left: a new open costs exactly its control
  // connection, eventfd and pidfd.
  BinderClient good(daemon_.socket());
  ASSERT_TRUE(good.ok());
  EXPECT_LE(daemon_.waitFdCount(baseline + 3, 5000), baseline + 3);
  int32_t v;
  good.version(&v);
  // The daemon still serves everyone.
  BinderClient other(daemon_.socket());
  EXPECT_TRUE(other.ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, BinderdTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "Inline" : "Direct";
                         });

}  // namespace
}  // namespace nb::testing
