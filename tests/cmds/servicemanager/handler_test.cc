// servicemanager protocol handler, without a device: requests built with the codec per layout,
// replies compared byte for byte with what the codec writes for the expected answer.
#include "cmds/servicemanager/handler.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cmds/servicemanager/binding.h"
#include "cmds/servicemanager/options.h"
#include "codec/parcel_headers.h"
#include "gtest/gtest.h"
#include "runtime/binder_status.h"
#include "spdlog/spdlog.h"

namespace nb::servicemanager {
namespace {

using runtime::ServiceManagerLayout;
using L = ServiceManagerLayout;
using M = runtime::ServiceManagerMethod;
using Bytes = std::vector<uint8_t>;

// A remote binder as the fake runtime sees it: a handle.
class FakeBinder final : public runtime::IBinder {
 public:
  explicit FakeBinder(uint32_t h) : handle(h) {}
  absl::StatusOr<runtime::ReceivedParcel> transact(uint32_t, const codec::ParcelWriter&,
                                                   uint32_t) override {
    return absl::UnimplementedError("fake");
  }
  const uint32_t handle;
};

struct Sent {
  uint32_t target;
  uint32_t code;
  Bytes data;
};

class FakeEnv final : public ServiceManagerEnv {
 public:
  std::shared_ptr<FakeBinder> binder(uint32_t handle) {
    auto& b = binders[handle];
    if (b == nullptr) {
      b = std::make_shared<FakeBinder>(handle);
    }
    return b;
  }
  absl::StatusOr<BinderPtr> readBinder(codec::ParcelReader& reader) override {
    absl::StatusOr<codec::ParcelBinder> read = reader.readStrongBinder();
    if (!read.ok()) {
      return read.status();
    }
    if (read->object.isNull()) {
      return BinderPtr();
    }
    return BinderPtr(binder(read->object.handle));
  }
  void writeBinder(codec::ParcelWriter& writer, const BinderPtr& b, int32_t stability) override {
    if (b == nullptr) {
      writer.writeNullBinder(stability);
    } else {
      writer.writeStrongHandle(static_cast<FakeBinder*>(b.get())->handle, stability);
    }
  }
  absl::Status linkToDeath(const BinderPtr& b) override {
    const uint32_t h = static_cast<FakeBinder*>(b.get())->handle;
    if (dead.count(h) != 0) {
      return absl::UnavailableError("dead object");
    }
    linked.insert(h);
    return absl::OkStatus();
  }
  absl::Status sendOneway(const BinderPtr& target, uint32_t code,
                          const codec::ParcelWriter& data) override {
    std::lock_guard<std::mutex> lock(mu);
    sent.push_back(Sent{static_cast<FakeBinder*>(target.get())->handle, code,
                        Bytes(data.data().begin(), data.data().end())});
    return absl::OkStatus();
  }
  Caller caller() override { return Caller{4242, uid.load()}; }

  std::map<uint32_t, std::shared_ptr<FakeBinder>> binders;
  std::set<uint32_t> linked;
  std::set<uint32_t> dead;
  std::mutex mu;
  std::vector<Sent> sent;
  std::atomic<uid_t> uid{1000};
};

// The handler's warnings are expected here; NB_TEST_LOG=1 shows them.
const bool kQuietLogs = [] {
  if (std::getenv("NB_TEST_LOG") == nullptr) {
    spdlog::set_level(spdlog::level::off);
  }
  return true;
}();

Bytes bytesOf(const codec::ParcelWriter& w) { return Bytes(w.data().begin(), w.data().end()); }

// Expected replies.
codec::ParcelWriter okReply() {
  codec::ParcelWriter w;
  EXPECT_TRUE(codec::writeStatus(w, codec::AidlStatus::ok()).ok());
  return w;
}
Bytes exceptionReply(int32_t code, std::u16string message) {
  codec::ParcelWriter w;
  EXPECT_TRUE(codec::writeStatus(w, codec::AidlStatus::fromExceptionCode(code, message)).ok());
  return bytesOf(w);
}

class HandlerTest : public ::testing::TestWithParam<L> {
 protected:
  void SetUp() override { make({}); }
  void make(HandlerOptions options) {
    options.layout = GetParam();
    handler = std::make_unique<ServiceManagerHandler>(options, env);
  }
  L layout() const { return GetParam(); }
  bool legacy() const { return runtime::isLegacyServiceManager(layout()); }
  int32_t stability() const { return runtime::binderStabilityFor(layout()); }
  uint32_t code(M method) const {
    auto c = runtime::serviceManagerCode(layout(), method);
    EXPECT_TRUE(c.has_value()) << runtime::serviceManagerMethodName(method);
    return c.value_or(0);
  }
  codec::ParcelWriter request(std::u16string_view descriptor = runtime::kServiceManagerDescriptor,
                              std::optional<codec::InterfaceHeaderFormat> format = std::nullopt) {
    codec::ParcelWriter w;
    EXPECT_TRUE(codec::writeInterfaceToken(
                    w, descriptor, format.value_or(runtime::serviceManagerHeaderFormat(layout())))
                    .ok());
    return w;
  }
  absl::StatusOr<Bytes> call(uint32_t c, const codec::ParcelWriter& req) {
    codec::ParcelReader reader(req.data(), req.offsets());
    codec::ParcelWriter reply;
    absl::Status status = handler->handle(c, reader, &reply, 0);
    if (!status.ok()) {
      return status;
    }
    return bytesOf(reply);
  }

  // ---- Method helpers (requests as the layout's clients write them) ----
  absl::StatusOr<Bytes> add(const std::string& name, std::optional<uint32_t> handle,
                            int32_t priority = runtime::kDumpFlagPriorityDefault) {
    codec::ParcelWriter w = request();
    EXPECT_TRUE(w.writeString16(std::string_view(name)).ok());
    if (handle.has_value()) {
      w.writeStrongHandle(*handle, stability());
    } else {
      w.writeNullBinder(stability());
    }
    if (legacy()) {
      w.writeUint32(0);
      w.writeUint32(static_cast<uint32_t>(priority));
    } else {
      w.writeBool(false);
      w.writeInt32(priority);
    }
    return call(code(M::kAddService), w);
  }
  absl::StatusOr<Bytes> lookup(M method, const std::string& name) {
    codec::ParcelWriter w = request();
    EXPECT_TRUE(w.writeString16(std::string_view(name)).ok());
    return call(code(method), w);
  }
  absl::StatusOr<Bytes> listAidl(int32_t priority) {
    codec::ParcelWriter w = request();
    w.writeInt32(priority);
    return call(code(M::kListServices), w);
  }
  absl::StatusOr<Bytes> listLegacy(uint32_t index, int32_t priority) {
    codec::ParcelWriter w = request();
    w.writeUint32(index);
    w.writeUint32(static_cast<uint32_t>(priority));
    return call(code(M::kListServices), w);
  }
  // Names a list call returns, through the layout's protocol.
  std::vector<std::string> names(int32_t priority) {
    std::vector<std::string> out;
    if (legacy()) {
      for (uint32_t i = 0; i < 100; ++i) {
        absl::StatusOr<Bytes> r = listLegacy(i, priority);
        if (!r.ok()) {
          EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();
          break;
        }
        codec::ParcelReader reader(*r);
        out.push_back(reader.readString16AsUtf8().value_or("?"));
      }
      return out;
    }
    absl::StatusOr<Bytes> r = listAidl(priority);
    EXPECT_TRUE(r.ok());
    codec::ParcelReader reader(*r);
    EXPECT_EQ(reader.readInt32().value_or(-99), 0);
    const int32_t n = reader.readInt32().value_or(0);
    for (int32_t i = 0; i < n; ++i) {
      out.push_back(reader.readString16AsUtf8().value_or("?"));
    }
    EXPECT_EQ(reader.dataAvail(), 0u);
    return out;
  }
  Bytes foundReply(uint32_t handle) {
    codec::ParcelWriter w = legacy() ? codec::ParcelWriter() : okReply();
    w.writeStrongHandle(handle, stability());
    return bytesOf(w);
  }
  Bytes notFoundReply() {
    if (legacy()) {
      return {};
    }
    codec::ParcelWriter w = okReply();
    w.writeNullBinder(stability());
    return bytesOf(w);
  }
  Bytes addOkReply() {
    codec::ParcelWriter w;
    w.writeUint32(0);  // legacy u32 0 and AIDL EX_NONE are the same word
    return bytesOf(w);
  }
  // An error addService answers: AIDL exception, or the legacy status -1.
  void expectAddError(const absl::StatusOr<Bytes>& r, int32_t ex, std::u16string message) {
    if (legacy()) {
      ASSERT_FALSE(r.ok());
      EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();
    } else {
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(*r, exceptionReply(ex, message));
    }
  }

  FakeEnv env;
  std::unique_ptr<ServiceManagerHandler> handler;
};

TEST_P(HandlerTest, AddGetCheckList) {
  ASSERT_EQ(add("foo", 5).value_or(Bytes{9}), addOkReply());
  ASSERT_EQ(add("alpha", 6).value_or(Bytes{9}), addOkReply());
  EXPECT_EQ(lookup(M::kGetService, "foo").value_or(Bytes{9}), foundReply(5));
  EXPECT_EQ(lookup(M::kCheckService, "alpha").value_or(Bytes{9}), foundReply(6));
  EXPECT_EQ(lookup(M::kCheckService, "missing").value_or(Bytes{9}), notFoundReply());
  EXPECT_EQ(lookup(M::kGetService, "missing").value_or(Bytes{9}), notFoundReply());
  EXPECT_EQ(names(runtime::kDumpFlagPriorityAll), (std::vector<std::string>{"alpha", "foo"}));
  EXPECT_EQ(env.linked, (std::set<uint32_t>{5, 6}));
  if (legacy()) {
    codec::ParcelWriter first;
    ASSERT_TRUE(first.writeString16(std::string_view("alpha")).ok());
    EXPECT_EQ(listLegacy(0, runtime::kDumpFlagPriorityAll).value_or(Bytes{9}), bytesOf(first));
  } else {
    codec::ParcelWriter expected = okReply();
    expected.writeInt32(2);
    ASSERT_TRUE(expected.writeString16(std::string_view("alpha")).ok());
    ASSERT_TRUE(expected.writeString16(std::string_view("foo")).ok());
    EXPECT_EQ(listAidl(runtime::kDumpFlagPriorityAll).value_or(Bytes{9}), bytesOf(expected));
  }
}

TEST_P(HandlerTest, ReAddReplaces) {
  ASSERT_TRUE(add("foo", 5).ok());
  ASSERT_TRUE(add("foo", 7).ok());
  EXPECT_EQ(lookup(M::kCheckService, "foo").value_or(Bytes{9}), foundReply(7));
  EXPECT_EQ(names(runtime::kDumpFlagPriorityAll), (std::vector<std::string>{"foo"}));
}

TEST_P(HandlerTest, NameRules) {
  expectAddError(add("", 5), codec::kExIllegalArgument, u"Invalid service name");
  expectAddError(add(std::string(128, 'a'), 5), codec::kExIllegalArgument, u"Invalid service name");
  expectAddError(add("bad name", 5), codec::kExIllegalArgument, u"Invalid service name");
  expectAddError(add("bad!", 5), codec::kExIllegalArgument, u"Invalid service name");
  expectAddError(add("ok", std::nullopt), codec::kExIllegalArgument, u"Null binder");
  EXPECT_EQ(add(std::string(127, 'a'), 5).value_or(Bytes{9}), addOkReply());
  EXPECT_EQ(add("A-z_0.9/x", 5).value_or(Bytes{9}), addOkReply());
  EXPECT_EQ(names(runtime::kDumpFlagPriorityAll).size(), 2u);
}

TEST_P(HandlerTest, DumpPriorities) {
  ASSERT_TRUE(add("crit", 1, runtime::kDumpFlagPriorityCritical).ok());
  ASSERT_TRUE(add("high", 2, runtime::kDumpFlagPriorityHigh).ok());
  ASSERT_TRUE(
      add("normdef", 3, runtime::kDumpFlagPriorityNormal | runtime::kDumpFlagPriorityDefault).ok());
  EXPECT_EQ(names(runtime::kDumpFlagPriorityCritical), (std::vector<std::string>{"crit"}));
  EXPECT_EQ(names(runtime::kDumpFlagPriorityHigh), (std::vector<std::string>{"high"}));
  EXPECT_EQ(names(runtime::kDumpFlagPriorityDefault), (std::vector<std::string>{"normdef"}));
  EXPECT_EQ(names(runtime::kDumpFlagPriorityCritical | runtime::kDumpFlagPriorityNormal),
            (std::vector<std::string>{"crit", "normdef"}));
  EXPECT_EQ(names(runtime::kDumpFlagPriorityAll),
            (std::vector<std::string>{"crit", "high", "normdef"}));
  EXPECT_TRUE(names(runtime::kDumpFlagProto).empty());
}

TEST_P(HandlerTest, AllowListDeniesOtherUids) {
  HandlerOptions options;
  options.allow_add = std::set<uid_t>{1000, 1001};
  make(options);
  env.uid = 2000;
  expectAddError(add("foo", 5), codec::kExSecurity, u"UID not allowed to add services");
  EXPECT_EQ(lookup(M::kCheckService, "foo").value_or(Bytes{9}), notFoundReply());
  env.uid = 1001;
  EXPECT_EQ(add("foo", 5).value_or(Bytes{9}), addOkReply());
  EXPECT_EQ(lookup(M::kCheckService, "foo").value_or(Bytes{9}), foundReply(5));
}

TEST_P(HandlerTest, DeathRemovesServicesAndCallbacks) {
  ASSERT_TRUE(add("foo", 5).ok());
  ASSERT_TRUE(add("bar", 5).ok());
  ASSERT_TRUE(add("baz", 6).ok());
  handler->binderDied(env.binder(5).get());
  EXPECT_EQ(lookup(M::kCheckService, "foo").value_or(Bytes{9}), notFoundReply());
  EXPECT_EQ(names(runtime::kDumpFlagPriorityAll), (std::vector<std::string>{"baz"}));
  // A binder that is dead already is refused.
  env.dead.insert(8);
  if (legacy()) {
    EXPECT_TRUE(absl::IsPermissionDenied(add("dead", 8).status()));
  } else {
    EXPECT_EQ(add("dead", 8).value_or(Bytes{9}),
              exceptionReply(codec::kExIllegalState, u"Couldn't linkToDeath"));
  }
}

TEST_P(HandlerTest, BadInterfaceToken) {
  codec::ParcelWriter wrong_descriptor = request(u"android.os.IFoo");
  ASSERT_TRUE(wrong_descriptor.writeString16(std::string_view("foo")).ok());
  absl::StatusOr<Bytes> r = call(code(M::kCheckService), wrong_descriptor);
  ASSERT_FALSE(r.ok());
  if (legacy()) {
    EXPECT_TRUE(absl::IsPermissionDenied(r.status())) << r.status();  // status -1
    return;
  }
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();  // BAD_TYPE
  EXPECT_EQ(runtime::statusToStatusT(r.status()), runtime::kBadType);
  codec::InterfaceHeaderFormat vendor = runtime::serviceManagerHeaderFormat(layout());
  vendor.marker = codec::HeaderMarker::kVendor;
  codec::ParcelWriter wrong_marker = request(runtime::kServiceManagerDescriptor, vendor);
  ASSERT_TRUE(wrong_marker.writeString16(std::string_view("foo")).ok());
  r = call(code(M::kCheckService), wrong_marker);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsDataLoss(r.status())) << r.status();
}

TEST_P(HandlerTest, UnknownCode) {
  codec::ParcelWriter w = request();
  const uint32_t past_end =
      static_cast<uint32_t>(runtime::serviceManagerMethods(layout()).size()) + 1;
  absl::StatusOr<Bytes> r = call(past_end, w);
  ASSERT_FALSE(r.ok());
  if (legacy()) {
    EXPECT_EQ(runtime::statusToStatusT(r.status()), -1);
  } else {
    EXPECT_EQ(runtime::statusToStatusT(r.status()), runtime::kUnknownTransaction);
  }
}

TEST_P(HandlerTest, TruncatedRequestFails) {
  codec::ParcelWriter w = request();  // no name
  EXPECT_FALSE(call(code(M::kCheckService), w).ok());
}

TEST_P(HandlerTest, PingAndInterfaceOnTheBinder) {
  ServiceManagerBinder binder(*handler);
  codec::ParcelWriter empty;
  codec::ParcelReader reader(empty.data());
  codec::ParcelWriter reply;
  EXPECT_TRUE(binder.dispatch(runtime::kPingTransaction, reader, &reply, 0).ok());
  EXPECT_EQ(reply.dataSize(), 0u);
  ASSERT_TRUE(binder.dispatch(runtime::kInterfaceTransaction, reader, &reply, 0).ok());
  codec::ParcelWriter expected;
  ASSERT_TRUE(expected.writeString16(std::u16string_view(u"android.os.IServiceManager")).ok());
  EXPECT_EQ(bytesOf(reply), bytesOf(expected));
  // And a real call through the binder.
  codec::ParcelWriter req = request();
  ASSERT_TRUE(req.writeString16(std::string_view("x")).ok());
  codec::ParcelReader req_reader(req.data(), req.offsets());
  codec::ParcelWriter reply2;
  ASSERT_TRUE(binder.dispatch(code(M::kCheckService), req_reader, &reply2, 0).ok());
  EXPECT_EQ(bytesOf(reply2), notFoundReply());
}

std::string layoutName(const ::testing::TestParamInfo<L>& info) {
  return "Android" + std::string(runtime::serviceManagerLayoutName(info.param));
}

INSTANTIATE_TEST_SUITE_P(AllLayouts, HandlerTest,
                         ::testing::Values(L::kAndroid10, L::kAndroid11, L::kAndroid12,
                                           L::kAndroid13, L::kAndroid14, L::kAndroid15,
                                           L::kAndroid16),
                         layoutName);

// ---- AIDL-only methods -------------------------------------------------------------------------

class AidlHandlerTest : public HandlerTest {};

TEST_P(AidlHandlerTest, Notifications) {
  auto reg = [&](M method, const std::string& name, std::optional<uint32_t> cb) {
    codec::ParcelWriter w = request();
    EXPECT_TRUE(w.writeString16(std::string_view(name)).ok());
    if (cb.has_value()) {
      w.writeStrongHandle(*cb, stability());
    } else {
      w.writeNullBinder(stability());
    }
    return call(code(method), w);
  };
  auto onRegistration = [&](const std::string& name, uint32_t handle) {
    codec::ParcelWriter w;
    EXPECT_TRUE(codec::writeInterfaceToken(w, runtime::kServiceCallbackDescriptor,
                                           runtime::serviceManagerHeaderFormat(layout()))
                    .ok());
    EXPECT_TRUE(w.writeString16(std::string_view(name)).ok());
    w.writeStrongHandle(handle, stability());
    return bytesOf(w);
  };
  const Bytes ok = bytesOf(okReply());
  ASSERT_EQ(reg(M::kRegisterForNotifications, "foo", 9).value_or(Bytes{9}), ok);
  EXPECT_TRUE(env.sent.empty());
  EXPECT_EQ(env.linked.count(9), 1u);
  ASSERT_TRUE(add("foo", 5).ok());
  ASSERT_EQ(env.sent.size(), 1u);
  EXPECT_EQ(env.sent[0].target, 9u);
  EXPECT_EQ(env.sent[0].code, runtime::kServiceCallbackOnRegistration);
  EXPECT_EQ(env.sent[0].data, onRegistration("foo", 5));
  // A registration for a service that exists is answered at once.
  ASSERT_EQ(reg(M::kRegisterForNotifications, "foo", 10).value_or(Bytes{9}), ok);
  ASSERT_EQ(env.sent.size(), 2u);
  EXPECT_EQ(env.sent[1].target, 10u);
  EXPECT_EQ(env.sent[1].data, onRegistration("foo", 5));
  // Re-add notifies both.
  ASSERT_TRUE(add("foo", 7).ok());
  ASSERT_EQ(env.sent.size(), 4u);
  EXPECT_EQ(env.sent[3].data, onRegistration("foo", 7));
  // Unregister; twice is an error.
  EXPECT_EQ(reg(M::kUnregisterForNotifications, "foo", 9).value_or(Bytes{9}), ok);
  EXPECT_EQ(
      reg(M::kUnregisterForNotifications, "foo", 9).value_or(Bytes{9}),
      exceptionReply(codec::kExIllegalState, u"Trying to unregister callback, but none exists"));
  EXPECT_EQ(reg(M::kRegisterForNotifications, "bad name", 9).value_or(Bytes{9}),
            exceptionReply(codec::kExIllegalArgument, u"Invalid service name"));
  EXPECT_EQ(reg(M::kRegisterForNotifications, "foo", std::nullopt).value_or(Bytes{9}),
            exceptionReply(codec::kExNullPointer, u"Null callback"));
  // A dead callback's registrations are dropped.
  EXPECT_EQ(handler->registry().callbackCount("foo"), 1u);
  handler->binderDied(env.binder(10).get());
  EXPECT_EQ(handler->registry().callbackCount("foo"), 0u);
  ASSERT_TRUE(add("foo", 8).ok());
  EXPECT_EQ(env.sent.size(), 4u);
}

TEST_P(AidlHandlerTest, DeclaredInstances) {
  HandlerOptions options;
  options.declared_wait = std::chrono::milliseconds(300);
  make(options);
  handler->registry().setDeclared(
      {"android.hardware.foo.IFoo/default", "android.hardware.foo.IFoo/other", "a.IBar/x"});
  auto isDeclared = [&](const std::string& name) {
    codec::ParcelWriter w = request();
    EXPECT_TRUE(w.writeString16(std::string_view(name)).ok());
    return call(code(M::kIsDeclared), w).value_or(Bytes{9});
  };
  codec::ParcelWriter yes = okReply();
  yes.writeBool(true);
  codec::ParcelWriter no = okReply();
  no.writeBool(false);
  EXPECT_EQ(isDeclared("android.hardware.foo.IFoo/default"), bytesOf(yes));
  EXPECT_EQ(isDeclared("android.hardware.foo.IFoo/none"), bytesOf(no));
  if (auto c = runtime::serviceManagerCode(layout(), M::kGetDeclaredInstances)) {
    codec::ParcelWriter w = request();
    ASSERT_TRUE(w.writeString16(std::string_view("android.hardware.foo.IFoo")).ok());
    codec::ParcelWriter expected = okReply();
    expected.writeInt32(2);
    ASSERT_TRUE(expected.writeString16(std::string_view("default")).ok());
    ASSERT_TRUE(expected.writeString16(std::string_view("other")).ok());
    EXPECT_EQ(call(*c, w).value_or(Bytes{9}), bytesOf(expected));
  }
  // getService waits (bounded) for a declared service; checkService never does.
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(lookup(M::kCheckService, "a.IBar/x").value_or(Bytes{9}), notFoundReply());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(lookup(M::kGetService, "a.IBar/x").value_or(Bytes{9}), notFoundReply());
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(290));
  start = std::chrono::steady_clock::now();
  EXPECT_EQ(lookup(M::kGetService, "undeclared").value_or(Bytes{9}), notFoundReply());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
  std::thread adder([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_TRUE(add("a.IBar/x", 12).ok());
  });
  EXPECT_EQ(lookup(M::kGetService, "a.IBar/x").value_or(Bytes{9}), foundReply(12));
  adder.join();
}

TEST_P(AidlHandlerTest, UnsupportedMethods) {
  codec::ParcelWriter w = request();
  ASSERT_TRUE(w.writeString16(std::string_view("foo")).ok());
  w.writeStrongHandle(3, stability());
  EXPECT_EQ(
      call(code(M::kTryUnregisterService), w).value_or(Bytes{9}),
      exceptionReply(codec::kExUnsupportedOperation, u"tryUnregisterService is not supported"));
}

INSTANTIATE_TEST_SUITE_P(AidlLayouts, AidlHandlerTest,
                         ::testing::Values(L::kAndroid11, L::kAndroid12, L::kAndroid13,
                                           L::kAndroid14, L::kAndroid15, L::kAndroid16),
                         layoutName);

// ---- Single-layout details ---------------------------------------------------------------------

class Android16Test : public HandlerTest {};

TEST_P(Android16Test, GetService2AndDebugInfo) {
  ASSERT_TRUE(add("foo", 5).ok());
  for (M method : {M::kGetService2, M::kCheckService2}) {
    codec::ParcelWriter expected = okReply();
    expected.writeInt32(1);   // non-null Service
    expected.writeInt32(0);   // tag serviceWithMetadata
    expected.writeInt32(1);   // non-null ServiceWithMetadata
    expected.writeInt32(36);  // size: itself + object (24) + stability + bool
    expected.writeStrongHandle(5, stability());
    expected.writeBool(false);
    EXPECT_EQ(lookup(method, "foo").value_or(Bytes{9}), bytesOf(expected));
  }
  codec::ParcelWriter w = request();
  codec::ParcelWriter expected = okReply();
  expected.writeInt32(1);
  expected.writeInt32(1);
  expected.writeInt32(4 + 12 + 4);  // size, String16 "foo" (4 + 8), pid
  ASSERT_TRUE(expected.writeString16(std::string_view("foo")).ok());
  expected.writeInt32(4242);
  EXPECT_EQ(call(code(M::kGetServiceDebugInfo), w).value_or(Bytes{9}), bytesOf(expected));
  // Codes shifted by getService2/checkService2: 3 is checkService here, addService on Android 14.
  EXPECT_EQ(code(M::kCheckService), 3u);
  EXPECT_EQ(code(M::kAddService), 5u);
}

INSTANTIATE_TEST_SUITE_P(Newest, Android16Test, ::testing::Values(L::kAndroid16), layoutName);

// ---- Options -----------------------------------------------------------------------------------

TEST(OptionsTest, Layouts) {
  EXPECT_EQ(parseLayout("10").value(), L::kAndroid10);
  EXPECT_EQ(parseLayout("legacy").value(), L::kAndroid10);
  EXPECT_EQ(parseLayout("14").value(), L::kAndroid14);
  EXPECT_EQ(parseLayout("15r3").value(), L::kAndroid14);
  EXPECT_EQ(parseLayout("15r6").value(), L::kAndroid15);
  EXPECT_EQ(parseLayout("15").value(), L::kAndroid15);
  EXPECT_EQ(parseLayout("16").value(), L::kAndroid16);
  EXPECT_FALSE(parseLayout("9").ok());
}

TEST(OptionsTest, Flags) {
  absl::StatusOr<Options> o = parseOptions(
      {"--layout", "15r6", "--allow-add=0,1000", "--declared", "/x", "--log-level", "debug"},
      L::kAndroid16);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->layout, L::kAndroid15);
  EXPECT_EQ(o->allow_add, (std::set<uid_t>{0, 1000}));
  EXPECT_EQ(o->declared_file, "/x");
  EXPECT_EQ(o->log_level, "debug");
  EXPECT_EQ(parseOptions({}, L::kAndroid12)->layout, L::kAndroid12);
  EXPECT_EQ(parseOptions({"--legacy"}, L::kAndroid16)->layout, L::kAndroid10);
  EXPECT_FALSE(parseOptions({"--allow-add", "x"}, L::kAndroid16).ok());
  EXPECT_FALSE(parseOptions({"--allow-add"}, L::kAndroid16).ok());
  EXPECT_FALSE(parseOptions({"--log-level", "loud"}, L::kAndroid16).ok());
  EXPECT_FALSE(parseOptions({"--bogus"}, L::kAndroid16).ok());
}

TEST(OptionsTest, DeclaredFile) {
  absl::StatusOr<std::vector<std::string>> d =
      parseDeclared("# comment\n a.IFoo/default \n\nb.IBar/x # trailing\n");
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, (std::vector<std::string>{"a.IFoo/default", "b.IBar/x"}));
  EXPECT_FALSE(parseDeclared("noslash\n").ok());
  EXPECT_FALSE(parseDeclared("a.IFoo/\n").ok());
  EXPECT_FALSE(parseDeclared("a b/c\n").ok());
}

TEST(RegistryTest, ValidNames) {
  EXPECT_TRUE(isValidServiceName("a"));
  EXPECT_TRUE(isValidServiceName("android.hardware.foo.IFoo/default"));
  EXPECT_FALSE(isValidServiceName(""));
  EXPECT_FALSE(isValidServiceName(std::string(128, 'x')));
  EXPECT_FALSE(isValidServiceName("a:b"));
}

}  // namespace
}  // namespace nb::servicemanager
