// A minimal IServiceManager for the runtime's integration tests, written with the runtime itself:
// getService/checkService/addService/listServices/registerForNotifications/
// unregisterForNotifications/isDeclared in the codes of one release (default: the newest),
// AIDL Status replies. Not the product servicemanager (cmds/servicemanager).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/binder.h"
#include "runtime/process_state.h"
#include "runtime/service_manager_codes.h"

namespace nb::runtime::testing {

class TestServiceManager final : public LocalBinder {
 public:
  TestServiceManager(std::shared_ptr<ProcessState> state,
                     ServiceManagerLayout layout = kNewestServiceManagerLayout);

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;

 private:
  absl::Status add(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status lookup(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status list(codec::ParcelReader& data, codec::ParcelWriter* reply);
  absl::Status notifications(bool add, codec::ParcelReader& data, codec::ParcelWriter* reply);
  void notify(const std::string& name, const std::shared_ptr<IBinder>& binder);

  const std::shared_ptr<ProcessState> state_;
  const ServiceManagerLayout layout_;
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<IBinder>> services_;                // guarded by mu_
  std::map<std::string, std::vector<std::shared_ptr<IBinder>>> callbacks_;  // guarded by mu_
};

}  // namespace nb::runtime::testing
