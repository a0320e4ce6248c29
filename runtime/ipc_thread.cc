#include "runtime/ipc_thread.h"

#include <poll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "runtime/binder.h"
#include "runtime/binder_status.h"
#include "runtime/calling_identity.h"
#include "runtime/object_registry.h"
#include "runtime/process_state.h"

namespace nb::runtime {
namespace {

thread_local std::optional<CallingIdentity> t_identity;

// The local objects (BINDER / WEAK_BINDER: their ids) and proxies (HANDLE / WEAK_HANDLE:
// their handles) in a sent buffer, whose pending-send holds end with the send.
struct SentObjects {
  std::vector<uint64_t> local_ids;
  std::vector<uint32_t> handles;
};

SentObjects sentObjects(std::span<const uint8_t> data, std::span<const binder_size_t> offsets) {
  SentObjects sent;
  for (binder_size_t off : offsets) {
    if (off > data.size() || data.size() - off < sizeof(flat_binder_object)) {
      continue;
    }
    flat_binder_object object;
    std::memcpy(&object, data.data() + off, sizeof(object));
    if (object.hdr.type == BINDER_TYPE_BINDER || object.hdr.type == BINDER_TYPE_WEAK_BINDER) {
      sent.local_ids.push_back(object.cookie);
    } else if (object.hdr.type == BINDER_TYPE_HANDLE ||
               object.hdr.type == BINDER_TYPE_WEAK_HANDLE) {
      sent.handles.push_back(object.handle);
    }
  }
  return sent;
}

// Releases the pending-send holds of a sent parcel when the send is over (any outcome).
class SendHolds {
 public:
  SendHolds(ProcessState& state, std::span<const uint8_t> data,
            std::span<const binder_size_t> offsets)
      : state_(state), sent_(sentObjects(data, offsets)) {}
  ~SendHolds() {
    if (!sent_.local_ids.empty()) {
      LocalObjectRegistry::instance().sendFinished(sent_.local_ids);
    }
    if (!sent_.handles.empty()) {
      state_.sendFinished(sent_.handles);
    }
  }
  SendHolds(const SendHolds&) = delete;
  SendHolds& operator=(const SendHolds&) = delete;

 private:
  ProcessState& state_;
  SentObjects sent_;
};

// Counts a transaction this thread takes part in for as long as it lasts.
class DepthScope {
 public:
  explicit DepthScope(int& depth) : depth_(depth) { ++depth_; }
  ~DepthScope() { --depth_; }
  DepthScope(const DepthScope&) = delete;
  DepthScope& operator=(const DepthScope&) = delete;

 private:
  int& depth_;
};

}  // namespace

// Answers one raw sync transaction (raw_call.h) from the thread that executes it.
class RawReplyEngine final : public RawResponder {
 public:
  explicit RawReplyEngine(IpcThread& thread) : thread_(thread) {}

  absl::Status replyBuffer(const RawBuffer& buffer, uint32_t flags) override {
    replied_ = true;
    SendHolds holds(thread_.state_, buffer.data, buffer.offsets);
    thread_.queueRaw(BC_REPLY, 0, 0, flags & ~TF_STATUS_CODE, buffer);
    return thread_.waitForRaw(false).status();
  }

  absl::Status replyStatus(int32_t status) override {
    replied_ = true;
    const auto* bytes = reinterpret_cast<const uint8_t*>(&status);
    thread_.queueTransaction(BC_REPLY, 0, 0, TF_STATUS_CODE,
                             std::span<const uint8_t>(bytes, sizeof(status)), {});
    return thread_.waitForRaw(false).status();
  }

  absl::Status replyFailed() override {
    replied_ = true;
    // One offset past the end of 8 data bytes: the driver rejects the reply (EINVAL) and the
    // caller gets BR_FAILED_REPLY; this thread gets BR_TRANSACTION_COMPLETE.
    static constexpr std::array<uint8_t, 8> kData{};
    static constexpr std::array<binder_size_t, 1> kBadOffset{64};
    thread_.queueTransaction(BC_REPLY, 0, 0, 0, kData, kBadOffset);
    return thread_.waitForRaw(false).status();
  }

  absl::Status replyDead() override {
    if (thread_.depth_ != 1) {
      (void)replyFailed();
      return absl::FailedPreconditionError("dead reply from a nested call sent as failed reply");
    }
    replied_ = true;
    if (absl::Status status = thread_.flush(); !status.ok()) {
      return status;
    }
    int unused = 0;
    if (int err = thread_.state_.device().ioctl(BINDER_THREAD_EXIT, &unused); err != 0) {
      return errnoStatus(err, "BINDER_THREAD_EXIT");
    }
    // The driver made a fresh thread for our next call: it becomes a looper again.
    thread_.queue(BC_ENTER_LOOPER);
    return thread_.flush();
  }

 private:
  IpcThread& thread_;
};

std::span<const uint8_t> scatterGatherArea(const binder_transaction_data& tr) {
  const auto* data = reinterpret_cast<const uint8_t*>(static_cast<uintptr_t>(tr.data.ptr.buffer));
  const auto* offsets =
      reinterpret_cast<const binder_size_t*>(static_cast<uintptr_t>(tr.data.ptr.offsets));
  const size_t count = tr.offsets_size / sizeof(binder_size_t);
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    const binder_size_t off = offsets[i];
    if (off > tr.data_size || tr.data_size - off < sizeof(binder_buffer_object)) {
      continue;
    }
    binder_buffer_object object;
    std::memcpy(&object, data + off, sizeof(object));
    if (object.hdr.type == BINDER_TYPE_PTR) {
      total += (object.length + 7) & ~static_cast<binder_size_t>(7);
    }
  }
  if (total == 0) {
    return {};
  }
  const uintptr_t end = static_cast<uintptr_t>(tr.data.ptr.offsets) + tr.offsets_size;
  const uintptr_t start = (end + 7) & ~static_cast<uintptr_t>(7);
  return {reinterpret_cast<const uint8_t*>(start), total};
}

CallingIdentity callingIdentity() {
  if (t_identity.has_value()) {
    return *t_identity;
  }
  return CallingIdentity{::getpid(), ::geteuid(), false, false};
}

namespace detail {
CallingIdentityScope::CallingIdentityScope(const CallingIdentity& identity)
    : had_saved_(t_identity.has_value()) {
  if (had_saved_) {
    saved_ = *t_identity;
  }
  t_identity = identity;
}
CallingIdentityScope::~CallingIdentityScope() {
  if (had_saved_) {
    t_identity = saved_;
  } else {
    t_identity.reset();
  }
}
}  // namespace detail

IpcThread::IpcThread(ProcessState& state) : state_(state), state_weak_(state.weak_from_this()) {}

IpcThread::~IpcThread() {
  std::shared_ptr<ProcessState> state = state_weak_.lock();
  // At thread exit this runs among the thread_local destructors; the binderd client library's
  // per-thread connection may already be gone (and its closing already told binderd the thread
  // exited), so only the kernel backend is called here.
  if (state == nullptr || state->device().backend() != Backend::kKernel) {
    return;
  }
  (void)flush();
  int unused = 0;
  (void)state->device().ioctl(BINDER_THREAD_EXIT, &unused);
}

// ---- Command queue and the BINDER_WRITE_READ call
// ------------------------------------------------

void IpcThread::queue(uint32_t cmd) { queue(cmd, nullptr, 0); }

void IpcThread::queue(uint32_t cmd, const void* payload, size_t size) {
  const auto* c = reinterpret_cast<const uint8_t*>(&cmd);
  out_.insert(out_.end(), c, c + sizeof(cmd));
  if (size > 0) {
    const auto* p = static_cast<const uint8_t*>(payload);
    out_.insert(out_.end(), p, p + size);
  }
}

void IpcThread::queueTransaction(uint32_t cmd, uint32_t handle, uint32_t code, uint32_t flags,
                                 std::span<const uint8_t> data,
                                 std::span<const binder_size_t> offsets) {
  binder_transaction_data tr{};
  tr.target.handle = handle;
  tr.code = code;
  tr.flags = flags;
  tr.data_size = data.size();
  tr.offsets_size = offsets.size() * sizeof(binder_size_t);
  tr.data.ptr.buffer = reinterpret_cast<binder_uintptr_t>(data.data());
  tr.data.ptr.offsets = reinterpret_cast<binder_uintptr_t>(offsets.data());
  queue(cmd, &tr, sizeof(tr));
}

void IpcThread::queueRaw(uint32_t cmd, uint32_t handle, uint32_t code, uint32_t flags,
                         const RawBuffer& buffer) {
  if (buffer.buffers.empty()) {
    queueTransaction(cmd, handle, code, flags, buffer.data, buffer.offsets);
    return;
  }
  binder_transaction_data_sg sg{};
  binder_transaction_data& tr = sg.transaction_data;
  tr.target.handle = handle;
  tr.code = code;
  tr.flags = flags;
  tr.data_size = buffer.data.size();
  tr.offsets_size = buffer.offsets.size() * sizeof(binder_size_t);
  tr.data.ptr.buffer = reinterpret_cast<binder_uintptr_t>(buffer.data.data());
  tr.data.ptr.offsets = reinterpret_cast<binder_uintptr_t>(buffer.offsets.data());
  sg.buffers_size = (buffer.buffers.size() + 7) & ~static_cast<size_t>(7);
  queue(cmd == BC_REPLY ? BC_REPLY_SG : BC_TRANSACTION_SG, &sg, sizeof(sg));
}

absl::Status IpcThread::talk(bool receive) {
  const bool need_read = receive && !hasInput();
  binder_write_read bwr{};
  bwr.write_size = out_.size();
  bwr.write_buffer = reinterpret_cast<binder_uintptr_t>(out_.data());
  bwr.read_size = need_read ? in_.size() : 0;
  bwr.read_buffer = reinterpret_cast<binder_uintptr_t>(in_.data());
  if (bwr.write_size == 0 && bwr.read_size == 0) {
    return absl::OkStatus();
  }
  // An interrupted call (EINTR) still reports what it consumed; callers loop on what is left.
  int err = state_.device().ioctl(BINDER_WRITE_READ, &bwr);
  out_.erase(out_.begin(), out_.begin() + static_cast<ptrdiff_t>(bwr.write_consumed));
  if (need_read) {
    in_size_ = bwr.read_consumed;
    in_pos_ = 0;
  }
  if (err != 0 && err != EINTR) {
    return errnoStatus(err, "BINDER_WRITE_READ");
  }
  return absl::OkStatus();
}

absl::Status IpcThread::flush() {
  while (!out_.empty()) {
    const size_t before = out_.size();
    if (absl::Status status = talk(false); !status.ok()) {
      return status;
    }
    if (out_.size() == before && !out_.empty()) {
      return absl::InternalError("BINDER_WRITE_READ consumed nothing (pending thread error)");
    }
  }
  return absl::OkStatus();
}

template <typename T>
absl::StatusOr<T> IpcThread::readPayload() {
  if (in_size_ - in_pos_ < sizeof(T)) {
    in_pos_ = in_size_;  // drop the malformed rest of this read
    return absl::DataLossError("truncated binder return payload");
  }
  T value;
  std::memcpy(&value, in_.data() + in_pos_, sizeof(T));
  in_pos_ += sizeof(T);
  return value;
}

absl::StatusOr<uint32_t> IpcThread::nextCommand() {
  while (!hasInput()) {
    if (absl::Status status = talk(true); !status.ok()) {
      return status;
    }
  }
  return readPayload<uint32_t>();
}

// ---- Calls
// ---------------------------------------------------------------------------------------

absl::StatusOr<ReceivedParcel> IpcThread::transact(uint32_t handle, uint32_t code,
                                                   const codec::ParcelWriter& data,
                                                   uint32_t flags) {
  const bool oneway = (flags & TF_ONE_WAY) != 0;
  if (!oneway) {
    flags |= TF_ACCEPT_FDS;
  }
  SendHolds holds(state_, data.data(), data.offsets());
  queueTransaction(BC_TRANSACTION, handle, code, flags, data.data(), data.offsets());
  DepthScope depth(depth_);
  absl::StatusOr<ReceivedParcel> result =
      waitForResponse(!oneway, oneway ? "one-way transaction" : "transaction");
  // Acks (BC_INCREFS_DONE, ...) read during the wait go out now, not at this thread's next call.
  (void)flush();
  return result;
}

absl::StatusOr<RawResult> IpcThread::transactRaw(uint32_t handle, uint32_t code, uint32_t flags,
                                                 const RawBuffer& buffer) {
  const bool oneway = (flags & TF_ONE_WAY) != 0;
  SendHolds holds(state_, buffer.data, buffer.offsets);
  queueRaw(BC_TRANSACTION, handle, code, flags, buffer);
  DepthScope depth(depth_);
  absl::StatusOr<RawResult> result = waitForRaw(!oneway);
  (void)flush();
  return result;
}

absl::StatusOr<RawResult> transactRaw(ProcessState& state, uint32_t handle, uint32_t code,
                                      uint32_t flags, const RawBuffer& buffer) {
  return state.thread().transactRaw(handle, code, flags, buffer);
}

absl::StatusOr<ReceivedParcel> IpcThread::waitForResponse(bool want_reply, const char* what) {
  absl::StatusOr<RawResult> raw = waitForRaw(want_reply);
  if (!raw.ok()) {
    return raw.status();
  }
  switch (raw->outcome) {
    case RawOutcome::kReply:
      return std::move(raw->parcel);
    case RawOutcome::kStatusCode:
      if (raw->status == kOk) {
        return ReceivedParcel();
      }
      return statusFromStatusT(raw->status);
    case RawOutcome::kFailedReply:
      return statusFromDriverReturn(BR_FAILED_REPLY, what);
    case RawOutcome::kDeadReply:
      return statusFromDriverReturn(BR_DEAD_REPLY, what);
    case RawOutcome::kFrozenReply:
      return statusFromDriverReturn(BR_FROZEN_REPLY, what);
  }
  return absl::InternalError("unknown raw outcome");
}

absl::StatusOr<RawResult> IpcThread::waitForRaw(bool want_reply) {
  for (;;) {
    absl::StatusOr<uint32_t> cmd = nextCommand();
    if (!cmd.ok()) {
      return cmd.status();
    }
    RawResult result;
    switch (*cmd) {
      case BR_TRANSACTION_COMPLETE:
      case BR_ONEWAY_SPAM_SUSPECT:
        if (!want_reply) {
          return result;
        }
        break;
      case BR_DEAD_REPLY:
        result.outcome = RawOutcome::kDeadReply;
        return result;
      case BR_FROZEN_REPLY:
        result.outcome = RawOutcome::kFrozenReply;
        return result;
      case BR_FAILED_REPLY: {
        result.outcome = RawOutcome::kFailedReply;
        binder_extended_error ee{};
        if (state_.device().ioctl(BINDER_GET_EXTENDED_ERROR, &ee) == 0 && ee.param < 0) {
          result.error_errno = -ee.param;
        }
        return result;
      }
      case BR_REPLY: {
        absl::StatusOr<binder_transaction_data> tr = readPayload<binder_transaction_data>();
        if (!tr.ok()) {
          return tr.status();
        }
        ReceivedParcel parcel(state_.shared_from_this(), *tr);
        if (!want_reply) {  // not ours to keep; freed here
          break;
        }
        result.flags = tr->flags;
        if ((tr->flags & TF_STATUS_CODE) != 0) {
          result.outcome = RawOutcome::kStatusCode;
          result.status = kUnknownError;
          if (parcel.dataSize() >= sizeof(result.status)) {
            std::memcpy(&result.status, parcel.data().data(), sizeof(result.status));
          }
          return result;
        }
        result.buffers = scatterGatherArea(*tr);
        result.parcel = std::move(parcel);
        return result;
      }
      default:
        if (absl::Status status = executeCommand(*cmd); !status.ok()) {
          return status;
        }
    }
  }
}

absl::Status IpcThread::sendReply(const codec::ParcelWriter& reply, const absl::Status& status) {
  status_t code = statusToStatusT(status);
  std::optional<SendHolds> holds;
  if (status.ok()) {
    holds.emplace(state_, reply.data(), reply.offsets());
    queueTransaction(BC_REPLY, 0, 0, 0, reply.data(), reply.offsets());
  } else {
    const auto* bytes = reinterpret_cast<const uint8_t*>(&code);
    queueTransaction(BC_REPLY, 0, 0, TF_STATUS_CODE, std::span<const uint8_t>(bytes, sizeof(code)),
                     {});
  }
  return waitForResponse(false, "reply").status();
}

// ---- Incoming work
// -------------------------------------------------------------------------------

absl::Status IpcThread::executeTransaction(const binder_transaction_data& tr) {
  ReceivedParcel request(state_.shared_from_this(), tr);
  const bool oneway = (tr.flags & TF_ONE_WAY) != 0;
  DepthScope depth(depth_);
  std::shared_ptr<LocalBinder> target;
  if (tr.target.ptr == 0 && tr.cookie == 0) {
    target = state_.localContextObject();
  } else {
    target = LocalObjectRegistry::instance().lookup(tr.cookie);
  }
  if (target != nullptr && target->takesRawTransactions()) {
    return executeRawTransaction(*target, tr, request);
  }
  codec::ParcelWriter reply;
  absl::Status status;
  {
    detail::CallingIdentityScope scope(
        CallingIdentity{tr.sender_pid, tr.sender_euid, true, oneway});
    codec::ParcelReader reader = request.reader();
    status = target != nullptr
                 ? target->dispatch(tr.code, reader, oneway ? nullptr : &reply, tr.flags)
                 : statusFromStatusT(kDeadObject);
  }
  request.release();
  if (oneway) {
    return absl::OkStatus();
  }
  return sendReply(reply, status);
}

absl::Status IpcThread::executeRawTransaction(LocalBinder& target,
                                              const binder_transaction_data& tr,
                                              ReceivedParcel& request) {
  const bool oneway = (tr.flags & TF_ONE_WAY) != 0;
  RawTransaction call{tr, RawBuffer{request.data(), request.offsets(), scatterGatherArea(tr)}};
  detail::CallingIdentityScope scope(CallingIdentity{tr.sender_pid, tr.sender_euid, true, oneway});
  if (oneway) {
    target.onRawTransaction(call, nullptr);
    request.release();
    return absl::OkStatus();
  }
  RawReplyEngine responder(*this);
  target.onRawTransaction(call, &responder);
  request.release();
  if (responder.replied()) {
    return absl::OkStatus();
  }
  return sendReply(codec::ParcelWriter(), statusFromStatusT(kFailedTransaction));
}

absl::Status IpcThread::executeCommand(uint32_t cmd) {
  switch (cmd) {
    case BR_NOOP:
    case BR_OK:
    case BR_FINISHED:
    case BR_TRANSACTION_COMPLETE:
    case BR_ONEWAY_SPAM_SUSPECT:
      return absl::OkStatus();
    case BR_ERROR:
      (void)readPayload<int32_t>();
      return absl::InternalError("BR_ERROR");
    case BR_TRANSACTION:
    case BR_TRANSACTION_SEC_CTX:
      return executeTransactionCommand(cmd == BR_TRANSACTION_SEC_CTX);
    case BR_INCREFS:
    case BR_ACQUIRE:
    case BR_RELEASE:
    case BR_DECREFS:
      return executeRefCommand(cmd);
    case BR_DEAD_BINDER:
      return executeDeadBinder();
    case BR_CLEAR_DEATH_NOTIFICATION_DONE:
      return readPayload<binder_uintptr_t>().status();
    case BR_SPAWN_LOOPER:
      state_.spawnPooledThread(false);
      return absl::OkStatus();
    default:
      return skipUnknownCommand(cmd);
  }
}

absl::Status IpcThread::executeTransactionCommand(bool with_secctx) {
  if (with_secctx) {
    absl::StatusOr<binder_transaction_data_secctx> sec =
        readPayload<binder_transaction_data_secctx>();
    if (!sec.ok()) {
      return sec.status();
    }
    return executeTransaction(sec->transaction_data);
  }
  absl::StatusOr<binder_transaction_data> tr = readPayload<binder_transaction_data>();
  if (!tr.ok()) {
    return tr.status();
  }
  return executeTransaction(*tr);
}

absl::Status IpcThread::executeRefCommand(uint32_t cmd) {
  absl::StatusOr<binder_ptr_cookie> pc = readPayload<binder_ptr_cookie>();
  if (!pc.ok()) {
    return pc.status();
  }
  using Op = LocalObjectRegistry::RefOp;
  const Op op = cmd == BR_INCREFS   ? Op::kIncWeak
                : cmd == BR_ACQUIRE ? Op::kIncStrong
                : cmd == BR_RELEASE ? Op::kDecStrong
                                    : Op::kDecWeak;
  if (pc->cookie != 0) {  // cookie 0: the context manager node, pinned by ProcessState
    LocalObjectRegistry::instance().applyDriverRef(pc->cookie, op);
  }
  if (cmd == BR_INCREFS) {
    queue(BC_INCREFS_DONE, &*pc, sizeof(*pc));
  } else if (cmd == BR_ACQUIRE) {
    queue(BC_ACQUIRE_DONE, &*pc, sizeof(*pc));
  }
  return absl::OkStatus();
}

absl::Status IpcThread::executeDeadBinder() {
  absl::StatusOr<binder_uintptr_t> cookie = readPayload<binder_uintptr_t>();
  if (!cookie.ok()) {
    return cookie.status();
  }
  state_.onDeadBinder(*cookie);
  queue(BC_DEAD_BINDER_DONE, &*cookie, sizeof(*cookie));
  return flush();
}

absl::Status IpcThread::skipUnknownCommand(uint32_t cmd) {
  // An unknown (newer) return: skip its payload, whose size the code encodes.
  const size_t size = _IOC_SIZE(cmd);
  if (in_size_ - in_pos_ < size) {
    in_pos_ = in_size_;
    return absl::DataLossError(absl::StrCat("truncated unknown return 0x", absl::Hex(cmd)));
  }
  in_pos_ += size;
  return absl::OkStatus();
}

// ---- Loopers
// -------------------------------------------------------------------------------------

void IpcThread::joinLoop(bool is_main) {
  queue(is_main ? BC_ENTER_LOOPER : BC_REGISTER_LOOPER);
  looping_ = true;
  while (!state_.stopping()) {
    absl::StatusOr<uint32_t> cmd = nextCommand();
    if (!cmd.ok()) {
      if (absl::IsDataLoss(cmd.status())) {
        continue;  // a malformed return was skipped
      }
      break;  // the device is unusable (EBADF, binderd gone, ...)
    }
    (void)executeCommand(*cmd);
  }
  looping_ = false;
  queue(BC_EXIT_LOOPER);
  (void)flush();  // with the frees still queued
}

absl::Status IpcThread::setupPolling() {
  if (!polling_) {
    polling_ = true;
    queue(BC_ENTER_LOOPER);
    state_.device().preparePoll();
  }
  return flush();
}

absl::Status IpcThread::handlePolledCommands() {
  if (absl::Status status = setupPolling(); !status.ok()) {
    return status;
  }
  for (;;) {
    while (hasInput()) {
      absl::StatusOr<uint32_t> cmd = readPayload<uint32_t>();
      if (!cmd.ok()) {
        return cmd.status();
      }
      if (absl::Status status = executeCommand(*cmd); !status.ok()) {
        return status;
      }
    }
    if (absl::Status status = flush(); !status.ok()) {
      return status;
    }
    pollfd pfd{state_.fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 0) <= 0 || (pfd.revents & POLLIN) == 0) {
      return absl::OkStatus();
    }
    if (absl::Status status = talk(true); !status.ok()) {
      return status;
    }
  }
}

}  // namespace nb::runtime
