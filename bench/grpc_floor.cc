#include "bench/grpc_floor.h"

#include <grpcpp/grpcpp.h>

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

std::string flagOr(const Flags& flags, const std::string& key, const std::string& fallback) {
  auto it = flags.find(key);
  return it == flags.end() ? fallback : it->second;
}

class EchoSession final : public netbinder::v1::Gateway::Service {
 public:
  grpc::Status Session(
      grpc::ServerContext* /*context*/,
      grpc::ServerReaderWriter<netbinder::v1::Frame, netbinder::v1::Frame>* stream) override {
    netbinder::v1::Frame frame;
    while (stream->Read(&frame)) {
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
