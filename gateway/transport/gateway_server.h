// GatewayServer: the listening side of gateway sessions. Serves netbinder.v1.Gateway/Session; each
// accepted stream becomes a GrpcLink whose handshake, once complete, calls the SessionFactory.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "gateway/transport/link.h"

namespace nb::gateway {

class GatewayServer {
 public:
  // Listens on options.address ("host:port", port 0 picks one; "unix:/path") and serves until
  // shutdown(). InvalidArgument for bad options, Unavailable if the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<GatewayServer>> start(const ListenOptions& options,
                                                              SessionFactory factory);
  ~GatewayServer();  // shutdown()

  GatewayServer(const GatewayServer&) = delete;
  GatewayServer& operator=(const GatewayServer&) = delete;

  // The bound TCP port (the picked one for port 0); 0 for unix: addresses.
  int port() const;
  // Closes every session with GOING_AWAY and stops listening. Returns within about
  // GrpcLink::kCloseGrace plus a second, even if peers do not answer; every session's onClosed has
  // run by then. Idempotent.
  void shutdown();

  // Sessions whose handshake completed (the factory was called), since start. For tests and
  // state dumps; waitForEstablished() waits (bounded) until at least `count`.
  uint64_t establishedCount() const;
  bool waitForEstablished(uint64_t count, std::chrono::milliseconds timeout) const;

 private:
  struct State;
  class Service;
  explicit GatewayServer(std::shared_ptr<State> state);

  std::shared_ptr<State> state_;
};

}  // namespace nb::gateway
