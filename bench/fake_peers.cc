#include "bench/fake_peers.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/common.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"
#include "codec/utf16.h"
#include "proto/netbinder/v1/gateway.grpc.pb.h"

namespace nb::bench {
namespace {

namespace v1 = netbinder::v1;

// The root facade's codes (docs/protocol.md §6.1).
constexpr uint32_t kRootList = 1;
constexpr uint32_t kRootGet = 2;

// Shared by every peer: the step's progress.
struct Progress {
  std::mutex mu;
  std::condition_variable cv;
};

class FakePeer {
 public:
  FakePeer(int index, const std::string& address, Progress* progress)
      : index_(index), progress_(progress) {
    grpc::ChannelArguments args;
    args.SetInt("nb.bench.fake_peer", index);  // a channel (and TCP connection) of its own
    args.SetMaxReceiveMessageSize(64 << 20);
    channel_ = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::Gateway::NewStub(channel_);
  }

  ~FakePeer() {
    context_.TryCancel();
    if (reader_.joinable()) {
      reader_.join();
    }
  }

  // Connects, sends Hello, waits for HelloAck and starts answering.
  void start() {
    if (!channel_->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(30))) {
      die("fake peer: cannot connect");
    }
    stream_ = stub_->Session(&context_);
    v1::Frame hello;
    v1::Hello* h = hello.mutable_hello();
    h->set_min_version(v1::PROTOCOL_VERSION_1);
    h->set_max_version(v1::PROTOCOL_VERSION_1);
    h->mutable_node()->set_gateway_id(absl::StrCat("fake", index_));
    h->mutable_node()->set_gateway_name(absl::StrCat("bench fake peer ", index_));
    std::string instance(16, '\0');
    std::random_device rd;
    for (char& c : instance) {
      c = static_cast<char>(rd() & 0xff);
    }
    h->mutable_node()->set_instance_id(instance);
    h->mutable_node()->set_software_version("bench fake peer");
    h->mutable_limits();
    write(std::move(hello));
    v1::Frame ack;
    if (!stream_->Read(&ack) || !ack.has_hello_ack()) {
      die(absl::StrCat("fake peer ", index_, ": no HelloAck"));
    }
    reader_ = std::thread([this] { readLoop(); });
  }

  // Exports names fakeI.0 .. fakeI.(n-1) from now on.
  void setNames(int n) {
    std::lock_guard lock(progress_->mu);
    names_ = n;
    imported_ = false;
  }

  // Whether every name was fetched and a list came after (progress_->mu held by the caller).
  bool importedLocked() const { return imported_; }
  bool brokenLocked() const { return broken_; }

 private:
  void write(v1::Frame frame) {
    frame.set_frame_id(next_frame_id_++);
    if (!stream_->Write(frame)) {
      std::lock_guard lock(progress_->mu);
      broken_ = true;
      progress_->cv.notify_all();
    }
  }

  void readLoop() {
    v1::Frame frame;
    while (stream_->Read(&frame)) {
      if (frame.has_ping()) {
        v1::Frame pong;
        pong.mutable_pong()->set_nonce(frame.ping().nonce());
        write(std::move(pong));
      } else if (frame.has_transaction() && frame.transaction().call_id() != 0) {
        answer(frame.transaction());
      } else if (frame.has_error() && frame.error().fatal()) {
        std::fprintf(stderr, "bench: fake peer %d: fatal error from the gateway: %s\n", index_,
                     frame.error().ShortDebugString().c_str());
        break;
      }
    }
    std::lock_guard lock(progress_->mu);
    broken_ = true;
    progress_->cv.notify_all();
  }

  void answer(const v1::Transaction& tx) {
    v1::Frame frame;
    v1::Reply* reply = frame.mutable_reply();
    reply->set_call_id(tx.call_id());
    reply->set_outcome(v1::REPLY_OUTCOME_OK);
    if (tx.target_export_id() == 0 && tx.code() == kRootList) {
      int names = 0;
      {
        std::lock_guard lock(progress_->mu);
        names = names_;
        if (fetched_ >= names_ && !imported_) {
          imported_ = true;  // every name was fetched before this list
          progress_->cv.notify_all();
        }
      }
      codec::ParcelWriter w;
      w.writeInt32(names);
      for (int i = 0; i < names; ++i) {
        (void)w.writeString16(std::string_view(absl::StrCat("fake", index_, ".", i)));
      }
      reply->mutable_parcel()->set_data(reinterpret_cast<const char*>(w.data().data()),
                                        w.data().size());
    } else if (tx.target_export_id() == 0 && tx.code() == kRootGet) {
      const std::string& bytes = tx.parcel().data();
      codec::ParcelReader reader(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
      absl::StatusOr<std::u16string> name = reader.readString16();
      const std::string prefix = absl::StrCat("fake", index_, ".");
      int64_t i = -1;
      if (name.ok()) {
        const std::string utf8 = codec::utf16ToUtf8Lossy(*name);
        if (utf8.rfind(prefix, 0) != 0 || !absl::SimpleAtoi(utf8.substr(prefix.size()), &i)) {
          i = -1;
        }
      }
      if (i < 0) {
        reply->set_outcome(v1::REPLY_OUTCOME_STATUS_CODE);
        reply->set_status(-2);  // NAME_NOT_FOUND
      } else {
        // 24 zero bytes where the importer writes its local object + libbinder's stability word.
        v1::WireParcel* parcel = reply->mutable_parcel();
        parcel->set_data(std::string(28, '\0'));
        v1::WireObject* object = parcel->add_objects();
        object->set_offset(0);
        v1::BinderRef* ref = object->mutable_binder();
        ref->set_side(v1::OWNER_SIDE_SENDER_EXPORT);
        ref->set_export_id(static_cast<uint64_t>(i) + 1);
        ref->set_owner_key(static_cast<uint64_t>(index_) + 1);
        std::lock_guard lock(progress_->mu);
        if (i + 1 > fetched_ && i == fetched_) {
          fetched_ = i + 1;  // the importer fetches a list's names in order
        }
      }
    } else if (tx.target_export_id() == 0) {
      reply->set_outcome(v1::REPLY_OUTCOME_STATUS_CODE);
      reply->set_status(-74);  // UNKNOWN_TRANSACTION
    }
    write(std::move(frame));
  }

  const int index_;
  Progress* const progress_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Gateway::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::Frame, v1::Frame>> stream_;
  uint64_t next_frame_id_ = 1;  // the reader thread writes (and start() before it runs)
  std::thread reader_;
  // Guarded by progress_->mu.
  int names_ = 0;
  int64_t fetched_ = 0;  // names 0..fetched_-1 were fetched
  bool imported_ = false;
  bool broken_ = false;
};

}  // namespace

int runFakePeers(const Flags& flags) {
  const std::string address = flags.count("connect") != 0 ? flags.at("connect") : "";
  const int64_t pid = intFlag(flags, "gateway-pid", 0);
  const int peers = static_cast<int>(intFlag(flags, "peers", 10));
  const int proxies = static_cast<int>(intFlag(flags, "proxies", 10));
  const int points = static_cast<int>(std::max<int64_t>(2, intFlag(flags, "points", 5)));
  const int64_t step_timeout_ms = intFlag(flags, "step-timeout-ms", 300000);
  if (address.empty() || pid <= 0 || peers < points || proxies < 2) {
    die("fake-peers: --connect, --gateway-pid, --peers >= --points, --proxies >= 2 needed");
  }
  Progress progress;
  std::vector<std::unique_ptr<FakePeer>> all;
  // Waits until every peer has imported its names, then prints one sample.
  auto sample = [&](const char* phase, int names) {
    const int64_t start = nowNs();
    {
      std::unique_lock lock(progress.mu);
      const bool done = progress.cv.wait_for(lock, std::chrono::milliseconds(step_timeout_ms), [&] {
        for (const auto& peer : all) {
          if (peer->brokenLocked()) {
            return true;
          }
          if (!peer->importedLocked()) {
            return false;
          }
        }
        return true;
      });
      for (const auto& peer : all) {
        if (peer->brokenLocked()) {
          die("fake-peers: a session ended");
        }
      }
      if (!done) {
        die(absl::StrCat("fake-peers: ", all.size(), " peers x ", names,
                         " names not imported within ", step_timeout_ms, " ms"));
      }
    }
    // Let the last registration and any freed memory settle.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::printf("mem %s %zu %lld %lld\n", phase, all.size(),
                static_cast<long long>(all.size()) * names, static_cast<long long>(rssKiB(pid)));
    std::fflush(stdout);
    std::fprintf(stderr, "bench: fake-peers: %s: %zu peers x %d names imported in %.1f s\n", phase,
                 all.size(), names, static_cast<double>(nowNs() - start) / 1e9);
  };
  for (int step = 1; step <= points; ++step) {
    const int target = peers * step / points;
    while (static_cast<int>(all.size()) < target) {
      auto peer = std::make_unique<FakePeer>(static_cast<int>(all.size()), address, &progress);
      peer->setNames(1);
      peer->start();
      all.push_back(std::move(peer));
    }
    sample("peers", 1);
  }
  for (int step = 1; step <= points; ++step) {
    const int names = std::max(2, proxies * step / points);
    for (const auto& peer : all) {
      peer->setNames(names);
    }
    sample("proxies", names);
  }
  std::printf("done\n");
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace nb::bench
