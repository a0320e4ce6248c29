// Gateway: one bindergw process (docs/gateway.md): the local connections, the sessions with
// peers (accepted on --listen, dialed to each --connect with reconnect), the workers that run the
// peers' calls, and discovery — every discovery interval, each session's peer is asked for its
// exported services, and those matching the import rules are registered in the local
// servicemanager under their mapped names (they disappear by themselves when the remote process
// or the session dies: the servicemanager drops a service whose node dies).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "gateway/config/options.h"
#include "gateway/local_conns.h"
#include "gateway/session.h"
#include "gateway/transport/gateway_dialer.h"
#include "gateway/transport/gateway_server.h"
#include "gateway/worker_pool.h"

namespace nb::gateway {

class Gateway {
 public:
  static absl::StatusOr<std::unique_ptr<Gateway>> start(const GatewayOptions& options);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // The bound port of --listen (0 without one).
  int listenPort() const;
  // Closes every session (GOING_AWAY), stops discovery and the workers. Idempotent.
  void stop();
  // The state dump (netbinder.gateway code 1): "sessions=N conns=N", then one line per session.
  std::string dumpState() const;

 private:
  explicit Gateway(const GatewayOptions& options);
  std::shared_ptr<FrameSink> newSession(const std::shared_ptr<Link>& link,
                                        const std::string& configured_address);
  void discoveryLoop();
  void discover(const std::shared_ptr<Session>& session, const std::string& address);
  LocalEndpoint endpoint() const;

  const GatewayOptions options_;
  const std::string instance_id_;
  std::unique_ptr<LocalConns> conns_;
  std::unique_ptr<WorkerPool> workers_;
  std::unique_ptr<GatewayServer> server_;
  std::vector<std::unique_ptr<GatewayDialer>> dialers_;

  struct SessionEntry {
    std::weak_ptr<Session> session;
    std::string address;  // the --connect address, or the peer address for accepted sessions
    // Registered local name → the proxy node registered under it.
    std::map<std::string, std::weak_ptr<ImportNode>> registered;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<SessionEntry>> sessions_;  // guarded by mu_
  bool stopping_ = false;                                // guarded by mu_
  std::thread discovery_;
};

}  // namespace nb::gateway
