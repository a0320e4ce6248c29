#include "gateway/local_conns.h"

#include <unistd.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "codec/parcel_headers.h"
#include "runtime/binder_status.h"
#include "runtime/calling_identity.h"
#include "runtime/parcel_binder.h"
#include "runtime/service_manager.h"
#include "spdlog/spdlog.h"

namespace nb::gateway {

using runtime::IBinder;
using runtime::Proxy;

// The hub object in main: PUT/GET for the gateway's own connections, the state dump for anyone.
class Hub final : public runtime::LocalBinder {
 public:
  Hub(std::shared_ptr<runtime::ProcessState> main, std::function<std::string()> dump)
      : LocalBinder(kGatewayDescriptor), main_(std::move(main)), dump_(std::move(dump)) {}

  // The main proxy a PUT just delivered (the hub keeps it until taken).
  std::shared_ptr<Proxy> take(uint32_t handle) {
    std::lock_guard lock(mu_);
    auto it = pending_.find(handle);
    if (it == pending_.end() || it->second.empty()) {
      return nullptr;
    }
    std::shared_ptr<Proxy> proxy = std::move(it->second.back());
    it->second.pop_back();
    if (it->second.empty()) {
      pending_.erase(it);
    }
    return proxy;
  }

 protected:
  absl::Status onTransact(uint32_t code, codec::ParcelReader& data, codec::ParcelWriter* reply,
                          uint32_t /*flags*/) override {
    if (code == kGatewayDumpState) {
      if (reply == nullptr) {
        return absl::OkStatus();
      }
      if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
        return s;
      }
      const std::string text = dump_ ? dump_() : std::string();
      return reply->writeString16(std::string_view(text));
    }
    if (code != kHubPut && code != kHubGet) {
      return LocalBinder::onTransact(code, data, reply, 0);
    }
    // Handle moves are for the gateway's own connections only.
    if (runtime::callingIdentity().pid != ::getpid() || reply == nullptr) {
      return runtime::statusFromStatusT(runtime::kPermissionDenied);
    }
    if (code == kHubPut) {
      absl::StatusOr<std::shared_ptr<IBinder>> binder = runtime::readBinder(data, *main_);
      if (!binder.ok()) {
        return binder.status();
      }
      Proxy* proxy = *binder != nullptr ? (*binder)->asProxy() : nullptr;
      if (proxy == nullptr) {
        return absl::InvalidArgumentError("hub PUT needs a handle");
      }
      const uint32_t handle = proxy->handle();
      {
        std::lock_guard lock(mu_);
        pending_[handle].push_back(std::static_pointer_cast<Proxy>(proxy->shared_from_this()));
      }
      reply->writeInt32(static_cast<int32_t>(handle));
      return absl::OkStatus();
    }
    absl::StatusOr<int32_t> handle = data.readInt32();
    if (!handle.ok()) {
      return handle.status();
    }
    // The caller holds the main proxy for `handle` during the call, so this finds it alive.
    std::shared_ptr<Proxy> proxy = main_->proxyForHandle(static_cast<uint32_t>(*handle));
    runtime::writeBinder(*reply, proxy);
    return absl::OkStatus();
  }

 private:
  const std::shared_ptr<runtime::ProcessState> main_;
  const std::function<std::string()> dump_;
  std::mutex mu_;
  std::unordered_map<uint32_t, std::vector<std::shared_ptr<Proxy>>> pending_;  // guarded by mu_
};

std::shared_ptr<Proxy> Conn::cached(uint32_t main_handle) {
  std::lock_guard lock(mu_);
  auto it = by_main_handle_.find(main_handle);
  return it == by_main_handle_.end() ? nullptr : it->second;
}

void Conn::cache(uint32_t main_handle, std::shared_ptr<Proxy> proxy) {
  std::lock_guard lock(mu_);
  main_of_[proxy->handle()] = main_handle;
  by_main_handle_[main_handle] = std::move(proxy);
}

void Conn::uncache(uint32_t main_handle) {
  std::shared_ptr<Proxy> drop;
  std::lock_guard lock(mu_);
  auto it = by_main_handle_.find(main_handle);
  if (it != by_main_handle_.end()) {
    main_of_.erase(it->second->handle());
    drop = std::move(it->second);
    by_main_handle_.erase(it);
  }
}

uint32_t Conn::mainHandleOf(uint32_t handle) {
  std::lock_guard lock(mu_);
  auto it = main_of_.find(handle);
  return it == main_of_.end() ? 0 : it->second;
}

void Conn::noteMainHandle(uint32_t handle, uint32_t main_handle) {
  std::lock_guard lock(mu_);
  main_of_[handle] = main_handle;
}

void Conn::close() {
  std::unordered_map<uint32_t, std::shared_ptr<Proxy>> drop;
  {
    std::lock_guard lock(mu_);
    drop.swap(by_main_handle_);
    main_of_.clear();
  }
  drop.clear();
  state_->shutdown(2000);
}

absl::StatusOr<std::unique_ptr<LocalConns>> LocalConns::open(const Options& options,
                                                             std::function<std::string()> dump) {
  runtime::ProcessOptions process;
  process.device = options.device;
  process.max_threads = options.max_threads;
  process.receive_area_size = options.receive_area_size;
  absl::StatusOr<std::shared_ptr<runtime::ProcessState>> state =
      runtime::ProcessState::open(process);
  if (!state.ok()) {
    return state.status();
  }
  auto hub = std::make_shared<Hub>(*state, std::move(dump));
  (*state)->startThreadPool();
  runtime::ServiceManager sm(*state, options.sm_layout);
  if (absl::Status s = sm.addService(kGatewayServiceName, hub); !s.ok()) {
    (*state)->shutdown();
    return absl::Status(s.code(), absl::StrCat("registering ", kGatewayServiceName,
                                               " with the servicemanager: ", s.message()));
  }
  auto main = std::make_shared<Conn>(*state, "main");
  return std::unique_ptr<LocalConns>(new LocalConns(options, std::move(main), std::move(hub)));
}

LocalConns::LocalConns(Options options, std::shared_ptr<Conn> main, std::shared_ptr<Hub> hub)
    : options_(std::move(options)), main_(std::move(main)), hub_(std::move(hub)) {}

LocalConns::~LocalConns() { main_->close(); }

absl::StatusOr<std::shared_ptr<Conn>> LocalConns::openConn(const std::string& name) {
  runtime::ProcessOptions process;
  process.device = options_.device;
  process.max_threads = options_.max_threads;
  process.receive_area_size = options_.receive_area_size;
  absl::StatusOr<std::shared_ptr<runtime::ProcessState>> state =
      runtime::ProcessState::open(process);
  if (!state.ok()) {
    return state.status();
  }
  (*state)->startThreadPool();
  runtime::ServiceManager sm(*state, options_.sm_layout);
  absl::StatusOr<std::shared_ptr<IBinder>> hub = sm.checkService(kGatewayServiceName);
  if (!hub.ok() || *hub == nullptr) {
    (*state)->shutdown();
    return absl::UnavailableError(
        absl::StrCat("connection ", name, ": no ", kGatewayServiceName, " in the servicemanager"));
  }
  auto conn = std::make_shared<Conn>(*state, name);
  conn->hub_ = *hub;
  // Learn our own proc id: main looks at a node of ours (binderd only; 0 on the kernel).
  {
    auto probe = std::make_shared<runtime::LocalBinder>();
    absl::StatusOr<std::shared_ptr<Proxy>> seen = putLocal(*conn, probe);
    if (seen.ok()) {
      absl::StatusOr<runtime::RefOwner> owner = main_->state()->refOwner((*seen)->handle());
      if (owner.ok()) {
        conn->proc_id_ = owner->proc_id;
      }
    }
  }
  {
    std::lock_guard lock(mu_);
    ++open_count_;
  }
  return conn;
}

size_t LocalConns::openCount() const {
  std::lock_guard lock(mu_);
  return open_count_;
}

uint64_t LocalConns::pushHop(uint64_t node_cookie, HopContext context) {
  std::lock_guard lock(mu_);
  const uint64_t token = next_hop_token_++;
  hops_[node_cookie].emplace_back(token, std::move(context));
  return token;
}

std::optional<LocalConns::HopContext> LocalConns::takeHop(uint64_t node_cookie) {
  std::lock_guard lock(mu_);
  auto it = hops_.find(node_cookie);
  if (it == hops_.end() || it->second.empty()) {
    return std::nullopt;
  }
  HopContext context = std::move(it->second.front().second);
  it->second.pop_front();
  if (it->second.empty()) {
    hops_.erase(it);
  }
  return context;
}

void LocalConns::dropHop(uint64_t node_cookie, uint64_t token) {
  std::lock_guard lock(mu_);
  auto it = hops_.find(node_cookie);
  if (it == hops_.end()) {
    return;
  }
  std::erase_if(it->second, [token](const auto& entry) { return entry.first == token; });
  if (it->second.empty()) {
    hops_.erase(it);
  }
}

absl::StatusOr<std::shared_ptr<Proxy>> LocalConns::put(Conn& from, codec::ParcelWriter& request) {
  absl::StatusOr<runtime::ReceivedParcel> reply = from.hub_->transact(kHubPut, request);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  absl::StatusOr<int32_t> handle = reader.readInt32();
  if (!handle.ok()) {
    return handle.status();
  }
  std::shared_ptr<Proxy> proxy = hub_->take(static_cast<uint32_t>(*handle));
  if (proxy == nullptr) {
    return absl::InternalError("hub PUT delivered no handle");
  }
  return proxy;
}

absl::StatusOr<std::shared_ptr<Proxy>> LocalConns::canonical(Conn& conn, uint32_t handle) {
  if (conn.isMain()) {
    return main_->state()->proxyForHandle(handle);
  }
  std::shared_ptr<Proxy> local = conn.state()->proxyForHandle(handle);
  codec::ParcelWriter request;
  runtime::writeBinder(request, local);
  return put(conn, request);
}

absl::StatusOr<std::shared_ptr<Proxy>> LocalConns::putLocal(
    Conn& owner, const std::shared_ptr<runtime::LocalBinder>& object) {
  codec::ParcelWriter request;
  runtime::writeBinder(request, object);
  return put(owner, request);
}

absl::StatusOr<std::shared_ptr<Proxy>> LocalConns::inConn(Conn& conn,
                                                          const std::shared_ptr<Proxy>& main_proxy,
                                                          bool cache) {
  if (conn.isMain()) {
    return main_proxy;
  }
  if (std::shared_ptr<Proxy> hit = conn.cached(main_proxy->handle()); hit != nullptr) {
    return hit;
  }
  codec::ParcelWriter request;
  request.writeInt32(static_cast<int32_t>(main_proxy->handle()));
  absl::StatusOr<runtime::ReceivedParcel> reply = conn.hub_->transact(kHubGet, request);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader reader = reply->reader();
  absl::StatusOr<std::shared_ptr<IBinder>> binder = runtime::readBinder(reader, *conn.state());
  if (!binder.ok()) {
    return binder.status();
  }
  Proxy* proxy = *binder != nullptr ? (*binder)->asProxy() : nullptr;
  if (proxy == nullptr) {
    return absl::InternalError("hub GET returned no handle");
  }
  auto shared = std::static_pointer_cast<Proxy>(proxy->shared_from_this());
  if (cache) {
    conn.cache(main_proxy->handle(), shared);
  }
  return shared;
}

}  // namespace nb::gateway
