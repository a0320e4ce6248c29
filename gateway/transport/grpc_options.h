// The gRPC settings both sides of a gateway session use (docs/protocol.md §2.3, §11;
// shared/reference/peers.md §4.1): HTTP/2 keepalive with matching server enforcement, and the
// receive limit = own max_frame_bytes.
//
// HTTP/2 keepalive is fixed here, not derived from Limits: both sides must agree on it, and a
// client pinging more often than the server permits gets GOAWAY "too_many_pings". The client pings
// every kHttp2KeepaliveTime; the server accepts pings down to half that. The protocol-level
// Ping/Pong (grpc_link.cc) is what proves the peer's gateway loop alive.
#pragma once

#include <chrono>

#include "gateway/transport/link.h"

namespace grpc {
class ChannelArguments;
class ServerBuilder;
}  // namespace grpc

namespace nb::gateway::detail {

inline constexpr std::chrono::milliseconds kHttp2KeepaliveTime{20000};
inline constexpr std::chrono::milliseconds kHttp2KeepaliveTimeout{10000};
inline constexpr std::chrono::milliseconds kHttp2MinRecvPingInterval{kHttp2KeepaliveTime / 2};

// Dialing side. The reconnect backoff of the channel itself is kept at the dialer's (each attempt
// uses a fresh channel with a local subchannel pool, so gRPC's own backoff never delays ours).
void applyChannelArguments(const DialOptions& options, grpc::ChannelArguments* args);
void applyServerOptions(const ListenOptions& options, grpc::ServerBuilder* builder);

}  // namespace nb::gateway::detail
