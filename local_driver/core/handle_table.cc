#include "local_driver/core/handle_table.h"

namespace nb::driver {

NodeRef* HandleTable::byDesc(uint32_t desc) const {
  auto it = by_desc_.find(desc);
  return it == by_desc_.end() ? nullptr : it->second.get();
}

NodeRef* HandleTable::byNode(const Node* node) const {
  auto it = by_node_.find(node);
  return it == by_node_.end() ? nullptr : it->second;
}

NodeRef* HandleTable::insert(Process* proc, Node* node, bool is_context_manager,
                             uint64_t debug_id) {
  // Lowest free descriptor at or above the start: walk the ordered descriptors (C driver loop).
  uint32_t desc = is_context_manager ? 0 : 1;
  for (auto it = by_desc_.lower_bound(desc); it != by_desc_.end() && it->first == desc; ++it) {
    ++desc;
  }
  auto ref = std::make_unique<NodeRef>();
  ref->debug_id = debug_id;
  ref->desc = desc;
  ref->proc = proc;
  ref->node = node;
  NodeRef* raw = ref.get();
  by_desc_.emplace(desc, std::move(ref));
  by_node_.emplace(node, raw);
  return raw;
}

void HandleTable::erase(NodeRef* ref) {
  by_node_.erase(ref->node);
  by_desc_.erase(ref->desc);
}

}  // namespace nb::driver
