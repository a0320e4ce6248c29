#include "gateway/gateway.h"

#include <unistd.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "gateway/import_node.h"
#include "runtime/service_manager.h"
#include "spdlog/spdlog.h"

namespace nb::gateway {
namespace {

std::string randomInstanceId() {
  std::random_device device;
  std::string id(16, '\0');
  for (char& c : id) {
    c = static_cast<char>(device() & 0xff);
  }
  return id;
}

uint64_t orDefault(uint64_t value, uint64_t fallback) { return value != 0 ? value : fallback; }

constexpr size_t kMaxWorkers = 512;

}  // namespace

Gateway::Gateway(const GatewayOptions& options)
    : options_(options), instance_id_(randomInstanceId()) {}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::start(const GatewayOptions& options) {
  std::unique_ptr<Gateway> gateway(new Gateway(options));
  Gateway* self = gateway.get();
  LocalConns::Options local;
  local.device = options.deviceSpec();
  local.max_threads = options.max_threads;
  local.receive_area_size = options.processOptions().receive_area_size;
  local.sm_layout = options.sm_layout;
  absl::StatusOr<std::unique_ptr<LocalConns>> conns =
      LocalConns::open(local, [self] { return self->dumpState(); });
  if (!conns.ok()) {
    return conns.status();
  }
  gateway->conns_ = std::move(*conns);
  gateway->workers_ = std::make_unique<WorkerPool>(kMaxWorkers);
  if (!options.listen.empty()) {
    ListenOptions listen;
    listen.address = options.listen;
    listen.endpoint = gateway->endpoint();
    absl::StatusOr<std::unique_ptr<GatewayServer>> server =
        GatewayServer::start(listen, [self](const std::shared_ptr<Link>& link) {
          return self->newSession(link, link->peer().address);
        });
    if (!server.ok()) {
      return server.status();
    }
    gateway->server_ = std::move(*server);
  }
  for (const std::string& address : options.connect) {
    DialOptions dial;
    dial.address = address;
    dial.endpoint = gateway->endpoint();
    dial.backoff_initial = std::chrono::milliseconds(options.backoff_initial_ms);
    dial.backoff_max = std::chrono::milliseconds(options.backoff_max_ms);
    absl::StatusOr<std::unique_ptr<GatewayDialer>> dialer =
        GatewayDialer::start(dial, [self, address](const std::shared_ptr<Link>& link) {
          return self->newSession(link, address);
        });
    if (!dialer.ok()) {
      return dialer.status();
    }
    gateway->dialers_.push_back(std::move(*dialer));
  }
  gateway->discovery_ = std::thread([self] { self->discoveryLoop(); });
  return gateway;
}

Gateway::~Gateway() { stop(); }

LocalEndpoint Gateway::endpoint() const {
  LocalEndpoint endpoint;
  endpoint.node.set_gateway_id(options_.gateway_id);
  endpoint.node.set_gateway_name(options_.gateway_name);
  endpoint.node.set_instance_id(instance_id_);
  endpoint.node.set_software_version("netbinder 0.1");
  endpoint.limits = options_.limits;
  endpoint.capabilities = {netbinder::v1::CAPABILITY_FD_FILE, netbinder::v1::CAPABILITY_FD_MEMFD,
                           netbinder::v1::CAPABILITY_FD_STREAM,
                           netbinder::v1::CAPABILITY_FD_LARGE_FILE};
  endpoint.send_queue_bytes = options_.send_queue_bytes;
  return endpoint;
}

int Gateway::listenPort() const { return server_ != nullptr ? server_->port() : 0; }

std::shared_ptr<FrameSink> Gateway::newSession(const std::shared_ptr<Link>& link,
                                               const std::string& configured_address) {
  SessionContext ctx;
  ctx.conns = conns_.get();
  ctx.workers = workers_.get();
  ctx.instance_id = instance_id_;
  ctx.export_globs = options_.export_globs;
  ctx.sm_layout = options_.sm_layout;
  ctx.own_parcel_limits = parcelLimitsOf(options_.limits);
  ctx.max_outstanding_calls = orDefault(options_.limits.max_outstanding_calls(), 1024);
  ctx.max_oneway_backlog = orDefault(options_.limits.max_oneway_backlog(), 10000);
  ctx.max_imports = orDefault(options_.limits.max_imports(), 100000);
  ctx.call_timeout_ms = options_.call_timeout_ms;
  ctx.own_limits = options_.limits;
  auto session = std::make_shared<Session>(std::move(ctx), link);
  auto entry = std::make_shared<SessionEntry>();
  entry->session = session;
  entry->address = configured_address;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return nullptr;
    }
    sessions_.push_back(std::move(entry));
  }
  spdlog::info("session with {} ({}) established", link->peer().node.gateway_id(),
               configured_address);
  cv_.notify_all();  // discover at once
  return session;
}

void Gateway::discoveryLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<std::shared_ptr<SessionEntry>> entries;
    std::erase_if(sessions_, [](const std::shared_ptr<SessionEntry>& e) {
      std::shared_ptr<Session> s = e->session.lock();
      return s == nullptr || s->closed();
    });
    entries = sessions_;
    lock.unlock();
    for (const std::shared_ptr<SessionEntry>& entry : entries) {
      if (std::shared_ptr<Session> session = entry->session.lock()) {
        discover(session, entry->address);
        session->closeIdleConns();
      }
    }
    entries.clear();
    lock.lock();
    cv_.wait_for(lock, std::chrono::milliseconds(options_.discovery_interval_ms),
                 [this] { return stopping_; });
  }
}

void Gateway::discover(const std::shared_ptr<Session>& session, const std::string& address) {
  if (importGlobsFor(options_, address).empty() || session->closed()) {
    return;
  }
  absl::StatusOr<std::vector<std::string>> names = session->listPeerServices();
  if (!names.ok()) {
    spdlog::debug("listing {}'s services: {}", address, names.status().ToString());
    return;
  }
  std::shared_ptr<SessionEntry> entry;
  {
    std::lock_guard lock(mu_);
    for (const auto& e : sessions_) {
      if (e->session.lock() == session)
        entry = e;
    }
  }
  if (entry == nullptr) {
    return;
  }
  for (const std::string& name : *names) {
    if (!shouldImport(options_, address, name)) {
      continue;
    }
    const std::string local = importedName(options_, address, name);
    {
      std::lock_guard lock(mu_);
      auto it = entry->registered.find(local);
      if (it != entry->registered.end()) {
        std::shared_ptr<ImportNode> node = it->second.lock();
        if (node != nullptr && node->conn() != nullptr) {
          continue;  // still registered and alive
        }
      }
    }
    absl::StatusOr<std::shared_ptr<ImportNode>> node = session->getPeerService(name);
    if (!node.ok() || *node == nullptr) {
      continue;
    }
    std::shared_ptr<Conn> conn = (*node)->conn();
    if (conn == nullptr) {
      continue;
    }
    runtime::ServiceManager sm(conn->state(), options_.sm_layout);
    if (absl::Status s = sm.addService(local, *node); !s.ok()) {
      spdlog::warn("registering {} (from {}) as {}: {}", name, address, local, s.ToString());
      continue;
    }
    spdlog::info("imported {} from {} as {}", name, address, local);
    std::lock_guard lock(mu_);
    entry->registered[local] = *node;
  }
}

std::string Gateway::dumpState() const {
  std::vector<std::shared_ptr<SessionEntry>> entries;
  {
    std::lock_guard lock(mu_);
    entries = sessions_;
  }
  std::string body;
  size_t live = 0;
  size_t conns = 1;  // main
  for (const auto& entry : entries) {
    std::shared_ptr<Session> session = entry->session.lock();
    if (session == nullptr || session->closed()) {
      continue;
    }
    ++live;
    Session::Counts c = session->counts();
    conns += c.conns;
    absl::StrAppend(&body, "peer=", session->peer().node.gateway_id(), " exports=", c.exports,
                    " imports=", c.imports, " calls_out=", c.calls_out, " calls_in=", c.calls_in,
                    "\n");
  }
  return absl::StrCat("sessions=", live, " conns=", conns, "\n", body);
}

void Gateway::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  if (discovery_.joinable()) {
    discovery_.join();
  }
  for (auto& dialer : dialers_) {
    dialer->stop();
  }
  if (server_ != nullptr) {
    server_->shutdown();
  }
  if (workers_ != nullptr) {
    workers_->stop();
  }
  conns_.reset();
}

}  // namespace nb::gateway
