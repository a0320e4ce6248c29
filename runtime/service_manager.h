// ServiceManager: a client of the context manager's IServiceManager (handle 0), speaking the
// codes and parcel headers of a selectable Android release (service_manager_codes.h; default the
// newest). kAndroid10 speaks the legacy numeric protocol of the C servicemanager.
//
//   getService / checkService   the binder, or nullptr when no such service is registered
//   addService                  name, binder, allowIsolated, dumpPriority
//   listServices                names for a dump-priority mask (legacy: by index until error)
//   waitForService              registerForNotifications with a ServiceCallback when the
//                               release has it and the process runs a looper pool, else
//                               checkService polling with backoff (10 ms doubling to 500 ms);
//                               DeadlineExceeded after `timeout`
//   isDeclared                  Unimplemented on the legacy protocol
//
// Errors: transport errors as binder_status.h; an AIDL exception from the server as
// statusFromAidl. Thread-safe (each call runs on the calling thread).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "runtime/binder.h"
#include "runtime/service_manager_codes.h"

namespace nb::runtime {

class ProcessState;

// IServiceCallback (android.os.IServiceCallback): onRegistration(name, binder), one-way.
class ServiceCallback : public LocalBinder {
 public:
  ServiceCallback(std::shared_ptr<ProcessState> state,
                  ServiceManagerLayout layout = kNewestServiceManagerLayout);
  virtual void onRegistration(const std::string& name, std::shared_ptr<IBinder> binder) = 0;

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t flags) override;

 private:
  const std::shared_ptr<ProcessState> state_;
  const ServiceManagerLayout layout_;
};

class ServiceManager {
 public:
  explicit ServiceManager(std::shared_ptr<ProcessState> state,
                          ServiceManagerLayout layout = kNewestServiceManagerLayout);

  ServiceManagerLayout layout() const { return layout_; }

  absl::StatusOr<std::shared_ptr<IBinder>> getService(std::string_view name);
  absl::StatusOr<std::shared_ptr<IBinder>> checkService(std::string_view name);
  absl::Status addService(std::string_view name, const std::shared_ptr<IBinder>& binder,
                          bool allow_isolated = false,
                          int32_t dump_priority = kDumpFlagPriorityDefault);
  absl::StatusOr<std::vector<std::string>> listServices(
      int32_t dump_priority = kDumpFlagPriorityAll);
  absl::StatusOr<std::shared_ptr<IBinder>> waitForService(std::string_view name,
                                                          std::chrono::milliseconds timeout);
  absl::StatusOr<bool> isDeclared(std::string_view name);
  absl::Status registerForNotifications(std::string_view name,
                                        const std::shared_ptr<ServiceCallback>& callback);
  absl::Status unregisterForNotifications(std::string_view name,
                                          const std::shared_ptr<ServiceCallback>& callback);

 private:
  // Token + (optionally) the name; Unimplemented if the release lacks `method`.
  absl::StatusOr<uint32_t> begin(ServiceManagerMethod method, codec::ParcelWriter& request,
                                 std::string_view name);
  // Sends and reads the AIDL Status (skipped for the legacy protocol).
  absl::StatusOr<ReceivedParcel> call(uint32_t code, const codec::ParcelWriter& request);
  absl::StatusOr<std::shared_ptr<IBinder>> lookup(ServiceManagerMethod method,
                                                  std::string_view name);
  absl::StatusOr<std::vector<std::string>> listLegacy(int32_t dump_priority);
  absl::StatusOr<std::shared_ptr<IBinder>> waitByNotification(std::string_view name,
                                                              std::chrono::milliseconds timeout);
  absl::StatusOr<std::shared_ptr<IBinder>> waitByPolling(std::string_view name,
                                                         std::chrono::milliseconds timeout);

  const std::shared_ptr<ProcessState> state_;
  const ServiceManagerLayout layout_;
};

}  // namespace nb::runtime
