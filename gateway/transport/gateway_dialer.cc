#include "gateway/transport/gateway_dialer.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "gateway/transport/credentials.h"
#include "gateway/transport/grpc_link.h"
#include "gateway/transport/grpc_options.h"
#include "proto/netbinder/v1/gateway.grpc.pb.h"

namespace nb::gateway {
namespace {

using netbinder::v1::Frame;

// The client side of one Session stream, with its own channel (so gRPC's reconnect state never
// outlives an attempt). Initial metadata is corked into the first Write, so creating the stream
// never blocks on connecting; the first read() waits until that first write was attempted.
class ClientFrameStream final : public FrameStream {
 public:
  explicit ClientFrameStream(const DialOptions& options)
      : address_(options.address),
        channel_(makeChannel(options)),
        stub_(netbinder::v1::Gateway::NewStub(channel_)) {
    context_.set_initial_metadata_corked(true);
    stream_ = stub_->Session(&context_);
  }

  bool read(Frame* frame) override {
    {
      std::unique_lock lock(mu_);
      started_cv_.wait(lock, [&] { return started_; });
    }
    return stream_->Read(frame);
  }
  bool write(const Frame& frame) override {
    bool ok = stream_->Write(frame);
    markStarted();
    return ok;
  }
  void writesDone() override {
    markStarted();
    stream_->WritesDone();
  }
  void cancel() override {
    context_.TryCancel();
    markStarted();
  }
  std::string finish() override {
    grpc::Status status = stream_->Finish();
    return status.ok() ? "ok" : std::to_string(status.error_code()) + " " + status.error_message();
  }
  std::string peerAddress() const override { return address_; }

 private:
  static std::shared_ptr<grpc::Channel> makeChannel(const DialOptions& options) {
    grpc::ChannelArguments args;
    detail::applyChannelArguments(options, &args);
    return grpc::CreateCustomChannel(options.address, channelCredentials(options.security), args);
  }
  void markStarted() {
    {
      std::lock_guard lock(mu_);
      started_ = true;
    }
    started_cv_.notify_all();
  }

  const std::string address_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<netbinder::v1::Gateway::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Frame, Frame>> stream_;
  std::mutex mu_;
  std::condition_variable started_cv_;
  bool started_ = false;  // guarded by mu_
};

}  // namespace

GatewayDialer::GatewayDialer(DialOptions options, SessionFactory factory)
    : options_(std::move(options)), factory_(std::move(factory)) {}

GatewayDialer::~GatewayDialer() { stop(); }

absl::StatusOr<std::unique_ptr<GatewayDialer>> GatewayDialer::start(const DialOptions& options,
                                                                    SessionFactory factory) {
  if (options.address.empty()) {
    return absl::InvalidArgumentError("dial address is empty");
  }
  if (options.endpoint.node.gateway_id().empty()) {
    return absl::InvalidArgumentError("endpoint gateway_id is empty");
  }
  if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial) {
    return absl::InvalidArgumentError("backoff must satisfy 0 < backoff_initial <= backoff_max");
  }
  std::unique_ptr<GatewayDialer> dialer(new GatewayDialer(options, std::move(factory)));
  dialer->thread_ = std::thread([d = dialer.get()] { d->dialLoop(); });
  return dialer;
}

void GatewayDialer::stop() {
  std::shared_ptr<GrpcLink> current;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    current = current_;
  }
  cv_.notify_all();
  if (current) {
    current->close(netbinder::v1::ERROR_CODE_GOING_AWAY, "gateway shutting down");
  }
  current.reset();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void GatewayDialer::dialLoop() {
  auto backoff = options_.backoff_initial;
  for (;;) {
    if (runOnce()) {
      backoff = options_.backoff_initial;
    }
    std::unique_lock lock(mu_);
    if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) {
      return;
    }
    spdlog::debug("gateway dialer: redialing {} after {} ms", options_.address, backoff.count());
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

bool GatewayDialer::runOnce() {
  auto stream = std::make_unique<ClientFrameStream>(options_);
  SessionFactory factory = [this](const std::shared_ptr<Link>& link) {
    std::shared_ptr<FrameSink> sink = factory_ ? factory_(link) : nullptr;
    {
      std::lock_guard lock(mu_);
      ++established_;
    }
    cv_.notify_all();
    return sink;
  };
  auto link = std::make_shared<GrpcLink>(std::move(stream), options_.endpoint, /*dialed=*/true,
                                         std::move(factory));
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return false;
    }
    ++attempts_;
    current_ = link;
  }
  link->run();
  {
    std::lock_guard lock(mu_);
    current_.reset();
  }
  return link->established();
}

uint64_t GatewayDialer::establishedCount() const {
  std::lock_guard lock(mu_);
  return established_;
}

bool GatewayDialer::waitForEstablished(uint64_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return established_ >= count; });
}

uint64_t GatewayDialer::attemptCount() const {
  std::lock_guard lock(mu_);
  return attempts_;
}

std::shared_ptr<Link> GatewayDialer::currentLink() const {
  std::shared_ptr<GrpcLink> link;
  {
    std::lock_guard lock(mu_);
    link = current_;
  }
  return link && link->established() ? link : nullptr;
}

}  // namespace nb::gateway
