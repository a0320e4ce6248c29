// Pure parts of nb_runtime: device selection, common flags, status mapping, local objects and
// the object registry. No Binder device needed.
#include <gtest/gtest.h>

#include "codec/parcel_headers.h"
#include "runtime/binder.h"
#include "runtime/binder_status.h"
#include "runtime/calling_identity.h"
#include "runtime/device.h"
#include "runtime/device_flags.h"
#include "runtime/object_registry.h"
#include "runtime/parcel_binder.h"

namespace nb::runtime {
namespace {

TEST(ResolveDevice, FlagCharDeviceIsKernel) {
  DeviceSpec spec = resolveDevice(std::string("/dev/null"), std::string("/tmp/x"));
  EXPECT_EQ(spec.backend, Backend::kKernel);
  EXPECT_EQ(spec.path, "/dev/null");
}

TEST(ResolveDevice, FlagSocketOrNameIsBinderd) {
  EXPECT_EQ(resolveDevice(std::string("/tmp/nb/binder"), std::string()).backend, Backend::kBinderd);
  DeviceSpec name = resolveDevice(std::string("vndbinder"), std::string());
  EXPECT_EQ(name.backend, Backend::kBinderd);
  EXPECT_EQ(name.path, "vndbinder");
}

TEST(ResolveDevice, NetbinderDirThenKernelDefault) {
  DeviceSpec dir = resolveDevice(std::nullopt, std::string("/run/nb"));
  EXPECT_EQ(dir.backend, Backend::kBinderd);
  EXPECT_EQ(dir.path, "/run/nb/binder");
  DeviceSpec def = resolveDevice(std::nullopt, std::string());
  EXPECT_EQ(def.backend, Backend::kKernel);
  EXPECT_EQ(def.path, "/dev/binder");
  EXPECT_EQ(def.toString(), "kernel:/dev/binder");
}

TEST(CommonFlags, RemovesCommonFlagsAndKeepsTheRest) {
  std::vector<std::string> args = {"list", "--device",      "/tmp/s", "--sm-layout=13",
                                   "-v",   "--max-threads", "4",      "x"};
  auto flags = parseCommonFlags(args);
  ASSERT_TRUE(flags.ok()) << flags.status();
  EXPECT_EQ(flags->device, "/tmp/s");
  EXPECT_EQ(flags->sm_layout, ServiceManagerLayout::kAndroid13);
  EXPECT_EQ(flags->max_threads, 4u);
  EXPECT_EQ(args, (std::vector<std::string>{"list", "-v", "x"}));
  EXPECT_EQ(flags->processOptions().device.backend, Backend::kBinderd);
}

TEST(CommonFlags, ArgvFormAndErrors) {
  std::string a0 = "prog", a1 = "--device=/dev/null", a2 = "call", a3 = "--", a4 = "--device";
  char* argv[] = {a0.data(), a1.data(), a2.data(), a3.data(), a4.data(), nullptr};
  int argc = 5;
  auto flags = parseCommonFlags(&argc, argv);
  ASSERT_TRUE(flags.ok());
  EXPECT_EQ(argc, 4);
  EXPECT_STREQ(argv[1], "call");
  EXPECT_STREQ(argv[3], "--device");  // after "--": left alone
  EXPECT_EQ(flags->deviceSpec().backend, Backend::kKernel);

  std::vector<std::string> missing = {"--device"};
  EXPECT_FALSE(parseCommonFlags(missing).ok());
  std::vector<std::string> bad = {"--sm-layout", "8"};
  EXPECT_FALSE(parseCommonFlags(bad).ok());
}

TEST(BinderStatus, DriverReturnsAndStatusCodes) {
  EXPECT_TRUE(isDeadObject(statusFromDriverReturn(BR_DEAD_REPLY, "call")));
  EXPECT_TRUE(absl::IsAborted(statusFromDriverReturn(BR_FAILED_REPLY, "call")));
  EXPECT_FALSE(isDeadObject(statusFromDriverReturn(BR_FAILED_REPLY, "call")));
  EXPECT_TRUE(absl::IsFailedPrecondition(statusFromDriverReturn(BR_FROZEN_REPLY, "call")));
  EXPECT_TRUE(isDeadObject(statusFromStatusT(kDeadObject)));
  EXPECT_TRUE(absl::IsUnimplemented(statusFromStatusT(kUnknownTransaction)));
  for (status_t s : {kOk, kDeadObject, kFailedTransaction, kUnknownTransaction, kBadValue,
                     kPermissionDenied, kNameNotFound, kBadType, kNotEnoughData}) {
    EXPECT_EQ(statusToStatusT(statusFromStatusT(s)), s) << s;
  }
  EXPECT_TRUE(absl::IsPermissionDenied(
      statusFromAidl(codec::AidlStatus::fromExceptionCode(codec::kExSecurity, u"no"))));
  EXPECT_TRUE(statusFromAidl(codec::AidlStatus::ok()).ok());
}

class Adder final : public LocalBinder {
 public:
  Adder() : LocalBinder(u"nb.test.IAdder") {}

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t /*flags*/) override {
    if (code != 1) {
      return LocalBinder::onTransact(code, data, reply, 0);
    }
    reply->writeInt32(*data.readInt32() + *data.readInt32());
    return absl::OkStatus();
  }
};

TEST(LocalBinder, LocalCallsAndDefaultCodes) {
  auto adder = std::make_shared<Adder>();
  EXPECT_NE(adder->id(), 0u);
  EXPECT_NE(adder->id(), std::make_shared<Adder>()->id());
  EXPECT_TRUE(adder->ping().ok());
  EXPECT_EQ(*adder->interfaceDescriptor(), u"nb.test.IAdder");
  codec::ParcelWriter request;
  request.writeInt32(2);
  request.writeInt32(3);
  auto reply = adder->transact(1, request);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(*reply->reader().readInt32(), 5);
  EXPECT_TRUE(absl::IsUnimplemented(adder->transact(2, request).status()));
  EXPECT_FALSE(callingIdentity().in_transaction);
}

TEST(LocalObjectRegistry, HoldsWhileReferencedAndReleasesAfter) {
  auto& registry = LocalObjectRegistry::instance();
  std::weak_ptr<Adder> weak;
  uint64_t id = 0;
  {
    auto adder = std::make_shared<Adder>();
    weak = adder;
    id = adder->id();
    codec::ParcelWriter writer;
    writeBinder(writer, adder);  // pending send
    ASSERT_EQ(writer.offsets().size(), 1u);
    EXPECT_EQ(registry.countsForTest(id).pending_sends, 1);
  }
  EXPECT_FALSE(weak.expired()) << "held for the pending send";
  using Op = LocalObjectRegistry::RefOp;
  registry.applyDriverRef(id, Op::kIncWeak);
  registry.applyDriverRef(id, Op::kIncStrong);
  uint64_t ids[] = {id};
  registry.sendFinished(ids);
  EXPECT_FALSE(weak.expired()) << "held for the driver's references";
  EXPECT_EQ(registry.lookup(id).get(), weak.lock().get());
  registry.applyDriverRef(id, Op::kDecStrong);
  EXPECT_FALSE(weak.expired());
  registry.applyDriverRef(id, Op::kDecWeak);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(registry.lookup(id), nullptr);
  registry.applyDriverRef(id, Op::kDecWeak);  // stray decrement: ignored
}

TEST(ParcelBinder, NullBinderRoundTrip) {
  codec::ParcelWriter writer;
  writeBinder(writer, nullptr);
  EXPECT_TRUE(writer.offsets().empty());
  codec::ParcelReader reader(writer.data(), writer.offsets());
  auto object = reader.readStrongBinder();
  ASSERT_TRUE(object.ok());
  EXPECT_TRUE(object->object.isNull());
}

}  // namespace
}  // namespace nb::runtime
