// The pure parts of the session handshake (docs/protocol.md §2.1, §11): building Hello/HelloAck,
// checking the peer's, negotiating version and capabilities, filling in default limits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gateway/transport/link.h"

namespace nb::gateway::detail {

// The protocol versions this revision speaks (exactly PROTOCOL_VERSION_1).
inline constexpr uint32_t kMinVersion = netbinder::v1::PROTOCOL_VERSION_1;
inline constexpr uint32_t kMaxVersion = netbinder::v1::PROTOCOL_VERSION_1;

// `limits` with every 0 field replaced by its §11 default.
netbinder::v1::Limits withDefaults(const netbinder::v1::Limits& limits);

// The effective capability set: values in both lists, in `ours` order, without UNSPECIFIED,
// unknown values or duplicates.
std::vector<netbinder::v1::Capability> intersectCapabilities(
    const std::vector<netbinder::v1::Capability>& ours,
    const google::protobuf::RepeatedField<int>& theirs);

netbinder::v1::Frame makeHello(const LocalEndpoint& self);
netbinder::v1::Frame makeHelloAck(const LocalEndpoint& self, uint32_t version);

// The outcome of checking the peer's Hello (acceptor) or HelloAck (dialer). On failure `error`
// is the fatal code to send (PROTOCOL, VERSION_MISMATCH) and `message` says why.
struct HandshakeOutcome {
  netbinder::v1::ErrorCode error = netbinder::v1::ERROR_CODE_UNSPECIFIED;
  std::string message;
  PeerInfo peer;  // valid when error == ERROR_CODE_UNSPECIFIED (address and dialed left unset)
  bool ok() const { return error == netbinder::v1::ERROR_CODE_UNSPECIFIED; }
};

HandshakeOutcome acceptHello(const netbinder::v1::Frame& first, const LocalEndpoint& self);
HandshakeOutcome acceptHelloAck(const netbinder::v1::Frame& first, const LocalEndpoint& self);

}  // namespace nb::gateway::detail
