#include "tests/runtime/echo_service.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "runtime/calling_identity.h"
#include "runtime/parcel_binder.h"

namespace nb::runtime::testing {

EchoService::EchoService(std::shared_ptr<ProcessState> state)
    : LocalBinder(kEchoDescriptor), state_(std::move(state)) {}

EchoService::~EchoService() {
  for (int fd : sent_fds_) {
    ::close(fd);
  }
}

absl::Status EchoService::onTransact(uint32_t code, codec::ParcelReader& data,
                                     codec::ParcelWriter* reply, uint32_t /*flags*/) {
  switch (code) {
    case kEcho: {
      absl::StatusOr<std::u16string> text = data.readString16();
      if (!text.ok()) {
        return text.status();
      }
      return reply->writeString16(std::u16string_view(*text));
    }
    case kCallBack:
      return callBack(data, reply);
    case kOnewayRecord: {
      absl::StatusOr<int32_t> seq = data.readInt32();
      std::lock_guard<std::mutex> lock(mu_);
      recorded_.push_back(seq.ok() ? *seq : -1);
      return absl::OkStatus();
    }
    case kGetRecorded: {
      std::lock_guard<std::mutex> lock(mu_);
      bool in_order = true;
      for (size_t i = 0; i < recorded_.size(); ++i) {
        in_order = in_order && recorded_[i] == static_cast<int32_t>(i);
      }
      reply->writeInt32(static_cast<int32_t>(recorded_.size()));
      reply->writeBool(in_order);
      return absl::OkStatus();
    }
    case kReadFd:
      return readFd(data, reply);
    case kMakeFd:
      return makeFd(reply);
    case kGetCaller: {
      CallingIdentity id = callingIdentity();
      reply->writeInt32(id.pid);
      reply->writeInt32(static_cast<int32_t>(id.uid));
      return absl::OkStatus();
    }
    case kAdd: {
      absl::StatusOr<int32_t> a = data.readInt32();
      absl::StatusOr<int32_t> b = data.readInt32();
      if (!a.ok() || !b.ok()) {
        return absl::InvalidArgumentError("kAdd needs two int32");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
      reply->writeInt32(*a + *b);
      return absl::OkStatus();
    }
    case kMakeObject: {
      auto object = std::make_shared<TidCallback>();
      {
        std::lock_guard<std::mutex> lock(mu_);
        made_ = object;
      }
      writeBinder(*reply, object);
      return absl::OkStatus();
    }
    case kReturnBinder: {
      absl::StatusOr<std::shared_ptr<IBinder>> binder = readBinder(data, *state_);
      if (!binder.ok()) {
        return binder.status();
      }
      writeBinder(*reply, *binder);
      return absl::OkStatus();
    }
    case kObjectAlive: {
      std::lock_guard<std::mutex> lock(mu_);
      reply->writeBool(!made_.expired());
      return absl::OkStatus();
    }
    default:
      return absl::UnimplementedError("unknown echo code");
  }
}

absl::Status EchoService::callBack(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<std::shared_ptr<IBinder>> cb = readBinder(data, *state_);
  absl::StatusOr<int32_t> value = data.readInt32();
  if (!cb.ok() || *cb == nullptr || !value.ok()) {
    return absl::InvalidArgumentError("kCallBack needs a binder and an int32");
  }
  codec::ParcelWriter request;
  request.writeInt32(*value);
  absl::StatusOr<ReceivedParcel> answer = (*cb)->transact(1, request);
  if (!answer.ok()) {
    return answer.status();
  }
  codec::ParcelReader reader = answer->reader();
  absl::StatusOr<int32_t> result = reader.readInt32();
  if (!result.ok()) {
    return result.status();
  }
  reply->writeInt32(*result);
  return absl::OkStatus();
}

absl::Status EchoService::readFd(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<int> fd = readFileDescriptor(data);
  if (!fd.ok()) {
    return fd.status();
  }
  char buf[256] = {};
  ssize_t n = ::pread(*fd, buf, sizeof(buf) - 1, 0);
  return reply->writeString8(std::string_view(buf, n > 0 ? static_cast<size_t>(n) : 0));
}

absl::Status EchoService::makeFd(codec::ParcelWriter* reply) {
  int fd = ::memfd_create("nb-echo", MFD_CLOEXEC);
  if (fd < 0) {
    return absl::InternalError("memfd_create");
  }
  constexpr char kText[] = "from service";
  if (::write(fd, kText, sizeof(kText) - 1) != static_cast<ssize_t>(sizeof(kText) - 1)) {
    ::close(fd);
    return absl::InternalError("write");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    sent_fds_.push_back(fd);  // the driver dups it at send time; closed with the service
  }
  reply->writeFileDescriptor(fd, /*take_ownership=*/true);
  return absl::OkStatus();
}

absl::Status TidCallback::onTransact(uint32_t code, codec::ParcelReader& data,
                                     codec::ParcelWriter* reply, uint32_t /*flags*/) {
  if (code != 1 || reply == nullptr) {
    return absl::UnimplementedError("callback code");
  }
  tid = ::gettid();
  absl::StatusOr<int32_t> v = data.readInt32();
  if (!v.ok()) {
    return v.status();
  }
  reply->writeInt32(*v + 1);
  return absl::OkStatus();
}

}  // namespace nb::runtime::testing
