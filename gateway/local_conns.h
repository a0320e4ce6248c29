// LocalConns: the gateway's opens of the local Binder device (docs/gateway.md "Connections").
//
//   main        the gateway's own connection: it looks services up, holds the canonical handle of
//               every node the gateway exports (one handle per node per process, so the main
//               handle number identifies a node), watches exported nodes for death, and serves
//               the hub (below).
//   per-process one connection per (peer session, remote process): it owns the proxy nodes of
//               that remote process's objects — closing it kills exactly them, so local holders
//               get BR_DEAD_BINDER from the driver itself — and it issues the calls that process
//               makes, so that a callee's calls back into that process's objects reach the thread
//               that waits (the driver's nested-call rule, kernel-binder.md §6.3).
//
// A handle is only valid in the connection that received it. The hub moves references between
// connections with ordinary transactions: a connection PUTs a node to main (main gets its
// canonical handle) and GETs a main handle back as a handle of its own. The hub is the service
// "netbinder.gateway" in the local servicemanager (also the gateway's state dump, code 1).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "runtime/binder.h"
#include "runtime/process_state.h"
#include "runtime/proxy.h"
#include "runtime/service_manager_codes.h"

namespace nb::gateway {

inline constexpr char kGatewayServiceName[] = "netbinder.gateway";
inline constexpr char16_t kGatewayDescriptor[] = u"netbinder.gateway.IGateway";
inline constexpr uint32_t kGatewayDumpState = 1;  // String dumpState()
// Private to the gateway's own connections (refused from any other pid).
inline constexpr uint32_t kHubPut = B_PACK_CHARS('N', 'B', 'P', 'T');
inline constexpr uint32_t kHubGet = B_PACK_CHARS('N', 'B', 'G', 'T');

class Hub;

// One open of the device with its looper pool.
class Conn {
 public:
  Conn(std::shared_ptr<runtime::ProcessState> state, std::string name)
      : state_(std::move(state)), name_(std::move(name)) {}
  const std::shared_ptr<runtime::ProcessState>& state() const { return state_; }
  // binderd's id of this open (0 when unknown: the kernel driver, or main): the owner key
  // (session.h) of the nodes it owns, and of the calls it issues.
  uint64_t procId() const { return proc_id_; }
  const std::string& name() const { return name_; }
  bool isMain() const { return hub_ == nullptr; }

  // This connection's proxy for the node behind `main_proxy` (a main-connection proxy); cached
  // while `main_proxy`'s node is exported or otherwise pinned by the caller.
  std::shared_ptr<runtime::Proxy> cached(uint32_t main_handle);
  void cache(uint32_t main_handle, std::shared_ptr<runtime::Proxy> proxy);
  void uncache(uint32_t main_handle);
  // The main handle a handle of this connection was canonicalised to (0 = unknown).
  uint32_t mainHandleOf(uint32_t handle);
  void noteMainHandle(uint32_t handle, uint32_t main_handle);
  // Stops the pool and drops the connection's device once the last user lets go: the driver then
  // releases every node the connection owns.
  void close();

 private:
  friend class LocalConns;
  const std::shared_ptr<runtime::ProcessState> state_;
  const std::string name_;
  std::shared_ptr<runtime::IBinder> hub_;  // main's hub as seen from here; null for main
  uint64_t proc_id_ = 0;
  std::mutex mu_;
  std::unordered_map<uint32_t, std::shared_ptr<runtime::Proxy>> by_main_handle_;  // guarded
  std::unordered_map<uint32_t, uint32_t> main_of_;                                // guarded
};

class LocalConns {
 public:
  struct Options {
    runtime::DeviceSpec device;
    uint32_t max_threads = 8;
    size_t receive_area_size = runtime::defaultReceiveAreaSize();  // binder mmap per connection
    runtime::ServiceManagerLayout sm_layout = runtime::kNewestServiceManagerLayout;
  };
  // Opens main, starts its pool and registers the hub as "netbinder.gateway". `dump` renders
  // the state for kGatewayDumpState.
  static absl::StatusOr<std::unique_ptr<LocalConns>> open(const Options& options,
                                                          std::function<std::string()> dump);
  ~LocalConns();

  Conn& main() { return *main_; }
  const std::shared_ptr<Conn>& mainShared() { return main_; }
  const Options& options() const { return options_; }
  // A new per-process connection (pool started, hub looked up).
  absl::StatusOr<std::shared_ptr<Conn>> openConn(const std::string& name);

  // The main-connection proxy (canonical identity) for `handle` of `conn`.
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> canonical(Conn& conn, uint32_t handle);
  // The main-connection proxy for a local object of `owner` (one of the gateway's proxy nodes).
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> putLocal(
      Conn& owner, const std::shared_ptr<runtime::LocalBinder>& object);
  // `conn`'s proxy for the node behind a main proxy (the proxy itself for main).
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> inConn(
      Conn& conn, const std::shared_ptr<runtime::Proxy>& main_proxy, bool cache);
  size_t openCount() const;

  // Local hops (docs/gateway.md "Nested calls"): a gateway thread that executes a peer's call
  // on a node which is itself one of the gateway's proxy nodes (a re-exported import) leaves the
  // call's chain here; the pool thread of the proxy node's connection that picks the call up
  // takes it, so the chain continues to the next peer. The driver does not tell which of our
  // threads sent a transaction, so contexts are matched per node in FIFO order — a mismatch can
  // only choose which waiting thread runs a nested call.
  struct HopContext {
    std::string chain_origin;
    uint64_t chain_thread = 0;
    uint64_t process_key = 0;
  };
  uint64_t pushHop(uint64_t node_cookie, HopContext context);
  std::optional<HopContext> takeHop(uint64_t node_cookie);
  void dropHop(uint64_t node_cookie, uint64_t token);

 private:
  LocalConns(Options options, std::shared_ptr<Conn> main, std::shared_ptr<Hub> hub);
  absl::StatusOr<std::shared_ptr<runtime::Proxy>> put(Conn& from, codec::ParcelWriter& request);

  const Options options_;
  const std::shared_ptr<Conn> main_;
  const std::shared_ptr<Hub> hub_;
  mutable std::mutex mu_;
  size_t open_count_ = 1;        // guarded by mu_
  uint64_t next_hop_token_ = 1;  // guarded by mu_
  std::unordered_map<uint64_t, std::deque<std::pair<uint64_t, HopContext>>> hops_;  // guarded
};

}  // namespace nb::gateway
