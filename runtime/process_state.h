// ProcessState: one open of a Binder device by this process (libbinder ProcessState).
//
// open() opens the device (device.h), checks BINDER_VERSION, maps the receive area read-only
// (1 MiB − 2 pages, as libbinder) and sets BINDER_SET_MAX_THREADS. Then either
//
//   * startThreadPool(): a first looper thread (BC_ENTER_LOOPER); further threads are spawned on
//     BR_SPAWN_LOOPER up to max_threads (BC_REGISTER_LOOPER); joinThreadPool() makes the calling
//     thread a looper too; shutdown() stops and joins them; or
//   * an external event loop: poll fd() for POLLIN (after setupPolling() on that thread), then call
//     handlePolledCommands() on the same thread: it executes the available work without blocking.
//
// Calls: proxyForHandle(h) / contextObject() give Proxy objects (proxy.h); Proxy::transact runs
// the call on the calling thread's engine (ipc_thread.h): a sync call's wait executes incoming
// nested transactions on the waiting thread.
//
// Ownership: held by shared_ptr. Proxies, received parcels and pool threads hold it; it lives
// until all are gone (call shutdown() to end the pool threads). Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/parcel_writer.h"
#include "runtime/binder.h"
#include "runtime/device.h"
#include "runtime/proxy.h"
#include "runtime/received_parcel.h"

namespace nb::runtime {

class IpcThread;

// libbinder's BINDER_VM_SIZE: 1 MiB minus two pages.
size_t defaultReceiveAreaSize();
inline constexpr uint32_t kDefaultMaxThreads = 15;

struct ProcessOptions {
  DeviceSpec device = resolveDevice(std::nullopt);
  // BINDER_SET_MAX_THREADS: spawned looper threads (the entered main looper is not counted).
  uint32_t max_threads = kDefaultMaxThreads;
  size_t receive_area_size = defaultReceiveAreaSize();
};

class ProcessState : public std::enable_shared_from_this<ProcessState> {
 public:
  struct PassKey {
    explicit PassKey() = default;
  };
  static absl::StatusOr<std::shared_ptr<ProcessState>> open(const ProcessOptions& options);
  ProcessState(PassKey, const ProcessOptions& options, std::unique_ptr<Device> device);
  ~ProcessState();
  ProcessState(const ProcessState&) = delete;
  ProcessState& operator=(const ProcessState&) = delete;

  const ProcessOptions& options() const { return options_; }
  Device& device() { return *device_; }
  int fd() const { return device_->fd(); }

  // ---- Thread pool ---------------------------------------------------------------------------
  // Starts the first looper thread (BC_ENTER_LOOPER). Idempotent.
  void startThreadPool();
  // The calling thread becomes a looper (BC_ENTER_LOOPER) until shutdown().
  void joinThreadPool();
  // Stops every looper thread (wakes blocked reads) and joins the pool threads; bounded
  // (`timeout_ms`). Returns false if some thread did not stop in time. Idempotent.
  bool shutdown(int timeout_ms = 5000);
  bool stopping() const { return stopping_.load(); }
  // Pool threads started so far (the first one and the spawned ones).
  size_t poolThreadCount() const;

  // ---- External event loop -------------------------------------------------------------------
  // Makes the calling thread the poller: BC_ENTER_LOOPER + Device::preparePoll. Returns fd().
  absl::StatusOr<int> setupPolling();
  // Executes the work available to the calling (polling) thread without blocking.
  absl::Status handlePolledCommands();

  // ---- Objects -------------------------------------------------------------------------------
  // BINDER_SET_CONTEXT_MGR_EXT (fallback BINDER_SET_CONTEXT_MGR) with `object` as handle 0.
  absl::Status becomeContextManager(std::shared_ptr<LocalBinder> object);
  // The local context object if this process is the manager, else the proxy for handle 0.
  std::shared_ptr<IBinder> contextObject();
  std::shared_ptr<LocalBinder> localContextObject();
  // The one live proxy for `handle` (created, with its references taken, if none is alive).
  std::shared_ptr<Proxy> proxyForHandle(uint32_t handle);
  // Who owns the node behind `handle` (Device::refOwner: binderd only, Unimplemented on the
  // kernel driver).
  absl::StatusOr<RefOwner> refOwner(uint32_t handle) { return device_->refOwner(handle); }

  // ---- Runtime internals (used by Proxy, ReceivedParcel and the thread engine) ---------------
  // A sync or one-way call from the calling thread.
  absl::StatusOr<ReceivedParcel> transact(uint32_t handle, uint32_t code,
                                          const codec::ParcelWriter& data, uint32_t flags);
  // Writes BC commands now with a write-only BINDER_WRITE_READ from the calling thread.
  absl::Status writeCommands(std::span<const uint8_t> commands);
  // BC_FREE_BUFFER for a received buffer.
  void freeBuffer(binder_uintptr_t buffer);
  // Keeps `proxy` (written into a parcel as a HANDLE) alive until the parcel is sent: the
  // handle must still be referenced when the driver translates it (libbinder's Parcel holds its
  // objects the same way). sendFinished(handles) ends one hold per handle in a sent buffer.
  void holdForSend(std::shared_ptr<Proxy> proxy);
  void sendFinished(std::span<const uint32_t> handles);
  // BR_DEAD_BINDER / proxy teardown bookkeeping.
  void onDeadBinder(uint64_t cookie);
  // ~Proxy: forgets `proxy` and writes its release commands (both under the proxy-table lock).
  void forgetProxy(uint32_t handle, uint64_t death_cookie, const Proxy* proxy,
                   std::span<const uint8_t> release_commands);
  // BR_SPAWN_LOOPER.
  void spawnPooledThread(bool is_main);
  // The calling thread's engine for this process.
  IpcThread& thread();
  // The calling thread's engine if it has one (no engine is created).
  IpcThread* currentThread();
  uint64_t instanceId() const { return instance_id_; }

 private:
  void poolThreadMain(bool is_main);

  const ProcessOptions options_;
  const std::unique_ptr<Device> device_;
  const uint64_t instance_id_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mu_;
  std::unordered_map<uint32_t, std::weak_ptr<Proxy>> proxies_;            // guarded by mu_
  std::unordered_map<uint64_t, std::weak_ptr<Proxy>> death_cookies_;      // guarded by mu_
  uint64_t next_death_cookie_ = 1;                                        // guarded by mu_
  std::shared_ptr<LocalBinder> context_object_;                           // guarded by mu_
  std::unordered_multimap<uint32_t, std::shared_ptr<Proxy>> send_holds_;  // guarded by mu_
  bool pool_started_ = false;                                             // guarded by mu_
  std::vector<std::thread> pool_threads_;                                 // guarded by mu_
  size_t live_pool_threads_ = 0;                                          // guarded by mu_
  std::condition_variable pool_cv_;
};

}  // namespace nb::runtime
