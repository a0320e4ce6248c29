#include "gateway/session.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"
#include "codec/utf16.h"
#include "gateway/config/import_policy.h"
#include "gateway/import_node.h"
#include "gateway/session_mapper.h"
#include "runtime/binder_status.h"
#include "runtime/object_registry.h"
#include "runtime/parcel_binder.h"
#include "runtime/service_manager.h"
#include "spdlog/spdlog.h"

namespace nb::gateway {

using netbinder::v1::Frame;
using netbinder::v1::Reply;
using netbinder::v1::Transaction;
namespace v1 = netbinder::v1;

namespace {

// The incoming call a thread is executing for a peer (docs/protocol.md §6.2): its innermost entry
// decides the chain and nesting of any call the thread forwards meanwhile.
struct ServingEntry {
  const Session* session;
  uint64_t call_id;
  v1::CallChain chain;
};
thread_local std::vector<ServingEntry> t_serving;

// The local connections in which this thread is executing a forwarded call (ImportNode →
// peer) and waits for its Reply. A nested call the thread executes meanwhile is issued from the
// innermost one: the driver then sees the same binder thread, whose transaction stack leads
// the call back to the thread blocked in the chain (kernel-binder.md §6.3).
thread_local std::vector<std::shared_ptr<Conn>> t_forwarding;

class ForwardingScope {
 public:
  explicit ForwardingScope(std::shared_ptr<Conn> conn) { t_forwarding.push_back(std::move(conn)); }
  ~ForwardingScope() { t_forwarding.pop_back(); }
  ForwardingScope(const ForwardingScope&) = delete;
  ForwardingScope& operator=(const ForwardingScope&) = delete;
};

class ServingScope {
 public:
  ServingScope(const Session* session, const Transaction& tx) {
    t_serving.push_back(ServingEntry{session, tx.call_id(), tx.chain()});
  }
  ~ServingScope() { t_serving.pop_back(); }
  ServingScope(const ServingScope&) = delete;
  ServingScope& operator=(const ServingScope&) = delete;
};

// A local hop's chain (LocalConns::HopContext) as the innermost serving entry of this thread,
// for the call it forwards: the chain continues, nothing is nested on this session.
class HopScope {
 public:
  HopScope(const std::string& origin, uint64_t thread) {
    v1::CallChain chain;
    chain.set_origin_instance_id(origin);
    chain.set_origin_thread(thread);
    t_serving.push_back(ServingEntry{nullptr, 0, std::move(chain)});
  }
  ~HopScope() { t_serving.pop_back(); }
  HopScope(const HopScope&) = delete;
  HopScope& operator=(const HopScope&) = delete;
};

uint64_t randomNonZero() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t value = 0;
  while (value == 0) {
    value = rng();
  }
  return value;
}

}  // namespace

wire::ParcelLimits parcelLimitsOf(const v1::Limits& limits) {
  wire::ParcelLimits out;
  if (limits.max_parcel_data_bytes() != 0)
    out.max_data_bytes = limits.max_parcel_data_bytes();
  if (limits.max_parcel_objects() != 0)
    out.max_objects = limits.max_parcel_objects();
  if (limits.max_parcel_fds() != 0)
    out.max_fds = limits.max_parcel_fds();
  if (limits.max_parcel_buffer_bytes() != 0) {
    out.max_buffer_bytes = limits.max_parcel_buffer_bytes();
  }
  return out;
}

namespace {

Reply failedReply(uint64_t call_id, int err) {
  Reply reply;
  reply.set_call_id(call_id);
  reply.set_outcome(v1::REPLY_OUTCOME_FAILED_REPLY);
  reply.set_error_errno(err);
  return reply;
}

Reply deadReply(uint64_t call_id) {
  Reply reply;
  reply.set_call_id(call_id);
  reply.set_outcome(v1::REPLY_OUTCOME_DEAD_REPLY);
  return reply;
}

int errnoOf(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kResourceExhausted:
      return ENOSPC;
    case absl::StatusCode::kUnimplemented:
      return EOPNOTSUPP;
    case absl::StatusCode::kPermissionDenied:
      return EPERM;
    case absl::StatusCode::kUnavailable:
      return EPIPE;
    default:
      return EINVAL;
  }
}

wire::LocalBufferView viewOf(std::span<const uint8_t> data, std::span<const binder_size_t> offsets,
                             std::span<const uint8_t> buffers) {
  return wire::LocalBufferView{
      data,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(offsets.data()),
                               offsets.size() * sizeof(binder_size_t)),
      buffers};
}

// The export policy is import_policy.h's glob matching (which already keeps "netbinder.gateway.*"
// out); the hub itself ("netbinder.gateway", no dot) is the one more name that never crosses.
bool exportable(const std::vector<std::string>& globs, const std::string& name) {
  return name != kGatewayServiceName && matchesAny(globs, name);
}

}  // namespace

// ---- Session-private types -------------------------------------------------------------------

struct Session::Waiter {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Transaction> nested;  // guarded by mu
  std::optional<Reply> reply;      // guarded by mu
  bool dead = false;               // guarded by mu
};

ExportDeathWatch::ExportDeathWatch(std::weak_ptr<Session> session, uint32_t main_handle)
    : session_(std::move(session)), main_handle_(main_handle) {}

void ExportDeathWatch::binderDied(const std::weak_ptr<runtime::IBinder>& /*who*/) {
  if (std::shared_ptr<Session> session = session_.lock()) {
    session->exportedNodeDied(main_handle_);
  }
}

Session::ExportPin::~ExportPin() {
  if (watch != nullptr) {
    (void)main_proxy->unlinkToDeath(watch);
  }
}

struct Session::OnewayQueue {
  std::deque<Transaction> queue;
  bool draining = false;
};

// ---- Lifecycle ---------------------------------------------------------------------------------

Session::Session(SessionContext context, std::shared_ptr<Link> link)
    : ctx_(std::move(context)),
      link_(std::move(link)),
      peer_parcel_limits_(parcelLimitsOf(link_->peer().limits)),
      exports_(link_->peer().limits.max_imports() != 0 ? link_->peer().limits.max_imports()
                                                       : 100000),
      next_stream_id_(link_->peer().dialed ? 1 : 2) {}

Session::~Session() = default;

bool Session::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

void Session::close(v1::ErrorCode code, const std::string& why) { link_->close(code, why); }

void Session::fail(v1::ErrorCode code, const std::string& why) {
  spdlog::warn("session with {}: {} ({})", peer().node.gateway_id(), why, v1::ErrorCode_Name(code));
  link_->close(code, why);
}

void Session::bundlePendingFdsLocked(const ParcelKey& key) {
  // Every fd payload received since the last parcel belongs to this one (§8.1).
  if (pending_fds_.empty()) {
    return;
  }
  auto bundle = std::make_shared<FdBundle>();
  bundle->fds.swap(pending_fds_);
  received_fds_[key] = std::move(bundle);
}

void Session::reject(v1::ErrorCode code, const std::string& why) {
  spdlog::warn("session with {}: refused a frame: {} ({})", peer().node.gateway_id(), why,
               v1::ErrorCode_Name(code));
  Frame frame;
  v1::Error* error = frame.mutable_error();
  error->set_code(code);
  error->set_message(why);
  error->set_fatal(false);
  std::lock_guard lock(mu_);
  if (!closed_) {
    sendLocked(std::move(frame));
  }
}

void Session::sendLocked(Frame&& frame) {
  // The control lane never blocks and keeps its order with the call lane.
  (void)link_->send(std::move(frame), Lane::kControl);
}

void Session::onClosed(const absl::Status& why) {
  spdlog::info("session with {} ended: {}", peer().node.gateway_id(), why.ToString());
  teardown();
}

void Session::teardown() {
  std::vector<Waiter*> waiters;
  std::unordered_map<uint64_t, std::shared_ptr<Conn>> conns;
  std::unordered_map<uint64_t, std::shared_ptr<ExportPin>> pins;
  std::vector<uint64_t> node_ids;
  std::map<uint64_t, std::shared_ptr<FdStream>> streams;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    closed_ = true;
    for (auto& [id, waiter] : outgoing_) {
      if (waiter != nullptr) {
        waiters.push_back(waiter);
      }
    }
    outgoing_.clear();
    chains_.clear();
    incoming_.clear();
    oneways_.clear();
    conns.swap(conns_);
    pins.swap(pins_);
    (void)exports_.drain();
    (void)imports_.drain();
    for (auto& [id, weak] : import_nodes_) {
      if (std::shared_ptr<ImportNode> node = weak.lock()) {
        node_ids.push_back(node->id());
      }
    }
    import_nodes_.clear();
    streams.swap(streams_);
    pending_fds_.clear();
    received_fds_.clear();
    assemblies_.clear();
  }
  // 5. Fd streams end: the local processes see EOF / EPIPE.
  for (auto& [id, stream] : streams) {
    stream->close(false);
  }
  streams.clear();
  // 1. Waiting callers get BR_DEAD_REPLY.
  for (Waiter* waiter : waiters) {
    std::lock_guard lock(waiter->mu);
    waiter->dead = true;
    waiter->cv.notify_all();
  }
  // 3. Imports die: their connections close, the driver tells every holder.
  for (auto& [key, conn] : conns) {
    if (!conn->isMain()) {
      conn->close();
    }
  }
  conns.clear();
  for (uint64_t id : node_ids) {
    runtime::LocalObjectRegistry::instance().forgetDriverRefs(id);
  }
  // 4. Exports: the pins go.
  pins.clear();
}

Session::Counts Session::counts() const {
  std::lock_guard lock(mu_);
  Counts counts;
  counts.exports = exports_.size();
  counts.imports = imports_.size();
  counts.calls_out = outgoing_.size();
  counts.calls_in = incoming_.size();
  counts.conns = conns_.size();
  return counts;
}

// ---- Frames from the peer ----------------------------------------------------------------------

void Session::onFrame(Frame&& frame) {
  switch (frame.body_case()) {
    case Frame::kTransaction:
      onTransaction(std::move(*frame.mutable_transaction()));
      return;
    case Frame::kReply:
      onReply(std::move(*frame.mutable_reply()));
      return;
    case Frame::kRefCount:
      onRefCount(frame.ref_count());
      return;
    case Frame::kExportRelease:
      onExportRelease(frame.export_release());
      return;
    case Frame::kDeathNotice:
      onDeathNotice(frame.death_notice());
      return;
    case Frame::kError:
      spdlog::warn("peer {} reports: {} ({})", peer().node.gateway_id(), frame.error().message(),
                   v1::ErrorCode_Name(frame.error().code()));
      return;
    case Frame::kFdPayload:
      onFdPayload(frame.fd_payload());
      return;
    case Frame::kFdStreamChunk:
      onFdStreamChunk(frame.fd_stream_chunk());
      return;
    default:
      fail(v1::ERROR_CODE_PROTOCOL, "unexpected frame kind");
      return;
  }
}

void Session::onTransaction(Transaction&& tx) {
  const bool oneway = (tx.flags() & TF_ONE_WAY) != 0;
  if (oneway ? (tx.call_id() != 0 || tx.oneway_seq() == 0)
             : (tx.call_id() == 0 || tx.oneway_seq() != 0 || !tx.has_chain())) {
    fail(v1::ERROR_CODE_PROTOCOL, "inconsistent sync/oneway fields");
    return;
  }
  std::optional<std::pair<v1::ErrorCode, std::string>> error;
  std::optional<std::pair<v1::ErrorCode, std::string>> rejected;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    bundlePendingFdsLocked(parcelKeyOf(tx));
    const uint64_t target = tx.target_export_id();
    if (target != 0 && exports_.find(target) == nullptr) {
      // Not an id we gave this peer: refused, nothing else happens (the caller gets a failed
      // reply, the peer an Error naming the frame's problem).
      if (!oneway && incoming_.count(tx.call_id()) == 0) {
        Frame frame;
        *frame.mutable_reply() = failedReply(tx.call_id(), EINVAL);
        sendLocked(std::move(frame));
      }
      rejected.emplace(v1::ERROR_CODE_UNKNOWN_EXPORT,
                       absl::StrCat("call on unknown export ", target));
    } else if (oneway) {
      if (target == 0) {
        return;  // the root has no one-way methods
      }
      if (!exports_.acceptOneway(target, tx.oneway_seq())) {
        error.emplace(v1::ERROR_CODE_ONEWAY_SEQUENCE,
                      absl::StrCat("oneway_seq ", tx.oneway_seq(), " out of order"));
      } else {
        std::unique_ptr<OnewayQueue>& queue = oneways_[target];
        if (queue == nullptr) {
          queue = std::make_unique<OnewayQueue>();
        }
        if (queue->queue.size() >= ctx_.max_oneway_backlog) {
          error.emplace(v1::ERROR_CODE_LIMIT_EXCEEDED, "one-way backlog limit");
        } else {
          queue->queue.push_back(std::move(tx));
          if (!queue->draining) {
            queue->draining = true;
            std::weak_ptr<Session> weak = weak_from_this();
            ctx_.workers->submit([weak, target] {
              if (auto session = weak.lock())
                session->drainOneways(target);
            });
          }
        }
      }
    } else if (incoming_.count(tx.call_id()) != 0) {
      error.emplace(v1::ERROR_CODE_PROTOCOL, absl::StrCat("call id ", tx.call_id(), " reused"));
    } else if (incoming_.size() >= ctx_.max_outstanding_calls) {
      error.emplace(v1::ERROR_CODE_LIMIT_EXCEEDED, "outstanding call limit");
    } else {
      incoming_.insert(tx.call_id());
      Waiter* waiter = nullptr;
      if (tx.nested_under_call_id() != 0) {
        auto it = outgoing_.find(tx.nested_under_call_id());
        if (it == outgoing_.end() || it->second == nullptr) {
          incoming_.erase(tx.call_id());
          Reply reply = failedReply(tx.call_id(), EPROTO);
          Frame frame;
          *frame.mutable_reply() = std::move(reply);
          sendLocked(std::move(frame));
          return;
        }
        waiter = it->second;
      } else {
        auto it = chains_.find({tx.chain().origin_instance_id(), tx.chain().origin_thread()});
        if (it != chains_.end()) {
          waiter = it->second;
        }
      }
      if (waiter != nullptr) {
        {
          std::lock_guard wlock(waiter->mu);
          waiter->nested.push_back(std::move(tx));
        }
        // Notified without waiter->mu, so that the woken thread does not block on it at once;
        // mu_, still held, keeps the waiter alive (callPeer takes mu_ before it returns).
        waiter->cv.notify_all();
      } else {
        std::weak_ptr<Session> weak = weak_from_this();
        auto shared_tx = std::make_shared<Transaction>(std::move(tx));
        ctx_.workers->submit([weak, shared_tx] {
          if (auto session = weak.lock())
            session->serveIncoming(std::move(*shared_tx));
        });
      }
    }
  }
  if (error) {
    fail(error->first, error->second);
  } else if (rejected) {
    reject(rejected->first, rejected->second);
  }
}

void Session::onReply(Reply&& reply) {
  bool unknown = false;
  {
    std::lock_guard lock(mu_);
    bundlePendingFdsLocked(ParcelKey{'R', reply.call_id(), 0});
    auto it = outgoing_.find(reply.call_id());
    if (it == outgoing_.end()) {
      unknown = true;
    } else {
      Waiter* waiter = it->second;
      outgoing_.erase(it);
      if (waiter != nullptr) {
        {
          std::lock_guard wlock(waiter->mu);
          waiter->reply = std::move(reply);
        }
        waiter->cv.notify_all();  // under mu_ only, as for nested calls above
      } else if (reply.outcome() != v1::REPLY_OUTCOME_OK || reply.parcel().objects_size() == 0) {
        received_fds_.erase(ParcelKey{'R', reply.call_id(), 0});
      } else {
        // An abandoned call's reply: its references are accounted by importing and dropping.
        std::weak_ptr<Session> weak = weak_from_this();
        auto shared = std::make_shared<Reply>(std::move(reply));
        ctx_.workers->submit([weak, shared] {
          if (auto session = weak.lock()) {
            SessionMapper mapper(*session, nullptr,
                                 session->takeReceivedFds(ParcelKey{'R', shared->call_id(), 0}));
            (void)wire::fromWireParcel(shared->parcel(), mapper, session->ctx_.own_parcel_limits);
          }
        });
      }
    }
  }
  if (unknown) {
    fail(v1::ERROR_CODE_UNKNOWN_CALL, absl::StrCat("reply for call ", reply.call_id()));
  }
}

void Session::onRefCount(const v1::RefCount& refs) {
  std::vector<ExportTable::Op> ops;
  for (const v1::RefCountOp& op : refs.ops()) {
    ExportTable::Op out{op.export_id(), RefKind::kIncStrong, op.count()};
    switch (op.kind()) {
      case v1::REF_COUNT_KIND_INC_STRONG:
        out.kind = RefKind::kIncStrong;
        break;
      case v1::REF_COUNT_KIND_DEC_STRONG:
        out.kind = RefKind::kDecStrong;
        break;
      case v1::REF_COUNT_KIND_INC_WEAK:
        out.kind = RefKind::kIncWeak;
        break;
      case v1::REF_COUNT_KIND_DEC_WEAK:
        out.kind = RefKind::kDecWeak;
        break;
      default:
        fail(v1::ERROR_CODE_PROTOCOL, "unknown RefCountKind");
        return;
    }
    if (op.count() == 0) {
      fail(v1::ERROR_CODE_PROTOCOL, "RefCountOp with count 0");
      return;
    }
    ops.push_back(out);
  }
  std::vector<std::shared_ptr<ExportPin>> drop;
  absl::Status status;
  {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> erased;
    status = exports_.applyBatch(ops, &erased);
    for (uint64_t key : erased)
      unpinLocked(key, &drop);
  }
  drop.clear();
  if (absl::IsNotFound(status)) {
    reject(v1::ERROR_CODE_UNKNOWN_EXPORT, std::string(status.message()));
  } else if (absl::IsOutOfRange(status)) {
    reject(v1::ERROR_CODE_REFCOUNT_UNDERFLOW, std::string(status.message()));
  } else if (!status.ok()) {
    reject(v1::ERROR_CODE_PROTOCOL, std::string(status.message()));
  }
}

void Session::onExportRelease(const v1::ExportRelease& release) {
  std::vector<std::shared_ptr<ExportPin>> drop;
  absl::Status status;
  {
    std::lock_guard lock(mu_);
    std::vector<uint64_t> erased;
    status = exports_.release(release.export_id(), release.strong_count(), release.weak_count(),
                              &erased);
    for (uint64_t key : erased)
      unpinLocked(key, &drop);
  }
  drop.clear();
  if (absl::IsNotFound(status)) {
    reject(v1::ERROR_CODE_UNKNOWN_EXPORT, std::string(status.message()));
  } else if (!status.ok()) {
    reject(v1::ERROR_CODE_REFCOUNT_UNDERFLOW, std::string(status.message()));
  }
}

void Session::onDeathNotice(const v1::DeathNotice& notice) {
  uint64_t key = 0;
  {
    std::lock_guard lock(mu_);
    const ImportTable::Entry* entry = imports_.find(notice.export_id());
    if (entry == nullptr || entry->dead) {
      return;  // released meanwhile, or already dead (§5.3)
    }
    key = entry->owner_key;
  }
  std::weak_ptr<Session> weak = weak_from_this();
  ctx_.workers->submit([weak, key] {
    if (auto session = weak.lock())
      session->closeConnForKey(key);
  });
}

void Session::unpinLocked(uint64_t key, std::vector<std::shared_ptr<ExportPin>>* drop) {
  auto it = pins_.find(key);
  if (it == pins_.end()) {
    return;
  }
  const auto main_handle = static_cast<uint32_t>(key);
  for (auto& [conn_key, conn] : conns_) {
    conn->uncache(main_handle);
  }
  drop->push_back(std::move(it->second));
  pins_.erase(it);
}

// ---- Connections -------------------------------------------------------------------------------

absl::StatusOr<std::shared_ptr<Conn>> Session::connForKey(uint64_t key) {
  if (key == 0) {
    return ctx_.conns->mainShared();
  }
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return absl::UnavailableError("session closed");
    }
    auto it = conns_.find(key);
    if (it != conns_.end()) {
      return it->second;
    }
  }
  absl::StatusOr<std::shared_ptr<Conn>> opened =
      ctx_.conns->openConn(absl::StrCat(peer().node.gateway_id(), "/", absl::Hex(key)));
  if (!opened.ok()) {
    return opened.status();
  }
  std::shared_ptr<Conn> loser;
  std::shared_ptr<Conn> result;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      loser = *opened;
    } else {
      auto [it, inserted] = conns_.try_emplace(key, *opened);
      if (!inserted) {
        loser = *opened;
      }
      result = it->second;
    }
  }
  if (loser != nullptr) {
    loser->close();
  }
  if (result == nullptr) {
    return absl::UnavailableError("session closed");
  }
  return result;
}

bool Session::ownsConn(const Conn& conn) const {
  if (conn.isMain()) {
    return true;
  }
  std::lock_guard lock(mu_);
  for (const auto& [key, owned] : conns_) {
    if (owned.get() == &conn)
      return true;
  }
  return false;
}

Session::CallScope::CallScope(Session& session, Conn& conn) : session_(session), conn_(conn) {
  std::lock_guard lock(session_.mu_);
  ++session_.calls_in_conn_[&conn_];
}

Session::CallScope::~CallScope() {
  std::lock_guard lock(session_.mu_);
  auto it = session_.calls_in_conn_.find(&conn_);
  if (it != session_.calls_in_conn_.end() && --it->second == 0) {
    session_.calls_in_conn_.erase(it);
  }
}

void Session::closeIdleConns() {
  std::vector<std::shared_ptr<Conn>> idle;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      return;
    }
    std::set<const Conn*> in_use;
    for (auto& [id, weak] : import_nodes_) {
      if (std::shared_ptr<ImportNode> node = weak.lock()) {
        if (std::shared_ptr<Conn> conn = node->conn())
          in_use.insert(conn.get());
      }
    }
    for (auto it = conns_.begin(); it != conns_.end();) {
      const Conn* conn = it->second.get();
      // A connection that owns no proxy node and runs no call stands for a process that has
      // nothing here any more (it exited, or just stopped calling): closing it loses nothing.
      if (in_use.count(conn) == 0 && calls_in_conn_.count(conn) == 0 &&
          it->second.use_count() == 1) {
        idle.push_back(std::move(it->second));
        it = conns_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const std::shared_ptr<Conn>& conn : idle) {
    conn->close();
  }
}

void Session::closeConnForKey(uint64_t key) {
  std::shared_ptr<Conn> conn;
  std::vector<uint64_t> node_ids;
  {
    std::lock_guard lock(mu_);
    auto it = conns_.find(key);
    if (it == conns_.end()) {
      return;
    }
    conn = std::move(it->second);
    conns_.erase(it);
    for (auto& [id, weak] : import_nodes_) {
      std::shared_ptr<ImportNode> node = weak.lock();
      if (node != nullptr && node->conn() == conn) {
        imports_.markDead(id);
        node_ids.push_back(node->id());
      }
    }
  }
  spdlog::info("peer {}: remote process {:x} died; closing its connection",
               peer().node.gateway_id(), key);
  conn->close();
  conn.reset();
  for (uint64_t id : node_ids) {
    runtime::LocalObjectRegistry::instance().forgetDriverRefs(id);
  }
}

// ---- Serving the peer's calls ------------------------------------------------------------------

void Session::serveIncoming(Transaction tx) {
  ReplyPlan plan;
  {
    ServingScope scope(this, tx);
    plan.reply = executeIncoming(tx, &plan);
  }
  plan.reply.set_call_id(tx.call_id());
  sendReply(std::move(plan));
}

void Session::sendReply(ReplyPlan&& plan) {
  {
    std::lock_guard lock(mu_);
    if (closed_ || incoming_.erase(plan.reply.call_id()) == 0) {
      return;
    }
  }
  Frame frame;
  *frame.mutable_reply() = std::move(plan.reply);
  (void)sendParcel(std::move(frame), std::move(plan.fds));
  sendDeathNotices(plan.deaths);
}

void Session::sendDeathNotices(const std::vector<uint64_t>& ids) {
  if (ids.empty()) {
    return;
  }
  // After the frame that carried the references (docs/protocol.md §5.3).
  std::lock_guard lock(mu_);
  for (uint64_t id : ids) {
    Frame frame;
    frame.mutable_death_notice()->set_export_id(id);
    sendLocked(std::move(frame));
  }
}

absl::Status Session::sendParcel(Frame&& frame, OutgoingFds&& fds,
                                 const std::function<bool(Frame&)>& stamp) {
  // Payloads, then the frame that consumes them, with no other parcel in between (§8.1).
  std::lock_guard order(parcel_send_mu_);
  if (stamp && !stamp(frame)) {
    return absl::OkStatus();
  }
  for (Frame& payload : fds.payloads) {
    if (absl::Status s = link_->send(std::move(payload), Lane::kCall); !s.ok()) {
      return s;
    }
  }
  for (OutgoingFds::Stream& stream : fds.streams) {
    startStream(std::move(stream.fd), std::move(stream.options));
  }
  return link_->send(std::move(frame), Lane::kCall);
}

void Session::drainOneways(uint64_t export_id) {
  for (;;) {
    Transaction tx;
    {
      std::lock_guard lock(mu_);
      auto it = oneways_.find(export_id);
      if (closed_ || it == oneways_.end()) {
        return;
      }
      if (it->second->queue.empty()) {
        oneways_.erase(it);
        return;
      }
      tx = std::move(it->second->queue.front());
      it->second->queue.pop_front();
    }
    (void)executeIncoming(tx, nullptr);
  }
}

Reply Session::executeIncoming(const Transaction& tx, ReplyPlan* plan) {
  const uint64_t call_id = tx.call_id();
  // The fds sent ahead of this parcel: taken now, so that they are closed whatever happens.
  std::shared_ptr<FdBundle> fds = takeReceivedFds(parcelKeyOf(tx));
  if (tx.target_export_id() == 0) {
    return executeRoot(tx);
  }
  std::shared_ptr<ExportPin> pin;
  {
    std::lock_guard lock(mu_);
    uint64_t key = 0;
    switch (exports_.target(tx.target_export_id(), &key)) {
      case ExportTable::Target::kOk:
        if (auto it = pins_.find(key); it != pins_.end()) {
          pin = it->second;
          break;
        }
        return failedReply(call_id, EINVAL);  // unreachable: entries and pins change together
      case ExportTable::Target::kDead:
      case ExportTable::Target::kUnknown:
        return deadReply(call_id);
      case ExportTable::Target::kNotStrong:
        return failedReply(call_id, EINVAL);
    }
  }
  absl::StatusOr<std::shared_ptr<Conn>> conn =
      t_forwarding.empty() ? connForKey(tx.caller().process_key()) : t_forwarding.back();
  if (!conn.ok()) {
    return failedReply(call_id, EIO);
  }
  CallScope in_flight(*this, **conn);
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> target =
      ctx_.conns->inConn(**conn, pin->main_proxy, ownsConn(**conn));
  if (!target.ok()) {
    spdlog::warn("peer {}: cannot reach export {}: {}", peer().node.gateway_id(),
                 tx.target_export_id(), target.status().ToString());
    return failedReply(call_id, EIO);
  }
  SessionMapper in(*this, conn->get(), fds);
  absl::StatusOr<wire::LocalBuffer> local =
      wire::fromWireParcel(tx.parcel(), in, ctx_.own_parcel_limits);
  if (!local.ok()) {
    if (wire::isMapperFailure(local.status())) {
      return failedReply(call_id, errnoOf(local.status()));
    }
    fail(v1::ERROR_CODE_INVALID_PARCEL, std::string(local.status().message()));
    return failedReply(call_id, EINVAL);
  }
  // A re-exported import: the proxy node's pool thread will forward the call on; leave it the
  // chain and who calls (LocalConns::pushHop).
  uint64_t hop_token = 0;
  if (pin->self_node_cookie != 0) {
    const uint64_t own_key =
        (*conn)->procId() != 0 ? (kGatewayConnKeyBitValue | (*conn)->procId()) : 0;
    hop_token = ctx_.conns->pushHop(pin->self_node_cookie,
                                    LocalConns::HopContext{tx.chain().origin_instance_id(),
                                                           tx.chain().origin_thread(), own_key});
  }
  absl::StatusOr<runtime::RawResult> result =
      runtime::transactRaw(*(*conn)->state(), (*target)->handle(), tx.code(), tx.flags(),
                           runtime::RawBuffer{local->data(), local->offsets(), local->buffers()});
  if (hop_token != 0) {
    ctx_.conns->dropHop(pin->self_node_cookie, hop_token);
  }
  Reply reply;
  reply.set_call_id(call_id);
  if (!result.ok()) {
    return failedReply(call_id, EIO);
  }
  switch (result->outcome) {
    case runtime::RawOutcome::kReply: {
      if ((tx.flags() & TF_ONE_WAY) != 0) {
        return reply;
      }
      SessionMapper out(*this, conn->get());
      absl::Status status = wire::toWireParcel(
          viewOf(result->parcel.data(), result->parcel.offsets(), result->buffers), out,
          peer_parcel_limits_, reply.mutable_parcel());
      if (!status.ok()) {
        spdlog::warn("peer {}: reply to call {} cannot be sent: {}", peer().node.gateway_id(),
                     call_id, status.ToString());
        return failedReply(call_id, errnoOf(status));
      }
      reply.set_outcome(v1::REPLY_OUTCOME_OK);
      reply.set_flags(result->flags);
      if (plan != nullptr) {
        plan->fds = out.takeOutgoingFds();
        plan->deaths = out.pendingDeaths();
      }
      return reply;
    }
    case runtime::RawOutcome::kStatusCode:
      reply.set_outcome(v1::REPLY_OUTCOME_STATUS_CODE);
      reply.set_status(result->status);
      return reply;
    case runtime::RawOutcome::kFailedReply:
      return failedReply(call_id, result->error_errno);
    case runtime::RawOutcome::kDeadReply:
      return deadReply(call_id);
    case runtime::RawOutcome::kFrozenReply:
      return failedReply(call_id, EAGAIN);
  }
  return failedReply(call_id, EINVAL);
}

Reply Session::executeRoot(const Transaction& tx) {
  Reply reply;
  reply.set_call_id(tx.call_id());
  // Every received parcel is validated (docs/protocol.md §9), the root's too; its methods take
  // no objects.
  if (absl::Status valid = wire::validateWireParcel(tx.parcel(), ctx_.own_parcel_limits);
      !valid.ok()) {
    fail(v1::ERROR_CODE_INVALID_PARCEL, std::string(valid.message()));
    return failedReply(tx.call_id(), EINVAL);
  }
  if (tx.parcel().objects_size() != 0) {
    return failedReply(tx.call_id(), EINVAL);
  }
  const std::string& bytes = tx.parcel().data();
  codec::ParcelReader reader(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  runtime::ServiceManager sm(ctx_.conns->main().state(), ctx_.sm_layout);
  codec::ParcelWriter out;
  if (tx.code() == kRootList) {
    absl::StatusOr<std::vector<std::string>> names = sm.listServices();
    if (!names.ok()) {
      return failedReply(tx.call_id(), EIO);
    }
    std::vector<std::string> offered;
    for (const std::string& name : *names) {
      if (exportable(ctx_.export_globs, name))
        offered.push_back(name);
    }
    out.writeInt32(static_cast<int32_t>(offered.size()));
    for (const std::string& name : offered) {
      if (!out.writeString16(std::string_view(name)).ok())
        return failedReply(tx.call_id(), EINVAL);
    }
  } else if (tx.code() == kRootGet) {
    absl::StatusOr<std::u16string> name16 = reader.readString16();
    if (!name16.ok()) {
      return failedReply(tx.call_id(), EINVAL);
    }
    const std::string name = codec::utf16ToUtf8Lossy(*name16);
    std::shared_ptr<runtime::IBinder> binder;
    if (exportable(ctx_.export_globs, name)) {
      absl::StatusOr<std::shared_ptr<runtime::IBinder>> found = sm.checkService(name);
      if (found.ok())
        binder = *found;
    }
    runtime::Proxy* proxy = binder != nullptr ? binder->asProxy() : nullptr;
    runtime::writeBinder(out, proxy != nullptr ? binder : nullptr);
    SessionMapper mapper(*this, &ctx_.conns->main());
    absl::Status status = wire::toWireParcel(viewOf(out.data(), out.offsets(), {}), mapper,
                                             peer_parcel_limits_, reply.mutable_parcel());
    if (proxy != nullptr) {
      const uint32_t handle = proxy->handle();
      ctx_.conns->main().state()->sendFinished(std::span<const uint32_t>(&handle, 1));
    }
    if (!status.ok()) {
      return failedReply(tx.call_id(), errnoOf(status));
    }
    reply.set_outcome(v1::REPLY_OUTCOME_OK);
    return reply;
  } else {
    reply.set_outcome(v1::REPLY_OUTCOME_STATUS_CODE);
    reply.set_status(runtime::kUnknownTransaction);
    return reply;
  }
  reply.mutable_parcel()->set_data(
      std::string(reinterpret_cast<const char*>(out.data().data()), out.data().size()));
  reply.set_outcome(v1::REPLY_OUTCOME_OK);
  return reply;
}

// ---- Calling the peer
// ----------------------------------------------------------------------------

Session::CallResult Session::callPeer(Transaction&& tx, OutgoingFds&& fds) {
  CallResult result;
  Waiter waiter;
  uint64_t call_id = 0;
  std::pair<std::string, uint64_t> chain_key;
  Waiter* outer_chain_waiter = nullptr;
  {
    std::lock_guard lock(mu_);
    if (closed_) {
      result.dead = true;
      return result;
    }
    do {
      call_id = next_call_id_++;
      if (next_call_id_ == 0)
        next_call_id_ = 1;
    } while (call_id == 0 || outgoing_.count(call_id) != 0);
    tx.set_call_id(call_id);
    if (!t_serving.empty()) {
      const ServingEntry& top = t_serving.back();
      *tx.mutable_chain() = top.chain;
      if (top.session == this) {
        tx.set_nested_under_call_id(top.call_id);
      }
    } else {
      tx.mutable_chain()->set_origin_instance_id(ctx_.instance_id);
      tx.mutable_chain()->set_origin_thread(randomNonZero());
    }
    outgoing_[call_id] = &waiter;
    chain_key = {tx.chain().origin_instance_id(), tx.chain().origin_thread()};
    auto [it, inserted] = chains_.try_emplace(chain_key, &waiter);
    if (!inserted) {
      outer_chain_waiter = it->second;
      it->second = &waiter;
    }
  }
  Frame frame;
  *frame.mutable_transaction() = std::move(tx);
  absl::Status sent = sendParcel(std::move(frame), std::move(fds));
  bool abandoned = false;
  if (sent.ok()) {
    std::unique_lock wlock(waiter.mu);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(ctx_.call_timeout_ms);
    for (;;) {
      auto ready = [&] {
        return waiter.reply.has_value() || waiter.dead || !waiter.nested.empty();
      };
      if (ctx_.call_timeout_ms > 0) {
        if (!waiter.cv.wait_until(wlock, deadline, ready)) {
          abandoned = true;
          break;
        }
      } else {
        waiter.cv.wait(wlock, ready);
      }
      if (!waiter.nested.empty()) {
        Transaction nested = std::move(waiter.nested.front());
        waiter.nested.pop_front();
        wlock.unlock();
        serveIncoming(std::move(nested));
        wlock.lock();
        continue;
      }
      break;
    }
    if (waiter.reply.has_value()) {
      result.reply = std::move(*waiter.reply);
      result.fds = takeReceivedFds(ParcelKey{'R', call_id, 0});
    } else {
      result.dead = true;
    }
  } else {
    result.dead = !absl::IsInvalidArgument(sent);
    result.reply = failedReply(call_id, ENOSPC);
  }
  std::deque<Transaction> orphans;
  {
    std::lock_guard lock(mu_);
    auto it = outgoing_.find(call_id);
    if (it != outgoing_.end()) {
      if (abandoned) {
        it->second = nullptr;  // the Reply will still come; it is accounted then (§4)
      } else {
        outgoing_.erase(it);
      }
    }
    auto chain = chains_.find(chain_key);
    if (chain != chains_.end() && chain->second == &waiter) {
      if (outer_chain_waiter != nullptr) {
        chain->second = outer_chain_waiter;
      } else {
        chains_.erase(chain);
      }
    }
    std::lock_guard wlock(waiter.mu);
    orphans.swap(waiter.nested);
  }
  // Nested calls that arrived after we stopped waiting: they still need a thread.
  for (Transaction& orphan : orphans) {
    std::weak_ptr<Session> weak = weak_from_this();
    auto shared = std::make_shared<Transaction>(std::move(orphan));
    ctx_.workers->submit([weak, shared] {
      if (auto session = weak.lock())
        session->serveIncoming(std::move(*shared));
    });
  }
  if (abandoned) {
    spdlog::warn("peer {}: call {} got no reply within {} ms", peer().node.gateway_id(), call_id,
                 ctx_.call_timeout_ms);
  }
  return result;
}

void Session::forwardCall(ImportNode& node, const runtime::RawTransaction& call,
                          runtime::RawResponder* responder) {
  static const pid_t own_pid = ::getpid();  // bindergw never forks; a syscall per call saved
  std::shared_ptr<Conn> conn = node.conn();
  if (conn == nullptr || closed()) {
    if (responder != nullptr)
      (void)responder->replyDead();
    return;
  }
  Transaction tx;
  tx.set_target_export_id(node.importId());
  tx.set_code(call.tr.code);
  tx.set_flags(call.tr.flags);
  tx.mutable_caller()->set_pid(call.tr.sender_pid);
  tx.mutable_caller()->set_euid(call.tr.sender_euid);
  std::optional<LocalConns::HopContext> hop;
  if (call.tr.sender_pid > 0 && call.tr.sender_pid != own_pid) {
    tx.mutable_caller()->set_process_key(static_cast<uint64_t>(call.tr.sender_pid));
  } else if (call.tr.sender_pid == own_pid && t_serving.empty()) {
    // One of our own threads relays a peer's call through this proxy node (a local hop).
    hop = ctx_.conns->takeHop(node.id());
    if (hop) {
      tx.mutable_caller()->set_process_key(hop->process_key);
    }
  }
  SessionMapper mapper(*this, conn.get());
  absl::Status status =
      wire::toWireParcel(viewOf(call.buffer.data, call.buffer.offsets, call.buffer.buffers), mapper,
                         peer_parcel_limits_, tx.mutable_parcel());
  if (!status.ok()) {
    spdlog::warn("peer {}: call 0x{:x} from pid {} not forwarded: {}", peer().node.gateway_id(),
                 call.tr.code, call.tr.sender_pid, status.ToString());
    if (responder != nullptr)
      (void)responder->replyFailed();
    return;
  }
  auto sendDeaths = [&] {
    if (mapper.pendingDeaths().empty())
      return;
    std::lock_guard lock(mu_);
    for (uint64_t id : mapper.pendingDeaths()) {
      Frame frame;
      frame.mutable_death_notice()->set_export_id(id);
      sendLocked(std::move(frame));
    }
  };
  if (responder == nullptr) {
    const uint64_t import_id = node.importId();
    Frame frame;
    *frame.mutable_transaction() = std::move(tx);
    // The oneway_seq is stamped under the send order lock: numbers go out in order.
    (void)sendParcel(std::move(frame), mapper.takeOutgoingFds(), [this, import_id](Frame& f) {
      uint64_t seq = 0;
      {
        std::lock_guard lock(mu_);
        seq = imports_.nextOnewaySeq(import_id);
      }
      f.mutable_transaction()->set_oneway_seq(seq);
      return seq != 0;  // 0: released meanwhile, the object is gone
    });
    sendDeaths();
    return;
  }
  CallResult result;
  {
    ForwardingScope forwarding(conn);
    std::optional<HopScope> hop_scope;
    if (hop) {
      hop_scope.emplace(hop->chain_origin, hop->chain_thread);
    }
    result = callPeer(std::move(tx), mapper.takeOutgoingFds());
  }
  sendDeaths();
  deliverReply(*conn, std::move(result), *responder);
}

void Session::deliverReply(Conn& conn, CallResult&& result, runtime::RawResponder& responder) {
  if (result.dead) {
    (void)responder.replyDead();
    return;
  }
  const Reply& reply = result.reply;
  switch (reply.outcome()) {
    case v1::REPLY_OUTCOME_OK: {
      SessionMapper mapper(*this, &conn, std::move(result.fds));
      absl::StatusOr<wire::LocalBuffer> local =
          wire::fromWireParcel(reply.parcel(), mapper, ctx_.own_parcel_limits);
      if (!local.ok()) {
        if (!wire::isMapperFailure(local.status())) {
          fail(v1::ERROR_CODE_INVALID_PARCEL, std::string(local.status().message()));
        }
        (void)responder.replyFailed();
        return;
      }
      (void)responder.replyBuffer(
          runtime::RawBuffer{local->data(), local->offsets(), local->buffers()}, reply.flags());
      return;
    }
    case v1::REPLY_OUTCOME_STATUS_CODE:
      (void)responder.replyStatus(reply.status());
      return;
    case v1::REPLY_OUTCOME_DEAD_REPLY:
      (void)responder.replyDead();
      return;
    default:
      (void)responder.replyFailed();
      return;
  }
}

void Session::importGone(uint64_t import_id, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (closed_) {
    return;
  }
  auto node = import_nodes_.find(import_id);
  if (node != import_nodes_.end() && node->second.expired()) {
    import_nodes_.erase(node);
  }
  std::optional<ImportTable::Released> released = imports_.release(import_id, generation);
  if (!released) {
    return;
  }
  Frame frame;
  v1::ExportRelease* release = frame.mutable_export_release();
  release->set_export_id(import_id);
  release->set_strong_count(released->strong);
  release->set_weak_count(released->weak);
  sendLocked(std::move(frame));
}

// ---- Discovery (importer side)
// -------------------------------------------------------------------

absl::StatusOr<std::vector<std::string>> Session::listPeerServices() {
  Transaction tx;
  tx.set_code(kRootList);
  tx.mutable_parcel();
  CallResult result = callPeer(std::move(tx), OutgoingFds{});
  if (result.dead) {
    return absl::UnavailableError("session closed");
  }
  if (result.reply.outcome() != v1::REPLY_OUTCOME_OK) {
    return absl::UnavailableError("the peer refused to list its services");
  }
  const std::string& bytes = result.reply.parcel().data();
  codec::ParcelReader reader(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
  absl::StatusOr<int32_t> count = reader.readInt32();
  if (!count.ok() || *count < 0) {
    return absl::DataLossError("bad service list from the peer");
  }
  std::vector<std::string> names;
  for (int32_t i = 0; i < *count; ++i) {
    absl::StatusOr<std::u16string> name = reader.readString16();
    if (!name.ok()) {
      return absl::DataLossError("bad service list from the peer");
    }
    names.push_back(codec::utf16ToUtf8Lossy(*name));
  }
  return names;
}

absl::StatusOr<std::shared_ptr<ImportNode>> Session::getPeerService(const std::string& name) {
  Transaction tx;
  tx.set_code(kRootGet);
  codec::ParcelWriter request;
  if (absl::Status s = request.writeString16(std::string_view(name)); !s.ok()) {
    return s;
  }
  tx.mutable_parcel()->set_data(
      std::string(reinterpret_cast<const char*>(request.data().data()), request.data().size()));
  CallResult result = callPeer(std::move(tx), OutgoingFds{});
  if (result.dead) {
    return absl::UnavailableError("session closed");
  }
  if (result.reply.outcome() != v1::REPLY_OUTCOME_OK) {
    return absl::UnavailableError(absl::StrCat("the peer did not give ", name));
  }
  SessionMapper mapper(*this, nullptr);
  absl::StatusOr<wire::LocalBuffer> local =
      wire::fromWireParcel(result.reply.parcel(), mapper, ctx_.own_parcel_limits);
  if (!local.ok()) {
    return local.status();
  }
  if (mapper.imported().empty()) {
    return nullptr;
  }
  return mapper.imported().front();
}

// ---- Exporter side
// -------------------------------------------------------------------------------

void Session::exportedNodeDied(uint32_t main_handle) {
  std::lock_guard lock(mu_);
  if (closed_) {
    return;
  }
  if (std::optional<uint64_t> id = exports_.markDead(main_handle)) {
    Frame frame;
    frame.mutable_death_notice()->set_export_id(*id);
    sendLocked(std::move(frame));
  }
}

}  // namespace nb::gateway
