#include "bench/grpc_floor.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/common.h"
#include "gateway/transport/grpc_options.h"
#include "proto/netbinder/v1/gateway.grpc.pb.h"

namespace nb::bench {
namespace {

constexpr uint32_t kStreamSinkCode = 2;
constexpr uint32_t kStreamEndCode = 3;

class EchoSession final : public netbinder::v1::Gateway::Service {
 public:
  grpc::Status Session(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<netbinder::v1::Frame, netbinder::v1::Frame>* stream) override {
    netbinder::v1::Frame frame;
    uint64_t counted = 0;
    while (stream->Read(&frame)) {
      if (frame.transaction().code() == kStreamSinkCode) {
        ++counted;  // bandwidth: counted, not echoed
        continue;
      }
      if (frame.transaction().code() == kStreamEndCode) {
        netbinder::v1::Frame done;
        done.mutable_transaction()->set_call_id(counted);
        if (!stream->Write(done)) {
          break;
        }
        counted = 0;
        continue;
      }
      if (!stream->Write(frame)) {
        break;
      }
    }
    return grpc::Status::OK;
  }
};

}  // namespace

int runGrpcServer(const Flags& flags) {
  const std::string address = flagOr(flags, "listen", "127.0.0.1:0");
  EchoSession service;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
  gateway::ListenOptions options;
  options.address = address;
  gateway::detail::applyServerOptions(options, &builder);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr) {
    die(absl::StrCat("gRPC server cannot listen on ", address));
  }
  std::printf("ready %d\n", port);
  std::fflush(stdout);
  server->Wait();
  return 0;
}

int runGrpcClient(const Flags& flags) {
  const std::string address = flagOr(flags, "connect", "");
  double scale = 1.0;
  int64_t max_ms = 3000;
  if (flags.count("scale") != 0) {
    (void)absl::SimpleAtod(flags.at("scale"), &scale);
  }
  if (flags.count("max-ms") != 0) {
    (void)absl::SimpleAtoi(flags.at("max-ms"), &max_ms);
  }
  gateway::DialOptions options;
  options.address = address;
  grpc::ChannelArguments args;
  gateway::detail::applyChannelArguments(options, &args);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  auto stub = netbinder::v1::Gateway::NewStub(channel);
  grpc::ClientContext context;
  auto stream = stub->Session(&context);
  if (flagOr(flags, "mode", "rtt") == "stream") {
    size_t size = 0;
    size_t count = 0;
    if (!absl::SimpleAtoi(flagOr(flags, "size", "1048576"), &size) ||
        !absl::SimpleAtoi(flagOr(flags, "count", "64"), &count) || count == 0) {
      die("--size / --count");
    }
    const std::vector<uint8_t> payload = makePayload(size);
    netbinder::v1::Frame frame;
    auto* transaction = frame.mutable_transaction();
    transaction->set_call_id(1);
    transaction->set_code(kStreamSinkCode);
    transaction->mutable_parcel()->set_data(payload.data(), payload.size());
    netbinder::v1::Frame end;
    end.mutable_transaction()->set_code(kStreamEndCode);
    netbinder::v1::Frame done;
    // Writes n frames and waits until the server has read them all.
    auto burst = [&](size_t n) {
      for (size_t i = 0; i < n; ++i) {
        if (!stream->Write(frame)) {
          die(absl::StrCat("gRPC stream to ", address, " broke"));
        }
      }
      if (!stream->Write(end) || !stream->Read(&done) || done.transaction().call_id() != n) {
        die(absl::StrCat("gRPC stream to ", address, " broke or lost frames"));
      }
    };
    burst(std::max<size_t>(2, count / 8));
    const int64_t start = nowNs();
    burst(count);
    std::printf("%s\n", rateLine(size, count, nowNs() - start).c_str());
    std::fflush(stdout);
    std::_Exit(0);
  }
  for (absl::string_view part : absl::StrSplit(flagOr(flags, "sizes", "0"), ',')) {
    size_t size = 0;
    if (!absl::SimpleAtoi(part, &size)) {
      die(absl::StrCat("--sizes: ", part));
    }
    const std::vector<uint8_t> payload = makePayload(size);
    netbinder::v1::Frame request;
    auto* transaction = request.mutable_transaction();
    transaction->set_call_id(1);
    transaction->set_code(1);
    transaction->mutable_parcel()->set_data(payload.data(), payload.size());
    netbinder::v1::Frame reply;
    std::vector<int64_t> samples = measureRtt(rttBudget(size, scale, max_ms), [&] {
      if (!stream->Write(request) || !stream->Read(&reply)) {
        die(absl::StrCat("gRPC stream to ", address, " broke"));
      }
      if (reply.transaction().parcel().data().size() != size) {
        die("gRPC echo of the wrong size");
      }
    });
    std::printf("%s\n", rttLine(size, rttStats(std::move(samples))).c_str());
    std::fflush(stdout);
  }
  stream->WritesDone();
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace nb::bench
