#include "gateway/transport/grpc_options.h"

#include <grpcpp/server_builder.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <climits>

#include "gateway/transport/handshake.h"

namespace nb::gateway::detail {
namespace {

int clampMs(std::chrono::milliseconds ms) {
  return static_cast<int>(std::clamp<int64_t>(ms.count(), 1, INT_MAX));
}

int maxFrameBytes(const LocalEndpoint& endpoint) {
  return static_cast<int>(
      std::min<uint32_t>(withDefaults(endpoint.limits).max_frame_bytes(), INT_MAX));
}

}  // namespace

void applyChannelArguments(const DialOptions& options, grpc::ChannelArguments* args) {
  args->SetMaxReceiveMessageSize(maxFrameBytes(options.endpoint));
  args->SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, clampMs(kHttp2KeepaliveTime));
  args->SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, clampMs(kHttp2KeepaliveTimeout));
  args->SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args->SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  args->SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args->SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, clampMs(options.backoff_initial));
  args->SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, clampMs(options.backoff_initial));
  args->SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, clampMs(options.backoff_max));
}

void applyServerOptions(const ListenOptions& options, grpc::ServerBuilder* builder) {
  builder->SetMaxReceiveMessageSize(maxFrameBytes(options.endpoint));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, clampMs(kHttp2KeepaliveTime));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, clampMs(kHttp2KeepaliveTimeout));
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              clampMs(kHttp2MinRecvPingInterval));
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
}

}  // namespace nb::gateway::detail
