// TransportSecurity: how a gateway session authenticates its peer. Only an insecure (plaintext)
// mode exists for now; mTLS (certificate paths, expected SPIFFE ids) will be added here, and the
// conversion to gRPC credentials stays in credentials.cc so that callers never change.
#pragma once

#include <cstdint>
#include <memory>

namespace grpc {
class ChannelCredentials;
class ServerCredentials;
}  // namespace grpc

namespace nb::gateway {

struct TransportSecurity {
  enum class Mode : uint8_t { kInsecure };
  Mode mode = Mode::kInsecure;

  static TransportSecurity insecure() { return TransportSecurity{}; }
};

// The gRPC credentials for `security` (listening and dialing side).
std::shared_ptr<grpc::ServerCredentials> serverCredentials(const TransportSecurity& security);
std::shared_ptr<grpc::ChannelCredentials> channelCredentials(const TransportSecurity& security);

}  // namespace nb::gateway
