#include "runtime/process_state.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "runtime/ipc_thread.h"

namespace nb::runtime {
namespace {

uint64_t nextInstanceId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1);
}

// The calling thread's engines, one per live ProcessState (keyed by the never-reused
// instance id). An engine outliving its ProcessState is dropped on the next lookup.
struct ThreadEngines {
  std::vector<std::pair<uint64_t, std::unique_ptr<IpcThread>>> engines;
};
thread_local ThreadEngines t_engines;

void putU32(std::vector<uint8_t>& out, uint32_t value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(value));
}

}  // namespace

size_t defaultReceiveAreaSize() {
  return (1u << 20) - 2 * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

absl::StatusOr<std::shared_ptr<ProcessState>> ProcessState::open(const ProcessOptions& options) {
  absl::StatusOr<std::unique_ptr<Device>> device = openDevice(options.device);
  if (!device.ok()) {
    return device.status();
  }
  binder_version version{};
  if (int err = (*device)->ioctl(BINDER_VERSION, &version); err != 0) {
    return errnoStatus(err, "BINDER_VERSION");
  }
  if (version.protocol_version != BINDER_CURRENT_PROTOCOL_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat("binder protocol ", version.protocol_version,
                                                      ", want ", BINDER_CURRENT_PROTOCOL_VERSION));
  }
  if (absl::StatusOr<void*> area = (*device)->mapReceiveArea(options.receive_area_size);
      !area.ok()) {
    return area.status();
  }
  uint32_t max_threads = options.max_threads;
  if (int err = (*device)->ioctl(BINDER_SET_MAX_THREADS, &max_threads); err != 0) {
    return errnoStatus(err, "BINDER_SET_MAX_THREADS");
  }
  return std::make_shared<ProcessState>(PassKey(), options, *std::move(device));
}

ProcessState::ProcessState(PassKey, const ProcessOptions& options, std::unique_ptr<Device> device)
    : options_(options), device_(std::move(device)), instance_id_(nextInstanceId()) {}

ProcessState::~ProcessState() {
  // Pool threads hold a shared_ptr, so none is running here (they were joined or detached by
  // shutdown()). Leftover std::thread objects are detached threads already finished.
  for (auto& t : pool_threads_) {
    if (t.joinable()) {
      t.detach();
    }
  }
}

IpcThread& ProcessState::thread() {
  if (IpcThread* engine = currentThread()) {
    return *engine;
  }
  auto& engines = t_engines.engines;
  engines.emplace_back(instance_id_, std::make_unique<IpcThread>(*this));
  return *engines.back().second;
}

IpcThread* ProcessState::currentThread() {
  for (auto& [id, engine] : t_engines.engines) {
    if (id == instance_id_) {
      return engine.get();
    }
  }
  return nullptr;
}

// ---- Thread pool ---------------------------------------------------------------------------

void ProcessState::startThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (pool_started_ || stopping_) {
      return;
    }
    pool_started_ = true;
  }
  spawnPooledThread(true);
}

void ProcessState::spawnPooledThread(bool is_main) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stopping_) {
    return;
  }
  ++live_pool_threads_;
  pool_threads_.emplace_back(
      [self = shared_from_this(), is_main] { self->poolThreadMain(is_main); });
}

void ProcessState::poolThreadMain(bool is_main) {
  thread().joinLoop(is_main);
  // Drop this thread's engine (BINDER_THREAD_EXIT) before saying we are done.
  auto& engines = t_engines.engines;
  std::erase_if(engines, [this](const auto& e) { return e.first == instance_id_; });
  std::lock_guard<std::mutex> lock(mu_);
  --live_pool_threads_;
  pool_cv_.notify_all();
}

void ProcessState::joinThreadPool() { thread().joinLoop(true); }

size_t ProcessState::poolThreadCount() const {
  std::lock_guard<std::mutex> lock(mu_);
  return pool_threads_.size();
}

bool ProcessState::shutdown(int timeout_ms) {
  stopping_ = true;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (live_pool_threads_ > 0 && std::chrono::steady_clock::now() < deadline) {
    lock.unlock();
    device_->wakeAll();  // blocked reads return; loopers see stopping_
    lock.lock();
    pool_cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  const bool all_stopped = live_pool_threads_ == 0;
  std::vector<std::thread> threads;
  threads.swap(pool_threads_);
  lock.unlock();
  for (auto& t : threads) {
    if (t.get_id() == std::this_thread::get_id() || !all_stopped) {
      t.detach();
    } else {
      t.join();
    }
  }
  return all_stopped;
}

// ---- External event loop -----------------------------------------------------------------------

absl::StatusOr<int> ProcessState::setupPolling() {
  if (absl::Status status = thread().setupPolling(); !status.ok()) {
    return status;
  }
  return fd();
}

absl::Status ProcessState::handlePolledCommands() { return thread().handlePolledCommands(); }

// ---- Objects -----------------------------------------------------------------------------------

absl::Status ProcessState::becomeContextManager(std::shared_ptr<LocalBinder> object) {
  flat_binder_object obj{};
  obj.hdr.type = BINDER_TYPE_BINDER;
  obj.flags = FLAT_BINDER_FLAG_ACCEPTS_FDS;
  int err = device_->ioctl(BINDER_SET_CONTEXT_MGR_EXT, &obj);
  if (err == EINVAL) {  // old drivers
    int zero = 0;
    err = device_->ioctl(BINDER_SET_CONTEXT_MGR, &zero);
  }
  if (err != 0) {
    return errnoStatus(err, "BINDER_SET_CONTEXT_MGR");
  }
  std::lock_guard<std::mutex> lock(mu_);
  context_object_ = std::move(object);
  return absl::OkStatus();
}

std::shared_ptr<LocalBinder> ProcessState::localContextObject() {
  std::lock_guard<std::mutex> lock(mu_);
  return context_object_;
}

std::shared_ptr<IBinder> ProcessState::contextObject() {
  if (auto local = localContextObject()) {
    return local;
  }
  return proxyForHandle(0);
}

std::shared_ptr<Proxy> ProcessState::proxyForHandle(uint32_t handle) {
  std::shared_ptr<Proxy> proxy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = proxies_.find(handle);
    if (it != proxies_.end()) {
      if (auto existing = it->second.lock()) {
        return existing;
      }
    }
    const uint64_t cookie = next_death_cookie_++;
    proxy = std::make_shared<Proxy>(Proxy::PassKey(), shared_from_this(), handle, cookie);
    proxies_[handle] = proxy;
    death_cookies_[cookie] = proxy;
    // Written under mu_, as ~Proxy's release is (forgetProxy): the driver sees the +1 of a new
    // proxy and the -1 of an old one for the same handle in a consistent order, so the ref is
    // never deleted between them.
    std::vector<uint8_t> commands;
    putU32(commands, BC_INCREFS);
    putU32(commands, handle);
    putU32(commands, BC_ACQUIRE);
    putU32(commands, handle);
    (void)writeCommands(commands);
  }
  return proxy;
}

void ProcessState::forgetProxy(uint32_t handle, uint64_t death_cookie, const Proxy* proxy,
                               std::span<const uint8_t> release_commands) {
  std::lock_guard<std::mutex> lock(mu_);
  (void)writeCommands(release_commands);
  death_cookies_.erase(death_cookie);
  auto it = proxies_.find(handle);
  // Only erase a dead slot (ours: `proxy` is being destroyed): a newer live proxy may already
  // own the handle. No lock() here: it could make this scope drop a last reference under mu_.
  (void)proxy;
  if (it != proxies_.end() && it->second.expired()) {
    proxies_.erase(it);
  }
}

void ProcessState::holdForSend(std::shared_ptr<Proxy> proxy) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint32_t handle = proxy->handle();
  send_holds_.emplace(handle, std::move(proxy));
}

void ProcessState::sendFinished(std::span<const uint32_t> handles) {
  std::vector<std::shared_ptr<Proxy>> drops;  // destroyed after unlocking (~Proxy locks mu_)
  std::lock_guard<std::mutex> lock(mu_);
  for (uint32_t handle : handles) {
    auto it = send_holds_.find(handle);
    if (it != send_holds_.end()) {
      drops.push_back(std::move(it->second));
      send_holds_.erase(it);
    }
  }
}

void ProcessState::onDeadBinder(uint64_t cookie) {
  std::shared_ptr<Proxy> proxy;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = death_cookies_.find(cookie);
    if (it != death_cookies_.end()) {
      proxy = it->second.lock();
    }
  }
  if (proxy != nullptr) {
    proxy->sendObituary();
  }
}

// ---- Calls -------------------------------------------------------------------------------------

absl::StatusOr<ReceivedParcel> ProcessState::transact(uint32_t handle, uint32_t code,
                                                      const codec::ParcelWriter& data,
                                                      uint32_t flags) {
  return thread().transact(handle, code, data, flags);
}

absl::Status ProcessState::writeCommands(std::span<const uint8_t> commands) {
  size_t done = 0;
  while (done < commands.size()) {
    binder_write_read bwr{};
    bwr.write_size = commands.size() - done;
    bwr.write_buffer = reinterpret_cast<binder_uintptr_t>(commands.data() + done);
    int err = device_->ioctl(BINDER_WRITE_READ, &bwr);
    done += bwr.write_consumed;
    if (err == EINTR) {
      continue;
    }
    if (err != 0) {
      return errnoStatus(err, "BINDER_WRITE_READ (write)");
    }
    if (bwr.write_consumed == 0) {
      // A pending error on this thread blocks further commands (§3.1); it is read by the
      // thread's next transaction.
      return absl::InternalError("BINDER_WRITE_READ consumed nothing");
    }
  }
  return absl::OkStatus();
}

void ProcessState::freeBuffer(binder_uintptr_t buffer) {
  // As libbinder: a looper thread sends the free with its next command, which follows at once
  // (it goes back to reading), saving an ioctl per call; other threads free now so that no
  // buffer is held by a thread that may not talk to the driver again for a long time.
  if (IpcThread* engine = currentThread(); engine != nullptr && engine->defersFrees()) {
    engine->queueFree(buffer);
    return;
  }
  std::vector<uint8_t> commands;
  putU32(commands, BC_FREE_BUFFER);
  const auto* p = reinterpret_cast<const uint8_t*>(&buffer);
  commands.insert(commands.end(), p, p + sizeof(buffer));
  (void)writeCommands(commands);
}

}  // namespace nb::runtime
