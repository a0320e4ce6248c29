#include "runtime/proxy.h"

#include <algorithm>
#include <cstring>

#include "runtime/binder_status.h"
#include "runtime/process_state.h"

namespace nb::runtime {
namespace {

void putU32(std::vector<uint8_t>& out, uint32_t value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  out.insert(out.end(), p, p + sizeof(value));
}

// BC_REQUEST/CLEAR_DEATH_NOTIFICATION payload: packed {u32 handle, u64 cookie}.
void putHandleCookie(std::vector<uint8_t>& out, uint32_t cmd, uint32_t handle, uint64_t cookie) {
  putU32(out, cmd);
  binder_handle_cookie hc{};
  hc.handle = handle;
  hc.cookie = cookie;
  const auto* p = reinterpret_cast<const uint8_t*>(&hc);
  out.insert(out.end(), p, p + sizeof(hc));
}

}  // namespace

Proxy::Proxy(PassKey, std::shared_ptr<ProcessState> state, uint32_t handle, uint64_t death_cookie)
    : state_(std::move(state)), handle_(handle), death_cookie_(death_cookie) {}

Proxy::~Proxy() {
  std::vector<uint8_t> commands;
  if (death_requested_ && !dead_) {
    putHandleCookie(commands, BC_CLEAR_DEATH_NOTIFICATION, handle_, death_cookie_);
  }
  putU32(commands, BC_RELEASE);
  putU32(commands, handle_);
  putU32(commands, BC_DECREFS);
  putU32(commands, handle_);
  state_->forgetProxy(handle_, death_cookie_, this, commands);
}

absl::StatusOr<ReceivedParcel> Proxy::transact(uint32_t code, const codec::ParcelWriter& data,
                                               uint32_t flags) {
  return state_->transact(handle_, code, data, flags);
}

absl::Status Proxy::linkToDeath(const std::shared_ptr<DeathRecipient>& recipient) {
  std::vector<uint8_t> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_) {
      return statusFromStatusT(kDeadObject);
    }
    for (const auto& r : recipients_) {
      if (r.lock() == recipient) {
        return absl::AlreadyExistsError("death recipient already linked");
      }
    }
    recipients_.push_back(recipient);
    if (!death_requested_) {
      death_requested_ = true;
      putHandleCookie(commands, BC_REQUEST_DEATH_NOTIFICATION, handle_, death_cookie_);
    }
  }
  return commands.empty() ? absl::OkStatus() : state_->writeCommands(commands);
}

absl::Status Proxy::unlinkToDeath(const std::shared_ptr<DeathRecipient>& recipient) {
  std::vector<uint8_t> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find_if(recipients_.begin(), recipients_.end(),
                           [&](const auto& r) { return r.lock() == recipient; });
    if (it == recipients_.end()) {
      return absl::NotFoundError("death recipient not linked");
    }
    recipients_.erase(it);
    if (recipients_.empty() && death_requested_ && !dead_) {
      death_requested_ = false;
      putHandleCookie(commands, BC_CLEAR_DEATH_NOTIFICATION, handle_, death_cookie_);
    }
  }
  return commands.empty() ? absl::OkStatus() : state_->writeCommands(commands);
}

bool Proxy::isDead() const {
  std::lock_guard<std::mutex> lock(mu_);
  return dead_;
}

void Proxy::sendObituary() {
  std::vector<std::weak_ptr<DeathRecipient>> recipients;
  std::vector<uint8_t> commands;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (dead_) {
      return;
    }
    dead_ = true;
    recipients.swap(recipients_);
    if (death_requested_) {
      putHandleCookie(commands, BC_CLEAR_DEATH_NOTIFICATION, handle_, death_cookie_);
    }
  }
  std::weak_ptr<IBinder> self = std::static_pointer_cast<IBinder>(shared_from_this());
  for (const auto& weak : recipients) {
    if (auto recipient = weak.lock()) {
      recipient->binderDied(self);
    }
  }
  if (!commands.empty()) {
    (void)state_->writeCommands(commands);
  }
}

}  // namespace nb::runtime
