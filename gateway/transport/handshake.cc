#include "gateway/transport/handshake.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace nb::gateway::detail {
namespace {

using netbinder::v1::Capability;
using netbinder::v1::ErrorCode;
using netbinder::v1::Frame;
using netbinder::v1::Limits;

HandshakeOutcome failure(ErrorCode code, std::string message) {
  HandshakeOutcome out;
  out.error = code;
  out.message = std::move(message);
  return out;
}

void fillSelf(const LocalEndpoint& self, netbinder::v1::NodeIdentity* node,
              google::protobuf::RepeatedField<int>* caps, Limits* limits) {
  *node = self.node;
  for (Capability c : self.capabilities) {
    caps->Add(c);
  }
  *limits = self.limits;
}

PeerInfo peerFrom(const netbinder::v1::NodeIdentity& node,
                  const google::protobuf::RepeatedField<int>& caps, const Limits& limits,
                  const LocalEndpoint& self, uint32_t version) {
  PeerInfo peer;
  peer.node = node;
  peer.limits = withDefaults(limits);
  peer.capabilities = intersectCapabilities(self.capabilities, caps);
  peer.version = version;
  return peer;
}

}  // namespace

Limits withDefaults(const Limits& limits) {
  Limits out = limits;
  auto fill32 = [](uint32_t value, uint32_t def) { return value == 0 ? def : value; };
  out.set_max_frame_bytes(fill32(out.max_frame_bytes(), 4u << 20));
  out.set_max_parcel_data_bytes(fill32(out.max_parcel_data_bytes(), 1u << 20));
  out.set_max_parcel_objects(fill32(out.max_parcel_objects(), 4096));
  out.set_max_parcel_fds(fill32(out.max_parcel_fds(), 1024));
  out.set_max_parcel_buffer_bytes(fill32(out.max_parcel_buffer_bytes(), 1u << 20));
  out.set_max_outstanding_calls(fill32(out.max_outstanding_calls(), 1024));
  out.set_max_oneway_backlog(fill32(out.max_oneway_backlog(), 10000));
  out.set_max_imports(fill32(out.max_imports(), 100000));
  if (out.max_fd_payload_bytes() == 0) {
    out.set_max_fd_payload_bytes(uint64_t{64} << 20);
  }
  out.set_max_fd_streams(fill32(out.max_fd_streams(), 256));
  out.set_fd_stream_initial_window(fill32(out.fd_stream_initial_window(), 256u << 10));
  out.set_keepalive_interval_ms(fill32(out.keepalive_interval_ms(), 10000));
  out.set_keepalive_timeout_ms(fill32(out.keepalive_timeout_ms(), 30000));
  return out;
}

std::vector<Capability> intersectCapabilities(const std::vector<Capability>& ours,
                                              const google::protobuf::RepeatedField<int>& theirs) {
  std::vector<Capability> out;
  for (Capability c : ours) {
    if (c == netbinder::v1::CAPABILITY_UNSPECIFIED || !netbinder::v1::Capability_IsValid(c)) {
      continue;
    }
    if (std::find(theirs.begin(), theirs.end(), static_cast<int>(c)) == theirs.end()) {
      continue;
    }
    if (std::find(out.begin(), out.end(), c) == out.end()) {
      out.push_back(c);
    }
  }
  return out;
}

Frame makeHello(const LocalEndpoint& self) {
  Frame frame;
  auto* hello = frame.mutable_hello();
  hello->set_min_version(kMinVersion);
  hello->set_max_version(kMaxVersion);
  fillSelf(self, hello->mutable_node(), hello->mutable_capabilities(), hello->mutable_limits());
  return frame;
}

Frame makeHelloAck(const LocalEndpoint& self, uint32_t version) {
  Frame frame;
  auto* ack = frame.mutable_hello_ack();
  ack->set_version(version);
  fillSelf(self, ack->mutable_node(), ack->mutable_capabilities(), ack->mutable_limits());
  return frame;
}

HandshakeOutcome acceptHello(const Frame& first, const LocalEndpoint& self) {
  if (!first.has_hello()) {
    return failure(netbinder::v1::ERROR_CODE_PROTOCOL, "first frame is not Hello");
  }
  const auto& hello = first.hello();
  if (hello.node().gateway_id().empty()) {
    return failure(netbinder::v1::ERROR_CODE_PROTOCOL, "Hello without gateway_id");
  }
  if (hello.min_version() < 1 || hello.min_version() > hello.max_version()) {
    return failure(netbinder::v1::ERROR_CODE_PROTOCOL,
                   absl::StrCat("Hello with invalid version range ", hello.min_version(), "..",
                                hello.max_version()));
  }
  // §2.1: v = min(max_a, max_b), which must be >= max(min_a, min_b).
  const uint32_t version = std::min(hello.max_version(), kMaxVersion);
  if (version < std::max(hello.min_version(), kMinVersion)) {
    return failure(
        netbinder::v1::ERROR_CODE_VERSION_MISMATCH,
        absl::StrCat("no common version: peer speaks ", hello.min_version(), "..",
                     hello.max_version(), ", we speak ", kMinVersion, "..", kMaxVersion));
  }
  HandshakeOutcome out;
  out.peer = peerFrom(hello.node(), hello.capabilities(), hello.limits(), self, version);
  return out;
}

HandshakeOutcome acceptHelloAck(const Frame& first, const LocalEndpoint& self) {
  if (!first.has_hello_ack()) {
    return failure(netbinder::v1::ERROR_CODE_PROTOCOL, "first frame is not HelloAck");
  }
  const auto& ack = first.hello_ack();
  if (ack.version() < kMinVersion || ack.version() > kMaxVersion) {
    return failure(netbinder::v1::ERROR_CODE_VERSION_MISMATCH,
                   absl::StrCat("HelloAck chose version ", ack.version(), ", we speak ",
                                kMinVersion, "..", kMaxVersion));
  }
  if (ack.node().gateway_id().empty()) {
    return failure(netbinder::v1::ERROR_CODE_PROTOCOL, "HelloAck without gateway_id");
  }
  HandshakeOutcome out;
  out.peer = peerFrom(ack.node(), ack.capabilities(), ack.limits(), self, ack.version());
  return out;
}

}  // namespace nb::gateway::detail
