// servicemanager on binderd: the built binderd in a temp dir, the built servicemanager as the
// context manager, services and clients in forked processes using the runtime's ServiceManager
// client. The test process itself never opens Binder (forks stay clean). Every wait is bounded.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "runtime/binder.h"
#include "runtime/process_state.h"
#include "runtime/service_manager.h"

namespace {

namespace rt = nb::runtime;
using std::chrono::milliseconds;

int64_t nowMs() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Exit code, 128+signal, or -1 after the timeout (the child is then killed).
int waitChild(pid_t pid, int timeout_ms) {
  const int64_t deadline = nowMs() + timeout_ms;
  for (;;) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return WIFEXITED(status) ? WEXITSTATUS(status)
                               : (WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1);
    }
    if ((r < 0 && errno != EINTR) || nowMs() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(milliseconds(5));
  }
}

void stopChild(pid_t* pid) {
  if (*pid > 0) {
    ::kill(*pid, SIGTERM);
    waitChild(*pid, 5000);
    *pid = -1;
  }
}

pid_t spawn(const std::function<int()>& body) {
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    int rc = body();
    std::fflush(nullptr);
    ::_exit(rc);
  }
  return pid;
}

// One byte messages between processes.
class Pipe {
 public:
  Pipe() { EXPECT_EQ(::pipe2(fds_, O_CLOEXEC), 0); }
  ~Pipe() {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  bool send(char c) { return ::write(fds_[1], &c, 1) == 1; }
  bool recv(char* c, int timeout_ms = 20000) {
    pollfd pfd{fds_[0], POLLIN, 0};
    int r;
    do {
      r = ::poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r > 0 && ::read(fds_[0], c, 1) == 1;
  }

 private:
  int fds_[2] = {-1, -1};
};

#define ROLE_CHECK(cond)                                                                    \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      std::fprintf(stderr, "[role %d] %s:%d: %s\n", ::getpid(), __FILE__, __LINE__, #cond); \
      return 1;                                                                             \
    }                                                                                       \
  } while (0)

bool connectable(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  const bool ok = fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

std::shared_ptr<rt::ProcessState> openProcess() {
  rt::ProcessOptions options;  // NETBINDER_DIR → binderd
  auto state = rt::ProcessState::open(options);
  if (!state.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(state.status().message()).c_str());
    return nullptr;
  }
  (*state)->startThreadPool();
  return *state;
}

// Answers code 1 with int32 42.
class Answer final : public rt::LocalBinder {
 public:
  Answer() : LocalBinder(u"netbinder.test.IAnswer") {}

 protected:
  absl::Status onTransact(uint32_t code, nb::codec::ParcelReader&, nb::codec::ParcelWriter* reply,
                          uint32_t) override {
    if (code != 1 || reply == nullptr) {
      return absl::UnimplementedError("code");
    }
    reply->writeInt32(42);
    return absl::OkStatus();
  }
};

bool callAnswer(const std::shared_ptr<rt::IBinder>& binder) {
  nb::codec::ParcelWriter request;
  auto reply = binder->transact(1, request);
  if (!reply.ok()) {
    return false;
  }
  nb::codec::ParcelReader reader = reply->reader();
  return reader.readInt32().value_or(0) == 42;
}

class Recorder final : public rt::ServiceCallback {
 public:
  using ServiceCallback::ServiceCallback;
  void onRegistration(const std::string& name, std::shared_ptr<rt::IBinder> binder) override {
    std::lock_guard<std::mutex> lock(mu_);
    names_.push_back(name);
    last_ = std::move(binder);
    cv_.notify_all();
  }
  // Waits for the n-th notification; its binder, or nullptr after the timeout.
  std::shared_ptr<rt::IBinder> wait(size_t n, milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return names_.size() >= n; });
    return names_.size() >= n ? last_ : nullptr;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> names_;
  std::shared_ptr<rt::IBinder> last_;
};

class ServiceManagerIntegration : public ::testing::TestWithParam<rt::ServiceManagerLayout> {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nb-sm-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    binderd_ = ::fork();
    if (binderd_ == 0) {
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
      ASSERT_LT(nowMs(), deadline) << "binderd did not come up";
      std::this_thread::sleep_for(milliseconds(10));
    }
    ::setenv("NETBINDER_DIR", dir_.c_str(), 1);
  }
  void TearDown() override {
    stopChild(&sm_);
    stopChild(&binderd_);
    ::unsetenv("NETBINDER_DIR");
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      [[maybe_unused]] int rc = std::system(cmd.c_str());
    }
  }

  rt::ServiceManagerLayout layout() const { return GetParam(); }
  std::string layoutArg() const { return std::string(rt::serviceManagerLayoutName(layout())); }

  // Starts the servicemanager and waits (bounded) until a client's ping and listServices work.
  void startManager(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {NB_SERVICEMANAGER_PATH, "--layout", layoutArg(), "--log-level",
                                     "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    sm_ = ::fork();
    if (sm_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) {
        argv.push_back(a.data());
      }
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    const rt::ServiceManagerLayout l = layout();
    pid_t probe = spawn([l] {
      auto state = openProcess();
      ROLE_CHECK(state != nullptr);
      rt::ServiceManager sm(state, l);
      const int64_t deadline = nowMs() + 10000;
      // (The legacy list ends at the first error, so it cannot tell "no manager" apart.)
      while (!state->contextObject()->ping().ok() || !sm.listServices().ok()) {
        ROLE_CHECK(nowMs() < deadline);
        std::this_thread::sleep_for(milliseconds(20));
      }
      return 0;
    });
    ASSERT_EQ(waitChild(probe, 15000), 0) << "servicemanager did not come up";
  }

  // A process that registers Answer objects under `names` (and sends 'r'), then waits for 'q'
  // or a kill.
  pid_t startService(std::vector<std::string> names, Pipe* ready, Pipe* quit,
                     const std::string& expect_error = "") {
    const rt::ServiceManagerLayout l = layout();
    return spawn([=] {
      auto state = openProcess();
      ROLE_CHECK(state != nullptr);
      rt::ServiceManager sm(state, l);
      auto answer = std::make_shared<Answer>();
      for (const auto& name : names) {
        absl::Status status = sm.addService(name, answer);
        if (!expect_error.empty()) {
          std::fprintf(stderr, "addService: %s\n", status.ToString().c_str());
          ROLE_CHECK(!status.ok());
          ROLE_CHECK(status.ToString().find(expect_error) != std::string::npos);
        } else {
          ROLE_CHECK(status.ok());
        }
      }
      ROLE_CHECK(ready->send('r'));
      char c = 0;
      quit->recv(&c, 30000);
      return 0;
    });
  }

  std::string dir_;
  pid_t binderd_ = -1;
  pid_t sm_ = -1;
};

TEST_P(ServiceManagerIntegration, AddGetCheckList) {
  ASSERT_NO_FATAL_FAILURE(startManager());
  Pipe ready, quit;
  pid_t service = startService({"answer", "answer.two"}, &ready, &quit);
  char c = 0;
  ASSERT_TRUE(ready.recv(&c));
  const rt::ServiceManagerLayout l = layout();
  pid_t client = spawn([l] {
    auto state = openProcess();
    ROLE_CHECK(state != nullptr);
    rt::ServiceManager sm(state, l);
    auto got = sm.getService("answer");
    ROLE_CHECK(got.ok() && *got != nullptr);
    ROLE_CHECK(callAnswer(*got));
    auto checked = sm.checkService("answer.two");
    ROLE_CHECK(checked.ok() && *checked != nullptr);
    ROLE_CHECK(callAnswer(*checked));
    auto missing = sm.checkService("missing");
    ROLE_CHECK(missing.ok() && *missing == nullptr);
    auto names = sm.listServices();
    ROLE_CHECK(names.ok());
    ROLE_CHECK((*names == std::vector<std::string>{"answer", "answer.two"}));
    // The manager answers PING and INTERFACE itself.
    auto manager = state->contextObject();
    ROLE_CHECK(manager->ping().ok());
    auto descriptor = manager->interfaceDescriptor();
    ROLE_CHECK(descriptor.ok() && *descriptor == u"android.os.IServiceManager");
    return 0;
  });
  EXPECT_EQ(waitChild(client, 30000), 0);
  quit.send('q');
  EXPECT_EQ(waitChild(service, 10000), 0);
  // SIGTERM stops the manager cleanly (looper pool shut down, exit 0).
  ::kill(sm_, SIGTERM);
  EXPECT_EQ(waitChild(sm_, 6000), 0);
  sm_ = -1;
}

TEST_P(ServiceManagerIntegration, ServiceRemovedWhenItsProcessIsKilled) {
  ASSERT_NO_FATAL_FAILURE(startManager());
  Pipe ready, quit;
  pid_t service = startService({"doomed"}, &ready, &quit);
  char c = 0;
  ASSERT_TRUE(ready.recv(&c));
  ::kill(service, SIGKILL);
  EXPECT_EQ(waitChild(service, 5000), 128 + SIGKILL);
  const rt::ServiceManagerLayout l = layout();
  pid_t client = spawn([l] {
    auto state = openProcess();
    ROLE_CHECK(state != nullptr);
    rt::ServiceManager sm(state, l);
    const int64_t deadline = nowMs() + 5000;
    for (;;) {
      auto names = sm.listServices();
      ROLE_CHECK(names.ok());
      if (names->empty()) {
        break;
      }
      ROLE_CHECK(nowMs() < deadline);
      std::this_thread::sleep_for(milliseconds(20));
    }
    auto gone = sm.checkService("doomed");
    ROLE_CHECK(gone.ok() && *gone == nullptr);
    return 0;
  });
  EXPECT_EQ(waitChild(client, 15000), 0);
}

std::string name(const ::testing::TestParamInfo<rt::ServiceManagerLayout>& info) {
  return "Android" + std::string(rt::serviceManagerLayoutName(info.param));
}

INSTANTIATE_TEST_SUITE_P(Layouts, ServiceManagerIntegration,
                         ::testing::Values(rt::ServiceManagerLayout::kAndroid10,
                                           rt::ServiceManagerLayout::kAndroid14,
                                           rt::ServiceManagerLayout::kAndroid16),
                         name);

class ServiceManagerNotifications : public ServiceManagerIntegration {};

TEST_P(ServiceManagerNotifications, CallbackOnRegistration) {
  ASSERT_NO_FATAL_FAILURE(startManager());
  Pipe registered, done, ready, quit;
  const rt::ServiceManagerLayout l = layout();
  pid_t client = spawn([&, l] {
    auto state = openProcess();
    ROLE_CHECK(state != nullptr);
    rt::ServiceManager sm(state, l);
    auto early = std::make_shared<Recorder>(state, l);
    ROLE_CHECK(sm.registerForNotifications("late", early).ok());
    ROLE_CHECK(registered.send('r'));
    auto binder = early->wait(1, milliseconds(10000));
    ROLE_CHECK(binder != nullptr);
    ROLE_CHECK(callAnswer(binder));
    // Registering for a service that exists is answered at once.
    auto later = std::make_shared<Recorder>(state, l);
    ROLE_CHECK(sm.registerForNotifications("late", later).ok());
    ROLE_CHECK(later->wait(1, milliseconds(10000)) != nullptr);
    ROLE_CHECK(sm.unregisterForNotifications("late", early).ok());
    ROLE_CHECK(!sm.unregisterForNotifications("late", early).ok());
    return 0;
  });
  char c = 0;
  ASSERT_TRUE(registered.recv(&c));
  pid_t service = startService({"late"}, &ready, &quit);
  ASSERT_TRUE(ready.recv(&c));
  EXPECT_EQ(waitChild(client, 30000), 0);
  quit.send('q');
  EXPECT_EQ(waitChild(service, 10000), 0);
}

TEST_P(ServiceManagerNotifications, AllowListDeniesAdd) {
  // Nobody runs as uid 4242424: every addService is refused (EX_SECURITY).
  ASSERT_NO_FATAL_FAILURE(startManager({"--allow-add", "4242424"}));
  Pipe ready, quit;
  pid_t service = startService({"denied"}, &ready, &quit, "PERMISSION_DENIED");
  char c = 0;
  ASSERT_TRUE(ready.recv(&c));
  quit.send('q');
  EXPECT_EQ(waitChild(service, 10000), 0);
}

TEST_P(ServiceManagerNotifications, DeclaredInstances) {
  const std::string declared = dir_ + "/declared";
  FILE* f = std::fopen(declared.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("# test\nnetbinder.IAnswer/default\n", f);
  std::fclose(f);
  ASSERT_NO_FATAL_FAILURE(startManager({"--declared", declared}));
  Pipe asking, ready, quit;
  const rt::ServiceManagerLayout l = layout();
  pid_t client = spawn([&, l] {
    auto state = openProcess();
    ROLE_CHECK(state != nullptr);
    rt::ServiceManager sm(state, l);
    auto yes = sm.isDeclared("netbinder.IAnswer/default");
    ROLE_CHECK(yes.ok() && *yes);
    auto no = sm.isDeclared("netbinder.IAnswer/other");
    ROLE_CHECK(no.ok() && !*no);
    // Not declared: null at once.
    const int64_t start = nowMs();
    auto missing = sm.getService("netbinder.IAnswer/other");
    ROLE_CHECK(missing.ok() && *missing == nullptr);
    ROLE_CHECK(nowMs() - start < 2000);
    // Declared: the manager waits (≤ 5 s) for the registration.
    ROLE_CHECK(asking.send('a'));
    auto got = sm.getService("netbinder.IAnswer/default");
    ROLE_CHECK(got.ok() && *got != nullptr);
    ROLE_CHECK(callAnswer(*got));
    return 0;
  });
  char c = 0;
  ASSERT_TRUE(asking.recv(&c));
  pid_t service = startService({"netbinder.IAnswer/default"}, &ready, &quit);
  ASSERT_TRUE(ready.recv(&c));
  EXPECT_EQ(waitChild(client, 30000), 0);
  quit.send('q');
  EXPECT_EQ(waitChild(service, 10000), 0);
}

INSTANTIATE_TEST_SUITE_P(Layouts, ServiceManagerNotifications,
                         ::testing::Values(rt::ServiceManagerLayout::kAndroid11,
                                           rt::ServiceManagerLayout::kAndroid16),
                         name);

}  // namespace
