#include "runtime/service_manager.h"

#include <condition_variable>
#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "codec/parcel_headers.h"
#include "runtime/binder_status.h"
#include "runtime/parcel_binder.h"
#include "runtime/process_state.h"

namespace nb::runtime {
namespace {

constexpr std::u16string_view kSmDescriptor = kServiceManagerDescriptor;

// Waits for one onRegistration of a name.
class WaitCallback final : public ServiceCallback {
 public:
  using ServiceCallback::ServiceCallback;
  void onRegistration(const std::string& /*name*/, std::shared_ptr<IBinder> binder) override {
    std::lock_guard<std::mutex> lock(mu_);
    binder_ = std::move(binder);
    cv_.notify_all();
  }
  std::shared_ptr<IBinder> wait(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [this] { return binder_ != nullptr; });
    return binder_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<IBinder> binder_;
};

}  // namespace

// ---- ServiceCallback ---------------------------------------------------------------------------

ServiceCallback::ServiceCallback(std::shared_ptr<ProcessState> state, ServiceManagerLayout layout)
    : LocalBinder(std::u16string(kServiceCallbackDescriptor)),
      state_(std::move(state)),
      layout_(layout) {}

absl::Status ServiceCallback::onTransact(uint32_t code, codec::ParcelReader& data,
                                         codec::ParcelWriter* /*reply*/, uint32_t /*flags*/) {
  if (code != kServiceCallbackOnRegistration) {
    return absl::UnimplementedError(absl::StrCat("IServiceCallback: unknown code ", code));
  }
  absl::StatusOr<codec::InterfaceToken> token =
      codec::readInterfaceToken(data, serviceManagerHeaderFormat(layout_).layout);
  if (!token.ok()) {
    return token.status();
  }
  absl::StatusOr<std::string> name = data.readString16AsUtf8();
  if (!name.ok()) {
    return name.status();
  }
  absl::StatusOr<std::shared_ptr<IBinder>> binder = readBinder(data, *state_);
  if (!binder.ok()) {
    return binder.status();
  }
  onRegistration(*name, *std::move(binder));
  return absl::OkStatus();
}

// ---- ServiceManager ----------------------------------------------------------------------------

ServiceManager::ServiceManager(std::shared_ptr<ProcessState> state, ServiceManagerLayout layout)
    : state_(std::move(state)), layout_(layout) {}

absl::StatusOr<uint32_t> ServiceManager::begin(ServiceManagerMethod method,
                                               codec::ParcelWriter& request,
                                               std::string_view name) {
  std::optional<uint32_t> code = serviceManagerCode(layout_, method);
  if (!code.has_value()) {
    return absl::UnimplementedError(
        absl::StrCat(serviceManagerMethodName(method), " is not in the Android ",
                     std::string(serviceManagerLayoutName(layout_)), " service manager"));
  }
  if (absl::Status status =
          codec::writeInterfaceToken(request, kSmDescriptor, serviceManagerHeaderFormat(layout_));
      !status.ok()) {
    return status;
  }
  if (!name.empty()) {
    if (absl::Status status = request.writeString16(name); !status.ok()) {
      return status;
    }
  }
  return *code;
}

absl::StatusOr<ReceivedParcel> ServiceManager::call(uint32_t code,
                                                    const codec::ParcelWriter& request) {
  absl::StatusOr<ReceivedParcel> reply = state_->contextObject()->transact(code, request);
  if (!reply.ok() || isLegacyServiceManager(layout_)) {
    return reply;
  }
  codec::ParcelReader reader = reply->reader();
  absl::StatusOr<codec::AidlStatus> status = codec::readStatus(reader);
  if (!status.ok()) {
    return status.status();
  }
  if (absl::Status s = statusFromAidl(*status); !s.ok()) {
    return s;
  }
  return reply;
}

absl::StatusOr<std::shared_ptr<IBinder>> ServiceManager::lookup(ServiceManagerMethod method,
                                                                std::string_view name) {
  codec::ParcelWriter request;
  absl::StatusOr<uint32_t> code = begin(method, request, name);
  if (!code.ok()) {
    return code.status();
  }
  absl::StatusOr<ReceivedParcel> reply = call(*code, request);
  if (!reply.ok()) {
    // The C servicemanager answers a missing name with an error status code.
    const bool transport = absl::IsUnavailable(reply.status()) || absl::IsAborted(reply.status());
    if (isLegacyServiceManager(layout_) && !transport) {
      return std::shared_ptr<IBinder>();
    }
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  if (isLegacyServiceManager(layout_) && reader.dataAvail() == 0) {
    return std::shared_ptr<IBinder>();
  }
  if (!isLegacyServiceManager(layout_)) {
    (void)codec::readStatus(reader);  // already checked in call()
  }
  return readBinder(reader, *state_);
}

absl::StatusOr<std::shared_ptr<IBinder>> ServiceManager::getService(std::string_view name) {
  return lookup(ServiceManagerMethod::kGetService, name);
}

absl::StatusOr<std::shared_ptr<IBinder>> ServiceManager::checkService(std::string_view name) {
  return lookup(ServiceManagerMethod::kCheckService, name);
}

absl::Status ServiceManager::addService(std::string_view name,
                                        const std::shared_ptr<IBinder>& binder, bool allow_isolated,
                                        int32_t dump_priority) {
  codec::ParcelWriter request;
  absl::StatusOr<uint32_t> code = begin(ServiceManagerMethod::kAddService, request, name);
  if (!code.ok()) {
    return code.status();
  }
  writeBinder(request, binder, binderStabilityFor(layout_));
  if (isLegacyServiceManager(layout_)) {
    request.writeUint32(allow_isolated ? 1 : 0);
    request.writeUint32(static_cast<uint32_t>(dump_priority));
  } else {
    request.writeBool(allow_isolated);
    request.writeInt32(dump_priority);
  }
  return call(*code, request).status();
}

absl::StatusOr<std::vector<std::string>> ServiceManager::listServices(int32_t dump_priority) {
  if (isLegacyServiceManager(layout_)) {
    return listLegacy(dump_priority);
  }
  codec::ParcelWriter request;
  absl::StatusOr<uint32_t> code = begin(ServiceManagerMethod::kListServices, request, "");
  if (!code.ok()) {
    return code.status();
  }
  request.writeInt32(dump_priority);
  absl::StatusOr<ReceivedParcel> reply = call(*code, request);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  (void)codec::readStatus(reader);
  absl::StatusOr<int32_t> count = reader.readInt32();
  if (!count.ok()) {
    return count.status();
  }
  std::vector<std::string> names;
  for (int32_t i = 0; i < *count; ++i) {
    absl::StatusOr<std::string> name = reader.readString16AsUtf8();
    if (!name.ok()) {
      return name.status();
    }
    names.push_back(*std::move(name));
  }
  return names;
}

absl::StatusOr<std::vector<std::string>> ServiceManager::listLegacy(int32_t dump_priority) {
  std::vector<std::string> names;
  for (uint32_t index = 0; index < 100000; ++index) {
    codec::ParcelWriter request;
    absl::StatusOr<uint32_t> code = begin(ServiceManagerMethod::kListServices, request, "");
    if (!code.ok()) {
      return code.status();
    }
    request.writeUint32(index);
    request.writeUint32(static_cast<uint32_t>(dump_priority));
    absl::StatusOr<ReceivedParcel> reply = call(*code, request);
    if (!reply.ok()) {
      break;  // the index past the end answers with an error
    }
    codec::ParcelReader reader = reply->reader();
    absl::StatusOr<std::string> name = reader.readString16AsUtf8();
    if (!name.ok()) {
      break;
    }
    names.push_back(*std::move(name));
  }
  return names;
}

absl::StatusOr<bool> ServiceManager::isDeclared(std::string_view name) {
  codec::ParcelWriter request;
  absl::StatusOr<uint32_t> code = begin(ServiceManagerMethod::kIsDeclared, request, name);
  if (!code.ok()) {
    return code.status();
  }
  absl::StatusOr<ReceivedParcel> reply = call(*code, request);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  (void)codec::readStatus(reader);
  return reader.readBool();
}

absl::Status ServiceManager::registerForNotifications(
    std::string_view name, const std::shared_ptr<ServiceCallback>& callback) {
  codec::ParcelWriter request;
  absl::StatusOr<uint32_t> code =
      begin(ServiceManagerMethod::kRegisterForNotifications, request, name);
  if (!code.ok()) {
    return code.status();
  }
  writeBinder(request, callback, binderStabilityFor(layout_));
  return call(*code, request).status();
}

absl::Status ServiceManager::unregisterForNotifications(
    std::string_view name, const std::shared_ptr<ServiceCallback>& callback) {
  codec::ParcelWriter request;
  absl::StatusOr<uint32_t> code =
      begin(ServiceManagerMethod::kUnregisterForNotifications, request, name);
  if (!code.ok()) {
    return code.status();
  }
  writeBinder(request, callback, binderStabilityFor(layout_));
  return call(*code, request).status();
}

absl::StatusOr<std::shared_ptr<IBinder>> ServiceManager::waitForService(
    std::string_view name, std::chrono::milliseconds timeout) {
  const bool has_notifications =
      serviceManagerCode(layout_, ServiceManagerMethod::kRegisterForNotifications).has_value();
  if (has_notifications && state_->poolThreadCount() > 0) {
    absl::StatusOr<std::shared_ptr<IBinder>> found = waitByNotification(name, timeout);
    if (found.ok() || absl::IsDeadlineExceeded(found.status())) {
      return found;
    }
    // The server refused the callback: fall back to polling.
  }
  return waitByPolling(name, timeout);
}

absl::StatusOr<std::shared_ptr<IBinder>> ServiceManager::waitByNotification(
    std::string_view name, std::chrono::milliseconds timeout) {
  auto callback = std::make_shared<WaitCallback>(state_, layout_);
  if (absl::Status status = registerForNotifications(name, callback); !status.ok()) {
    return status;
  }
  // A service registered before the callback is reported at registration time by AOSP's
  // servicemanager; checking as well covers servers that do not.
  absl::StatusOr<std::shared_ptr<IBinder>> binder = checkService(name);
  std::shared_ptr<IBinder> found =
      binder.ok() && *binder != nullptr ? *binder : callback->wait(timeout);
  (void)unregisterForNotifications(name, callback);
  if (found == nullptr) {
    return absl::DeadlineExceededError(
        absl::StrCat("service '", std::string(name), "' did not appear"));
  }
  return found;
}

absl::StatusOr<std::shared_ptr<IBinder>> ServiceManager::waitByPolling(
    std::string_view name, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::chrono::milliseconds backoff(10);
  for (;;) {
    absl::StatusOr<std::shared_ptr<IBinder>> binder = checkService(name);
    if (binder.ok() && *binder != nullptr) {
      return binder;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("service '", std::string(name), "' did not appear"));
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(backoff, deadline - now));
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
}

}  // namespace nb::runtime
