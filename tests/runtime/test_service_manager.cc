#include "tests/runtime/test_service_manager.h"

#include <algorithm>

#include "codec/parcel_headers.h"
#include "runtime/parcel_binder.h"

namespace nb::runtime::testing {

namespace {

// AIDL replies start with a Status; the legacy (Android 10) C servicemanager's do not.
absl::Status writeOk(codec::ParcelWriter& reply, ServiceManagerLayout layout) {
  return isLegacyServiceManager(layout) ? absl::OkStatus()
                                        : codec::writeStatus(reply, codec::AidlStatus::ok());
}

}  // namespace

TestServiceManager::TestServiceManager(std::shared_ptr<ProcessState> state,
                                       ServiceManagerLayout layout)
    : LocalBinder(std::u16string(kServiceManagerDescriptor)),
      state_(std::move(state)),
      layout_(layout) {}

absl::Status TestServiceManager::onTransact(uint32_t code, codec::ParcelReader& data,
                                            codec::ParcelWriter* reply, uint32_t /*flags*/) {
  std::optional<ServiceManagerMethod> method = serviceManagerMethodForCode(layout_, code);
  if (!method.has_value() || reply == nullptr) {
    return absl::UnimplementedError("unknown IServiceManager code");
  }
  absl::StatusOr<codec::InterfaceToken> token =
      codec::enforceInterface(data, kServiceManagerDescriptor, serviceManagerHeaderFormat(layout_));
  if (!token.ok()) {
    return token.status();
  }
  switch (*method) {
    case ServiceManagerMethod::kAddService:
      return add(data, reply);
    case ServiceManagerMethod::kGetService:
    case ServiceManagerMethod::kCheckService:
      return lookup(data, reply);
    case ServiceManagerMethod::kListServices:
      return list(data, reply);
    case ServiceManagerMethod::kRegisterForNotifications:
      return notifications(true, data, reply);
    case ServiceManagerMethod::kUnregisterForNotifications:
      return notifications(false, data, reply);
    case ServiceManagerMethod::kIsDeclared: {
      (void)codec::writeStatus(*reply, codec::AidlStatus::ok());
      reply->writeBool(false);
      return absl::OkStatus();
    }
    default:
      return codec::writeStatus(*reply, codec::AidlStatus::fromExceptionCode(
                                            codec::kExUnsupportedOperation, u"not in the test SM"));
  }
}

absl::Status TestServiceManager::add(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<std::string> name = data.readString16AsUtf8();
  if (!name.ok()) {
    return name.status();
  }
  absl::StatusOr<std::shared_ptr<IBinder>> binder = readBinder(data, *state_);
  if (!binder.ok()) {
    return binder.status();
  }
  if (*binder == nullptr) {
    return codec::writeStatus(
        *reply, codec::AidlStatus::fromExceptionCode(codec::kExIllegalArgument, u"null binder"));
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    services_[*name] = *binder;
  }
  notify(*name, *binder);
  if (isLegacyServiceManager(layout_)) {
    reply->writeUint32(0);
    return absl::OkStatus();
  }
  return codec::writeStatus(*reply, codec::AidlStatus::ok());
}

absl::Status TestServiceManager::lookup(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<std::string> name = data.readString16AsUtf8();
  if (!name.ok()) {
    return name.status();
  }
  std::shared_ptr<IBinder> binder;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = services_.find(*name);
    if (it != services_.end()) {
      binder = it->second;
    }
  }
  if (binder == nullptr && isLegacyServiceManager(layout_)) {
    return absl::NotFoundError("no such service");  // svcmgr_handler answers -1
  }
  (void)writeOk(*reply, layout_);
  writeBinder(*reply, binder, binderStabilityFor(layout_));
  return absl::OkStatus();
}

absl::Status TestServiceManager::list(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  std::optional<int32_t> index;
  if (isLegacyServiceManager(layout_)) {  // u32 index, u32 priority → the index-th name
    absl::StatusOr<int32_t> i = data.readInt32();
    if (!i.ok()) {
      return i.status();
    }
    index = *i;
  }
  if (absl::StatusOr<int32_t> priority = data.readInt32(); !priority.ok()) {
    return priority.status();
  }
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [name, binder] : services_) {
      names.push_back(name);
    }
  }
  if (index.has_value()) {
    if (*index < 0 || static_cast<size_t>(*index) >= names.size()) {
      return absl::NotFoundError("index past the end");
    }
    return reply->writeString16(std::string_view(names[*index]));
  }
  (void)codec::writeStatus(*reply, codec::AidlStatus::ok());
  reply->writeInt32(static_cast<int32_t>(names.size()));
  for (const auto& name : names) {
    if (absl::Status status = reply->writeString16(std::string_view(name)); !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::Status TestServiceManager::notifications(bool add, codec::ParcelReader& data,
                                               codec::ParcelWriter* reply) {
  absl::StatusOr<std::string> name = data.readString16AsUtf8();
  if (!name.ok()) {
    return name.status();
  }
  absl::StatusOr<std::shared_ptr<IBinder>> callback = readBinder(data, *state_);
  if (!callback.ok() || *callback == nullptr) {
    return absl::InvalidArgumentError("bad callback");
  }
  std::shared_ptr<IBinder> existing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto& list = callbacks_[*name];
    if (add) {
      list.push_back(*callback);
      auto it = services_.find(*name);
      if (it != services_.end()) {
        existing = it->second;
      }
    } else {
      std::erase(list, *callback);
    }
  }
  if (existing != nullptr) {
    notify(*name, existing);
  }
  return codec::writeStatus(*reply, codec::AidlStatus::ok());
}

void TestServiceManager::notify(const std::string& name, const std::shared_ptr<IBinder>& binder) {
  std::vector<std::shared_ptr<IBinder>> callbacks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    callbacks = callbacks_[name];
  }
  for (const auto& callback : callbacks) {
    codec::ParcelWriter request;
    (void)codec::writeInterfaceToken(request, kServiceCallbackDescriptor,
                                     serviceManagerHeaderFormat(layout_));
    (void)request.writeString16(std::string_view(name));
    writeBinder(request, binder, binderStabilityFor(layout_));
    (void)callback->transact(kServiceCallbackOnRegistration, request, kFlagOneway);
  }
}

}  // namespace nb::runtime::testing
