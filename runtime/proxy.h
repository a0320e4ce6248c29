// Proxy: this process's handle to an object in another process (libbinder BpBinder).
//
// There is at most one live Proxy per handle per ProcessState (ProcessState::proxyForHandle).
// Creating it takes the process's reference on the handle (BC_INCREFS + BC_ACQUIRE, written at
// once, so a handle read from a buffer is referenced before the buffer is freed,
// kernel-binder.md §17.2); destroying the last shared_ptr gives it back (BC_RELEASE +
// BC_DECREFS, after BC_CLEAR_DEATH_NOTIFICATION when a death registration is still active).
// Handle 0 is the context manager.
//
// Death: linkToDeath registers BC_REQUEST_DEATH_NOTIFICATION once (cookie = a per-proxy id) and
// keeps weak references to the recipients; when BR_DEAD_BINDER arrives, every linked recipient's
// binderDied runs once (on the looper thread that read it), then the runtime sends
// BC_CLEAR_DEATH_NOTIFICATION and BC_DEAD_BINDER_DONE. Reading BR_DEAD_BINDER needs a looper
// (startThreadPool) or an external loop calling handlePolledCommands.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/binder.h"

namespace nb::runtime {

class ProcessState;

class Proxy final : public IBinder, public std::enable_shared_from_this<Proxy> {
 public:
  struct PassKey {
    explicit PassKey() = default;
  };
  // Use ProcessState::proxyForHandle.
  Proxy(PassKey, std::shared_ptr<ProcessState> state, uint32_t handle, uint64_t death_cookie);
  ~Proxy() override;

  absl::StatusOr<ReceivedParcel> transact(uint32_t code, const codec::ParcelWriter& data,
                                          uint32_t flags = 0) override;
  Proxy* asProxy() override { return this; }

  uint32_t handle() const { return handle_; }
  const std::shared_ptr<ProcessState>& state() const { return state_; }

  // AlreadyExists if `recipient` is linked already; Unavailable (dead object) if the binder is
  // known dead.
  absl::Status linkToDeath(const std::shared_ptr<DeathRecipient>& recipient);
  // NotFound if `recipient` is not linked. Clears the driver registration with the last one.
  absl::Status unlinkToDeath(const std::shared_ptr<DeathRecipient>& recipient);
  // True once BR_DEAD_BINDER was received for this proxy.
  bool isDead() const;

  // Runtime use: BR_DEAD_BINDER for this proxy's cookie.
  void sendObituary();

 private:
  const std::shared_ptr<ProcessState> state_;
  const uint32_t handle_;
  // The BC_REQUEST_DEATH_NOTIFICATION cookie: unique per proxy, never a pointer.
  const uint64_t death_cookie_;
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<DeathRecipient>> recipients_;  // guarded by mu_
  bool death_requested_ = false;                           // guarded by mu_
  bool dead_ = false;                                      // guarded by mu_
};

}  // namespace nb::runtime
