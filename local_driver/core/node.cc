// Node reference counting and the node work item (kernel binder_inc_node_nilocked,
// binder_dec_node_nilocked, BINDER_WORK_NODE; kernel-binder.md §6.4, §17.1–§17.3).
#include "local_driver/core/context.h"

namespace nb::driver {

Node* Context::newNode(Process* proc, uint64_t ptr, uint64_t cookie, uint32_t flags) {
  auto node = std::make_unique<Node>();
  node->debug_id = nextDebugId();
  node->owner = proc;
  node->owner_id = proc->id;
  node->ptr = ptr;
  node->cookie = cookie;
  node->min_priority = static_cast<int32_t>(flags & FLAT_BINDER_FLAG_PRIORITY_MASK);
  node->accept_fds = (flags & FLAT_BINDER_FLAG_ACCEPTS_FDS) != 0;
  node->txn_security_ctx = (flags & FLAT_BINDER_FLAG_TXN_SECURITY_CTX) != 0;
  Node* raw = node.get();
  proc->nodes.emplace(ptr, std::move(node));
  stats_.created(StatObj::kNode);
  return raw;
}

Node* Context::getNode(Process* proc, uint64_t ptr) const {
  auto it = proc->nodes.find(ptr);
  return it == proc->nodes.end() ? nullptr : it->second.get();
}

// `target_thread` non-null: the increment comes with a transfer by that thread, and the owner must
// hear about a 0->1 change from that thread's own read (deferred work on its todo). Null: no work
// may be queued, so incrementing from nothing is invalid (EINVAL), except for the manager node.
int Context::incNode(Node* node, bool strong, bool internal, Thread* target_thread) {
  if (strong) {
    if (internal) {
      if (target_thread == nullptr && node->internal_strong_refs == 0 &&
          !(node->owner != nullptr && node == mgr_node_ && node->has_strong_ref)) {
        return EINVAL;
      }
      node->internal_strong_refs++;
    } else {
      node->local_strong_refs++;
    }
    if (!node->has_strong_ref && target_thread != nullptr) {
      dequeueWork(node);
      enqueueDeferredThreadWork(target_thread, node);
    }
    return 0;
  }
  if (!internal) {
    node->local_weak_refs++;
  }
  if (!node->has_weak_ref && !node->queued()) {
    if (target_thread == nullptr) {
      return EINVAL;
    }
    enqueueDeferredThreadWork(target_thread, node);
  }
  return 0;
}

// Returns true when the node must be freed (no refs of any kind and nothing announced).
bool Context::decNodeNoFree(Node* node, bool strong, bool internal) {
  if (strong) {
    (internal ? node->internal_strong_refs : node->local_strong_refs)--;
    if (node->strongCounted()) {
      return false;
    }
  } else {
    if (!internal) {
      node->local_weak_refs--;
    }
    if (node->local_weak_refs > 0 || node->tmp_refs > 0 || !node->refs.empty()) {
      return false;
    }
  }
  if (node->owner != nullptr && (node->has_strong_ref || node->has_weak_ref)) {
    // The owner must be told (BR_RELEASE / BR_DECREFS) through its process queue.
    if (!node->queued()) {
      enqueueProcWork(node->owner, node);
      wakeupProc(node->owner);
    }
    return false;
  }
  return node->unreferenced();
}

void Context::decNode(Node* node, bool strong, bool internal) {
  if (decNodeNoFree(node, strong, internal)) {
    freeNode(node);
  }
}

void Context::decNodeTmpRef(Node* node) {
  node->tmp_refs--;
  // strong=false, internal=true changes no count but frees the node if nothing holds it.
  decNode(node, /*strong=*/false, /*internal=*/true);
}

void Context::freeNode(Node* node) {
  dequeueWork(node);
  stats_.deleted(StatObj::kNode);
  if (node == mgr_node_) {
    mgr_node_ = nullptr;
  }
  if (Process* owner = node->owner) {
    owner->nodes.erase(node->ptr);  // destroys the node
  } else {
    dead_nodes_.erase(node);
  }
}

// Reading a node's work: compare what the owner was told with the counts and emit, in order,
// BR_INCREFS, BR_ACQUIRE, BR_RELEASE, BR_DECREFS. INCREFS/ACQUIRE take a temporary local ref that
// the matching BC_*_DONE drops. Returns false when the read buffer has no room (EFAULT).
bool Context::writeNodeWork(Process* proc, Node* node, ReturnWriter& out) {
  const bool strong = node->strongCounted();
  const bool weak = node->weakCounted();
  const bool has_strong = node->has_strong_ref;
  const bool has_weak = node->has_weak_ref;
  const binder_ptr_cookie pc{node->ptr, node->cookie};
  if (weak && !has_weak) {
    node->has_weak_ref = true;
    node->pending_weak_ref = true;
    node->local_weak_refs++;
  }
  if (strong && !has_strong) {
    node->has_strong_ref = true;
    node->pending_strong_ref = true;
    node->local_strong_refs++;
  }
  if (!strong && has_strong) {
    node->has_strong_ref = false;
  }
  if (!weak && has_weak) {
    node->has_weak_ref = false;
  }
  if (!weak && !strong) {
    freeNode(node);  // nothing references it any more
  }
  (void)proc;
  bool ok = true;
  if (weak && !has_weak) {
    ok = out.put(BR_INCREFS, pc);
  }
  if (ok && strong && !has_strong) {
    ok = out.put(BR_ACQUIRE, pc);
  }
  if (ok && !strong && has_strong) {
    ok = out.put(BR_RELEASE, pc);
  }
  if (ok && !weak && has_weak) {
    ok = out.put(BR_DECREFS, pc);
  }
  return ok;
}

}  // namespace nb::driver
