// gateway/transport: sessions over loopback TCP and unix sockets (GatewayServer, GatewayDialer,
// GrpcLink), and raw-stub peers that break protocol rules (docs/protocol.md §2, §10).
// Every wait is bounded; no assertion depends on exact timings.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gateway/transport/gateway_dialer.h"
#include "gateway/transport/gateway_server.h"
#include "gateway/transport/grpc_link.h"
#include "proto/netbinder/v1/gateway.grpc.pb.h"

namespace nb::gateway {
namespace {

using namespace std::chrono_literals;
using netbinder::v1::Capability;
using netbinder::v1::ErrorCode;
using netbinder::v1::Frame;

constexpr auto kWait = 10s;  // generous bound for anything that should happen "soon"

LocalEndpoint endpoint(const std::string& id, std::vector<Capability> caps = {}) {
  LocalEndpoint ep;
  ep.node.set_gateway_id(id);
  ep.node.set_gateway_name(id + "-name");
  ep.capabilities = std::move(caps);
  return ep;
}

Frame transaction(uint64_t call_id, size_t payload_bytes = 0) {
  Frame frame;
  frame.mutable_transaction()->set_call_id(call_id);
  if (payload_bytes > 0) {
    frame.mutable_transaction()->mutable_parcel()->set_data(std::string(payload_bytes, 'x'));
  }
  return frame;
}

// Records one session's frames and its end.
class RecordingSink final : public FrameSink {
 public:
  void onFrame(Frame&& frame) override {
    std::lock_guard lock(mu_);
    EXPECT_EQ(closed_count_, 0) << "onFrame after onClosed";
    frames_.push_back(std::move(frame));
    cv_.notify_all();
  }
  void onClosed(const absl::Status& why) override {
    std::lock_guard lock(mu_);
    ++closed_count_;
    why_ = why;
    cv_.notify_all();
  }
  bool waitFrames(size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return frames_.size() >= n; });
  }
  bool waitClosed(std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return closed_count_ > 0; });
  }
  std::vector<Frame> frames() const {
    std::lock_guard lock(mu_);
    return frames_;
  }
  int closedCount() const {
    std::lock_guard lock(mu_);
    return closed_count_;
  }
  absl::Status why() const {
    std::lock_guard lock(mu_);
    return why_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Frame> frames_;
  int closed_count_ = 0;
  absl::Status why_;
};

// A SessionFactory that keeps every session's link and sink.
class Sessions {
 public:
  SessionFactory factory() {
    return [this](const std::shared_ptr<Link>& link) {
      auto sink = std::make_shared<RecordingSink>();
      std::lock_guard lock(mu_);
      links_.push_back(link);
      sinks_.push_back(sink);
      cv_.notify_all();
      return sink;
    };
  }
  bool wait(size_t n, std::chrono::milliseconds timeout = kWait) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return links_.size() >= n; });
  }
  std::shared_ptr<Link> link(size_t i) {
    std::lock_guard lock(mu_);
    return links_.at(i);
  }
  std::shared_ptr<RecordingSink> sink(size_t i) {
    std::lock_guard lock(mu_);
    return sinks_.at(i);
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Link>> links_;
  std::vector<std::shared_ptr<RecordingSink>> sinks_;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "nbtransportXXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A server and a dialer connected to it, with both sides' sessions recorded.
struct Pair {
  Sessions server_sessions;
  Sessions dialer_sessions;
  std::unique_ptr<GatewayServer> server;
  std::unique_ptr<GatewayDialer> dialer;

  // `address` "127.0.0.1:0" or "unix:...".
  void start(const std::string& address, LocalEndpoint server_ep, LocalEndpoint dialer_ep) {
    auto s = GatewayServer::start({address, std::move(server_ep), {}}, server_sessions.factory());
    ASSERT_TRUE(s.ok()) << s.status();
    server = std::move(*s);
    DialOptions dial;
    dial.address =
        address.rfind("unix:", 0) == 0 ? address : absl::StrCat("127.0.0.1:", server->port());
    dial.endpoint = std::move(dialer_ep);
    dial.backoff_initial = 20ms;
    dial.backoff_max = 200ms;
    auto d = GatewayDialer::start(dial, dialer_sessions.factory());
    ASSERT_TRUE(d.ok()) << d.status();
    dialer = std::move(*d);
    ASSERT_TRUE(server_sessions.wait(1));
    ASSERT_TRUE(dialer_sessions.wait(1));
  }
  ~Pair() {
    if (dialer) {
      dialer->stop();
    }
    if (server) {
      server->shutdown();
    }
  }
};

// ---- handshake ----------------------------------------------------------------------------------

void expectHandshake(const std::string& address) {
  LocalEndpoint server_ep = endpoint(
      "gw-server", {netbinder::v1::CAPABILITY_SCATTER_GATHER, netbinder::v1::CAPABILITY_FD_FILE});
  server_ep.limits.set_max_frame_bytes(1 << 20);
  server_ep.limits.set_max_imports(77);
  LocalEndpoint dialer_ep =
      endpoint("gw-dialer", {netbinder::v1::CAPABILITY_FD_FILE, netbinder::v1::CAPABILITY_FD_STREAM,
                             netbinder::v1::CAPABILITY_SCATTER_GATHER});
  dialer_ep.limits.set_keepalive_interval_ms(1234);

  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start(address, server_ep, dialer_ep));

  const PeerInfo& at_server = pair.server_sessions.link(0)->peer();
  EXPECT_EQ(at_server.node.gateway_id(), "gw-dialer");
  EXPECT_EQ(at_server.node.gateway_name(), "gw-dialer-name");
  EXPECT_EQ(at_server.version, 1u);
  EXPECT_FALSE(at_server.dialed);
  EXPECT_FALSE(at_server.address.empty());
  EXPECT_EQ(at_server.capabilities,
            (std::vector<Capability>{netbinder::v1::CAPABILITY_SCATTER_GATHER,
                                     netbinder::v1::CAPABILITY_FD_FILE}));
  EXPECT_EQ(at_server.limits.max_frame_bytes(), 4u << 20);  // default filled in
  EXPECT_EQ(at_server.limits.keepalive_interval_ms(), 1234u);
  EXPECT_EQ(at_server.limits.keepalive_timeout_ms(), 30000u);
  EXPECT_EQ(at_server.limits.max_imports(), 100000u);

  const PeerInfo& at_dialer = pair.dialer_sessions.link(0)->peer();
  EXPECT_EQ(at_dialer.node.gateway_id(), "gw-server");
  EXPECT_EQ(at_dialer.version, 1u);
  EXPECT_TRUE(at_dialer.dialed);
  EXPECT_EQ(at_dialer.address, address.rfind("unix:", 0) == 0
                                   ? address
                                   : absl::StrCat("127.0.0.1:", pair.server->port()));
  EXPECT_EQ(at_dialer.capabilities,
            (std::vector<Capability>{netbinder::v1::CAPABILITY_FD_FILE,
                                     netbinder::v1::CAPABILITY_SCATTER_GATHER}));
  EXPECT_EQ(at_dialer.limits.max_frame_bytes(), 1u << 20);
  EXPECT_EQ(at_dialer.limits.max_imports(), 77u);
  EXPECT_EQ(at_dialer.limits.keepalive_interval_ms(), 10000u);
  // The counters move after the factory returned: wait for them (bounded), then check exactly.
  ASSERT_TRUE(pair.server->waitForEstablished(1, kWait));
  ASSERT_TRUE(pair.dialer->waitForEstablished(1, kWait));
  EXPECT_EQ(pair.server->establishedCount(), 1u);
  EXPECT_EQ(pair.dialer->establishedCount(), 1u);
}

TEST(TransportTest, HandshakeOverTcp) { expectHandshake("127.0.0.1:0"); }

TEST(TransportTest, HandshakeOverUnixSocket) {
  TempDir dir;
  expectHandshake("unix:" + dir.path() + "/gw.sock");
}

TEST(TransportTest, StartRejectsBadOptions) {
  EXPECT_EQ(GatewayServer::start({"127.0.0.1:0", LocalEndpoint{}, {}}, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  DialOptions dial;
  dial.address = "127.0.0.1:1";
  dial.endpoint = endpoint("x");
  dial.backoff_initial = 0ms;
  EXPECT_EQ(GatewayDialer::start(dial, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- frames -------------------------------------------------------------------------------------

constexpr uint64_t kCount = 10000;

void expectFramesInOrder(const std::string& address) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start(address, endpoint("s"), endpoint("d")));
  auto to_server = pair.dialer_sessions.link(0);
  auto to_dialer = pair.server_sessions.link(0);
  std::thread a([&] {
    for (uint64_t i = 1; i <= kCount; ++i) {
      ASSERT_TRUE(to_server->send(transaction(i), i % 3 == 0 ? Lane::kBulk : Lane::kCall).ok());
    }
  });
  for (uint64_t i = 1; i <= kCount; ++i) {
    ASSERT_TRUE(to_dialer->send(transaction(i)).ok());
  }
  a.join();
  auto at_server = pair.server_sessions.sink(0);
  auto at_dialer = pair.dialer_sessions.sink(0);
  ASSERT_TRUE(at_server->waitFrames(kCount, 30s));
  ASSERT_TRUE(at_dialer->waitFrames(kCount, 30s));
  auto check = [](const std::vector<Frame>& frames, bool one_lane) {
    ASSERT_EQ(frames.size(), kCount);
    uint64_t prev_id = 0;
    std::vector<uint64_t> calls;
    for (const Frame& f : frames) {
      ASSERT_TRUE(f.has_transaction());
      EXPECT_GT(f.frame_id(), prev_id);
      prev_id = f.frame_id();
      calls.push_back(f.transaction().call_id());
    }
    if (one_lane) {
      for (uint64_t i = 0; i < kCount; ++i) {
        ASSERT_EQ(calls[i], i + 1);
      }
    } else {
      // Two lanes: order holds within each lane.
      uint64_t last_call = 0, last_bulk = 0;
      for (uint64_t c : calls) {
        uint64_t& last = c % 3 == 0 ? last_bulk : last_call;
        EXPECT_GT(c, last);
        last = c;
      }
    }
  };
  check(at_dialer->frames(), true);
  check(at_server->frames(), false);
  EXPECT_EQ(at_server->closedCount(), 0);
}

TEST(TransportTest, FramesInOrderBothWaysTcp) { expectFramesInOrder("127.0.0.1:0"); }

TEST(TransportTest, FramesInOrderBothWaysUnix) {
  TempDir dir;
  expectFramesInOrder("unix:" + dir.path() + "/gw.sock");
}

TEST(TransportTest, FrameLargerThanPeerLimitIsRejectedBySend) {
  LocalEndpoint server_ep = endpoint("s");
  server_ep.limits.set_max_frame_bytes(64 * 1024);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start("127.0.0.1:0", server_ep, endpoint("d")));
  auto link = pair.dialer_sessions.link(0);
  EXPECT_EQ(link->send(transaction(1, 100 * 1024)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(link->send(transaction(2, 64 * 1024)).code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(link->send(transaction(3, 1000)).ok());
  auto sink = pair.server_sessions.sink(0);
  ASSERT_TRUE(sink->waitFrames(1));
  EXPECT_EQ(sink->frames()[0].transaction().call_id(), 3u);
  EXPECT_FALSE(link->closed());
  // The other direction uses the dialer's default limit (4 MiB): 100 KiB is fine.
  ASSERT_TRUE(pair.server_sessions.link(0)->send(transaction(4, 100 * 1024)).ok());
  ASSERT_TRUE(pair.dialer_sessions.sink(0)->waitFrames(1));
}

TEST(TransportTest, SendAfterCloseIsUnavailableAndOnClosedRunsOnce) {
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start("127.0.0.1:0", endpoint("s"), endpoint("d")));
  auto link = pair.server_sessions.link(0);
  link->close(netbinder::v1::ERROR_CODE_INTERNAL, "test close");
  link->close(netbinder::v1::ERROR_CODE_INTERNAL, "again");
  EXPECT_TRUE(link->closed());
  EXPECT_EQ(link->send(transaction(1)).code(), absl::StatusCode::kUnavailable);
  auto server_sink = pair.server_sessions.sink(0);
  auto dialer_sink = pair.dialer_sessions.sink(0);
  ASSERT_TRUE(server_sink->waitClosed());
  ASSERT_TRUE(dialer_sink->waitClosed());
  EXPECT_EQ(closeReasonOf(server_sink->why()).code, netbinder::v1::ERROR_CODE_INTERNAL);
  EXPECT_FALSE(closeReasonOf(server_sink->why()).by_peer);
  EXPECT_EQ(closeReasonOf(dialer_sink->why()).code, netbinder::v1::ERROR_CODE_INTERNAL);
  EXPECT_TRUE(closeReasonOf(dialer_sink->why()).by_peer);
  // The dialer redials; the new session works.
  ASSERT_TRUE(pair.dialer_sessions.wait(2));
  ASSERT_TRUE(pair.server_sessions.wait(2));
  ASSERT_TRUE(pair.dialer_sessions.link(1)->send(transaction(9)).ok());
  ASSERT_TRUE(pair.server_sessions.sink(1)->waitFrames(1));
  EXPECT_EQ(server_sink->closedCount(), 1);
  EXPECT_EQ(dialer_sink->closedCount(), 1);
}

// ---- send queue ---------------------------------------------------------------------------------

// Pauses the writer of `link` and fills its bounded lanes with `n` frames of `bytes` each.
std::shared_ptr<GrpcLink> pauseAndFill(const std::shared_ptr<Link>& link, int n, size_t bytes) {
  auto grpc_link = std::dynamic_pointer_cast<GrpcLink>(link);
  grpc_link->setWriterPausedForTest(true);
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(link->send(transaction(100 + i, bytes)).ok());
  }
  return grpc_link;
}

bool waitBlockedSenders(const GrpcLink& link, size_t n) {
  auto deadline = std::chrono::steady_clock::now() + kWait;
  while (link.blockedSendersForTest() < n) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(TransportTest, CloseUnblocksSenderBlockedOnFullQueue) {
  LocalEndpoint dialer_ep = endpoint("d");
  dialer_ep.send_queue_bytes = 8 * 1024;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start("127.0.0.1:0", endpoint("s"), dialer_ep));
  auto link = pair.dialer_sessions.link(0);
  auto grpc_link = pauseAndFill(link, 4, 1800);
  auto blocked = std::async(std::launch::async, [&] { return link->send(transaction(1, 1800)); });
  ASSERT_TRUE(waitBlockedSenders(*grpc_link, 1));
  link->close(netbinder::v1::ERROR_CODE_GOING_AWAY, "test");
  ASSERT_EQ(blocked.wait_for(kWait), std::future_status::ready);
  EXPECT_EQ(blocked.get().code(), absl::StatusCode::kUnavailable);
  ASSERT_TRUE(pair.dialer_sessions.sink(0)->waitClosed());
  ASSERT_TRUE(pair.server_sessions.sink(0)->waitClosed());
  EXPECT_EQ(closeReasonOf(pair.server_sessions.sink(0)->why()).code,
            netbinder::v1::ERROR_CODE_GOING_AWAY);
  // The queued frames were dropped: the server saw none of them.
  EXPECT_TRUE(pair.server_sessions.sink(0)->frames().empty());
}

TEST(TransportTest, ControlLaneIsNotBlockedByFullCallLane) {
  LocalEndpoint dialer_ep = endpoint("d");
  dialer_ep.send_queue_bytes = 8 * 1024;
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start("127.0.0.1:0", endpoint("s"), dialer_ep));
  auto link = pair.dialer_sessions.link(0);
  auto grpc_link = pauseAndFill(link, 4, 1800);
  auto blocked = std::async(std::launch::async, [&] { return link->send(transaction(1, 1800)); });
  ASSERT_TRUE(waitBlockedSenders(*grpc_link, 1));

  Frame death;
  death.mutable_death_notice()->set_export_id(42);
  auto control =
      std::async(std::launch::async, [&] { return link->send(std::move(death), Lane::kControl); });
  ASSERT_EQ(control.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(control.get().ok());
  EXPECT_EQ(blocked.wait_for(0ms), std::future_status::timeout);  // still blocked

  grpc_link->setWriterPausedForTest(false);
  ASSERT_EQ(blocked.wait_for(kWait), std::future_status::ready);
  EXPECT_TRUE(blocked.get().ok());
  auto sink = pair.server_sessions.sink(0);
  ASSERT_TRUE(sink->waitFrames(6));
  auto frames = sink->frames();
  // Not blocked, but in order: after the calls queued before it, ahead of the blocked one.
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(frames[i].transaction().call_id(), 100u + i);
  }
  ASSERT_TRUE(frames[4].has_death_notice());
  EXPECT_EQ(frames[5].transaction().call_id(), 1u);
}

// ---- raw peers ----------------------------------------------------------------------------------

// A client that speaks the stream directly through the generated stub.
class RawClient {
 public:
  explicit RawClient(const std::string& address) {
    channel_ = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
    stub_ = netbinder::v1::Gateway::NewStub(channel_);
    context_.set_deadline(std::chrono::system_clock::now() + 20s);
    stream_ = stub_->Session(&context_);
  }
  ~RawClient() {
    context_.TryCancel();
    Frame ignored;
    while (stream_->Read(&ignored)) {
    }
    stream_->Finish();
  }
  bool write(Frame frame, uint64_t frame_id) {
    frame.set_frame_id(frame_id);
    return stream_->Write(frame);
  }
  bool read(Frame* frame) { return stream_->Read(frame); }
  // Reads until a fatal Error (returned) or the end of the stream (nullopt).
  std::optional<netbinder::v1::Error> readUntilFatal() {
    Frame frame;
    while (stream_->Read(&frame)) {
      if (frame.has_error() && frame.error().fatal()) {
        return frame.error();
      }
    }
    return std::nullopt;
  }
  static Frame hello(uint32_t min_version, uint32_t max_version, uint32_t keepalive_ms = 0) {
    Frame frame;
    frame.mutable_hello()->set_min_version(min_version);
    frame.mutable_hello()->set_max_version(max_version);
    frame.mutable_hello()->mutable_node()->set_gateway_id("raw");
    frame.mutable_hello()->mutable_limits()->set_keepalive_interval_ms(keepalive_ms);
    return frame;
  }
  // Sends Hello and reads the HelloAck.
  void handshake(uint32_t keepalive_ms = 0) {
    ASSERT_TRUE(write(hello(1, 1, keepalive_ms), 1));
    Frame ack;
    ASSERT_TRUE(read(&ack));
    ASSERT_TRUE(ack.has_hello_ack()) << ack.DebugString();
    EXPECT_EQ(ack.frame_id(), 1u);
    EXPECT_EQ(ack.hello_ack().version(), 1u);
  }

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<netbinder::v1::Gateway::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Frame, Frame>> stream_;
};

class TransportRawPeerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = GatewayServer::start({"127.0.0.1:0", endpoint("s"), {}}, sessions_.factory());
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = std::move(*s);
    address_ = absl::StrCat("127.0.0.1:", server_->port());
  }
  // The server still accepts a well-behaved dialer.
  void expectServerHealthy() {
    DialOptions dial;
    dial.address = address_;
    dial.endpoint = endpoint("good");
    Sessions dialer_sessions;
    auto before = server_->establishedCount();
    auto d = GatewayDialer::start(dial, dialer_sessions.factory());
    ASSERT_TRUE(d.ok());
    ASSERT_TRUE(server_->waitForEstablished(before + 1, kWait));
    ASSERT_TRUE(dialer_sessions.wait(1));
    (*d)->stop();
  }

  Sessions sessions_;
  std::unique_ptr<GatewayServer> server_;
  std::string address_;
};

TEST_F(TransportRawPeerTest, FirstFrameNotHelloIsFatalProtocol) {
  {
    RawClient raw(address_);
    ASSERT_TRUE(raw.write(transaction(1), 1));
    auto error = raw.readUntilFatal();
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), netbinder::v1::ERROR_CODE_PROTOCOL);
    EXPECT_EQ(error->ref_frame_id(), 1u);
  }
  EXPECT_EQ(server_->establishedCount(), 0u);
  expectServerHealthy();
}

TEST_F(TransportRawPeerTest, BadFrameIdIsFatalProtocol) {
  {
    RawClient raw(address_);
    ASSERT_NO_FATAL_FAILURE(raw.handshake());
    ASSERT_TRUE(raw.write(transaction(1), 2));
    ASSERT_TRUE(raw.write(transaction(2), 2));  // repeat
    auto error = raw.readUntilFatal();
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), netbinder::v1::ERROR_CODE_PROTOCOL);
    EXPECT_EQ(error->ref_frame_id(), 2u);
  }
  ASSERT_TRUE(sessions_.wait(1));
  auto sink = sessions_.sink(0);
  ASSERT_TRUE(sink->waitClosed());
  EXPECT_EQ(sink->frames().size(), 1u);  // the first transaction, not the repeat
  EXPECT_EQ(closeReasonOf(sink->why()).code, netbinder::v1::ERROR_CODE_PROTOCOL);
  expectServerHealthy();
}

TEST_F(TransportRawPeerTest, FrameIdGapIsFatalProtocol) {
  RawClient raw(address_);
  ASSERT_NO_FATAL_FAILURE(raw.handshake());
  ASSERT_TRUE(raw.write(transaction(1), 5));
  auto error = raw.readUntilFatal();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), netbinder::v1::ERROR_CODE_PROTOCOL);
  EXPECT_EQ(error->ref_frame_id(), 5u);
}

TEST_F(TransportRawPeerTest, NoCommonVersionIsFatalVersionMismatch) {
  {
    RawClient raw(address_);
    ASSERT_TRUE(raw.write(RawClient::hello(2, 3), 1));
    auto error = raw.readUntilFatal();
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code(), netbinder::v1::ERROR_CODE_VERSION_MISMATCH);
  }
  EXPECT_EQ(server_->establishedCount(), 0u);
  expectServerHealthy();
}

TEST_F(TransportRawPeerTest, OverlappingVersionRangeNegotiatesOne) {
  RawClient raw(address_);
  ASSERT_TRUE(raw.write(RawClient::hello(1, 7), 1));
  Frame ack;
  ASSERT_TRUE(raw.read(&ack));
  ASSERT_TRUE(ack.has_hello_ack());
  EXPECT_EQ(ack.hello_ack().version(), 1u);
  EXPECT_EQ(ack.hello_ack().node().gateway_id(), "s");
}

TEST_F(TransportRawPeerTest, UnknownFrameKindIsNonFatalUnimplemented) {
  RawClient raw(address_);
  ASSERT_NO_FATAL_FAILURE(raw.handshake());
  ASSERT_TRUE(raw.write(Frame{}, 2));  // body not set
  Frame ping;
  ping.mutable_ping()->set_nonce(77);
  ASSERT_TRUE(raw.write(ping, 3));
  Frame frame;
  ASSERT_TRUE(raw.read(&frame));
  ASSERT_TRUE(frame.has_error()) << frame.DebugString();
  EXPECT_EQ(frame.error().code(), netbinder::v1::ERROR_CODE_UNIMPLEMENTED);
  EXPECT_FALSE(frame.error().fatal());
  EXPECT_EQ(frame.error().ref_frame_id(), 2u);
  EXPECT_EQ(frame.frame_id(), 2u);
  ASSERT_TRUE(raw.read(&frame));
  ASSERT_TRUE(frame.has_pong()) << frame.DebugString();
  EXPECT_EQ(frame.pong().nonce(), 77u);
  EXPECT_EQ(frame.frame_id(), 3u);
  ASSERT_TRUE(sessions_.wait(1));
  EXPECT_FALSE(sessions_.link(0)->closed());
}

// ---- keepalive ----------------------------------------------------------------------------------

TEST(TransportKeepaliveTest, SilentPeerIsClosedWithKeepaliveTimeout) {
  LocalEndpoint server_ep = endpoint("s");
  server_ep.limits.set_keepalive_interval_ms(100);
  server_ep.limits.set_keepalive_timeout_ms(500);
  Sessions sessions;
  auto s = GatewayServer::start({"127.0.0.1:0", server_ep, {}}, sessions.factory());
  ASSERT_TRUE(s.ok());
  auto& server = *s;
  RawClient raw(absl::StrCat("127.0.0.1:", server->port()));
  // Asks the server to ping every 100 ms, then never answers (nor reads, until the end).
  ASSERT_NO_FATAL_FAILURE(raw.handshake(/*keepalive_ms=*/100));
  ASSERT_TRUE(sessions.wait(1));
  auto sink = sessions.sink(0);
  ASSERT_TRUE(sink->waitClosed(kWait));
  EXPECT_EQ(closeReasonOf(sink->why()).code, netbinder::v1::ERROR_CODE_KEEPALIVE_TIMEOUT);
  EXPECT_FALSE(closeReasonOf(sink->why()).by_peer);
  // What the silent peer was sent meanwhile: Pings, then the fatal KEEPALIVE_TIMEOUT.
  int pings = 0;
  Frame frame;
  std::optional<netbinder::v1::Error> fatal;
  while (raw.read(&frame)) {
    if (frame.has_ping()) {
      ++pings;
    } else if (frame.has_error() && frame.error().fatal()) {
      fatal = frame.error();
    }
  }
  EXPECT_GE(pings, 1);
  ASSERT_TRUE(fatal.has_value());
  EXPECT_EQ(fatal->code(), netbinder::v1::ERROR_CODE_KEEPALIVE_TIMEOUT);
  server->shutdown();
}

TEST(TransportKeepaliveTest, IdleSessionStaysUpWithShortKeepalive) {
  LocalEndpoint server_ep = endpoint("s");
  server_ep.limits.set_keepalive_interval_ms(50);
  server_ep.limits.set_keepalive_timeout_ms(400);
  LocalEndpoint dialer_ep = endpoint("d");
  dialer_ep.limits.set_keepalive_interval_ms(50);
  dialer_ep.limits.set_keepalive_timeout_ms(400);
  Pair pair;
  ASSERT_NO_FATAL_FAILURE(pair.start("127.0.0.1:0", server_ep, dialer_ep));
  // Several timeouts' worth of idleness: the Pings keep both sides alive.
  EXPECT_FALSE(pair.server_sessions.sink(0)->waitClosed(1500ms));
  EXPECT_FALSE(pair.dialer_sessions.link(0)->closed());
  EXPECT_TRUE(pair.dialer->waitForEstablished(1, kWait));
  EXPECT_EQ(pair.dialer->establishedCount(), 1u);
}

// ---- reconnect and shutdown ---------------------------------------------------------------------

TEST(TransportReconnectTest, DialerReconnectsAfterServerRestartOnSamePort) {
  Sessions server_sessions;
  Sessions dialer_sessions;
  auto s = GatewayServer::start({"127.0.0.1:0", endpoint("s"), {}}, server_sessions.factory());
  ASSERT_TRUE(s.ok());
  auto server = std::move(*s);
  const int port = server->port();
  DialOptions dial;
  dial.address = absl::StrCat("127.0.0.1:", port);
  dial.endpoint = endpoint("d");
  dial.backoff_initial = 20ms;
  dial.backoff_max = 200ms;
  auto d = GatewayDialer::start(dial, dialer_sessions.factory());
  ASSERT_TRUE(d.ok());
  auto dialer = std::move(*d);
  ASSERT_TRUE(dialer->waitForEstablished(1, kWait));
  ASSERT_TRUE(dialer_sessions.wait(1));

  server->shutdown();
  auto old_sink = dialer_sessions.sink(0);
  ASSERT_TRUE(old_sink->waitClosed());
  EXPECT_EQ(closeReasonOf(old_sink->why()).code, netbinder::v1::ERROR_CODE_GOING_AWAY);
  EXPECT_TRUE(closeReasonOf(old_sink->why()).by_peer);
  ASSERT_TRUE(server_sessions.sink(0)->waitClosed());
  server.reset();

  // The dialer keeps failing (connection refused) until the server is back.
  auto s2 = GatewayServer::start({dial.address, endpoint("s2"), {}}, server_sessions.factory());
  ASSERT_TRUE(s2.ok()) << s2.status();
  ASSERT_TRUE(dialer->waitForEstablished(2, kWait));
  ASSERT_TRUE(dialer_sessions.wait(2));
  EXPECT_EQ(dialer_sessions.link(1)->peer().node.gateway_id(), "s2");
  ASSERT_NE(dialer->currentLink(), nullptr);
  EXPECT_EQ(dialer->currentLink()->peer().node.gateway_id(), "s2");
  ASSERT_TRUE(dialer_sessions.link(1)->send(transaction(5)).ok());
  ASSERT_TRUE(server_sessions.wait(2));  // the acceptor's factory runs after its HelloAck
  ASSERT_TRUE(server_sessions.sink(1)->waitFrames(1));
  EXPECT_EQ(old_sink->closedCount(), 1);

  dialer->stop();
  ASSERT_TRUE(dialer_sessions.sink(1)->waitClosed(0ms));  // stop() returns after onClosed
  EXPECT_EQ(dialer_sessions.sink(1)->closedCount(), 1);
  EXPECT_EQ(closeReasonOf(dialer_sessions.sink(1)->why()).code,
            netbinder::v1::ERROR_CODE_GOING_AWAY);
  ASSERT_TRUE(server_sessions.sink(1)->waitClosed());
  EXPECT_TRUE(closeReasonOf(server_sessions.sink(1)->why()).by_peer);
  EXPECT_EQ(old_sink->closedCount(), 1);
  (*s2)->shutdown();
}

TEST(TransportReconnectTest, RedialBacksOffExponentially) {
  // Nothing listens on the port of a server that was started and shut down.
  auto s = GatewayServer::start({"127.0.0.1:0", endpoint("s"), {}}, nullptr);
  ASSERT_TRUE(s.ok());
  const int port = (*s)->port();
  (*s)->shutdown();
  DialOptions dial;
  dial.address = absl::StrCat("127.0.0.1:", port);
  dial.endpoint = endpoint("d");
  dial.backoff_initial = 20ms;
  dial.backoff_max = 160ms;
  auto start = std::chrono::steady_clock::now();
  auto d = GatewayDialer::start(dial, nullptr);
  ASSERT_TRUE(d.ok());
  // Attempt n+1 starts after the waits 20, 40, 80, 160, 160... ms: six attempts take >= 460 ms.
  auto deadline = start + kWait;
  while ((*d)->attemptCount() < 6 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_GE((*d)->attemptCount(), 6u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 460ms);
  EXPECT_EQ((*d)->establishedCount(), 0u);
  EXPECT_EQ((*d)->currentLink(), nullptr);
  (*d)->stop();
}

TEST(TransportReconnectTest, ShutdownIsBoundedWhenPeerIgnoresGoingAway) {
  Sessions sessions;
  auto s = GatewayServer::start({"127.0.0.1:0", endpoint("s"), {}}, sessions.factory());
  ASSERT_TRUE(s.ok());
  RawClient raw(absl::StrCat("127.0.0.1:", (*s)->port()));
  ASSERT_NO_FATAL_FAILURE(raw.handshake());
  ASSERT_TRUE(sessions.wait(1));
  auto start = std::chrono::steady_clock::now();
  (*s)->shutdown();  // the raw client never half-closes
  EXPECT_LT(std::chrono::steady_clock::now() - start, kWait);
  EXPECT_EQ(sessions.sink(0)->closedCount(), 1);
  auto error = raw.readUntilFatal();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code(), netbinder::v1::ERROR_CODE_GOING_AWAY);
}

}  // namespace
}  // namespace nb::gateway
