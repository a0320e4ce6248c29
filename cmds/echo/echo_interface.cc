#include "cmds/echo/echo_interface.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <utility>

#include "runtime/binder_status.h"
#include "runtime/parcel_binder.h"
#include "runtime/proxy.h"
#include "runtime/service_manager.h"

namespace nb::examples::echo {
namespace {

absl::Status writeException(codec::ParcelWriter* reply, int32_t code, std::u16string message) {
  return codec::writeStatus(*reply, codec::AidlStatus::fromExceptionCode(code, std::move(message)));
}

// Reads the whole of `fd` (from offset 0 when seekable), at most kMaxReadFdBytes.
absl::StatusOr<std::vector<uint8_t>> readAll(int fd) {
  std::vector<uint8_t> out;
  uint8_t buf[4096];
  bool seekable = true;
  off_t offset = 0;
  while (out.size() < kMaxReadFdBytes) {
    const size_t want = std::min(sizeof(buf), kMaxReadFdBytes - out.size());
    ssize_t n = seekable ? ::pread(fd, buf, want, offset) : ::read(fd, buf, want);
    if (n < 0 && errno == ESPIPE && seekable) {
      seekable = false;
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return runtime::errnoStatus(errno, "read fd");
    }
    if (n == 0) {
      break;
    }
    out.insert(out.end(), buf, buf + n);
    offset += n;
  }
  return out;
}

}  // namespace

absl::Status readReplyStatus(codec::ParcelReader& reader) {
  absl::StatusOr<codec::AidlStatus> status = codec::readStatus(reader);
  if (!status.ok()) {
    return status.status();
  }
  return status->isOk() ? absl::OkStatus() : runtime::statusFromAidl(*status);
}

// ---- EchoService ------------------------------------------------------------------------------

EchoService::EchoService(std::shared_ptr<runtime::ProcessState> state,
                         codec::InterfaceHeaderFormat format, runtime::ServiceManagerLayout layout)
    : LocalBinder(kEchoDescriptor), state_(std::move(state)), format_(format), layout_(layout) {}

absl::Status EchoService::onTransact(uint32_t code, codec::ParcelReader& data,
                                     codec::ParcelWriter* reply, uint32_t flags) {
  if (code < kEcho || code > kLookup) {
    return LocalBinder::onTransact(code, data, reply, flags);  // UNKNOWN_TRANSACTION
  }
  // A bad token is a transport-level failure in libbinder (BAD_TYPE), not an AIDL exception.
  if (absl::StatusOr<codec::InterfaceToken> token =
          codec::enforceInterface(data, kEchoDescriptor, format_);
      !token.ok()) {
    return token.status();
  }
  const bool oneway = (flags & runtime::kFlagOneway) != 0;
  if (code == kRecord) {
    absl::StatusOr<int32_t> value = data.readInt32();
    if (!value.ok()) {
      return value.status();
    }
    std::lock_guard<std::mutex> lock(mu_);
    recorded_.push_back(*value);
    return absl::OkStatus();
  }
  if (oneway || reply == nullptr) {
    return absl::InvalidArgumentError("method is not one-way");
  }
  switch (code) {
    case kEcho: {
      absl::StatusOr<std::u16string> text = data.readString16();
      if (!text.ok()) {
        return writeException(reply, codec::kExBadParcelable, u"echo(String): bad argument");
      }
      if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
        return s;
      }
      return reply->writeString16(std::u16string_view(*text));
    }
    case kCallBack:
      return callBack(data, reply);
    case kGetRecorded: {
      std::lock_guard<std::mutex> lock(mu_);
      if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
        return s;
      }
      reply->writeInt32(static_cast<int32_t>(recorded_.size()));
      for (int32_t v : recorded_) {
        reply->writeInt32(v);
      }
      return absl::OkStatus();
    }
    case kReadFd:
      return readFd(data, reply);
    case kFail: {
      absl::StatusOr<int32_t> error = data.readInt32();
      absl::StatusOr<std::u16string> message = data.readString16();
      if (!error.ok() || !message.ok()) {
        return writeException(reply, codec::kExBadParcelable, u"fail(int, String): bad argument");
      }
      return codec::writeStatus(
          *reply, codec::AidlStatus::fromServiceSpecificError(*error, std::move(*message)));
    }
    case kLookup:
      return lookup(data, reply);
    default:
      return LocalBinder::onTransact(code, data, reply, flags);
  }
}

absl::Status EchoService::callBack(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<std::shared_ptr<runtime::IBinder>> cb = runtime::readBinder(data, *state_);
  if (!cb.ok()) {
    return writeException(reply, codec::kExBadParcelable, u"callBack: bad binder argument");
  }
  absl::StatusOr<std::u16string> msg = data.readString16();
  if (!msg.ok()) {
    return writeException(reply, codec::kExBadParcelable, u"callBack: bad String argument");
  }
  if (*cb == nullptr) {
    return writeException(reply, codec::kExNullPointer, u"callBack: callback is null");
  }
  // The nested call: IEchoCallback.onEcho(msg) on the caller's object.
  codec::ParcelWriter request;
  if (absl::Status s = codec::writeInterfaceToken(request, kEchoCallbackDescriptor, format_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = request.writeString16(std::u16string_view(*msg)); !s.ok()) {
    return s;
  }
  absl::StatusOr<runtime::ReceivedParcel> answer = (*cb)->transact(kOnEcho, request);
  if (!answer.ok()) {
    return writeException(reply, codec::kExIllegalState, u"callBack: callback call failed");
  }
  codec::ParcelReader reader = answer->reader();
  if (absl::Status s = readReplyStatus(reader); !s.ok()) {
    return writeException(reply, codec::kExIllegalState, u"callBack: callback threw");
  }
  absl::StatusOr<std::u16string> result = reader.readString16();
  if (!result.ok()) {
    return writeException(reply, codec::kExBadParcelable, u"callBack: bad callback reply");
  }
  if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
    return s;
  }
  return reply->writeString16(std::u16string_view(*result));
}

absl::Status EchoService::readFd(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<int> fd = runtime::readFileDescriptor(data);  // borrowed: closed with the parcel
  if (!fd.ok()) {
    return writeException(reply, codec::kExBadParcelable, u"readFd: bad FileDescriptor argument");
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = readAll(*fd);
  if (!bytes.ok()) {
    return writeException(reply, codec::kExIllegalState, u"readFd: read failed");
  }
  if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
    return s;
  }
  return reply->writeByteArray(*bytes);
}

absl::Status EchoService::lookup(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<std::string> name = data.readString16AsUtf8();
  if (!name.ok()) {
    return writeException(reply, codec::kExBadParcelable, u"lookup(String): bad argument");
  }
  runtime::ServiceManager sm(state_, layout_);
  absl::StatusOr<std::shared_ptr<runtime::IBinder>> binder = sm.checkService(*name);
  if (!binder.ok()) {
    return writeException(reply, codec::kExIllegalState, u"lookup: checkService failed");
  }
  if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
    return s;
  }
  // The proxy (and so this process's reference) is held until the reply is sent.
  runtime::writeBinder(*reply, *binder);
  return absl::OkStatus();
}

// ---- EchoCallback -----------------------------------------------------------------------------

EchoCallback::EchoCallback(std::u16string prefix, codec::InterfaceHeaderFormat format)
    : LocalBinder(kEchoCallbackDescriptor), prefix_(std::move(prefix)), format_(format) {}

int EchoCallback::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

pid_t EchoCallback::lastThread() const {
  std::lock_guard<std::mutex> lock(mu_);
  return last_thread_;
}

absl::Status EchoCallback::onTransact(uint32_t code, codec::ParcelReader& data,
                                      codec::ParcelWriter* reply, uint32_t flags) {
  if (code != kOnEcho || reply == nullptr) {
    return LocalBinder::onTransact(code, data, reply, flags);
  }
  if (absl::StatusOr<codec::InterfaceToken> token =
          codec::enforceInterface(data, kEchoCallbackDescriptor, format_);
      !token.ok()) {
    return token.status();
  }
  absl::StatusOr<std::u16string> msg = data.readString16();
  if (!msg.ok()) {
    return writeException(reply, codec::kExBadParcelable, u"onEcho: bad String argument");
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_;
    last_thread_ = ::gettid();
  }
  if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
    return s;
  }
  return reply->writeString16(std::u16string_view(prefix_ + *msg));
}

// ---- EchoProxy --------------------------------------------------------------------------------

EchoProxy::EchoProxy(std::shared_ptr<runtime::IBinder> remote, codec::InterfaceHeaderFormat format)
    : remote_(std::move(remote)), format_(format) {}

absl::StatusOr<codec::ParcelWriter> EchoProxy::request() {
  codec::ParcelWriter w;
  if (absl::Status s = codec::writeInterfaceToken(w, kEchoDescriptor, format_); !s.ok()) {
    return s;
  }
  return w;
}

absl::StatusOr<runtime::ReceivedParcel> EchoProxy::call(uint32_t code,
                                                        const codec::ParcelWriter& data) {
  return remote_->transact(code, data);
}

absl::StatusOr<std::string> EchoProxy::echo(std::string_view text) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  if (absl::Status s = w->writeString16(text); !s.ok()) {
    return s;
  }
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kEcho, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  if (absl::Status s = readReplyStatus(r); !s.ok()) {
    return s;
  }
  return r.readString16AsUtf8();
}

absl::StatusOr<std::string> EchoProxy::callBack(const std::shared_ptr<runtime::IBinder>& cb,
                                                std::string_view msg) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  runtime::writeBinder(*w, cb);
  if (absl::Status s = w->writeString16(msg); !s.ok()) {
    return s;
  }
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kCallBack, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  if (absl::Status s = readReplyStatus(r); !s.ok()) {
    return s;
  }
  return r.readString16AsUtf8();
}

absl::Status EchoProxy::record(int32_t value) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  w->writeInt32(value);
  return remote_->transact(kRecord, *w, runtime::kFlagOneway).status();
}

absl::StatusOr<std::vector<int32_t>> EchoProxy::getRecorded() {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kGetRecorded, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  if (absl::Status s = readReplyStatus(r); !s.ok()) {
    return s;
  }
  absl::StatusOr<int32_t> count = r.readInt32();
  if (!count.ok()) {
    return count.status();
  }
  if (*count < 0 || static_cast<size_t>(*count) > r.dataAvail() / 4) {
    return absl::InvalidArgumentError("getRecorded: bad array length");
  }
  std::vector<int32_t> out;
  out.reserve(static_cast<size_t>(*count));
  for (int32_t i = 0; i < *count; ++i) {
    absl::StatusOr<int32_t> v = r.readInt32();
    if (!v.ok()) {
      return v.status();
    }
    out.push_back(*v);
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> EchoProxy::readFd(int fd) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  w->writeFileDescriptor(fd, /*take_ownership=*/false);
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kReadFd, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  if (absl::Status s = readReplyStatus(r); !s.ok()) {
    return s;
  }
  return r.readByteArray();
}

absl::Status EchoProxy::fail(int32_t error_code, std::string_view message) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  w->writeInt32(error_code);
  if (absl::Status s = w->writeString16(message); !s.ok()) {
    return s;
  }
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kFail, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  return readReplyStatus(r);
}

absl::StatusOr<std::shared_ptr<runtime::IBinder>> EchoProxy::lookup(std::string_view name) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  if (absl::Status s = w->writeString16(name); !s.ok()) {
    return s;
  }
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kLookup, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  if (absl::Status s = readReplyStatus(r); !s.ok()) {
    return s;
  }
  // A binder in a reply is read in the process that holds the remote (the proxy's state); its
  // references are taken before the reply buffer is freed (parcel_binder.h).
  runtime::Proxy* proxy = remote_->asProxy();
  if (proxy == nullptr) {
    return absl::FailedPreconditionError("lookup: the service is in this process");
  }
  return runtime::readBinder(r, *proxy->state());
}

}  // namespace nb::examples::echo
