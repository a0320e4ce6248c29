#include "gateway/transport/credentials.h"

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

namespace nb::gateway {

std::shared_ptr<grpc::ServerCredentials> serverCredentials(const TransportSecurity& security) {
  switch (security.mode) {
    case TransportSecurity::Mode::kInsecure:
      return grpc::InsecureServerCredentials();
  }
  return nullptr;
}

std::shared_ptr<grpc::ChannelCredentials> channelCredentials(const TransportSecurity& security) {
  switch (security.mode) {
    case TransportSecurity::Mode::kInsecure:
      return grpc::InsecureChannelCredentials();
  }
  return nullptr;
}

}  // namespace nb::gateway
