// GatewayDialer: the dialing side. Keeps one session up to a peer gateway: dial, handshake, run;
// when the session ends, dial again after an exponential backoff (backoff_initial doubling up to
// backoff_max; back to backoff_initial once a session was established).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/statusor.h"
#include "gateway/transport/link.h"

namespace nb::gateway {

class GrpcLink;

class GatewayDialer {
 public:
  // Starts dialing options.address on a background thread. InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<GatewayDialer>> start(const DialOptions& options,
                                                              SessionFactory factory);
  ~GatewayDialer();  // stop()

  GatewayDialer(const GatewayDialer&) = delete;
  GatewayDialer& operator=(const GatewayDialer&) = delete;

  // Closes the current session with GOING_AWAY and stops redialing. Returns within about
  // GrpcLink::kCloseGrace; the session's onClosed has run by then. Idempotent.
  void stop();

  // Sessions established (the factory was called) since start; waitForEstablished() waits
  // (bounded) until at least `count`.
  uint64_t establishedCount() const;
  bool waitForEstablished(uint64_t count, std::chrono::milliseconds timeout) const;
  // Dial attempts since start (each one a new channel and stream).
  uint64_t attemptCount() const;
  // The current session once its handshake completed; null while dialing or backing off.
  std::shared_ptr<Link> currentLink() const;

 private:
  GatewayDialer(DialOptions options, SessionFactory factory);
  void dialLoop();
  // One dial + session; true if the session was established.
  bool runOnce();

  const DialOptions options_;
  const SessionFactory factory_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;  // stop requested, established count changed
  bool stopping_ = false;               // guarded by mu_
  uint64_t established_ = 0;            // guarded by mu_
  uint64_t attempts_ = 0;               // guarded by mu_
  std::shared_ptr<GrpcLink> current_;   // guarded by mu_

  std::thread thread_;
};

}  // namespace nb::gateway
