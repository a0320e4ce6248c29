// The servicemanager on the runtime: ServiceManagerEnv over ProcessState/Proxy (readBinder,
// linkToDeath with one shared DeathRecipient, one-way callbacks, callingIdentity) and the
// LocalBinder that is handle 0. PING and INTERFACE ("android.os.IServiceManager") are answered by
// LocalBinder; everything else goes to the ServiceManagerHandler.
#pragma once

#include <memory>

#include "cmds/servicemanager/handler.h"
#include "runtime/binder.h"
#include "runtime/process_state.h"

namespace nb::servicemanager {

class RuntimeEnv final : public ServiceManagerEnv {
 public:
  explicit RuntimeEnv(std::shared_ptr<runtime::ProcessState> state);
  // The handler told about deaths (set once, before serving).
  void setHandler(ServiceManagerHandler* handler);

  absl::StatusOr<BinderPtr> readBinder(codec::ParcelReader& reader) override;
  void writeBinder(codec::ParcelWriter& writer, const BinderPtr& binder,
                   int32_t stability) override;
  absl::Status linkToDeath(const BinderPtr& binder) override;
  absl::Status sendOneway(const BinderPtr& target, uint32_t code,
                          const codec::ParcelWriter& data) override;
  Caller caller() override;

 private:
  class Recipient;
  const std::shared_ptr<runtime::ProcessState> state_;
  std::shared_ptr<Recipient> recipient_;
};

// Handle 0.
class ServiceManagerBinder final : public runtime::LocalBinder {
 public:
  explicit ServiceManagerBinder(ServiceManagerHandler& handler);

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;

 private:
  ServiceManagerHandler& handler_;
};

}  // namespace nb::servicemanager
