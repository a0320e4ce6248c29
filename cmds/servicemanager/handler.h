// ServiceManagerHandler: the IServiceManager protocol of one Android release, decoded from and
// encoded to parcels (../shared/reference/aosp-binder.md §2.4–§2.6), over a ServiceRegistry.
// No device: binders are read, written, death-linked and called back through ServiceManagerEnv,
// which the runtime binding (binding.h) implements with ProcessState/Proxy and the tests with
// fakes.
//
// Per request: the code → method via the shared table (runtime/service_manager_codes.h), the
// interface token checked for the layout (Android 10: policy + work source; 11+: plus the 'SYST'
// marker) — a mismatch is logged and answered BAD_TYPE (legacy: -1, as the C servicemanager) —
// then the method's arguments. AIDL layouts reply Status + result; the legacy layout replies the
// C servicemanager's raw words (see handler.cc for each method). Codes the release does not have
// get UNKNOWN_TRANSACTION (legacy: -1); methods the release has but this manager does not
// implement get EX_UNSUPPORTED_OPERATION.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cmds/servicemanager/service_registry.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"
#include "runtime/service_manager_codes.h"

namespace nb::servicemanager {

struct Caller {
  pid_t pid = 0;
  uid_t uid = 0;
};

// What the handler needs from the Binder runtime.
class ServiceManagerEnv {
 public:
  virtual ~ServiceManagerEnv() = default;
  // The next strong binder in `reader` (object + stability word); nullptr for the null binder.
  virtual absl::StatusOr<BinderPtr> readBinder(codec::ParcelReader& reader) = 0;
  virtual void writeBinder(codec::ParcelWriter& writer, const BinderPtr& binder,
                           int32_t stability) = 0;
  // Arranges for ServiceManagerHandler::binderDied(binder) when `binder`'s process dies. OK for
  // binders that cannot die (local objects) and for a binder linked already; Unavailable when the
  // binder is dead already.
  virtual absl::Status linkToDeath(const BinderPtr& binder) = 0;
  // A one-way call (IServiceCallback.onRegistration).
  virtual absl::Status sendOneway(const BinderPtr& target, uint32_t code,
                                  const codec::ParcelWriter& data) = 0;
  // The caller of the transaction being handled on this thread.
  virtual Caller caller() = 0;
};

struct HandlerOptions {
  runtime::ServiceManagerLayout layout = runtime::kNewestServiceManagerLayout;
  // Uids allowed to addService; nullopt = everyone.
  std::optional<std::set<uid_t>> allow_add;
  // How long getService waits for a declared but not yet registered service.
  std::chrono::milliseconds declared_wait{5000};
};

class ServiceManagerHandler {
 public:
  ServiceManagerHandler(HandlerOptions options, ServiceManagerEnv& env);

  // One IServiceManager transaction (not PING/INTERFACE: the LocalBinder answers those).
  // `reply` is null for one-way calls. OK: the reply is written. Not OK: the caller sends a
  // TF_STATUS_CODE reply (runtime statusToStatusT): Unimplemented → UNKNOWN_TRANSACTION,
  // DataLoss → BAD_TYPE, PermissionDenied → -1 (the legacy manager's error).
  absl::Status handle(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                      uint32_t flags);

  // Death of a registered service or callback binder: forget it.
  void binderDied(const runtime::IBinder* who);

  ServiceRegistry& registry() { return registry_; }
  const HandlerOptions& options() const { return options_; }

 private:
  bool legacy() const { return runtime::isLegacyServiceManager(options_.layout); }
  int32_t stability() const { return runtime::binderStabilityFor(options_.layout); }
  absl::Status handleLegacy(runtime::ServiceManagerMethod method, codec::ParcelReader& data,
                            codec::ParcelWriter& reply, const Caller& caller);
  absl::Status handleAidl(runtime::ServiceManagerMethod method, codec::ParcelReader& data,
                          codec::ParcelWriter& reply, const Caller& caller);

  // The shared part of addService: AIDL exception code (kExNone on success) and message.
  std::pair<int32_t, std::string> addService(const std::string& name, const BinderPtr& binder,
                                             bool allow_isolated, int32_t dump_priority,
                                             const Caller& caller);
  BinderPtr lookup(const std::string& name, bool wait_if_declared);
  void notify(const std::string& name, const BinderPtr& binder,
              const std::vector<BinderPtr>& callbacks);

  const HandlerOptions options_;
  ServiceManagerEnv& env_;
  ServiceRegistry registry_;
};

}  // namespace nb::servicemanager
