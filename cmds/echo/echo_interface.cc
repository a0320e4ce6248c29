#include "cmds/echo/echo_interface.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
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

// ASCII text (messages with numbers and strerror) as String16.
std::u16string ascii16(std::string_view text) { return std::u16string(text.begin(), text.end()); }

absl::Status writeErrnoException(codec::ParcelWriter* reply, int32_t code, std::string_view what,
                                 int err) {
  return writeException(reply, code,
                        ascii16(std::string(what) + ": " + std::strerror(err) + " (" +
                                (err == EPIPE ? "EPIPE" : "errno " + std::to_string(err)) + ")"));
}

// Closes an fd it owns unless released.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_;
};

// The fds written into the reply being built on this thread by onRawTransaction's dispatch:
// closed once the reply has been sent. Null outside it (a same-process call hands the fd to the
// caller, who closes it). Saved and restored around nested calls on the same thread.
thread_local std::vector<int>* t_reply_fds = nullptr;

void closeAfterReply(int fd) {
  if (t_reply_fds != nullptr) {
    t_reply_fds->push_back(fd);
  }
}

// The whole of `fd` by pread from offset 0; OutOfRange past `limit` bytes; errno otherwise.
absl::StatusOr<std::vector<uint8_t>> preadAll(int fd, size_t limit) {
  std::vector<uint8_t> out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) {
    out.reserve(std::min(static_cast<size_t>(st.st_size), limit));
  }
  constexpr size_t kStep = size_t{1} << 20;
  for (;;) {
    const size_t have = out.size();
    if (have > limit) {
      return absl::OutOfRangeError("larger than " + std::to_string(limit) + " bytes");
    }
    out.resize(have + kStep);
    ssize_t n = ::pread(fd, out.data() + have, kStep, static_cast<off_t>(have));
    if (n < 0 && errno == EINTR) {
      out.resize(have);
      continue;
    }
    if (n < 0) {
      return runtime::errnoStatus(errno, "pread");
    }
    out.resize(have + static_cast<size_t>(n));
    if (n == 0) {
      return out;
    }
  }
}

// Writes all of `bytes` to `fd` (a blocking or non-blocking fd; a socket without SIGPIPE).
// Returns 0 or the errno.
int writeAll(int fd, const uint8_t* bytes, size_t size) {
  bool is_socket = true;
  while (size > 0) {
    ssize_t n = is_socket ? ::send(fd, bytes, size, MSG_NOSIGNAL) : ::write(fd, bytes, size);
    if (n < 0 && errno == ENOTSOCK && is_socket) {
      is_socket = false;
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd pfd{fd, POLLOUT, 0};
      (void)::poll(&pfd, 1, 1000);
      continue;
    }
    if (n < 0) {
      return errno;
    }
    bytes += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
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

EchoService::~EchoService() {
  std::vector<std::unique_ptr<SocketWorker>> workers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (const std::unique_ptr<SocketWorker>& w : workers_) {
      if (w->fd >= 0) {
        ::shutdown(w->fd, SHUT_RDWR);  // wakes its read; the worker closes the fd
      }
    }
    workers.swap(workers_);
  }
  for (const std::unique_ptr<SocketWorker>& w : workers) {
    w->thread.join();
  }
}

void EchoService::onRawTransaction(const runtime::RawTransaction& call,
                                   runtime::RawResponder* responder) {
  codec::ParcelReader reader(call.buffer.data, call.buffer.offsets);
  codec::ParcelWriter reply;
  std::vector<int> reply_fds;
  std::vector<int>* const outer = std::exchange(t_reply_fds, &reply_fds);
  absl::Status status =
      dispatch(call.tr.code, reader, responder != nullptr ? &reply : nullptr, call.tr.flags);
  t_reply_fds = outer;
  if (responder != nullptr) {
    // As the runtime's own reply: the parcel, or a TF_STATUS_CODE reply for a failed dispatch.
    (void)(status.ok() ? responder->replyBuffer(
                             runtime::RawBuffer{reply.data(), reply.offsets(), {}}, /*flags=*/0)
                       : responder->replyStatus(runtime::statusToStatusT(status)));
  }
  // The driver dup'ed the reply's fds when it took the reply (or the reply failed): ours go now.
  for (int fd : reply_fds) {
    ::close(fd);
  }
}

absl::Status EchoService::onTransact(uint32_t code, codec::ParcelReader& data,
                                     codec::ParcelWriter* reply, uint32_t flags) {
  if (code < kEcho || code > kSocketEcho) {
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
    case kEchoMemfd:
      return echoMemfd(data, reply);
    case kDumpTo:
      return dumpTo(data, reply);
    case kSocketEcho:
      return socketEcho(data, reply);
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

absl::Status EchoService::echoMemfd(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<int> fd = runtime::readFileDescriptor(data);  // borrowed: closed with the parcel
  if (!fd.ok()) {
    return writeException(reply, codec::kExBadParcelable,
                          u"echoMemfd: bad FileDescriptor argument");
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = preadAll(*fd, kMaxEchoMemfdBytes);
  if (!bytes.ok()) {
    return writeException(
        reply, codec::kExIllegalArgument,
        ascii16("echoMemfd: cannot read the fd: " + std::string(bytes.status().message())));
  }
  // A file that is not a memfd has no seals (F_GET_SEALS fails with EINVAL).
  const int seals = ::fcntl(*fd, F_GET_SEALS);
  const int flags = ::fcntl(*fd, F_GETFL);
  FdCloser copy(::memfd_create("echo-copy", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (copy.get() < 0) {
    return writeErrnoException(reply, codec::kExIllegalState, "echoMemfd: memfd_create", errno);
  }
  if (int err = writeAll(copy.get(), bytes->data(), bytes->size()); err != 0) {
    return writeErrnoException(reply, codec::kExIllegalState, "echoMemfd: write", err);
  }
  if (seals > 0 && ::fcntl(copy.get(), F_ADD_SEALS, seals) != 0) {
    return writeErrnoException(reply, codec::kExIllegalState, "echoMemfd: F_ADD_SEALS", errno);
  }
  if (flags >= 0 && (flags & O_ACCMODE) == O_RDONLY) {
    // The same access mode as the input: a read-only open of the same memfd.
    const std::string path = "/proc/self/fd/" + std::to_string(copy.get());
    int read_only = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (read_only < 0) {
      return writeErrnoException(reply, codec::kExIllegalState, "echoMemfd: reopen read-only",
                                 errno);
    }
    copy.reset(read_only);
  }
  if (absl::Status s = codec::writeStatus(*reply, codec::AidlStatus::ok()); !s.ok()) {
    return s;
  }
  reply->writeFileDescriptor(copy.get(), /*take_ownership=*/true);
  closeAfterReply(copy.release());
  return absl::OkStatus();
}

absl::Status EchoService::dumpTo(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<int> fd = runtime::readFileDescriptor(data);  // borrowed: closed with the parcel
  absl::StatusOr<int64_t> bytes = data.readInt64();
  if (!fd.ok() || !bytes.ok()) {
    return writeException(reply, codec::kExBadParcelable,
                          u"dumpTo(FileDescriptor, long): bad argument");
  }
  if (*bytes < 0) {
    return writeException(reply, codec::kExIllegalArgument, u"dumpTo: negative byte count");
  }
  // The pattern has period 256: one chunk (+256 to start anywhere in it) serves every write.
  static const std::array<uint8_t, kDumpChunkBytes + 256> kPattern = [] {
    std::array<uint8_t, kDumpChunkBytes + 256> p{};
    for (size_t i = 0; i < p.size(); ++i) {
      p[i] = dumpPatternByte(i);
    }
    return p;
  }();
  const auto total = static_cast<uint64_t>(*bytes);
  uint64_t written = 0;
  while (written < total) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kDumpChunkBytes, total - written));
    if (int err = writeAll(*fd, kPattern.data() + written % 256, n); err != 0) {
      return writeErrnoException(reply, codec::kExIllegalState,
                                 "dumpTo: write failed after " + std::to_string(written) + " of " +
                                     std::to_string(total) + " bytes",
                                 err);
    }
    written += n;
  }
  return codec::writeStatus(*reply, codec::AidlStatus::ok());
}

absl::Status EchoService::socketEcho(codec::ParcelReader& data, codec::ParcelWriter* reply) {
  absl::StatusOr<int> dup = runtime::readDupFileDescriptor(data);
  if (!dup.ok()) {
    return writeException(reply, codec::kExBadParcelable,
                          u"socketEcho: bad FileDescriptor argument");
  }
  FdCloser sock(*dup);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Finished workers are joined here (their fds are closed already).
    for (auto it = workers_.begin(); it != workers_.end();) {
      if ((*it)->done) {
        (*it)->thread.join();
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
    if (stopping_ || workers_.size() >= kMaxSocketEchoWorkers) {
      return writeException(
          reply, codec::kExIllegalState,
          ascii16("socketEcho: " + std::to_string(workers_.size()) + " workers running (limit " +
                  std::to_string(kMaxSocketEchoWorkers) + ")"));
    }
    auto worker = std::make_unique<SocketWorker>();
    worker->fd = sock.release();
    worker->thread = std::thread(&EchoService::runSocketEcho, this, worker.get());
    workers_.push_back(std::move(worker));
  }
  return codec::writeStatus(*reply, codec::AidlStatus::ok());
}

void EchoService::runSocketEcho(SocketWorker* worker) {
  int fd = -1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    fd = worker->fd;
  }
  std::vector<uint8_t> buf(kDumpChunkBytes);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0 || writeAll(fd, buf.data(), static_cast<size_t>(n)) != 0) {
      break;  // EOF, a read error, or the peer stopped reading
    }
  }
  ::shutdown(fd, SHUT_WR);
  std::lock_guard<std::mutex> lock(mu_);
  ::close(fd);
  worker->fd = -1;
  worker->done = true;
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

absl::StatusOr<int> EchoProxy::echoMemfd(int fd) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  w->writeFileDescriptor(fd, /*take_ownership=*/false);
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kEchoMemfd, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  if (absl::Status s = readReplyStatus(r); !s.ok()) {
    return s;
  }
  return runtime::readDupFileDescriptor(r);  // the received fd is closed with `reply`
}

absl::Status EchoProxy::dumpTo(int fd, int64_t bytes) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  w->writeFileDescriptor(fd, /*take_ownership=*/false);
  w->writeInt64(bytes);
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kDumpTo, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  return readReplyStatus(r);
}

absl::Status EchoProxy::socketEcho(int fd) {
  absl::StatusOr<codec::ParcelWriter> w = request();
  if (!w.ok()) {
    return w.status();
  }
  w->writeFileDescriptor(fd, /*take_ownership=*/false);
  absl::StatusOr<runtime::ReceivedParcel> reply = call(kSocketEcho, *w);
  if (!reply.ok()) {
    return reply.status();
  }
  codec::ParcelReader r = reply->reader();
  return readReplyStatus(r);
}

}  // namespace nb::examples::echo
