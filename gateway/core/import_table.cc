#include "gateway/core/import_table.h"

namespace nb::gateway {

ImportTable::Received ImportTable::receive(uint64_t id, bool weak, uint64_t owner_key) {
  Received received;
  auto [it, created] = entries_.try_emplace(id);
  if (created) {
    it->second.generation = next_generation_++;
    it->second.owner_key = owner_key;
  }
  (weak ? it->second.weak : it->second.strong) += 1;
  received.created = created;
  received.generation = it->second.generation;
  return received;
}

std::optional<ImportTable::Released> ImportTable::release(uint64_t id, uint64_t generation) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.generation != generation) {
    return std::nullopt;
  }
  Released released{it->second.strong, it->second.weak};
  entries_.erase(it);
  return released;
}

bool ImportTable::markDead(uint64_t id) {
  auto it = entries_.find(id);
  if (it == entries_.end()) {
    return false;
  }
  it->second.dead = true;
  return true;
}

uint64_t ImportTable::nextOnewaySeq(uint64_t id) {
  auto it = entries_.find(id);
  return it == entries_.end() ? 0 : it->second.next_oneway_seq++;
}

const ImportTable::Entry* ImportTable::find(uint64_t id) const {
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<uint64_t> ImportTable::drain() {
  std::vector<uint64_t> ids;
  ids.reserve(entries_.size());
  for (const auto& [id, entry] : entries_) {
    ids.push_back(id);
  }
  entries_.clear();
  return ids;
}

}  // namespace nb::gateway
