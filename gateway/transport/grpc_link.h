// GrpcLink: the Link implementation both sides share, over one netbinder.v1.Gateway/Session
// stream (docs/protocol.md §2). GatewayServer and GatewayDialer create one per stream and call
// run() on the stream's thread.
//
// Threads of one link, all started and joined by run():
//   * the run() caller is the reader: handshake, frame_id checks, Ping -> Pong, fatal Errors, and
//     every other frame to the FrameSink; then, after the stream ended, onClosed exactly once;
//   * the writer drains the SendQueue (control, call, bulk), stamps frame_id 1, 2, 3... in write
//     order, and after a close writes only the fatal Error, then half-closes;
//   * the monitor keeps time: Ping when nothing was sent for the peer's keepalive interval, fatal
//     KEEPALIVE_TIMEOUT after the own keepalive timeout of silence (the handshake included), and
//     cancels the stream if teardown has not finished kCloseGrace after close began.
// Any thread may call send() and close(); neither touches the stream, so both are safe after
// run() returned.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "gateway/transport/link.h"
#include "gateway/transport/send_queue.h"

namespace nb::gateway {

// One side of the bidirectional gRPC stream. read() and write() are called from different threads
// (one each); cancel() from a third.
class FrameStream {
 public:
  virtual ~FrameStream() = default;
  virtual bool read(netbinder::v1::Frame* frame) = 0;
  virtual bool write(const netbinder::v1::Frame& frame) = 0;
  // Ends our direction: WritesDone on the client; nothing on the server (its handler returning is
  // the Finish).
  virtual void writesDone() = 0;
  // Makes blocked and later read()/write() calls fail.
  virtual void cancel() = 0;
  // After read() returned false and the writer stopped: the stream's final status, for logs.
  virtual std::string finish() = 0;
  virtual std::string peerAddress() const = 0;
};

class GrpcLink final : public Link, public std::enable_shared_from_this<GrpcLink> {
 public:
  // How long teardown may wait for the peer to end its direction before the stream is cancelled.
  static constexpr std::chrono::milliseconds kCloseGrace{2000};
  // The grace after a keepalive timeout (the peer is presumed gone).
  static constexpr std::chrono::milliseconds kSilentPeerGrace{100};

  GrpcLink(std::unique_ptr<FrameStream> stream, LocalEndpoint self, bool dialed,
           SessionFactory factory);
  ~GrpcLink() override;

  // Runs the whole session on the calling thread and returns when it is over. Call once.
  void run();
  // True once the handshake completed (the factory was called).
  bool established() const;

  // Complete once the handshake is (before the factory sees the link).
  const PeerInfo& peer() const override { return peer_; }
  absl::Status send(netbinder::v1::Frame frame, Lane lane = Lane::kCall) override;
  void close(netbinder::v1::ErrorCode code, const std::string& message) override;
  bool closed() const override { return closed_.load(std::memory_order_acquire); }

  // Test hooks. A paused writer writes nothing until resumed or closed.
  void setWriterPausedForTest(bool paused);
  size_t blockedSendersForTest() const;

 private:
  using Clock = std::chrono::steady_clock;

  void readLoop();
  void handleFrame(netbinder::v1::Frame&& frame);
  void handleHandshake(netbinder::v1::Frame&& frame);
  void handleFatalError(const netbinder::v1::Error& error);
  void writerLoop();
  // Called with `lock` (on mu_) held; returns with it released.
  absl::Status writeInline(netbinder::v1::Frame&& frame, std::unique_lock<std::mutex>& lock);
  void monitorLoop();
  void enqueueControl(netbinder::v1::Frame&& frame);
  void sendError(netbinder::v1::ErrorCode code, const std::string& message, uint64_t ref_frame_id,
                 bool fatal);
  // Starts teardown once; `fatal` (if any) is the Error the writer sends before half-closing.
  void beginClose(absl::Status why, std::optional<netbinder::v1::Frame> fatal);
  void logClosed(const absl::Status& why) const;

  // Released at the end of run() (the client's channel with it); only run()'s threads use it.
  std::unique_ptr<FrameStream> stream_;
  const LocalEndpoint self_;
  const netbinder::v1::Limits own_limits_;  // self_.limits with defaults filled in
  const bool dialed_;
  SessionFactory factory_;

  // Written by the reader during the handshake, before established_ is set; read-only after.
  PeerInfo peer_;
  // Reader-thread state.
  uint64_t next_recv_id_ = 1;
  bool handshaken_ = false;
  std::shared_ptr<FrameSink> sink_;

  std::atomic<bool> closed_{false};

  mutable std::mutex mu_;
  std::condition_variable writer_cv_;   // frames queued, unpaused, closing
  std::condition_variable space_cv_;    // bounded lanes drained, closing
  std::condition_variable monitor_cv_;  // established, closing, stop
  bool established_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status close_status_ ABSL_GUARDED_BY(mu_);
  std::optional<netbinder::v1::Frame> pending_fatal_ ABSL_GUARDED_BY(mu_);
  Clock::time_point close_deadline_ ABSL_GUARDED_BY(mu_);
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool monitor_stop_ ABSL_GUARDED_BY(mu_) = false;
  detail::SendQueue queue_ ABSL_GUARDED_BY(mu_);
  bool writer_paused_ ABSL_GUARDED_BY(mu_) = false;
  // A thread is in stream_->write(): the writer thread or a sender writing its own kCall frame
  // (send's fast path). Frames are written one at a time, in frame_id order.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  size_t blocked_senders_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_send_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t next_ping_nonce_ ABSL_GUARDED_BY(mu_) = 1;
  Clock::time_point last_send_
      ABSL_GUARDED_BY(mu_);  // last frame taken for writing, or Ping queued
  Clock::time_point last_recv_ ABSL_GUARDED_BY(mu_);
  std::chrono::milliseconds peer_keepalive_interval_ ABSL_GUARDED_BY(mu_){0};
  uint64_t peer_max_frame_bytes_ ABSL_GUARDED_BY(mu_) = 0;

  std::thread writer_;
  std::thread monitor_;
  bool ran_ = false;
};

}  // namespace nb::gateway
