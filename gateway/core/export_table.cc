#include "gateway/core/export_table.h"

#include <limits>

#include "absl/strings/str_cat.h"

namespace nb::gateway {

uint64_t ExportTable::allocateId() {
  if (!free_ids_.empty()) {
    const uint64_t id = *free_ids_.begin();
    free_ids_.erase(free_ids_.begin());
    return id;
  }
  return next_id_++;
}

absl::StatusOr<ExportTable::Sent> ExportTable::send(uint64_t key, bool weak) {
  Sent sent;
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    if (entries_.size() >= max_entries_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("the peer's import limit (", max_entries_, ") is reached"));
    }
    sent.id = allocateId();
    sent.created = true;
    entries_[sent.id].key = key;
    by_key_[key] = sent.id;
  } else {
    sent.id = it->second;
  }
  Entry& entry = entries_[sent.id];
  (weak ? entry.weak : entry.strong) += 1;
  sent.dead = entry.dead;
  return sent;
}

std::optional<uint64_t> ExportTable::unsend(uint64_t id, bool weak) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return std::nullopt;
  }
  uint64_t& count = weak ? it->second.weak : it->second.strong;
  if (count > 0) {
    --count;
  }
  std::vector<uint64_t> erased;
  eraseIfUnused(id, &erased);
  if (erased.empty()) {
    return std::nullopt;
  }
  return erased.front();
}

void ExportTable::eraseIfUnused(uint64_t id, std::vector<uint64_t>* erased) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.strong != 0 || it->second.weak != 0) {
    return;
  }
  by_key_.erase(it->second.key);
  if (erased != nullptr) {
    erased->push_back(it->second.key);
  }
  entries_.erase(it);
  if (id + 1 == next_id_) {
    --next_id_;
    while (next_id_ > 1 && free_ids_.erase(next_id_ - 1) == 1) {
      --next_id_;
    }
  } else {
    free_ids_.insert(id);
  }
}

namespace {

constexpr uint64_t kMaxCount = std::numeric_limits<uint64_t>::max();

// A peer-supplied increment must not wrap a count (to zero, erasing an entry the peer holds).
absl::Status overflow(uint64_t id, uint64_t count, uint64_t held) {
  return absl::OutOfRangeError(absl::StrCat("increment of ", count, " on export ", id,
                                            " which the peer holds ", held, " times overflows"));
}

}  // namespace

absl::Status ExportTable::applyTo(uint64_t id, RefKind kind, uint64_t count, uint64_t& strong,
                                  uint64_t& weak) {
  switch (kind) {
    case RefKind::kIncStrong:
      if (strong == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("INC_STRONG on export ", id, " without a strong count"));
      }
      if (count > kMaxCount - strong) {
        return overflow(id, count, strong);
      }
      strong += count;
      return absl::OkStatus();
    case RefKind::kIncWeak:
      if (strong == 0 && weak == 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("INC_WEAK on export ", id, " without a count"));
      }
      if (count > kMaxCount - weak) {
        return overflow(id, count, weak);
      }
      weak += count;
      return absl::OkStatus();
    case RefKind::kDecStrong:
    case RefKind::kDecWeak: {
      uint64_t& held = kind == RefKind::kDecStrong ? strong : weak;
      if (held < count) {
        return absl::OutOfRangeError(absl::StrCat("decrement of ", count, " on export ", id,
                                                  " which the peer holds ", held, " times"));
      }
      held -= count;
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError("unknown ref count kind");
}

absl::Status ExportTable::apply(uint64_t id, RefKind kind, uint64_t count,
                                std::vector<uint64_t>* erased) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no export ", id));
  }
  if (absl::Status s = applyTo(id, kind, count, it->second.strong, it->second.weak); !s.ok()) {
    return s;
  }
  eraseIfUnused(id, erased);
  return absl::OkStatus();
}

absl::Status ExportTable::applyBatch(const std::vector<Op>& ops, std::vector<uint64_t>* erased) {
  // Dry run on copies of the counts; an entry whose counts reach zero is gone for later ops.
  std::map<uint64_t, std::pair<uint64_t, uint64_t>> counts;
  for (const Op& op : ops) {
    auto it = counts.find(op.id);
    if (it == counts.end()) {
      const Entry* entry = find(op.id);
      if (entry == nullptr) {
        return absl::NotFoundError(absl::StrCat("no export ", op.id));
      }
      it = counts.emplace(op.id, std::make_pair(entry->strong, entry->weak)).first;
    } else if (it->second.first == 0 && it->second.second == 0) {
      return absl::NotFoundError(
          absl::StrCat("no export ", op.id, " (released earlier in the batch)"));
    }
    if (absl::Status s = applyTo(op.id, op.kind, op.count, it->second.first, it->second.second);
        !s.ok()) {
      return s;
    }
  }
  for (const Op& op : ops) {
    (void)apply(op.id, op.kind, op.count, erased);
  }
  return absl::OkStatus();
}

absl::Status ExportTable::release(uint64_t id, uint64_t strong, uint64_t weak,
                                  std::vector<uint64_t>* erased) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return absl::NotFoundError(absl::StrCat("no export ", id));
  }
  if (it->second.strong < strong || it->second.weak < weak) {
    return absl::OutOfRangeError(absl::StrCat("release of ", strong, "/", weak, " on export ", id,
                                              " held ", it->second.strong, "/", it->second.weak));
  }
  it->second.strong -= strong;
  it->second.weak -= weak;
  // The importer forgot its entry: a fresh import of this id restarts its oneway numbering.
  it->second.next_oneway_seq = 1;
  eraseIfUnused(id, erased);
  return absl::OkStatus();
}

ExportTable::Target ExportTable::target(uint64_t id, uint64_t* key) const {
  const Entry* entry = find(id);
  if (entry == nullptr) {
    return Target::kUnknown;
  }
  if (entry->dead) {
    return Target::kDead;
  }
  if (entry->strong == 0) {
    return Target::kNotStrong;
  }
  *key = entry->key;
  return Target::kOk;
}

absl::StatusOr<uint64_t> ExportTable::home(uint64_t id) const {
  const Entry* entry = find(id);
  if (entry == nullptr || (entry->strong == 0 && entry->weak == 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference to export ", id, " which the peer does not hold"));
  }
  return entry->key;
}

std::optional<uint64_t> ExportTable::markDead(uint64_t key) {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return std::nullopt;
  }
  Entry& entry = entries_[it->second];
  if (entry.dead) {
    return std::nullopt;
  }
  entry.dead = true;
  return it->second;
}

std::optional<uint64_t> ExportTable::idOf(uint64_t key) const {
  auto it = by_key_.find(key);
  if (it == by_key_.end()) {
    return std::nullopt;
  }
  return it->second;
}

bool ExportTable::acceptOneway(uint64_t id, uint64_t seq) {
  auto it = entries_.find(id);
  if (it == entries_.end() || seq != it->second.next_oneway_seq) {
    return false;
  }
  ++it->second.next_oneway_seq;
  return true;
}

std::vector<uint64_t> ExportTable::drain() {
  std::vector<uint64_t> keys;
  keys.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) {
    keys.push_back(entry.key);
  }
  entries_.clear();
  by_key_.clear();
  free_ids_.clear();
  next_id_ = 1;
  return keys;
}

const ExportTable::Entry* ExportTable::find(uint64_t id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace nb::gateway
