// The runtime end to end: a context manager (TestServiceManager) and a service and a client in
// separate processes, on binderd (default) or on the kernel driver (NB_TEST_BACKEND=kernel, the
// binder-vm ctest).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <thread>

#include "runtime/binder_status.h"
#include "runtime/parcel_binder.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"
#include "runtime/service_manager.h"
#include "tests/runtime/echo_service.h"
#include "tests/runtime/harness.h"
#include "tests/runtime/test_service_manager.h"

namespace nb::runtime::testing {
namespace {

using std::chrono::milliseconds;

absl::Status becomeManagerWithRetry(ProcessState& state, std::shared_ptr<LocalBinder> object) {
  // On the kernel the previous test's manager is released asynchronously (EBUSY meanwhile).
  absl::Status status;
  for (int i = 0; i < 500; ++i) {
    status = state.becomeContextManager(object);
    if (!absl::IsUnavailable(status)) {
      return status;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return status;
}

int runRegistry(Pipe& ready, Pipe& quit, ServiceManagerLayout layout) {
  auto state = ProcessState::open(ProcessOptions{});
  ROLE_CHECK_OK(state);
  auto registry = std::make_shared<TestServiceManager>(*state, layout);
  ROLE_CHECK(becomeManagerWithRetry(**state, registry).ok());
  (*state)->startThreadPool();
  ready.send(::getpid());
  int64_t v = 0;
  quit.recv(&v, 300000);
  return 0;
}

int servePolled(ProcessState& state, Pipe& quit) {
  absl::StatusOr<int> fd = state.setupPolling();
  ROLE_CHECK_OK(fd);
  for (;;) {
    pollfd fds[2] = {{*fd, POLLIN, 0}, {quit.readFd(), POLLIN, 0}};
    int r = ::poll(fds, 2, 1000);
    if (r > 0 && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
      return 0;
    }
    if (r > 0 && (fds[0].revents & POLLIN) != 0) {
      absl::Status status = state.handlePolledCommands();
      ROLE_CHECK(status.ok());
    }
  }
}

int runService(Pipe& ready, Pipe& quit, const std::string& name, bool polled,
               ServiceManagerLayout layout) {
  ProcessOptions options;
  options.max_threads = polled ? 0 : kDefaultMaxThreads;
  auto state = ProcessState::open(options);
  ROLE_CHECK_OK(state);
  auto service = std::make_shared<EchoService>(*state);
  ServiceManager sm(*state, layout);
  if (!polled) {
    (*state)->startThreadPool();
  }
  ROLE_CHECK(sm.addService(name, service).ok());
  ready.send(::getpid());
  if (polled) {
    return servePolled(**state, quit);
  }
  int64_t v = 0;
  quit.recv(&v, 300000);
  return 0;
}

struct Client {
  std::shared_ptr<ProcessState> state;
  std::shared_ptr<IBinder> echo;
};

absl::StatusOr<Client> connect(const std::string& name = "echo", bool pool = false,
                               ServiceManagerLayout layout = kNewestServiceManagerLayout) {
  auto state = ProcessState::open(ProcessOptions{});
  if (!state.ok()) {
    return state.status();
  }
  if (pool) {
    (*state)->startThreadPool();
  }
  ServiceManager sm(*state, layout);
  auto echo = sm.waitForService(name, milliseconds(10000));
  if (!echo.ok()) {
    return echo.status();
  }
  return Client{*state, *echo};
}

absl::StatusOr<int32_t> add(IBinder& echo, int32_t a, int32_t b) {
  codec::ParcelWriter request;
  request.writeInt32(a);
  request.writeInt32(b);
  auto reply = echo.transact(kAdd, request);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  return reader.readInt32();
}

class RuntimeIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why = backend_.start();
    if (!why.empty()) {
      GTEST_SKIP() << why;
    }
    registry_ =
        spawnRole([this] { return runRegistry(registry_ready_, registry_quit_, layout()); });
    int64_t pid = 0;
    ASSERT_TRUE(registry_ready_.recv(&pid, 20000)) << "context manager did not start";
  }

  void TearDown() override {
    if (service_ > 0) {
      stopService();
    }
    if (registry_ > 0) {
      registry_quit_.send(1);
      EXPECT_EQ(waitRole(registry_, 10000), 0);
    }
    backend_.stop();
  }

  void startService(const std::string& name = "echo", bool polled = false) {
    service_ = spawnRole([this, name, polled] {
      return runService(service_ready_, service_quit_, name, polled, layout());
    });
    int64_t pid = 0;
    ASSERT_TRUE(service_ready_.recv(&pid, 20000)) << "service did not register";
  }

  void stopService() {
    service_quit_.send(1);
    EXPECT_EQ(waitRole(service_, 10000), 0);
    service_ = -1;
  }

  // The IServiceManager release the registry, the service and the clients speak.
  virtual ServiceManagerLayout layout() const { return kNewestServiceManagerLayout; }

  // Runs `body` as a client process; its exit code.
  int runClient(const std::function<int()>& body, int timeout_ms = 60000) {
    return waitRole(spawnRole(body), timeout_ms);
  }

  Backend backend_;
  pid_t registry_ = -1;
  pid_t service_ = -1;
  Pipe registry_ready_, registry_quit_, service_ready_, service_quit_;
};

TEST_F(RuntimeIntegrationTest, RegisterCallAndCallingIdentity) {
  startService();
  EXPECT_EQ(runClient([] {
              auto client = connect();
              ROLE_CHECK_OK(client);
              IBinder& echo = *client->echo;
              ROLE_CHECK(echo.asProxy() != nullptr);
              ROLE_CHECK(echo.ping().ok());
              auto descriptor = echo.interfaceDescriptor();
              ROLE_CHECK_OK(descriptor);
              ROLE_CHECK(*descriptor == kEchoDescriptor);
              codec::ParcelWriter request;
              ROLE_CHECK(request.writeString16(std::u16string_view(u"hello")).ok());
              auto reply = echo.transact(kEcho, request);
              ROLE_CHECK_OK(reply);
              codec::ParcelReader reader = reply->reader();
              ROLE_CHECK(*reader.readString16() == u"hello");
              auto caller = echo.transact(kGetCaller, codec::ParcelWriter());
              ROLE_CHECK_OK(caller);
              codec::ParcelReader cr = caller->reader();
              ROLE_CHECK(*cr.readInt32() == ::getpid());
              ROLE_CHECK(*cr.readInt32() == static_cast<int32_t>(::geteuid()));
              auto unknown = echo.transact(999, codec::ParcelWriter());
              ROLE_CHECK(absl::IsUnimplemented(unknown.status()));
              ServiceManager sm(client->state);
              auto names = sm.listServices();
              ROLE_CHECK_OK(names);
              ROLE_CHECK(std::find(names->begin(), names->end(), "echo") != names->end());
              auto missing = sm.checkService("no.such.service");
              ROLE_CHECK_OK(missing);
              ROLE_CHECK(*missing == nullptr);
              auto declared = sm.isDeclared("echo");
              ROLE_CHECK_OK(declared);
              // The same handle gives the same proxy object.
              auto again = sm.checkService("echo");
              ROLE_CHECK_OK(again);
              ROLE_CHECK(again->get() == client->echo.get());
              return 0;
            }),
            0);
}

TEST_F(RuntimeIntegrationTest, NestedCallbackRunsOnTheWaitingThread) {
  startService();
  EXPECT_EQ(runClient([] {
              auto client = connect("echo", /*pool=*/true);
              ROLE_CHECK_OK(client);
              auto callback = std::make_shared<TidCallback>();
              {  // our own object comes back as BINDER and resolves to the local object
                codec::ParcelWriter request;
                writeBinder(request, callback);
                auto reply = client->echo->transact(kReturnBinder, request);
                ROLE_CHECK_OK(reply);
                codec::ParcelReader reader = reply->reader();
                auto back = readBinder(reader, *client->state);
                ROLE_CHECK_OK(back);
                ROLE_CHECK(back->get() == callback.get());
              }
              for (int i = 0; i < 3; ++i) {
                codec::ParcelWriter request;
                writeBinder(request, callback);
                request.writeInt32(41 + i);
                auto reply = client->echo->transact(kCallBack, request);
                ROLE_CHECK_OK(reply);
                codec::ParcelReader reader = reply->reader();
                ROLE_CHECK(*reader.readInt32() == 42 + i);
                ROLE_CHECK(callback->tid.load() == ::gettid());
              }
              // The pool stops: blocked looper reads are woken and the threads joined.
              ROLE_CHECK(client->state->poolThreadCount() >= 1);
              ROLE_CHECK(client->state->shutdown(5000));
              return 0;
            }),
            0);
}

TEST_F(RuntimeIntegrationTest, OnewayCallsArriveInOrder) {
  startService();
  EXPECT_EQ(runClient([] {
              auto client = connect();
              ROLE_CHECK_OK(client);
              for (int32_t i = 0; i < 100; ++i) {
                codec::ParcelWriter request;
                request.writeInt32(i);
                ROLE_CHECK_OK(client->echo->transact(kOnewayRecord, request, kFlagOneway));
              }
              int32_t count = 0;
              bool in_order = false;
              for (int tries = 0; tries < 1000 && count < 100; ++tries) {
                auto reply = client->echo->transact(kGetRecorded, codec::ParcelWriter());
                ROLE_CHECK_OK(reply);
                codec::ParcelReader reader = reply->reader();
                count = *reader.readInt32();
                in_order = *reader.readBool();
                if (count < 100) {
                  std::this_thread::sleep_for(milliseconds(10));
                }
              }
              ROLE_CHECK(count == 100);
              ROLE_CHECK(in_order);
              return 0;
            }),
            0);
}

class DeathWaiter final : public DeathRecipient {
 public:
  void binderDied(const std::weak_ptr<IBinder>& /*who*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    died_ = true;
    cv_.notify_all();
  }
  bool wait(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return died_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool died_ = false;
};

TEST_F(RuntimeIntegrationTest, DeathRecipientFiresWhenTheServiceIsKilled) {
  startService();
  Pipe linked;
  pid_t client = spawnRole([&linked] {
    auto c = connect("echo", /*pool=*/true);
    ROLE_CHECK_OK(c);
    auto waiter = std::make_shared<DeathWaiter>();
    Proxy* proxy = c->echo->asProxy();
    ROLE_CHECK(proxy != nullptr);
    ROLE_CHECK(proxy->linkToDeath(waiter).ok());
    ROLE_CHECK(absl::IsAlreadyExists(proxy->linkToDeath(waiter)));
    auto unlinked = std::make_shared<DeathWaiter>();
    ROLE_CHECK(proxy->linkToDeath(unlinked).ok());
    ROLE_CHECK(proxy->unlinkToDeath(unlinked).ok());
    ROLE_CHECK(absl::IsNotFound(proxy->unlinkToDeath(unlinked)));
    linked.send(1);
    ROLE_CHECK(waiter->wait(milliseconds(20000)));
    ROLE_CHECK(proxy->isDead());
    ROLE_CHECK(!unlinked->wait(milliseconds(0)));
    auto after = c->echo->transact(kEcho, codec::ParcelWriter());
    ROLE_CHECK(isDeadObject(after.status()));
    return 0;
  });
  int64_t v = 0;
  ASSERT_TRUE(linked.recv(&v, 20000));
  ::kill(service_, SIGKILL);
  EXPECT_EQ(waitRole(service_, 10000), 128 + SIGKILL);
  service_ = -1;
  EXPECT_EQ(waitRole(client, 30000), 0);
}

TEST_F(RuntimeIntegrationTest, FileDescriptorsInAndOut) {
  startService();
  EXPECT_EQ(runClient([] {
              auto client = connect();
              ROLE_CHECK_OK(client);
              int fd = ::memfd_create("nb-client", MFD_CLOEXEC);
              ROLE_CHECK(fd >= 0);
              ROLE_CHECK(::write(fd, "hello fd", 8) == 8);
              codec::ParcelWriter request;
              request.writeFileDescriptor(fd, false);
              auto reply = client->echo->transact(kReadFd, request);
              ::close(fd);
              ROLE_CHECK_OK(reply);
              codec::ParcelReader reader = reply->reader();
              ROLE_CHECK(*reader.readString8() == "hello fd");

              auto made = client->echo->transact(kMakeFd, codec::ParcelWriter());
              ROLE_CHECK_OK(made);
              codec::ParcelReader mr = made->reader();
              auto got = readDupFileDescriptor(mr);
              ROLE_CHECK_OK(got);
              made->release();  // closes the parcel's own fd; our dup stays valid
              char buf[64] = {};
              ssize_t n = ::pread(*got, buf, sizeof(buf), 0);
              ::close(*got);
              ROLE_CHECK(n == 12 && std::string(buf, 12) == "from service");
              return 0;
            }),
            0);
}

TEST_F(RuntimeIntegrationTest, EightConcurrentClientThreads) {
  startService();
  EXPECT_EQ(runClient([] {
              auto client = connect();
              ROLE_CHECK_OK(client);
              std::atomic<int> failures{0};
              std::vector<std::thread> threads;
              for (int t = 0; t < 8; ++t) {
                threads.emplace_back([&, t] {
                  for (int i = 0; i < 50; ++i) {
                    auto sum = add(*client->echo, t * 1000, i);
                    if (!sum.ok() || *sum != t * 1000 + i) {
                      ++failures;
                    }
                  }
                });
              }
              for (auto& th : threads) {
                th.join();
              }
              ROLE_CHECK(failures.load() == 0);
              return 0;
            }),
            0);
}

// The owner keeps a local object alive exactly while another process holds a proxy: BR_INCREFS/
// BR_ACQUIRE when the reference is transferred, BR_RELEASE/BR_DECREFS when the proxy goes.
TEST_F(RuntimeIntegrationTest, LocalObjectLivesWhileARemoteProxyExists) {
  startService();
  EXPECT_EQ(runClient([] {
              auto client = connect();
              ROLE_CHECK_OK(client);
              auto alive = [&]() -> absl::StatusOr<bool> {
                auto reply = client->echo->transact(kObjectAlive, codec::ParcelWriter());
                if (!reply.ok()) {
                  return reply.status();
                }
                codec::ParcelReader reader = reply->reader();
                return reader.readBool();
              };
              {
                auto made = client->echo->transact(kMakeObject, codec::ParcelWriter());
                ROLE_CHECK_OK(made);
                codec::ParcelReader reader = made->reader();
                auto object = readBinder(reader, *client->state);
                ROLE_CHECK_OK(object);
                made->release();  // the proxy's own references keep the node now
                ROLE_CHECK(*object != nullptr && (*object)->asProxy() != nullptr);
                ROLE_CHECK((*object)->ping().ok());
                auto is_alive = alive();
                ROLE_CHECK_OK(is_alive);
                ROLE_CHECK(*is_alive);
              }  // last proxy dropped: BC_RELEASE + BC_DECREFS
              bool gone = false;
              for (int tries = 0; tries < 500 && !gone; ++tries) {
                auto is_alive = alive();
                ROLE_CHECK_OK(is_alive);
                gone = !*is_alive;
                if (!gone) {
                  std::this_thread::sleep_for(milliseconds(10));
                }
              }
              ROLE_CHECK(gone);
              return 0;
            }),
            0);
}

TEST_F(RuntimeIntegrationTest, ServiceDrivenByAnExternalPollLoop) {
  startService("echo", /*polled=*/true);
  EXPECT_EQ(runClient([] {
              auto client = connect();
              ROLE_CHECK_OK(client);
              for (int i = 0; i < 20; ++i) {
                auto sum = add(*client->echo, i, 1);
                ROLE_CHECK_OK(sum);
                ROLE_CHECK(*sum == i + 1);
              }
              auto callback = std::make_shared<TidCallback>();
              codec::ParcelWriter request;
              writeBinder(request, callback);
              request.writeInt32(7);
              auto reply = client->echo->transact(kCallBack, request);
              ROLE_CHECK_OK(reply);
              codec::ParcelReader reader = reply->reader();
              ROLE_CHECK(*reader.readInt32() == 8);
              return 0;
            }),
            0);
}

TEST_F(RuntimeIntegrationTest, WaitForServiceIsNotifiedOfALateRegistration) {
  Pipe waiting;
  pid_t client = spawnRole([&waiting] {
    auto state = ProcessState::open(ProcessOptions{});
    ROLE_CHECK_OK(state);
    (*state)->startThreadPool();
    ServiceManager sm(*state);
    waiting.send(1);
    auto late = sm.waitForService("late", milliseconds(20000));
    ROLE_CHECK_OK(late);
    ROLE_CHECK((*late)->ping().ok());
    auto none = sm.waitForService("never", milliseconds(200));
    ROLE_CHECK(absl::IsDeadlineExceeded(none.status()));
    return 0;
  });
  int64_t v = 0;
  ASSERT_TRUE(waiting.recv(&v, 20000));
  std::this_thread::sleep_for(milliseconds(100));
  startService("late");
  EXPECT_EQ(waitRole(client, 40000), 0);
}

// The same registration and lookup in the codes of older releases (the registry and the client
// agree on the layout; service_manager_codes.h). Android 10 is the legacy numeric protocol
// (no Status, list by index; waitForService polls).
class OlderLayoutTest : public RuntimeIntegrationTest,
                        public ::testing::WithParamInterface<ServiceManagerLayout> {
 protected:
  ServiceManagerLayout layout() const override { return GetParam(); }
};

TEST_P(OlderLayoutTest, RegisterListAndCall) {
  startService();
  const ServiceManagerLayout layout = GetParam();
  EXPECT_EQ(runClient([layout] {
              auto client = connect("echo", /*pool=*/true, layout);
              ROLE_CHECK_OK(client);
              ROLE_CHECK(client->echo->ping().ok());
              ServiceManager sm(client->state, layout);
              auto names = sm.listServices();
              ROLE_CHECK_OK(names);
              ROLE_CHECK(names->size() == 1 && names->front() == "echo");
              auto missing = sm.getService("missing");
              ROLE_CHECK_OK(missing);
              ROLE_CHECK(*missing == nullptr);
              return 0;
            }),
            0);
}

INSTANTIATE_TEST_SUITE_P(
    Releases, OlderLayoutTest,
    ::testing::Values(ServiceManagerLayout::kAndroid10, ServiceManagerLayout::kAndroid11,
                      ServiceManagerLayout::kAndroid12, ServiceManagerLayout::kAndroid13,
                      ServiceManagerLayout::kAndroid14, ServiceManagerLayout::kAndroid15),
    [](const auto& param_info) {
      return "Android" + std::string(serviceManagerLayoutName(param_info.param));
    });

}  // namespace
}  // namespace nb::runtime::testing
