#include "gateway/transport/gateway_server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gateway/transport/credentials.h"
#include "gateway/transport/grpc_link.h"
#include "gateway/transport/grpc_options.h"
#include "proto/netbinder/v1/gateway.grpc.pb.h"

namespace nb::gateway {
namespace {

using netbinder::v1::Frame;

class ServerFrameStream final : public FrameStream {
 public:
  ServerFrameStream(grpc::ServerContext* context, grpc::ServerReaderWriter<Frame, Frame>* stream)
      : context_(context), stream_(stream) {}

  bool read(Frame* frame) override { return stream_->Read(frame); }
  bool write(const Frame& frame) override { return stream_->Write(frame); }
  void writesDone() override {}  // the handler's return is the Finish
  void cancel() override { context_->TryCancel(); }
  std::string finish() override { return context_->IsCancelled() ? "cancelled" : "ok"; }
  std::string peerAddress() const override { return context_->peer(); }

 private:
  grpc::ServerContext* const context_;
  grpc::ServerReaderWriter<Frame, Frame>* const stream_;
};

}  // namespace

struct GatewayServer::State {
  ListenOptions options;
  SessionFactory factory;
  int port = 0;
  std::unique_ptr<GatewayServer::Service> service;
  std::unique_ptr<grpc::Server> server;

  mutable std::mutex mu;
  mutable std::condition_variable established_cv;
  bool shutting_down = false;                // guarded by mu
  uint64_t established = 0;                  // guarded by mu
  std::set<std::shared_ptr<GrpcLink>> live;  // guarded by mu
};

class GatewayServer::Service final : public netbinder::v1::Gateway::Service {
 public:
  explicit Service(State* state) : state_(state) {}

  grpc::Status Session(grpc::ServerContext* context,
                       grpc::ServerReaderWriter<Frame, Frame>* stream) override {
    State* state = state_;
    SessionFactory factory = [state](const std::shared_ptr<Link>& link) {
      std::shared_ptr<FrameSink> sink = state->factory ? state->factory(link) : nullptr;
      {
        std::lock_guard lock(state->mu);
        ++state->established;
      }
      state->established_cv.notify_all();
      return sink;
    };
    auto link =
        std::make_shared<GrpcLink>(std::make_unique<ServerFrameStream>(context, stream),
                                   state->options.endpoint, /*dialed=*/false, std::move(factory));
    bool refuse = false;
    {
      std::lock_guard lock(state->mu);
      refuse = state->shutting_down;
      state->live.insert(link);
    }
    if (refuse) {
      link->close(netbinder::v1::ERROR_CODE_GOING_AWAY, "gateway shutting down");
    }
    link->run();
    {
      std::lock_guard lock(state->mu);
      state->live.erase(link);
    }
    return grpc::Status::OK;
  }

 private:
  State* const state_;
};

GatewayServer::GatewayServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

GatewayServer::~GatewayServer() { shutdown(); }

absl::StatusOr<std::unique_ptr<GatewayServer>> GatewayServer::start(const ListenOptions& options,
                                                                    SessionFactory factory) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("listen address is empty");
  }
  if (options.endpoint.node.gateway_id().empty()) {
    return absl::InvalidArgumentError("endpoint gateway_id is empty");
  }
  auto state = std::make_shared<State>();
  state->options = options;
  state->factory = std::move(factory);
  state->service = std::make_unique<Service>(state.get());

  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, serverCredentials(options.security), &state->port);
  builder.RegisterService(state->service.get());
  detail::applyServerOptions(options, &builder);
  state->server = builder.BuildAndStart();
  if (!state->server) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options.address));
  }
  if (absl::StartsWith(options.address, "unix:")) {
    state->port = 0;
  } else if (state->port == 0) {
    state->server->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot bind ", options.address));
  }
  spdlog::info("gateway listening on {} (port {}) as {}", options.address, state->port,
               options.endpoint.node.gateway_id());
  return std::unique_ptr<GatewayServer>(new GatewayServer(std::move(state)));
}

int GatewayServer::port() const { return state_->port; }

void GatewayServer::shutdown() {
  std::vector<std::shared_ptr<GrpcLink>> links;
  {
    std::lock_guard lock(state_->mu);
    if (state_->shutting_down) {
      return;
    }
    state_->shutting_down = true;
    for (const auto& link : state_->live) {
      links.push_back(link);
    }
  }
  for (const auto& link : links) {
    link->close(netbinder::v1::ERROR_CODE_GOING_AWAY, "gateway shutting down");
  }
  links.clear();
  // Sessions end on their own once the peers half-close (or the links cancel after kCloseGrace);
  // the deadline cancels whatever is left. Shutdown returns when every handler has returned.
  state_->server->Shutdown(std::chrono::system_clock::now() + GrpcLink::kCloseGrace +
                           std::chrono::seconds(1));
  state_->server->Wait();
  spdlog::info("gateway stopped listening on {}", state_->options.address);
}

uint64_t GatewayServer::establishedCount() const {
  std::lock_guard lock(state_->mu);
  return state_->established;
}

bool GatewayServer::waitForEstablished(uint64_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(state_->mu);
  return state_->established_cv.wait_for(lock, timeout,
                                         [&] { return state_->established >= count; });
}

}  // namespace nb::gateway
