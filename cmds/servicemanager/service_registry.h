// ServiceRegistry: the state of the servicemanager — registered services, notification
// callbacks and the declared instances — with no Binder I/O. Thread-safe (one mutex).
//
//   services      name → {binder, allowIsolated, dumpPriority, debug pid, owner uid}; sorted
//                 by name (listServices order). Re-adding a name replaces the entry (AOSP).
//   callbacks     name → IServiceCallback binders (registerForNotifications order).
//   declared      "iface/instance" strings (--declared FILE) for isDeclared /
//                 getDeclaredInstances and for getService's bounded wait.
//
// Binders are compared by object identity: the runtime keeps one Proxy per handle per process,
// so the same remote object always arrives as the same shared_ptr.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/binder.h"

namespace nb::servicemanager {

using BinderPtr = std::shared_ptr<runtime::IBinder>;

struct ServiceEntry {
  BinderPtr binder;
  bool allow_isolated = false;
  int32_t dump_priority = 0;
  pid_t debug_pid = 0;
  uid_t owner_uid = 0;
};

// AOSP isValidServiceName: 1–127 characters of [A-Za-z0-9._/-].
bool isValidServiceName(std::string_view name);

class ServiceRegistry {
 public:
  ServiceRegistry() = default;
  ServiceRegistry(const ServiceRegistry&) = delete;
  ServiceRegistry& operator=(const ServiceRegistry&) = delete;

  // ---- Services --------------------------------------------------------------------------------
  // Adds or replaces `name`; returns the callbacks registered for it (to notify, outside the
  // lock) and wakes waiters.
  std::vector<BinderPtr> add(const std::string& name, ServiceEntry entry);
  std::optional<ServiceEntry> find(const std::string& name) const;
  // find(), waiting up to `timeout` for the name to be added. nullptr on timeout.
  BinderPtr waitFor(const std::string& name, std::chrono::milliseconds timeout) const;
  // Names whose dump priority shares a bit with `dump_priority`, sorted.
  std::vector<std::string> list(int32_t dump_priority) const;
  // All entries, sorted by name (getServiceDebugInfo).
  std::vector<std::pair<std::string, ServiceEntry>> entries() const;
  size_t size() const;

  // ---- Notifications ---------------------------------------------------------------------------
  // Appends `callback` for `name`; returns the binder currently registered under `name` (for the
  // immediate onRegistration AOSP sends), or nullptr.
  BinderPtr addCallback(const std::string& name, const BinderPtr& callback);
  // False if `callback` was not registered for `name`.
  bool removeCallback(const std::string& name, const BinderPtr& callback);
  size_t callbackCount(const std::string& name) const;

  // ---- Death -----------------------------------------------------------------------------------
  // Removes every service whose binder is `who` and every callback that is `who`. Returns the
  // names of the removed services.
  std::vector<std::string> removeBinder(const runtime::IBinder* who);

  // ---- Declared instances ----------------------------------------------------------------------
  void setDeclared(std::vector<std::string> instances);
  bool isDeclared(const std::string& name) const;
  // The instances declared for `iface` ("iface/instance" → "instance"), sorted.
  std::vector<std::string> declaredInstances(const std::string& iface) const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable added_;
  std::map<std::string, ServiceEntry> services_;             // guarded by mu_
  std::map<std::string, std::vector<BinderPtr>> callbacks_;  // guarded by mu_
  std::set<std::string> declared_;                           // guarded by mu_
};

}  // namespace nb::servicemanager
