// HandleTable: one process's descriptors (handles) -> NodeRef, and node -> NodeRef (a node maps to
// at most one descriptor per process: counts are merged, §7.3).
//
// Numbering (6.1 C driver, binder_get_ref_for_node_olocked): a new ref takes the lowest unused
// descriptor >= 0 if its node is the current context manager, else >= 1. 0 is therefore only ever
// taken by a ref to the context manager.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <unordered_map>

#include "local_driver/core/node.h"

namespace nb::driver {

class HandleTable {
 public:
  NodeRef* byDesc(uint32_t desc) const;
  NodeRef* byNode(const Node* node) const;
  // Creates the ref for `node` (which must have none here) with the lowest free descriptor.
  NodeRef* insert(Process* proc, Node* node, bool is_context_manager, uint64_t debug_id);
  // Destroys `ref` (its descriptor becomes reusable at once).
  void erase(NodeRef* ref);

  bool empty() const { return by_desc_.empty(); }
  size_t size() const { return by_desc_.size(); }
  const std::map<uint32_t, std::unique_ptr<NodeRef>>& all() const { return by_desc_; }

 private:
  std::map<uint32_t, std::unique_ptr<NodeRef>> by_desc_;
  std::unordered_map<const Node*, NodeRef*> by_node_;
};

}  // namespace nb::driver
