// ProcessState::refOwner / Device::refOwner (binderd's NB_IOC_REF_OWNER) end to end: one process
// opens the device twice and each open gets a handle to a LocalBinder of the other through a
// relaying context manager in another process (no service manager). On the kernel driver
// (NB_TEST_BACKEND=kernel) refOwner is Unimplemented.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <thread>

#include "runtime/parcel_binder.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"
#include "tests/runtime/harness.h"

namespace nb::runtime::testing {
namespace {

constexpr uint32_t kPut = kFirstCallTransaction;      // int32 key, binder: keep it
constexpr uint32_t kGet = kFirstCallTransaction + 1;  // int32 key -> reply: the binder

// The context manager: a key -> binder store. What it hands out are its own handles, so the
// caller gets a handle too (or the object itself if it is the owner's open).
class Relay final : public LocalBinder {
 public:
  explicit Relay(ProcessState& state) : state_(state) {}

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t /*flags*/) override {
    absl::StatusOr<int32_t> key = data.readInt32();
    if (!key.ok()) {
      return key.status();
    }
    std::lock_guard lock(mu_);
    if (code == kPut) {
      absl::StatusOr<std::shared_ptr<IBinder>> binder = readBinder(data, state_);
      if (!binder.ok()) {
        return binder.status();
      }
      kept_[*key] = *binder;
      return absl::OkStatus();
    }
    if (code == kGet && reply != nullptr) {
      writeBinder(*reply, kept_[*key]);
      return absl::OkStatus();
    }
    return absl::UnimplementedError("relay code");
  }

 private:
  ProcessState& state_;
  std::mutex mu_;
  std::map<int32_t, std::shared_ptr<IBinder>> kept_;  // guarded by mu_
};

int runRelay(Pipe& ready, Pipe& quit) {
  auto state = ProcessState::open(ProcessOptions{});
  ROLE_CHECK_OK(state);
  auto relay = std::make_shared<Relay>(**state);
  absl::Status status;
  for (int i = 0; i < 500; ++i) {  // the kernel releases a previous test's manager lazily
    status = (*state)->becomeContextManager(relay);
    if (!absl::IsUnavailable(status)) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ROLE_CHECK(status.ok());
  (*state)->startThreadPool();
  ready.send(::getpid());
  int64_t v = 0;
  quit.recv(&v, 300000);
  (*state)->shutdown();
  return 0;
}

absl::Status put(ProcessState& state, int32_t key, const std::shared_ptr<IBinder>& binder) {
  codec::ParcelWriter data;
  data.writeInt32(key);
  writeBinder(data, binder);
  return state.contextObject()->transact(kPut, data).status();
}

absl::StatusOr<std::shared_ptr<IBinder>> get(ProcessState& state, int32_t key) {
  codec::ParcelWriter data;
  data.writeInt32(key);
  absl::StatusOr<ReceivedParcel> reply = state.contextObject()->transact(kGet, data);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  return readBinder(reader, state);
}

// Two opens (first, second) of this process; each puts a LocalBinder into the relay and gets the
// other's back as a Proxy.
int runTwoOpens(pid_t relay_pid) {
  auto first = ProcessState::open(ProcessOptions{});
  auto second = ProcessState::open(ProcessOptions{});
  ROLE_CHECK_OK(first);
  ROLE_CHECK_OK(second);
  (*first)->startThreadPool();
  (*second)->startThreadPool();
  if (kernelBackend()) {
    absl::StatusOr<RefOwner> owner = (*first)->refOwner(0);
    ROLE_CHECK(absl::IsUnimplemented(owner.status()));
    return 0;
  }
  auto object1 = std::make_shared<LocalBinder>(u"nb.test.First");
  auto object2 = std::make_shared<LocalBinder>(u"nb.test.Second");
  ROLE_CHECK(put(**first, 1, object1).ok());
  ROLE_CHECK(put(**second, 2, object2).ok());
  absl::StatusOr<std::shared_ptr<IBinder>> in_second = get(**second, 1);
  absl::StatusOr<std::shared_ptr<IBinder>> in_first = get(**first, 2);
  ROLE_CHECK_OK(in_second);
  ROLE_CHECK_OK(in_first);
  ROLE_CHECK(*in_second != nullptr && (*in_second)->asProxy() != nullptr);
  ROLE_CHECK(*in_first != nullptr && (*in_first)->asProxy() != nullptr);
  const uint32_t h1 = (*in_second)->asProxy()->handle();
  const uint32_t h2 = (*in_first)->asProxy()->handle();

  // In the second open, object1's handle names the first open; same process, so its pointers.
  absl::StatusOr<RefOwner> o1 = (*second)->refOwner(h1);
  ROLE_CHECK_OK(o1);
  ROLE_CHECK(o1->pid == ::getpid());
  ROLE_CHECK(o1->proc_id != 0);
  ROLE_CHECK(o1->node_cookie == object1->id());
  ROLE_CHECK(o1->node_ptr == object1->id());
  ROLE_CHECK(!o1->dead);
  // And the other way round: a different open.
  absl::StatusOr<RefOwner> o2 = (*first)->refOwner(h2);
  ROLE_CHECK_OK(o2);
  ROLE_CHECK(o2->pid == ::getpid());
  ROLE_CHECK(o2->proc_id != 0 && o2->proc_id != o1->proc_id);
  ROLE_CHECK(o2->node_cookie == object2->id());
  // Handle 0 is the relay: another process, a third open, no pointers.
  absl::StatusOr<RefOwner> o0 = (*first)->refOwner(0);
  ROLE_CHECK_OK(o0);
  ROLE_CHECK(o0->pid == relay_pid);
  ROLE_CHECK(o0->proc_id != o1->proc_id && o0->proc_id != o2->proc_id);
  ROLE_CHECK(o0->node_ptr == 0 && o0->node_cookie == 0);
  // A handle the open does not hold.
  ROLE_CHECK(absl::IsInvalidArgument((*second)->refOwner(h1 + 100).status()));

  // The first open goes away (the process lives on): its node is dead for the second open.
  const uint64_t first_id = o1->proc_id;
  in_first->reset();
  (*first)->shutdown();
  first->reset();
  bool dead = false;
  for (int i = 0; i < 500 && !dead; ++i) {
    absl::StatusOr<RefOwner> now = (*second)->refOwner(h1);
    ROLE_CHECK_OK(now);
    dead = now->dead;
    if (dead) {
      ROLE_CHECK(now->pid == 0 && now->proc_id == first_id);
      ROLE_CHECK(now->node_ptr == 0 && now->node_cookie == 0);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ROLE_CHECK(dead);
  in_second->reset();
  (*second)->shutdown();
  return 0;
}

// The kernel backend answers without any call: /dev/null stands in for the device.
TEST(RefOwnerKernelBackendTest, IsUnimplemented) {
  absl::StatusOr<std::unique_ptr<Device>> device =
      openDevice(DeviceSpec{runtime::Backend::kKernel, "/dev/null"});
  ASSERT_TRUE(device.ok()) << device.status();
  EXPECT_TRUE(absl::IsUnimplemented((*device)->refOwner(0).status()));
  EXPECT_TRUE(absl::IsUnimplemented((*device)->refOwner(5).status()));
}

class RefOwnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string why = backend_.start();
    if (!why.empty()) {
      GTEST_SKIP() << why;
    }
  }
  Backend backend_;
};

TEST_F(RefOwnerTest, NamesTheOwningOpenAcrossTwoOpensOfOneProcess) {
  Pipe ready;
  Pipe quit;
  const pid_t relay = spawnRole([&] { return runRelay(ready, quit); });
  int64_t relay_pid = 0;
  ASSERT_TRUE(ready.recv(&relay_pid));
  const pid_t user = spawnRole([&] { return runTwoOpens(static_cast<pid_t>(relay_pid)); });
  EXPECT_EQ(waitRole(user), 0);
  quit.send(1);
  EXPECT_EQ(waitRole(relay), 0);
}

}  // namespace
}  // namespace nb::runtime::testing
