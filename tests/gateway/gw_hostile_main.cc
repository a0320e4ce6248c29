// gw_hostile: a hostile gateway peer. It dials a bindergw, does the Hello handshake itself (gateway
// id "hostile", version 1, default limits) through the raw generated stub, breaks one protocol
// rule (a named scenario) and checks the gateway's answer against docs/protocol.md §2, §5, §6, §9,
// §10: refused frames get a non-fatal Error and the session lives on, rule violations get a fatal
// Error and the stream ends; after every fatal scenario a fresh session must still be accepted.
// tests/gateway/hostile_test.sh runs every scenario against a live gateway and checks that nobody
// else was harmed. Every wait is bounded.
//
//   gw_hostile [--wait-ms N] [--service NAME] ADDRESS SCENARIO
//
// Exit 0 when the gateway behaved as specified, 1 when it did not (one "gw_hostile: " line on
// stderr names the frame sent and what came back), 10 usage, 20 no session (connect/handshake).
#include <grpcpp/grpcpp.h>
#include <linux/android/binder.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "codec/parcel_writer.h"
#include "proto/netbinder/v1/gateway.grpc.pb.h"

namespace {

namespace v1 = netbinder::v1;
using Clock = std::chrono::steady_clock;
using netbinder::v1::Frame;

constexpr int kExitOk = 0;
constexpr int kExitMisbehaved = 1;
constexpr int kExitUsage = 10;
constexpr int kExitNoSession = 20;

// Our own Pings carry this bit, so that the scenario's Ping/Pong checks never see them.
constexpr uint64_t kKeepaliveNonceBit = uint64_t{1} << 63;
// The gateways under test are run with a short keepalive timeout (1500 ms): ping well inside it.
constexpr auto kKeepaliveEvery = std::chrono::milliseconds(250);
constexpr uint64_t kUnknownExport = 999;

struct Options {
  std::string address;
  std::string scenario;
  std::string service = "echo";
  std::chrono::milliseconds wait{10000};
};

// The one line the scripts show for a frame.
std::string describe(const Frame& frame) {
  std::string head = absl::StrCat("#", frame.frame_id(), " ");
  switch (frame.body_case()) {
    case Frame::kError:
      return absl::StrCat(head, "Error{", v1::ErrorCode_Name(frame.error().code()),
                          frame.error().fatal() ? ", fatal" : ", non-fatal", ", ref_frame_id ",
                          frame.error().ref_frame_id(), ", \"", frame.error().message(), "\"}");
    case Frame::kReply:
      return absl::StrCat(head, "Reply{call_id ", frame.reply().call_id(), ", ",
                          v1::ReplyOutcome_Name(frame.reply().outcome()), ", errno ",
                          frame.reply().error_errno(), ", ", frame.reply().parcel().data().size(),
                          " data bytes, ", frame.reply().parcel().objects_size(), " objects}");
    case Frame::kPong:
      return absl::StrCat(head, "Pong{", frame.pong().nonce(), "}");
    case Frame::kPing:
      return absl::StrCat(head, "Ping{", frame.ping().nonce(), "}");
    case Frame::kHelloAck:
      return absl::StrCat(head, "HelloAck{version ", frame.hello_ack().version(), ", ",
                          frame.hello_ack().node().gateway_id(), "}");
    default:
      return absl::StrCat(head, frame.ShortDebugString());
  }
}

absl::Status misbehaved(const std::string& what) { return absl::FailedPreconditionError(what); }

// One session with the gateway through the raw stub: numbered writes, a reader thread that queues
// what arrives (answering the gateway's Pings), and a keepalive thread.
class RawSession {
 public:
  explicit RawSession(const Options& options) : options_(options) {
    channel_ = grpc::CreateChannel(options.address, grpc::InsecureChannelCredentials());
    stub_ = v1::Gateway::NewStub(channel_);
    // Bounds everything, including a Write the gateway never drains.
    context_.set_deadline(std::chrono::system_clock::now() + 6 * options.wait);
  }

  ~RawSession() { cancel(); }

  RawSession(const RawSession&) = delete;
  RawSession& operator=(const RawSession&) = delete;

  // Opens the stream, sends Hello and waits for the HelloAck; starts the reader and the pinger.
  absl::Status handshake() {
    if (!channel_->WaitForConnected(std::chrono::system_clock::now() + options_.wait)) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options_.address));
    }
    stream_ = stub_->Session(&context_);
    Frame hello;
    v1::Hello* h = hello.mutable_hello();
    h->set_min_version(v1::PROTOCOL_VERSION_1);
    h->set_max_version(v1::PROTOCOL_VERSION_1);
    h->mutable_node()->set_gateway_id("hostile");
    h->mutable_node()->set_gateway_name("gw_hostile");
    h->mutable_node()->set_instance_id(randomBytes(16));
    h->mutable_node()->set_software_version("gw_hostile");
    h->mutable_limits();  // all defaults
    if (!write(std::move(hello))) {
      return absl::UnavailableError("stream closed while sending Hello");
    }
    reader_ = std::thread([this] { readLoop(); });
    std::optional<Frame> ack = next();
    if (!ack.has_value()) {
      return absl::UnavailableError(
          absl::StrCat("no HelloAck within ", options_.wait.count(), " ms"));
    }
    if (!ack->has_hello_ack()) {
      return absl::UnavailableError(absl::StrCat("expected HelloAck, got ", describe(*ack)));
    }
    std::printf("<- %s\n", describe(*ack).c_str());
    pinger_ = std::thread([this] { pingLoop(); });
    return absl::OkStatus();
  }

  // Stamps the next frame id (or `frame_id` when non-zero: a deliberate gap) and writes; `log`
  // prints the frame as sent.
  bool write(Frame frame, uint64_t frame_id = 0, bool log = false) {
    std::lock_guard lock(write_mu_);
    frame.set_frame_id(frame_id != 0 ? frame_id : next_id_);
    next_id_ = frame.frame_id() + 1;
    if (log) {
      std::printf("-> %s\n", frame.ShortDebugString().substr(0, 300).c_str());
    }
    return stream_->Write(frame);
  }

  // Writes a frame the scenario chose, with a log line.
  absl::Status send(Frame frame, uint64_t frame_id = 0) {
    if (!write(std::move(frame), frame_id, true)) {
      return misbehaved("the gateway closed the stream before our frame was written");
    }
    return absl::OkStatus();
  }

  // Stops reading from the stream (after the frame being read now, if any): the gateway's writes
  // back up; nothing answers its Pings any more.
  void pauseReading() {
    std::lock_guard lock(mu_);
    paused_ = true;
  }

  void resumeReading() {
    std::lock_guard lock(mu_);
    paused_ = false;
    cv_.notify_all();
  }

  // The next frame from the gateway (the gateway's Pings and our keepalive Pongs are left out),
  // or nullopt when the stream ended or nothing came within the wait.
  std::optional<Frame> next() { return nextUntil(Clock::now() + options_.wait); }

  std::optional<Frame> nextUntil(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, deadline, [&] { return !frames_.empty() || ended_; });
    if (frames_.empty()) {
      return std::nullopt;
    }
    Frame frame = std::move(frames_.front());
    frames_.pop_front();
    return frame;
  }

  bool ended() {
    std::lock_guard lock(mu_);
    return ended_ && frames_.empty();
  }

  // Whether the stream ends within the wait (frames still queued are drained and logged).
  bool waitEnded() {
    const auto deadline = Clock::now() + options_.wait;
    for (;;) {
      std::optional<Frame> frame = nextUntil(deadline);
      if (!frame.has_value()) {
        return ended();
      }
      std::printf("<- %s (after the end)\n", describe(*frame).c_str());
    }
  }

  // Ends the session abruptly (RST_STREAM): no WritesDone, no draining.
  void cancel() {
    if (stream_ == nullptr) {
      return;
    }
    {
      std::scoped_lock lock(mu_, stop_mu_);
      stop_.store(true);
    }
    context_.TryCancel();
    stop_cv_.notify_all();
    cv_.notify_all();
    if (pinger_.joinable()) {
      pinger_.join();
    }
    if (reader_.joinable()) {
      reader_.join();
    }
    const grpc::Status status = stream_->Finish();
    std::printf("   stream finished: %s\n", grpcCodeName(status.error_code()));
    stream_.reset();
  }

 private:
  static const char* grpcCodeName(grpc::StatusCode code) {
    switch (code) {
      case grpc::StatusCode::OK:
        return "OK";
      case grpc::StatusCode::CANCELLED:
        return "CANCELLED";
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return "DEADLINE_EXCEEDED";
      case grpc::StatusCode::UNAVAILABLE:
        return "UNAVAILABLE";
      case grpc::StatusCode::RESOURCE_EXHAUSTED:
        return "RESOURCE_EXHAUSTED";
      case grpc::StatusCode::INTERNAL:
        return "INTERNAL";
      default:
        return "other gRPC status";
    }
  }

  static std::string randomBytes(size_t n) {
    std::random_device rd;
    std::string out(n, '\0');
    for (char& c : out) {
      c = static_cast<char>(rd() & 0xff);
    }
    return out;
  }

  void readLoop() {
    Frame frame;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !paused_ || stop_.load(); });
        if (stop_.load()) {
          break;
        }
      }
      if (!stream_->Read(&frame)) {
        break;
      }
      if (frame.has_ping()) {
        Frame pong;
        pong.mutable_pong()->set_nonce(frame.ping().nonce());
        (void)write(std::move(pong));
        continue;
      }
      if (frame.has_pong() && (frame.pong().nonce() & kKeepaliveNonceBit) != 0) {
        continue;
      }
      std::lock_guard lock(mu_);
      frames_.push_back(std::move(frame));
      cv_.notify_all();
    }
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }

  void pingLoop() {
    uint64_t nonce = 0;
    std::unique_lock lock(stop_mu_);
    while (!stop_cv_.wait_for(lock, kKeepaliveEvery, [&] { return stop_.load(); })) {
      Frame ping;
      ping.mutable_ping()->set_nonce(kKeepaliveNonceBit | ++nonce);
      if (!write(std::move(ping))) {
        return;
      }
    }
  }

  const Options& options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Gateway::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<Frame, Frame>> stream_;

  std::mutex write_mu_;  // one Write at a time; frame ids in write order
  uint64_t next_id_ = 1;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Frame> frames_;  // guarded by mu_
  bool ended_ = false;        // guarded by mu_
  bool paused_ = false;       // guarded by mu_

  std::atomic<bool> stop_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread reader_;
  std::thread pinger_;
};

// ---- frames ------------------------------------------------------------------------------------

v1::CallChain chain() {
  v1::CallChain c;
  c.set_origin_instance_id("hostile-instance");
  c.set_origin_thread(0x5eed);
  return c;
}

Frame syncCall(uint64_t call_id, uint64_t target, uint32_t code, std::string data = {}) {
  Frame frame;
  v1::Transaction* tx = frame.mutable_transaction();
  tx->set_call_id(call_id);
  tx->set_target_export_id(target);
  tx->set_code(code);
  *tx->mutable_chain() = chain();
  tx->mutable_parcel()->set_data(std::move(data));
  return frame;
}

Frame refCount(uint64_t export_id, v1::RefCountKind kind, uint32_t count) {
  Frame frame;
  v1::RefCountOp* op = frame.mutable_ref_count()->add_ops();
  op->set_export_id(export_id);
  op->set_kind(kind);
  op->set_count(count);
  return frame;
}

Frame ping(uint64_t nonce) {
  Frame frame;
  frame.mutable_ping()->set_nonce(nonce);
  return frame;
}

// kRootGet (gateway/session.h): the root facade's "service by name" method.
constexpr uint32_t kRootGet = 2;
constexpr uint32_t kRootList = 1;

// A libbinder String16, as the root facade reads it.
std::string string16(std::string_view text) {
  nb::codec::ParcelWriter writer;
  if (!writer.writeString16(text).ok()) {
    std::fprintf(stderr, "gw_hostile: cannot encode \"%.*s\"\n", static_cast<int>(text.size()),
                 text.data());
    std::exit(kExitUsage);
  }
  return std::string(reinterpret_cast<const char*>(writer.data().data()), writer.data().size());
}

// ---- expectations ------------------------------------------------------------------------------

// Reads frames until `want` accepts one (returns true) or rejects the session (sets *problem);
// anything else is logged and passed over. Fails on a fatal Error, the stream's end or the wait.
absl::Status expect(RawSession& s, const std::string& what,
                    const std::function<bool(const Frame&, std::string* problem)>& want) {
  for (;;) {
    std::optional<Frame> frame = s.next();
    if (!frame.has_value()) {
      return misbehaved(absl::StrCat("expected ", what, ", but ",
                                     s.ended() ? "the stream ended" : "nothing came in time"));
    }
    std::printf("<- %s\n", describe(*frame).c_str());
    std::string problem;
    if (want(*frame, &problem)) {
      return absl::OkStatus();
    }
    if (!problem.empty()) {
      return misbehaved(absl::StrCat("expected ", what, ", got ", describe(*frame), ": ", problem));
    }
    if (frame->has_error() && frame->error().fatal()) {
      return misbehaved(absl::StrCat("expected ", what, ", got ", describe(*frame)));
    }
  }
}

// Several frames in any order (the gateway's urgent lane, e.g. a Pong, may overtake an Error).
struct Want {
  std::string what;
  std::function<bool(const Frame&)> match;
  bool seen = false;
};

absl::Status expectAll(RawSession& s, std::vector<Want> wants) {
  auto missing = [&] {
    std::string out;
    for (const Want& w : wants) {
      if (!w.seen)
        absl::StrAppend(&out, out.empty() ? "" : " and ", w.what);
    }
    return out;
  };
  for (;;) {
    if (missing().empty()) {
      return absl::OkStatus();
    }
    std::optional<Frame> frame = s.next();
    if (!frame.has_value()) {
      return misbehaved(absl::StrCat("expected ", missing(), ", but ",
                                     s.ended() ? "the stream ended" : "nothing came in time"));
    }
    std::printf("<- %s\n", describe(*frame).c_str());
    bool matched = false;
    for (Want& w : wants) {
      if (!w.seen && w.match(*frame)) {
        w.seen = matched = true;
        break;
      }
    }
    if (!matched && frame->has_error()) {
      return misbehaved(absl::StrCat("expected ", missing(), ", got ", describe(*frame)));
    }
  }
}

Want errorFrame(v1::ErrorCode code, bool fatal) {
  return Want{absl::StrCat(fatal ? "fatal " : "non-fatal ", v1::ErrorCode_Name(code), " Error"),
              [code, fatal](const Frame& f) {
                return f.has_error() && f.error().code() == code && f.error().fatal() == fatal;
              }};
}

Want pongFrame(uint64_t nonce) {
  return Want{absl::StrCat("Pong{", nonce, "}"),
              [nonce](const Frame& f) { return f.has_pong() && f.pong().nonce() == nonce; }};
}

// The session is alive: a Ping is answered.
absl::Status expectAlive(RawSession& s, uint64_t nonce) {
  if (absl::Status st = s.send(ping(nonce)); !st.ok()) {
    return st;
  }
  return expectAll(s, {pongFrame(nonce)});
}

// A fatal Error with one of `codes` and then the end of the stream.
absl::Status expectFatal(RawSession& s, std::vector<v1::ErrorCode> codes) {
  std::string names;
  for (v1::ErrorCode code : codes) {
    absl::StrAppend(&names, names.empty() ? "" : " or ", v1::ErrorCode_Name(code));
  }
  absl::Status status =
      expect(s, absl::StrCat("fatal ", names, " Error"), [&](const Frame& f, std::string* problem) {
        if (f.has_reply() && f.reply().outcome() == v1::REPLY_OUTCOME_OK) {
          *problem = "the gateway executed the call";
          return false;
        }
        if (!f.has_error()) {
          return false;  // e.g. a FAILED_REPLY for the offending call: allowed, not required
        }
        for (v1::ErrorCode code : codes) {
          if (f.error().code() == code) {
            if (!f.error().fatal()) {
              *problem = "not fatal";
              return false;
            }
            if (f.error().message().empty()) {
              *problem = "no message";
              return false;
            }
            return true;
          }
        }
        *problem = "wrong code";
        return false;
      });
  if (!status.ok()) {
    return status;
  }
  if (!s.waitEnded()) {
    return misbehaved("the gateway sent a fatal Error but did not end the stream");
  }
  std::printf("   stream ended by the gateway\n");
  return absl::OkStatus();
}

// Nothing refused so far: a RefCount on an id the gateway never gave is refused with a non-fatal
// UNKNOWN_EXPORT on the same ordered lane as every earlier refusal, so any Error from the frames
// before it arrives first.
absl::Status expectNoErrorSoFar(RawSession& s) {
  if (absl::Status st = s.send(refCount(kUnknownExport, v1::REF_COUNT_KIND_DEC_STRONG, 1));
      !st.ok()) {
    return st;
  }
  return expect(s, "non-fatal UNKNOWN_EXPORT (marker) and no Error before it",
                [](const Frame& f, std::string* problem) {
                  if (!f.has_error()) {
                    return false;
                  }
                  if (f.error().code() == v1::ERROR_CODE_UNKNOWN_EXPORT && !f.error().fatal() &&
                      f.error().message().find(absl::StrCat(kUnknownExport)) != std::string::npos) {
                    return true;
                  }
                  *problem = "an Error for a legitimate frame";
                  return false;
                });
}

// A fresh session is accepted and answers a Ping: the gateway survived.
absl::Status expectGatewayAlive(const Options& options) {
  RawSession fresh(options);
  if (absl::Status st = fresh.handshake(); !st.ok()) {
    return misbehaved(absl::StrCat("the gateway accepts no new session: ", st.message()));
  }
  absl::Status status = expectAlive(fresh, 4242);
  if (!status.ok()) {
    return status;
  }
  std::printf("   gateway alive: a new session answers a Ping\n");
  return absl::OkStatus();
}

// The export of `service` through the root facade (a strong count is ours): its id.
absl::StatusOr<uint64_t> obtainExport(RawSession& s, const Options& options, uint64_t call_id) {
  if (absl::Status st = s.send(syncCall(call_id, 0, kRootGet, string16(options.service)));
      !st.ok()) {
    return st;
  }
  uint64_t id = 0;
  absl::Status status = expect(
      s, absl::StrCat("Reply{call_id ", call_id, ", OK} with one binder"),
      [&](const Frame& f, std::string* problem) {
        if (!f.has_reply()) {
          return false;
        }
        const v1::Reply& r = f.reply();
        if (r.call_id() != call_id || r.outcome() != v1::REPLY_OUTCOME_OK ||
            r.parcel().objects_size() != 1 || !r.parcel().objects(0).has_binder()) {
          *problem = absl::StrCat("no binder for \"", options.service,
                                  "\" (is it registered and exported?)");
          return false;
        }
        const v1::BinderRef& ref = r.parcel().objects(0).binder();
        if (ref.side() != v1::OWNER_SIDE_SENDER_EXPORT || ref.export_id() == 0 || ref.weak()) {
          *problem = absl::StrCat("not a strong SENDER_EXPORT: ", ref.ShortDebugString());
          return false;
        }
        id = ref.export_id();
        return true;
      });
  if (!status.ok()) {
    return status;
  }
  std::printf("   %s is export %llu\n", options.service.c_str(),
              static_cast<unsigned long long>(id));
  return id;
}

// ---- scenarios ---------------------------------------------------------------------------------

absl::Status unknownRefcount(RawSession& s, const Options&) {
  if (absl::Status st = s.send(refCount(kUnknownExport, v1::REF_COUNT_KIND_DEC_STRONG, 1));
      !st.ok()) {
    return st;
  }
  if (absl::Status st = expectAll(s, {errorFrame(v1::ERROR_CODE_UNKNOWN_EXPORT, false)});
      !st.ok()) {
    return st;
  }
  return expectAlive(s, 1);
}

absl::Status unknownCall(RawSession& s, const Options&) {
  if (absl::Status st = s.send(syncCall(5, kUnknownExport, 1)); !st.ok()) {
    return st;
  }
  Want reply{"Reply{call_id 5, FAILED_REPLY}", [](const Frame& f) {
               return f.has_reply() && f.reply().call_id() == 5 &&
                      f.reply().outcome() == v1::REPLY_OUTCOME_FAILED_REPLY;
             }};
  if (absl::Status st =
          expectAll(s, {std::move(reply), errorFrame(v1::ERROR_CODE_UNKNOWN_EXPORT, false)});
      !st.ok()) {
    return st;
  }
  return expectAlive(s, 1);
}

absl::Status underflow(RawSession& s, const Options& options) {
  absl::StatusOr<uint64_t> id = obtainExport(s, options, 1);
  if (!id.ok()) {
    return id.status();
  }
  if (absl::Status st = s.send(refCount(*id, v1::REF_COUNT_KIND_DEC_STRONG, 5)); !st.ok()) {
    return st;
  }
  if (absl::Status st = expectAll(s, {errorFrame(v1::ERROR_CODE_REFCOUNT_UNDERFLOW, false)});
      !st.ok()) {
    return st;
  }
  // The refused batch changed nothing: the one strong count we hold is still there to give back.
  Frame release;
  release.mutable_export_release()->set_export_id(*id);
  release.mutable_export_release()->set_strong_count(1);
  release.mutable_export_release()->set_weak_count(0);
  if (absl::Status st = s.send(std::move(release)); !st.ok()) {
    return st;
  }
  if (absl::Status st = expectNoErrorSoFar(s); !st.ok()) {
    return st;
  }
  // And it took effect: the entry is gone, so a further DEC names an unknown export.
  if (absl::Status st = s.send(refCount(*id, v1::REF_COUNT_KIND_DEC_STRONG, 1)); !st.ok()) {
    return st;
  }
  if (absl::Status st = expectAll(s, {errorFrame(v1::ERROR_CODE_UNKNOWN_EXPORT, false)});
      !st.ok()) {
    return st;
  }
  return expectAlive(s, 2);
}

// A parcel whose one binder object's bytes in `data` are not zero.
absl::Status badParcel(RawSession& s, const Options& options) {
  absl::StatusOr<uint64_t> id = obtainExport(s, options, 1);
  if (!id.ok()) {
    return id.status();
  }
  Frame frame = syncCall(7, *id, 1, std::string(32, '\x5a'));
  v1::WireObject* object = frame.mutable_transaction()->mutable_parcel()->add_objects();
  object->set_offset(0);
  object->mutable_binder()->set_side(v1::OWNER_SIDE_SENDER_EXPORT);
  object->mutable_binder()->set_export_id(1);
  if (absl::Status st = s.send(std::move(frame)); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_INVALID_PARCEL});
}

// A parcel whose object lies beyond the end of `data`.
absl::Status badOffset(RawSession& s, const Options& options) {
  absl::StatusOr<uint64_t> id = obtainExport(s, options, 1);
  if (!id.ok()) {
    return id.status();
  }
  Frame frame = syncCall(7, *id, 1, std::string(32, '\0'));
  v1::WireObject* object = frame.mutable_transaction()->mutable_parcel()->add_objects();
  object->set_offset(4096);
  object->mutable_binder()->set_side(v1::OWNER_SIDE_SENDER_EXPORT);
  object->mutable_binder()->set_export_id(1);
  if (absl::Status st = s.send(std::move(frame)); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_INVALID_PARCEL});
}

// The same non-zero object bytes in a call to the root facade (target 0): §9 applies to every
// parcel received, whatever its target.
absl::Status badParcelRoot(RawSession& s, const Options& options) {
  std::string data = string16(options.service);
  const uint64_t offset = data.size();
  data.append(24, '\x5a');
  Frame frame = syncCall(7, 0, kRootGet, std::move(data));
  v1::WireObject* object = frame.mutable_transaction()->mutable_parcel()->add_objects();
  object->set_offset(offset);
  object->mutable_binder()->set_side(v1::OWNER_SIDE_SENDER_EXPORT);
  object->mutable_binder()->set_export_id(1);
  if (absl::Status st = s.send(std::move(frame)); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_INVALID_PARCEL});
}

absl::Status badFrameId(RawSession& s, const Options&) {
  // The Hello was #1; the next must be #2.
  if (absl::Status st = s.send(ping(1), 5); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_PROTOCOL});
}

absl::Status replyUnknownCall(RawSession& s, const Options&) {
  Frame frame;
  frame.mutable_reply()->set_call_id(77);
  frame.mutable_reply()->set_outcome(v1::REPLY_OUTCOME_OK);
  if (absl::Status st = s.send(std::move(frame)); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_UNKNOWN_CALL});
}

absl::Status onewaySeq(RawSession& s, const Options& options) {
  absl::StatusOr<uint64_t> id = obtainExport(s, options, 1);
  if (!id.ok()) {
    return id.status();
  }
  Frame frame;
  v1::Transaction* tx = frame.mutable_transaction();
  tx->set_target_export_id(*id);
  tx->set_code(1);
  tx->set_flags(TF_ONE_WAY);
  tx->set_oneway_seq(5);  // the first oneway to a fresh import must be 1
  tx->mutable_parcel();
  if (absl::Status st = s.send(std::move(frame)); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_ONEWAY_SEQUENCE});
}

// Parcel data above max_parcel_data_bytes (1 MiB default), frame under max_frame_bytes (4 MiB).
constexpr size_t kOversizeBytes = (2u << 20) + 4;

absl::Status oversize(RawSession& s, const Options& options) {
  absl::StatusOr<uint64_t> id = obtainExport(s, options, 1);
  if (!id.ok()) {
    return id.status();
  }
  if (absl::Status st = s.send(syncCall(9, *id, 1, std::string(kOversizeBytes, '\0'))); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_INVALID_PARCEL, v1::ERROR_CODE_LIMIT_EXCEEDED});
}

// The same to the root facade (target 0): §9 validation applies to every received parcel.
absl::Status oversizeRoot(RawSession& s, const Options& options) {
  std::string data = string16(options.service);
  data.resize(kOversizeBytes, '\0');
  if (absl::Status st = s.send(syncCall(9, 0, kRootGet, std::move(data))); !st.ok()) {
    return st;
  }
  return expectFatal(s, {v1::ERROR_CODE_INVALID_PARCEL, v1::ERROR_CODE_LIMIT_EXCEEDED});
}

// 2000 garbage Transactions as fast as the stream takes them, nothing read, then a cancel.
absl::Status flood(RawSession& s, const Options& options) {
  constexpr int kFrames = 2000;
  std::mt19937 rng(12345);
  auto garbage = [&](size_t n) {
    std::string out(n, '\0');
    for (char& c : out) {
      c = static_cast<char>(rng() & 0xff);
    }
    return out;
  };
  std::printf("-> %d garbage Transactions (unknown targets, random root calls and parcels)\n",
              kFrames);
  s.pauseReading();
  int written = 0;
  for (int i = 1; i <= kFrames; ++i) {
    Frame frame;
    switch (i % 5) {
      case 0:
        frame = syncCall(i, kUnknownExport + i, rng());
        break;
      case 1:
        frame = syncCall(i, 0, kRootGet, garbage(rng() % 256));
        break;
      case 2:
        frame = syncCall(i, 0, kRootGet, string16(i % 2 == 0 ? options.service : "no.such"));
        break;
      case 3:
        frame = syncCall(i, 0, i % 3 == 0 ? kRootList : 0xdead, garbage(rng() % 64));
        break;
      case 4: {
        // Random objects, to ids this session was never given (refused before any parsing).
        frame = syncCall(i, 100000 + rng() % 8, rng(), garbage(64));
        v1::WireObject* object = frame.mutable_transaction()->mutable_parcel()->add_objects();
        object->set_offset(rng() % 128);
        object->mutable_binder()->set_side(static_cast<v1::OwnerSide>(rng() % 3));
        object->mutable_binder()->set_export_id(rng() % 4);
        break;
      }
    }
    if (!s.write(std::move(frame))) {
      break;  // the gateway ended the session (a fatal Error for one of them is allowed)
    }
    ++written;
  }
  std::printf("   %d of %d written\n", written, kFrames);
  // A Ping after the flood: its Pong proves the gateway read every frame before it. Then the
  // cancel comes while the gateway still has the calls' work and replies in flight.
  s.resumeReading();
  if (written == kFrames && s.write(ping(7))) {
    int frames = 0;
    for (;;) {
      std::optional<Frame> frame = s.next();
      if (!frame.has_value()) {
        std::printf("   no Pong after the flood (%s)\n",
                    s.ended() ? "the stream ended" : "nothing in time");
        break;
      }
      if (frame->has_pong() && frame->pong().nonce() == 7) {
        std::printf("   Pong after the flood (%d frames before it): every frame was read\n",
                    frames);
        break;
      }
      if (frame->has_error() && frame->error().fatal()) {
        std::printf("<- %s\n", describe(*frame).c_str());  // allowed (e.g. a limit)
      }
      ++frames;
    }
  }
  std::printf("   cancelling\n");
  s.cancel();
  return expectGatewayAlive(options);
}

struct Scenario {
  absl::Status (*run)(RawSession&, const Options&);
  bool fatal;  // the session is expected to end: check afterwards that the gateway still accepts
};

const std::map<std::string, Scenario>& scenarios() {
  static const auto* table = new std::map<std::string, Scenario>{
      {"unknown-refcount", {unknownRefcount, false}},
      {"unknown-call", {unknownCall, false}},
      {"underflow", {underflow, false}},
      {"bad-parcel", {badParcel, true}},
      {"bad-offset", {badOffset, true}},
      {"bad-parcel-root", {badParcelRoot, true}},
      {"bad-frame-id", {badFrameId, true}},
      {"reply-unknown-call", {replyUnknownCall, true}},
      {"oneway-seq", {onewaySeq, true}},
      {"oversize", {oversize, true}},
      {"oversize-root", {oversizeRoot, true}},
      {"flood", {flood, false}},  // checks the gateway itself after its cancel
  };
  return *table;
}

int usage() {
  std::string names;
  for (const auto& [name, scenario] : scenarios()) {
    absl::StrAppend(&names, " ", name);
  }
  std::fprintf(stderr,
               "usage: gw_hostile [--wait-ms N] [--service NAME] ADDRESS SCENARIO\n"
               "scenarios:%s\n",
               names.c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--wait-ms" && i + 1 < argc) {
      options.wait = std::chrono::milliseconds(std::strtol(argv[++i], nullptr, 10));
    } else if (arg == "--service" && i + 1 < argc) {
      options.service = argv[++i];
    } else if (arg.rfind("--", 0) == 0) {
      return usage();
    } else {
      args.push_back(arg);
    }
  }
  if (args.size() != 2 || options.wait.count() <= 0) {
    return usage();
  }
  options.address = args[0];
  options.scenario = args[1];
  auto it = scenarios().find(options.scenario);
  if (it == scenarios().end()) {
    return usage();
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  std::printf("== scenario %s against %s\n", options.scenario.c_str(), options.address.c_str());

  absl::Status status;
  {
    RawSession session(options);
    if (absl::Status st = session.handshake(); !st.ok()) {
      std::fprintf(stderr, "gw_hostile: %s: no session: %s\n", options.scenario.c_str(),
                   std::string(st.message()).c_str());
      return kExitNoSession;
    }
    status = it->second.run(session, options);
  }
  if (status.ok() && it->second.fatal) {
    status = expectGatewayAlive(options);
  }
  if (!status.ok()) {
    std::fprintf(stderr, "gw_hostile: %s: the gateway misbehaved: %s\n", options.scenario.c_str(),
                 std::string(status.message()).c_str());
    return kExitMisbehaved;
  }
  std::printf("gw_hostile: %s: ok\n", options.scenario.c_str());
  return kExitOk;
}
