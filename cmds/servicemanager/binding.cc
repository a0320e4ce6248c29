#include "cmds/servicemanager/binding.h"

#include <atomic>

#include "runtime/calling_identity.h"
#include "runtime/parcel_binder.h"
#include "runtime/proxy.h"

namespace nb::servicemanager {

class RuntimeEnv::Recipient final : public runtime::DeathRecipient {
 public:
  void binderDied(const std::weak_ptr<runtime::IBinder>& who) override {
    ServiceManagerHandler* handler = handler_.load();
    if (handler == nullptr) {
      return;
    }
    if (std::shared_ptr<runtime::IBinder> binder = who.lock()) {
      handler->binderDied(binder.get());
    }
  }
  std::atomic<ServiceManagerHandler*> handler_{nullptr};
};

RuntimeEnv::RuntimeEnv(std::shared_ptr<runtime::ProcessState> state)
    : state_(std::move(state)), recipient_(std::make_shared<Recipient>()) {}

void RuntimeEnv::setHandler(ServiceManagerHandler* handler) { recipient_->handler_ = handler; }

absl::StatusOr<BinderPtr> RuntimeEnv::readBinder(codec::ParcelReader& reader) {
  return runtime::readBinder(reader, *state_);
}

void RuntimeEnv::writeBinder(codec::ParcelWriter& writer, const BinderPtr& binder,
                             int32_t stability) {
  runtime::writeBinder(writer, binder, stability);
}

absl::Status RuntimeEnv::linkToDeath(const BinderPtr& binder) {
  runtime::Proxy* proxy = binder != nullptr ? binder->asProxy() : nullptr;
  if (proxy == nullptr) {
    return absl::OkStatus();  // a local object lives as long as this process
  }
  absl::Status status = proxy->linkToDeath(recipient_);
  if (absl::IsAlreadyExists(status)) {
    return absl::OkStatus();
  }
  return status;
}

absl::Status RuntimeEnv::sendOneway(const BinderPtr& target, uint32_t code,
                                    const codec::ParcelWriter& data) {
  return target->transact(code, data, runtime::kFlagOneway).status();
}

Caller RuntimeEnv::caller() {
  runtime::CallingIdentity identity = runtime::callingIdentity();
  return Caller{identity.pid, identity.uid};
}

ServiceManagerBinder::ServiceManagerBinder(ServiceManagerHandler& handler)
    : LocalBinder(std::u16string(runtime::kServiceManagerDescriptor)), handler_(handler) {}

absl::Status ServiceManagerBinder::onTransact(uint32_t code, codec::ParcelReader& data,
                                              codec::ParcelWriter* reply, uint32_t flags) {
  return handler_.handle(code, data, reply, flags);
}

}  // namespace nb::servicemanager
