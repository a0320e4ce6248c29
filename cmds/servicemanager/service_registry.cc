#include "cmds/servicemanager/service_registry.h"

#include <algorithm>

namespace nb::servicemanager {

bool isValidServiceName(std::string_view name) {
  if (name.empty() || name.size() > 127) {
    return false;
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == '/';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::vector<BinderPtr> ServiceRegistry::add(const std::string& name, ServiceEntry entry) {
  std::vector<BinderPtr> callbacks;
  ServiceEntry previous;  // released after the lock (see removeBinder)
  {
    std::lock_guard<std::mutex> lock(mu_);
    ServiceEntry& slot = services_[name];
    previous = std::move(slot);
    slot = std::move(entry);
    auto it = callbacks_.find(name);
    if (it != callbacks_.end()) {
      callbacks = it->second;
    }
  }
  added_.notify_all();
  return callbacks;
}

std::optional<ServiceEntry> ServiceRegistry::find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = services_.find(name);
  if (it == services_.end()) {
    return std::nullopt;
  }
  return it->second;
}

BinderPtr ServiceRegistry::waitFor(const std::string& name,
                                   std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  BinderPtr found;
  added_.wait_for(lock, timeout, [&] {
    auto it = services_.find(name);
    if (it != services_.end()) {
      found = it->second.binder;
      return true;
    }
    return false;
  });
  return found;
}

std::vector<std::string> ServiceRegistry::list(int32_t dump_priority) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> names;
  for (const auto& [name, entry] : services_) {
    if ((entry.dump_priority & dump_priority) != 0) {
      names.push_back(name);
    }
  }
  return names;
}

std::vector<std::pair<std::string, ServiceEntry>> ServiceRegistry::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return {services_.begin(), services_.end()};
}

size_t ServiceRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return services_.size();
}

BinderPtr ServiceRegistry::addCallback(const std::string& name, const BinderPtr& callback) {
  std::lock_guard<std::mutex> lock(mu_);
  callbacks_[name].push_back(callback);
  auto it = services_.find(name);
  return it == services_.end() ? nullptr : it->second.binder;
}

bool ServiceRegistry::removeCallback(const std::string& name, const BinderPtr& callback) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callbacks_.find(name);
  if (it == callbacks_.end()) {
    return false;
  }
  auto pos = std::find(it->second.begin(), it->second.end(), callback);
  if (pos == it->second.end()) {
    return false;
  }
  it->second.erase(pos);
  if (it->second.empty()) {
    callbacks_.erase(it);
  }
  return true;
}

size_t ServiceRegistry::callbackCount(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = callbacks_.find(name);
  return it == callbacks_.end() ? 0 : it->second.size();
}

std::vector<std::string> ServiceRegistry::removeBinder(const runtime::IBinder* who) {
  std::vector<std::string> removed;
  // Released after the lock: dropping the last reference to a proxy writes to the driver.
  std::vector<BinderPtr> graveyard;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = services_.begin(); it != services_.end();) {
    if (it->second.binder.get() == who) {
      removed.push_back(it->first);
      graveyard.push_back(std::move(it->second.binder));
      it = services_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = callbacks_.begin(); it != callbacks_.end();) {
    for (BinderPtr& b : it->second) {
      if (b.get() == who) {
        graveyard.push_back(std::move(b));
      }
    }
    std::erase(it->second, nullptr);
    it = it->second.empty() ? callbacks_.erase(it) : std::next(it);
  }
  return removed;
}

void ServiceRegistry::setDeclared(std::vector<std::string> instances) {
  std::lock_guard<std::mutex> lock(mu_);
  declared_ = std::set<std::string>(instances.begin(), instances.end());
}

bool ServiceRegistry::isDeclared(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  return declared_.count(name) != 0;
}

std::vector<std::string> ServiceRegistry::declaredInstances(const std::string& iface) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::string> out;
  const std::string prefix = iface + "/";
  for (const auto& name : declared_) {
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
      out.push_back(name.substr(prefix.size()));
    }
  }
  return out;
}

}  // namespace nb::servicemanager
