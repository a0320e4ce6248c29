#include "runtime/object_registry.h"

#include "runtime/binder.h"

namespace nb::runtime {

LocalObjectRegistry& LocalObjectRegistry::instance() {
  // Never destroyed: objects may be released from thread-exit paths after static destruction.
  static auto* registry = new LocalObjectRegistry();
  return *registry;
}

void LocalObjectRegistry::noteFlattened(const std::shared_ptr<LocalBinder>& object) {
  std::lock_guard<std::mutex> lock(mu_);
  Entry& entry = entries_[object->id()];
  entry.object = object;
  entry.hold = object;
  ++entry.pending_sends;
}

void LocalObjectRegistry::sendFinished(std::span<const uint64_t> ids) {
  std::vector<std::shared_ptr<LocalBinder>> drops(ids.size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = entries_.find(ids[i]);
      if (it == entries_.end() || it->second.pending_sends == 0) {
        continue;
      }
      --it->second.pending_sends;
      settleLocked(ids[i], &drops[i]);
    }
  }
  // drops destroyed here, outside the lock.
}

std::shared_ptr<LocalBinder> LocalObjectRegistry::lookup(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second.object.lock();
}

void LocalObjectRegistry::applyDriverRef(uint64_t id, RefOp op) {
  std::shared_ptr<LocalBinder> drop;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    if (op == RefOp::kDecStrong || op == RefOp::kDecWeak) {
      return;
    }
    it = entries_.emplace(id, Entry{}).first;
  }
  Entry& entry = it->second;
  switch (op) {
    case RefOp::kIncWeak:
      ++entry.weak;
      break;
    case RefOp::kIncStrong:
      ++entry.strong;
      break;
    case RefOp::kDecStrong:
      entry.strong = entry.strong > 0 ? entry.strong - 1 : 0;
      break;
    case RefOp::kDecWeak:
      entry.weak = entry.weak > 0 ? entry.weak - 1 : 0;
      break;
  }
  settleLocked(id, &drop);
  // `lock` is released before `drop` (declared first, destroyed last).
}

void LocalObjectRegistry::forgetDriverRefs(uint64_t id) {
  std::shared_ptr<LocalBinder> drop;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return;
  }
  it->second.weak = 0;
  it->second.strong = 0;
  settleLocked(id, &drop);
}

LocalObjectRegistry::Counts LocalObjectRegistry::countsForTest(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return {};
  }
  return Counts{it->second.weak, it->second.strong, it->second.pending_sends,
                it->second.hold != nullptr};
}

void LocalObjectRegistry::settleLocked(uint64_t id, std::shared_ptr<LocalBinder>* drop) {
  auto it = entries_.find(id);
  Entry& entry = it->second;
  const bool referenced = entry.weak > 0 || entry.strong > 0 || entry.pending_sends > 0;
  if (referenced) {
    if (entry.hold == nullptr) {
      entry.hold = entry.object.lock();
    }
    return;
  }
  *drop = std::move(entry.hold);
  entries_.erase(it);
}

}  // namespace nb::runtime
