// Link: one established gateway session (docs/protocol.md §2) as the upper layer sees it — an
// ordered, reliable channel of Frames to one peer gateway, after the handshake, with keepalive and
// frame numbering handled underneath.
//
// The transport (grpc_link.h; gateway_server.h and gateway_dialer.h start sessions) owns: the gRPC
// bidirectional stream netbinder.v1.Gateway/Session, Hello/HelloAck (version, identity,
// capabilities, limits), Frame.frame_id stamping and checking, Ping/Pong keepalive with its
// timeout, fatal Error frames in both directions, the bounded send queue, and (on the dialing side)
// reconnect with backoff. Every other frame kind goes up to the FrameSink unchanged and in order.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gateway/transport/credentials.h"
#include "proto/netbinder/v1/frame.pb.h"
#include "proto/netbinder/v1/session.pb.h"

namespace nb::gateway {

// What this gateway says about itself in Hello/HelloAck, and what it will receive.
struct LocalEndpoint {
  netbinder::v1::NodeIdentity node;  // gateway_id must be non-empty
  std::vector<netbinder::v1::Capability> capabilities;
  netbinder::v1::Limits limits;  // 0 fields = protocol defaults (§11)
  // Bytes of frames queued for sending (not yet written to gRPC) above which send() blocks
  // (kCall/kBulk lanes only). Bounded memory per peer.
  size_t send_queue_bytes = 8u << 20;
};

// The peer as established by the handshake.
struct PeerInfo {
  netbinder::v1::NodeIdentity node;
  netbinder::v1::Limits limits;  // the peer's, with protocol defaults filled in for 0 fields
  std::vector<netbinder::v1::Capability> capabilities;  // the effective (intersected) set
  uint32_t version = 0;
  bool dialed = false;  // true if this side dialed the session (odd stream ids, §4)
  std::string address;  // the peer's address as gRPC reports it, for logs
};

// Which queue a frame waits in. kControl and kCall frames are sent in the order they were queued
// (one FIFO: the protocol's table changes depend on it); kControl frames (RefCount, DeathNotice,
// ExportRelease — small, sent under the session's lock) never block, kCall frames block while the
// queue is over its byte bound. kBulk (fd stream chunks) shares the bound and never delays a
// waiting kCall frame by more than one frame. The link's own Ping/Pong/Error frames go first.
enum class Lane : uint8_t { kControl, kCall, kBulk };

// Receives a session's frames. Implemented by the gateway's session (session.h).
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  // On the link's reader thread, in arrival order, for every frame except Hello, HelloAck, Ping,
  // Pong and fatal Errors (which the link handles). Must not block for long: a blocked reader
  // stops the whole session, keepalive included.
  virtual void onFrame(netbinder::v1::Frame&& frame) = 0;
  // Exactly once, after the last onFrame, when the session ended for any reason (peer's fatal
  // Error, keepalive timeout, stream error, local close()). `why` says which.
  virtual void onClosed(const absl::Status& why) = 0;
};

class Link {
 public:
  virtual ~Link() = default;
  virtual const PeerInfo& peer() const = 0;
  // Queues `frame` (its frame_id is overwritten by the link). kControl never blocks; kCall/kBulk
  // block while the queue is over LocalEndpoint::send_queue_bytes. Unavailable once the link is
  // closed (the frame is dropped). InvalidArgument if the frame exceeds the peer's
  // max_frame_bytes (nothing is sent; the caller fails its local call instead).
  virtual absl::Status send(netbinder::v1::Frame frame, Lane lane = Lane::kCall) = 0;
  // Sends Error{code, message, fatal = true} (ahead of queued frames) and tears the session down;
  // the sink's onClosed follows. Idempotent; never blocks for long.
  virtual void close(netbinder::v1::ErrorCode code, const std::string& message) = 0;
  virtual bool closed() const = 0;
};

// Called once per established session (after the handshake, before any frame is delivered),
// on a transport thread. Returns the sink for the session's frames; returning null refuses the
// session (the link is closed with PERMISSION_DENIED).
using SessionFactory = std::function<std::shared_ptr<FrameSink>(const std::shared_ptr<Link>& link)>;

// Why a session ended, read back from the status FrameSink::onClosed receives. `code` is the
// fatal Error that ended it (sent by us or received from the peer: `by_peer`), or
// ERROR_CODE_UNSPECIFIED when the stream ended without one (peer vanished, stream error).
struct CloseReason {
  netbinder::v1::ErrorCode code = netbinder::v1::ERROR_CODE_UNSPECIFIED;
  bool by_peer = false;
};
CloseReason closeReasonOf(const absl::Status& why);

struct ListenOptions {
  std::string address;  // "host:port" (port 0 = pick one) or "unix:/path"
  LocalEndpoint endpoint;
  TransportSecurity security;  // insecure only, for now
};

struct DialOptions {
  std::string address;  // "host:port" or "unix:/path"
  LocalEndpoint endpoint;
  TransportSecurity security;  // insecure only, for now
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5000};
};

}  // namespace nb::gateway
