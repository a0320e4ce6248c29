// Session: everything this gateway keeps for one peer session (docs/protocol.md §3) and the
// binder side of every frame kind — the adapter between a Link (transport/link.h) and the local
// driver (local_conns.h, import_node.h).
//
// Tables (pure, gateway/core): exports and imports. Around them, under mu_: the outgoing calls
// (call id → the thread waiting for the Reply), the incoming sync calls not yet answered, the
// chains with a thread blocked in them, the per-process connections and the per-export oneway
// queues.
//
// Threads: onFrame runs on the link's reader thread and never blocks: it checks the frame and
// hands it to a waiting thread (Reply, nested Transaction), a worker (new sync call, oneway
// drain) or applies it (RefCount, ExportRelease, DeathNotice). Frames that must stay ordered
// with the table change that causes them are sent under mu_ on the link's non-blocking lane;
// Transactions and Replies are sent outside the lock on the blocking lane.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/wire/transaction_wire.h"
#include "gateway/core/export_table.h"
#include "gateway/core/import_table.h"
#include "gateway/fd/fd_objects.h"
#include "gateway/fd/fd_stream.h"
#include "gateway/local_conns.h"
#include "gateway/session_mapper.h"
#include "gateway/transport/link.h"
#include "gateway/worker_pool.h"
#include "proto/netbinder/v1/frame.pb.h"
#include "runtime/proxy.h"
#include "runtime/raw_call.h"

namespace nb::gateway {

class ImportNode;
class SessionMapper;
class Session;

// Watches one exported node for death on behalf of one session (BR_DEAD_BINDER on the main
// connection's proxy → Session::exportedNodeDied).
class ExportDeathWatch final : public runtime::DeathRecipient {
 public:
  ExportDeathWatch(std::weak_ptr<Session> session, uint32_t main_handle);
  void binderDied(const std::weak_ptr<runtime::IBinder>& who) override;

 private:
  const std::weak_ptr<Session> session_;
  const uint32_t main_handle_;
};

// Owner keys (docs/gateway.md "Connections"). Exports: a node owned by a process → its pid; by
// one of this gateway's own connections → that connection's proc id | kGatewayConnKeyBitValue;
// owner unknown (the kernel driver cannot tell) → its main handle | kUnknownOwnerBitValue, one
// key per node. Imports whose owner the peer did not know get a key of our own, one per import.
inline constexpr uint64_t kGatewayConnKeyBitValue = uint64_t{1} << 63;
inline constexpr uint64_t kUnknownOwnerBitValue = uint64_t{1} << 62;
inline constexpr uint64_t kOwnKeyBitValue = uint64_t{1} << 61;

// What a session needs from its gateway.
struct SessionContext {
  LocalConns* conns = nullptr;
  WorkerPool* workers = nullptr;
  std::string instance_id;                // 16 bytes, this gateway's NodeIdentity
  std::vector<std::string> export_globs;  // local names the root facade offers
  runtime::ServiceManagerLayout sm_layout = runtime::kNewestServiceManagerLayout;
  wire::ParcelLimits own_parcel_limits;  // what we accept
  uint64_t max_outstanding_calls = 1024;
  uint64_t max_oneway_backlog = 10000;
  uint64_t max_imports = 100000;
  int64_t call_timeout_ms = 0;       // 0 = none
  netbinder::v1::Limits own_limits;  // what we advertised (0 fields = protocol defaults)
};

// The parcel limits a Limits message states (0 fields = protocol defaults).
wire::ParcelLimits parcelLimitsOf(const netbinder::v1::Limits& limits);

// Root facade methods (docs/protocol.md §6.1): the peer's view of our exported services.
inline constexpr uint32_t kRootList = 1;  // → int32 n, n × String16 (exported names)
inline constexpr uint32_t kRootGet = 2;  // String16 name → binder (null if absent / not exported)

class Session final : public FrameSink, public std::enable_shared_from_this<Session> {
 public:
  Session(SessionContext context, std::shared_ptr<Link> link);
  ~Session() override;

  // FrameSink.
  void onFrame(netbinder::v1::Frame&& frame) override;
  void onClosed(const absl::Status& why) override;

  const PeerInfo& peer() const { return link_->peer(); }
  bool closed() const;
  // Ends the session (fatal Error to the peer, then teardown through onClosed).
  void close(netbinder::v1::ErrorCode code, const std::string& why);

  // ---- Called by ImportNode ------------------------------------------------------------------
  void forwardCall(ImportNode& node, const runtime::RawTransaction& call,
                   runtime::RawResponder* responder);
  void importGone(uint64_t import_id, uint64_t generation);

  // ---- Importer side of discovery (discovery.h) ----------------------------------------------
  // The peer's exported service names.
  absl::StatusOr<std::vector<std::string>> listPeerServices();
  // The peer's service `name` as a local proxy node (null if the peer has none).
  absl::StatusOr<std::shared_ptr<ImportNode>> getPeerService(const std::string& name);

  // ---- Exporter side -------------------------------------------------------------------------
  // BR_DEAD_BINDER for an exported node (its main handle).
  void exportedNodeDied(uint32_t main_handle);

  // Closes the per-process connections that own no proxy node and run no call (the processes
  // they stood for exited or went quiet). Called periodically by the gateway.
  void closeIdleConns();

  struct Counts {
    size_t exports = 0, imports = 0, calls_out = 0, calls_in = 0, conns = 0;
  };
  Counts counts() const;

 private:
  friend class SessionMapper;
  struct Waiter;
  struct OnewayQueue;
  // What pins an exported node while the peer holds it: the main connection's proxy (its
  // reference), the owner key sent with it, and the death watch.
  struct ExportPin {
    std::shared_ptr<runtime::Proxy> main_proxy;
    uint64_t owner_key = 0;
    // Non-zero when the node is one of this gateway's proxy nodes (a re-exported import): its id.
    uint64_t self_node_cookie = 0;
    std::shared_ptr<ExportDeathWatch> watch;
    ~ExportPin();
  };

  // Frames.
  void onTransaction(netbinder::v1::Transaction&& tx);
  void onReply(netbinder::v1::Reply&& reply);
  void onRefCount(const netbinder::v1::RefCount& refs);
  void onExportRelease(const netbinder::v1::ExportRelease& release);
  void onDeathNotice(const netbinder::v1::DeathNotice& notice);
  // Fatal: the session ends.
  void fail(netbinder::v1::ErrorCode code, const std::string& why);
  // Not fatal: the frame is ignored and the peer gets a non-fatal Error (a peer naming an id it
  // was never given, or giving back more than it holds, harms nothing here).
  void reject(netbinder::v1::ErrorCode code, const std::string& why);

  // Serving the peer's calls.
  struct ReplyPlan {
    netbinder::v1::Reply reply;
    OutgoingFds fds;               // fd payloads that must precede the Reply
    std::vector<uint64_t> deaths;  // DeathNotices that must follow it
  };
  void serveIncoming(netbinder::v1::Transaction tx);
  // `plan` (null for oneways) receives the reply's fds and deaths.
  netbinder::v1::Reply executeIncoming(const netbinder::v1::Transaction& tx, ReplyPlan* plan);
  netbinder::v1::Reply executeRoot(const netbinder::v1::Transaction& tx);
  void drainOneways(uint64_t export_id);
  void sendReply(ReplyPlan&& plan);
  void sendDeathNotices(const std::vector<uint64_t>& ids);
  // Sends a Transaction/Reply frame after its fd payloads, starting its streams, with no other
  // parcel frame in between. `stamp` (under the same order) may edit the frame or cancel it.
  absl::Status sendParcel(netbinder::v1::Frame&& frame, OutgoingFds&& fds,
                          const std::function<bool(netbinder::v1::Frame&)>& stamp = nullptr);

  // File descriptors (docs/protocol.md §8).
  struct ParcelKey {
    char kind = 0;  // 'T' sync transaction (a = call id), 'O' oneway (a = export, b = seq),
                    // 'R' reply (a = call id)
    uint64_t a = 0;
    uint64_t b = 0;
    bool operator<(const ParcelKey& o) const {
      return std::tie(kind, a, b) < std::tie(o.kind, o.a, o.b);
    }
  };
  static ParcelKey parcelKeyOf(const netbinder::v1::Transaction& tx);
  std::shared_ptr<FdBundle> takeReceivedFds(const ParcelKey& key);
  void bundlePendingFdsLocked(const ParcelKey& key);
  void onFdPayload(const netbinder::v1::FdPayload& payload);
  void onFdStreamChunk(const netbinder::v1::FdStreamChunk& chunk);
  // A file whose contents arrive as a content stream (CAPABILITY_FD_LARGE_FILE).
  struct ContentAssembly {
    uint64_t fd_id = 0;
    netbinder::v1::FileContents file;
    std::string bytes;
  };
  // Adds a chunk; at eof the fd is made and becomes pending. Returns an error message or "".
  std::string addContentChunkLocked(ContentAssembly& assembly,
                                    const netbinder::v1::FdStreamChunk& chunk);
  void startStream(UniqueFd fd, FdStreamOptions options);
  void streamFinished(uint64_t stream_id);
  bool hasCapability(netbinder::v1::Capability capability) const;
  // Open fd streams opened by this side (`ours`) or by the peer (mu_ held).
  size_t openStreamsLocked(bool ours) const;
  uint64_t ownLimit(uint64_t value, uint64_t fallback) const;

  // Calling the peer.
  struct CallResult {
    bool dead = false;  // session gone or deadline passed
    netbinder::v1::Reply reply;
    std::shared_ptr<FdBundle> fds;  // the fds sent ahead of the Reply
  };
  CallResult callPeer(netbinder::v1::Transaction&& tx, OutgoingFds&& fds);
  void deliverReply(Conn& conn, CallResult&& result, runtime::RawResponder& responder);

  // Connections.
  absl::StatusOr<std::shared_ptr<Conn>> connForKey(uint64_t key);
  bool ownsConn(const Conn& conn) const;
  // Counts a call running in a connection (closeIdleConns keeps it open meanwhile).
  class CallScope {
   public:
    CallScope(Session& session, Conn& conn);
    ~CallScope();
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    Session& session_;
    Conn& conn_;
  };
  void closeConnForKey(uint64_t key);

  // For SessionMapper.
  absl::StatusOr<wire::WireBinderRef> exportHandle(Conn& conn, uint32_t handle, bool weak,
                                                   std::vector<uint64_t>* deaths);
  // The import a local object of this session's connections stands for (a proxy node coming
  // home), if it is one.
  std::optional<uint64_t> homeImportOf(Conn& conn, uint32_t handle);
  std::optional<uint64_t> importIdOfNode(uint64_t cookie);
  // A local fd of a parcel being sent: its FdPayload (and stream) prepared into `out`; the fd id.
  absl::StatusOr<uint64_t> prepareFd(int fd, OutgoingFds* out);
  void unsendExport(uint64_t export_id, bool weak);
  absl::StatusOr<std::shared_ptr<ImportNode>> importFor(const netbinder::v1::BinderRef& ref);
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> exportedProxy(uint64_t export_id);
  // The owner key of the node behind `handle` of `conn`; *self_cookie gets the node's id when it is
  // one of this gateway's own proxy nodes.
  uint64_t ownerKeyOf(Conn& conn, uint32_t handle, uint32_t main_handle, uint64_t* self_cookie);

  // Exports bookkeeping (mu_ held).
  void unpinLocked(uint64_t key, std::vector<std::shared_ptr<ExportPin>>* drop);
  void sendLocked(netbinder::v1::Frame&& frame);  // non-blocking, ordered lane
  void teardown();

  const SessionContext ctx_;
  const std::shared_ptr<Link> link_;
  const wire::ParcelLimits peer_parcel_limits_;

  mutable std::mutex mu_;
  bool closed_ = false;                                                   // guarded by mu_
  ExportTable exports_;                                                   // guarded by mu_
  ImportTable imports_;                                                   // guarded by mu_
  std::unordered_map<uint64_t, std::shared_ptr<ExportPin>> pins_;         // key → pin, guarded
  std::unordered_map<uint64_t, std::weak_ptr<ImportNode>> import_nodes_;  // guarded by mu_
  std::unordered_map<uint64_t, std::shared_ptr<Conn>> conns_;             // owner key → conn
  std::unordered_map<const Conn*, int> calls_in_conn_;                    // guarded by mu_
  std::unordered_map<uint64_t, Waiter*> outgoing_;                        // call id → waiter
  std::map<std::pair<std::string, uint64_t>, Waiter*> chains_;            // chain → waiter
  std::set<uint64_t> incoming_;                                           // peer call ids
  std::unordered_map<uint64_t, std::unique_ptr<OnewayQueue>> oneways_;    // export id → queue
  uint64_t next_call_id_ = 1;                                             // guarded by mu_
  uint64_t next_unique_key_ = 1;                                          // guarded by mu_
  std::mutex parcel_send_mu_;  // payloads + their parcel frame, oneway stamping: one at a time

  // fds (guarded by mu_).
  std::map<uint64_t, absl::StatusOr<UniqueFd>> pending_fds_;     // received, awaiting their parcel
  std::map<ParcelKey, std::shared_ptr<FdBundle>> received_fds_;  // per received parcel
  uint64_t last_received_fd_id_ = 0;
  uint64_t next_fd_id_ = 1;
  uint64_t next_stream_id_ = 0;  // set from the session's direction (odd when we dialed)
  std::set<uint64_t> seen_stream_ids_;
  std::map<uint64_t, ContentAssembly> assemblies_;  // content streams being received
  std::set<uint64_t> finished_early_;  // streams that finished before startStream registered them
  std::map<uint64_t, std::shared_ptr<FdStream>> streams_;
};

}  // namespace nb::gateway
