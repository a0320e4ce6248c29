#include "gateway/transport/grpc_link.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "gateway/transport/close_reason.h"
#include "gateway/transport/handshake.h"

namespace nb::gateway {

using netbinder::v1::ErrorCode;
using netbinder::v1::Frame;

namespace {

// Frames up to this size may be written by their sender (GrpcLink::writeInline).
constexpr size_t kInlineWriteMaxBytes = 64 * 1024 + 512;

Frame errorFrame(ErrorCode code, const std::string& message, uint64_t ref_frame_id, bool fatal) {
  Frame frame;
  auto* error = frame.mutable_error();
  error->set_code(code);
  error->set_message(message);
  error->set_ref_frame_id(ref_frame_id);
  error->set_fatal(fatal);
  return frame;
}

}  // namespace

GrpcLink::GrpcLink(std::unique_ptr<FrameStream> stream, LocalEndpoint self, bool dialed,
                   SessionFactory factory)
    : stream_(std::move(stream)),
      self_(std::move(self)),
      own_limits_(detail::withDefaults(self_.limits)),
      dialed_(dialed),
      factory_(std::move(factory)) {
  peer_.dialed = dialed_;
  peer_.address = stream_->peerAddress();
}

GrpcLink::~GrpcLink() {
  // run() joins its threads before returning; these only matter if run() never ran to the end.
  if (writer_.joinable()) {
    writer_.join();
  }
  if (monitor_.joinable()) {
    monitor_.join();
  }
}

bool GrpcLink::established() const {
  std::lock_guard lock(mu_);
  return established_;
}

void GrpcLink::run() {
  if (ran_) {
    return;
  }
  ran_ = true;
  {
    std::lock_guard lock(mu_);
    last_send_ = last_recv_ = Clock::now();
  }
  if (dialed_) {
    enqueueControl(detail::makeHello(self_));  // frame 1; nothing else until HelloAck
  }
  writer_ = std::thread([this] { writerLoop(); });
  monitor_ = std::thread([this] { monitorLoop(); });

  readLoop();

  // The peer's direction is over (or cancelled): make sure teardown has begun, let the writer
  // finish its fatal Error and half-close (bounded by the monitor's cancel), then stop the clock.
  beginClose(detail::makeCloseStatus(ErrorCode::ERROR_CODE_UNSPECIFIED, "stream ended", false),
             std::nullopt);
  writer_.join();
  {
    std::lock_guard lock(mu_);
    monitor_stop_ = true;
  }
  monitor_cv_.notify_all();
  monitor_.join();

  std::string final_status = stream_->finish();
  stream_.reset();
  absl::Status why;
  {
    std::lock_guard lock(mu_);
    why = close_status_;
  }
  if (closeReasonOf(why).code == ErrorCode::ERROR_CODE_UNSPECIFIED) {
    why = detail::makeCloseStatus(ErrorCode::ERROR_CODE_UNSPECIFIED,
                                  absl::StrCat("stream ended (", final_status, ")"), false);
  }
  logClosed(why);
  if (sink_) {
    std::shared_ptr<FrameSink> sink = std::move(sink_);
    sink->onClosed(why);
  }
  factory_ = nullptr;
}

void GrpcLink::logClosed(const absl::Status& why) const {
  bool was_established = established();
  spdlog::info("gateway session closed: peer={} address={} {} reason={}",
               was_established ? peer_.node.gateway_id() : "(handshake incomplete)", peer_.address,
               dialed_ ? "dialed" : "accepted", std::string(why.message()));
}

// ---- reading --------------------------------------------------------------------------------

void GrpcLink::readLoop() {
  Frame frame;
  while (stream_->read(&frame)) {
    bool closing = false;
    {
      std::lock_guard lock(mu_);
      last_recv_ = Clock::now();
      closing = closing_;
    }
    if (closing) {
      continue;  // teardown has begun: nothing more is delivered
    }
    handleFrame(std::move(frame));
    frame.Clear();
  }
}

void GrpcLink::handleFrame(Frame&& frame) {
  if (frame.frame_id() != next_recv_id_) {
    sendError(ErrorCode::ERROR_CODE_PROTOCOL,
              absl::StrCat("frame_id ", frame.frame_id(), ", expected ", next_recv_id_),
              frame.frame_id(), true);
    return;
  }
  ++next_recv_id_;
  if (frame.has_error() && frame.error().fatal()) {
    handleFatalError(frame.error());
    return;
  }
  if (!handshaken_) {
    handleHandshake(std::move(frame));
    return;
  }
  switch (frame.body_case()) {
    case Frame::kHello:
    case Frame::kHelloAck:
      sendError(ErrorCode::ERROR_CODE_PROTOCOL, "Hello/HelloAck after the handshake",
                frame.frame_id(), true);
      return;
    case Frame::kPing: {
      Frame pong;
      pong.mutable_pong()->set_nonce(frame.ping().nonce());
      enqueueControl(std::move(pong));
      return;
    }
    case Frame::kPong:
      return;  // liveness only, already counted
    case Frame::BODY_NOT_SET:
      sendError(ErrorCode::ERROR_CODE_UNIMPLEMENTED, "unknown frame kind ignored", frame.frame_id(),
                false);
      return;
    default:
      if (sink_) {
        sink_->onFrame(std::move(frame));
      }
      return;
  }
}

void GrpcLink::handleHandshake(Frame&& frame) {
  detail::HandshakeOutcome outcome =
      dialed_ ? detail::acceptHelloAck(frame, self_) : detail::acceptHello(frame, self_);
  if (!outcome.ok()) {
    sendError(outcome.error, outcome.message, frame.frame_id(), true);
    return;
  }
  handshaken_ = true;
  outcome.peer.address = peer_.address;
  outcome.peer.dialed = dialed_;
  peer_ = std::move(outcome.peer);
  if (!dialed_) {
    enqueueControl(detail::makeHelloAck(self_, peer_.version));
  }
  {
    std::lock_guard lock(mu_);
    established_ = true;
    peer_keepalive_interval_ = std::chrono::milliseconds(peer_.limits.keepalive_interval_ms());
    peer_max_frame_bytes_ = peer_.limits.max_frame_bytes();
  }
  monitor_cv_.notify_all();
  spdlog::info("gateway session established: peer={} address={} {} version={}",
               peer_.node.gateway_id(), peer_.address, dialed_ ? "dialed" : "accepted",
               peer_.version);
  std::shared_ptr<FrameSink> sink = factory_ ? factory_(shared_from_this()) : nullptr;
  if (!sink) {
    close(ErrorCode::ERROR_CODE_PERMISSION_DENIED, "session refused");
    return;
  }
  sink_ = std::move(sink);
}

void GrpcLink::handleFatalError(const netbinder::v1::Error& error) {
  ErrorCode code = netbinder::v1::ErrorCode_IsValid(error.code())
                       ? error.code()
                       : ErrorCode::ERROR_CODE_INTERNAL;  // §10: unknown codes are INTERNAL
  spdlog::warn("gateway session: peer {} address={} sent fatal {}: {}",
               peer_.node.gateway_id().empty() ? "(handshake incomplete)" : peer_.node.gateway_id(),
               peer_.address, netbinder::v1::ErrorCode_Name(code), error.message());
  beginClose(detail::makeCloseStatus(code, error.message(), true), std::nullopt);
}

// ---- sending --------------------------------------------------------------------------------

absl::Status GrpcLink::send(Frame frame, Lane lane) {
  // Measure with the largest frame_id so that the stamped frame cannot be larger.
  frame.set_frame_id(UINT64_MAX);
  const size_t bytes = frame.ByteSizeLong();
  frame.clear_frame_id();
  std::unique_lock lock(mu_);
  if (closing_) {
    return absl::UnavailableError("session closed");
  }
  if (!established_) {
    return absl::UnavailableError("session not established");
  }
  if (bytes > peer_max_frame_bytes_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "frame of ", bytes, " bytes exceeds the peer's max_frame_bytes ", peer_max_frame_bytes_));
  }
  if (lane != Lane::kControl && !queue_.admits(bytes, self_.send_queue_bytes)) {
    ++blocked_senders_;
    space_cv_.wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return closing_ || queue_.admits(bytes, self_.send_queue_bytes);
    });
    --blocked_senders_;
    if (closing_) {
      return absl::UnavailableError("session closed");
    }
  }
  if (lane == Lane::kCall && bytes <= kInlineWriteMaxBytes && queue_.empty() && !writing_ &&
      !writer_paused_) {
    return writeInline(std::move(frame), lock);
  }
  queue_.push(lane, std::move(frame), bytes);
  lock.unlock();
  writer_cv_.notify_one();
  return absl::OkStatus();
}

// Nothing is queued and nobody writes: the sender writes its frame itself, which saves the
// hand-off to the writer thread (two context switches per frame). Only kCall frames, which
// may block their sender anyway; kControl senders (the reader among them) never block here.
// Large frames still go through the writer thread, whose buffers stay warm: serialized on the
// many calling threads, each 1 MiB frame cost fresh page faults (13 ms of CPU per call).
absl::Status GrpcLink::writeInline(Frame&& frame, std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  frame.set_frame_id(next_send_id_++);
  last_send_ = Clock::now();
  lock.unlock();
  const bool written = stream_->write(frame);
  lock.lock();
  writing_ = false;
  const bool wake = !queue_.empty() || closing_;
  lock.unlock();
  if (wake) {
    writer_cv_.notify_one();
  }
  if (!written) {
    beginClose(
        detail::makeCloseStatus(ErrorCode::ERROR_CODE_UNSPECIFIED, "stream write failed", false),
        std::nullopt);
    return absl::UnavailableError("session closed");
  }
  return absl::OkStatus();
}

void GrpcLink::enqueueControl(Frame&& frame) {
  {
    std::lock_guard lock(mu_);
    if (closing_) {
      return;
    }
    queue_.pushUrgent(std::move(frame));
  }
  writer_cv_.notify_one();
}

void GrpcLink::sendError(ErrorCode code, const std::string& message, uint64_t ref_frame_id,
                         bool fatal) {
  Frame frame = errorFrame(code, message, ref_frame_id, fatal);
  if (!fatal) {
    enqueueControl(std::move(frame));
    return;
  }
  spdlog::warn("gateway session: closing peer {} address={} with {}: {}",
               peer_.node.gateway_id().empty() ? "(handshake incomplete)" : peer_.node.gateway_id(),
               peer_.address, netbinder::v1::ErrorCode_Name(code), message);
  beginClose(detail::makeCloseStatus(code, message, false), std::move(frame));
}

void GrpcLink::close(ErrorCode code, const std::string& message) {
  beginClose(detail::makeCloseStatus(code, message, false), errorFrame(code, message, 0, true));
  if (code == ErrorCode::ERROR_CODE_KEEPALIVE_TIMEOUT) {
    // The peer has been silent past its timeout: waiting for it to end its side only delays the
    // teardown that turns its imports into dead objects here.
    std::lock_guard lock(mu_);
    close_deadline_ = std::min(close_deadline_, Clock::now() + kSilentPeerGrace);
  }
  monitor_cv_.notify_all();
}

void GrpcLink::beginClose(absl::Status why, std::optional<Frame> fatal) {
  detail::SendQueue dropped;  // destroyed after the lock is released
  {
    std::lock_guard lock(mu_);
    if (closing_) {
      return;
    }
    closing_ = true;
    closed_.store(true, std::memory_order_release);
    close_status_ = std::move(why);
    pending_fatal_ = std::move(fatal);
    close_deadline_ = Clock::now() + kCloseGrace;
    dropped = queue_.takeAll();
  }
  writer_cv_.notify_all();
  space_cv_.notify_all();
  monitor_cv_.notify_all();
}

void GrpcLink::writerLoop() {
  for (;;) {
    Frame frame;
    bool last = false;
    {
      std::unique_lock lock(mu_);
      writer_cv_.wait(lock, [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return !writing_ && (closing_ || (!writer_paused_ && !queue_.empty()));
      });
      if (closing_) {
        if (!pending_fatal_) {
          break;
        }
        frame = std::move(*pending_fatal_);
        pending_fatal_.reset();
        last = true;
      } else {
        frame = std::move(*queue_.pop());
        space_cv_.notify_all();
      }
      frame.set_frame_id(next_send_id_++);
      last_send_ = Clock::now();
      writing_ = true;
    }
    const bool written = stream_->write(frame);
    {
      std::lock_guard lock(mu_);
      writing_ = false;
    }
    if (!written) {
      beginClose(
          detail::makeCloseStatus(ErrorCode::ERROR_CODE_UNSPECIFIED, "stream write failed", false),
          std::nullopt);
      break;
    }
    if (last) {
      break;
    }
  }
  stream_->writesDone();
}

// ---- timers ---------------------------------------------------------------------------------

void GrpcLink::monitorLoop() {
  const auto own_timeout = std::chrono::milliseconds(own_limits_.keepalive_timeout_ms());
  std::unique_lock lock(mu_);
  while (!monitor_stop_) {
    const auto now = Clock::now();
    auto next = now + std::chrono::hours(1);
    if (!closing_) {
      const auto silent_until = last_recv_ + own_timeout;
      if (now >= silent_until) {
        lock.unlock();
        close(ErrorCode::ERROR_CODE_KEEPALIVE_TIMEOUT,
              absl::StrCat("nothing received for ", own_timeout.count(), " ms"));
        lock.lock();
        continue;
      }
      next = std::min(next, silent_until);
      if (established_) {
        auto ping_at = last_send_ + peer_keepalive_interval_;
        if (now >= ping_at) {
          Frame ping;
          ping.mutable_ping()->set_nonce(next_ping_nonce_++);
          queue_.pushUrgent(std::move(ping));
          last_send_ = now;  // a Ping queued counts as sending, so a stuck writer gets one
          ping_at = now + peer_keepalive_interval_;
          writer_cv_.notify_one();
        }
        next = std::min(next, ping_at);
      }
    } else if (!cancelled_) {
      if (now >= close_deadline_) {
        cancelled_ = true;
        lock.unlock();
        stream_->cancel();
        lock.lock();
        continue;
      }
      next = std::min(next, close_deadline_);
    }
    monitor_cv_.wait_until(lock, next);
  }
}

// ---- test hooks -----------------------------------------------------------------------------

void GrpcLink::setWriterPausedForTest(bool paused) {
  {
    std::lock_guard lock(mu_);
    writer_paused_ = paused;
  }
  writer_cv_.notify_all();
}

size_t GrpcLink::blockedSendersForTest() const {
  std::lock_guard lock(mu_);
  return blocked_senders_;
}

}  // namespace nb::gateway
