// Node: a binder object owned by a process (kernel struct binder_node; Rust node.rs), and Death: a
// death-notification registration on a NodeRef (struct binder_ref_death).
//
// Reference counting follows the C driver exactly (kernel-binder.md §6.4):
//  * internal_strong_refs: number of NodeRefs (in other processes) with strong > 0;
//  * refs: the NodeRefs pointing at this node (each is one implicit weak reference);
//  * local_strong_refs / local_weak_refs: references held by the driver itself: transaction
//    buffers (strong, on their target node), BINDER objects delivered back to their owner, and the
//    temporary ref taken while a BR_INCREFS/BR_ACQUIRE is awaiting its DONE;
//  * tmp_refs: a node pinned during a multi-step operation.
//  * has_strong_ref / has_weak_ref: what the owner was last told (BR_ACQUIRE / BR_INCREFS sent);
//    pending_*: a BR_ACQUIRE / BR_INCREFS was read and its BC_*_DONE has not arrived.
// The node's WorkItem is queued (on the owner's todo or a sending thread's todo) when the owner
// must be told about a change; reading it evaluates the counts and emits the BR commands.
#pragma once

#include <cstdint>
#include <vector>

#include "local_driver/core/driver.h"
#include "local_driver/core/work_item.h"

namespace nb::driver {

struct Process;
struct NodeRef;

struct Node : WorkItem {
  Node() : WorkItem(WorkType::kNode) {}

  bool strongCounted() const { return internal_strong_refs > 0 || local_strong_refs > 0; }
  bool weakCounted() const {
    return strongCounted() || !refs.empty() || local_weak_refs > 0 || tmp_refs > 0;
  }
  bool unreferenced() const {
    return refs.empty() && local_strong_refs == 0 && local_weak_refs == 0 && tmp_refs == 0;
  }

  uint64_t debug_id = 0;
  Process* owner = nullptr;  // nullptr once the owner died (the node is then "dead")
  // The owner's id, kept after it died (NB_IOC_REF_OWNER reports it for dead nodes too).
  ProcId owner_id{};
  uint64_t ptr = 0;
  uint64_t cookie = 0;
  // Fixed at creation from the first BINDER object (or SET_CONTEXT_MGR_EXT), §7.5.
  int32_t min_priority = 0;
  bool accept_fds = false;
  bool txn_security_ctx = false;

  int internal_strong_refs = 0;
  int local_strong_refs = 0;
  int local_weak_refs = 0;
  int tmp_refs = 0;
  std::vector<NodeRef*> refs;

  bool has_strong_ref = false;
  bool pending_strong_ref = false;
  bool has_weak_ref = false;
  bool pending_weak_ref = false;

  // One-way serialization (§8.3): set while a oneway buffer to this node is queued or delivered and
  // not yet freed; later oneways wait in async_todo.
  bool has_async_transaction = false;
  WorkList async_todo;
};

struct Death : WorkItem {
  Death() : WorkItem(WorkType::kDeadBinder) {}
  uint64_t cookie = 0;
  // The ref this registration belongs to, cleared by BC_CLEAR_DEATH_NOTIFICATION or ref deletion.
  NodeRef* ref = nullptr;
};

// A process's counted reference to a node (kernel struct binder_ref), found by its descriptor.
struct NodeRef {
  uint64_t debug_id = 0;
  uint32_t desc = 0;
  Process* proc = nullptr;  // the process holding the handle
  Node* node = nullptr;     // INVARIANT: non-null; this ref is in node->refs
  int strong = 0;
  int weak = 0;
  Death* death = nullptr;  // registered death notification, owned by proc->deaths
};

}  // namespace nb::driver
