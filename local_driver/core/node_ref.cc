// Handles (NodeRef) and death notifications (kernel binder_inc_ref_olocked, binder_dec_ref_olocked,
// binder_cleanup_ref_olocked, BC_REQUEST/CLEAR_DEATH_NOTIFICATION, BC_DEAD_BINDER_DONE;
// kernel-binder.md §4, §6.5, §7.3).
#include "local_driver/core/context.h"

namespace nb::driver {

NodeRef* Context::getRef(Process* proc, uint32_t desc, bool need_strong) const {
  NodeRef* ref = proc->refs.byDesc(desc);
  if (ref == nullptr || (need_strong && ref->strong == 0)) {
    return nullptr;  // weak refs cannot be used as strong ones (§17.3)
  }
  return ref;
}

int Context::incRefForNode(Process* proc, Node* node, bool strong, Thread* target_thread,
                           uint32_t* desc_out) {
  NodeRef* ref = proc->refs.byNode(node);
  bool created = false;
  if (ref == nullptr) {
    ref = proc->refs.insert(proc, node, node == mgr_node_, nextDebugId());
    node->refs.push_back(ref);
    stats_.created(StatObj::kRef);
    created = true;
  }
  const int ret = incRef(ref, strong, target_thread);
  *desc_out = ref->desc;
  if (ret != 0 && created) {
    deleteRef(ref);
  }
  return ret;
}

int Context::incRef(NodeRef* ref, bool strong, Thread* target_thread) {
  int& count = strong ? ref->strong : ref->weak;
  if (count == 0) {
    const int ret = incNode(ref->node, strong, /*internal=*/true, target_thread);
    if (ret != 0) {
      return ret;
    }
  }
  count++;
  return 0;
}

// Returns true when the ref was deleted (both counts reached 0).
bool Context::decRef(NodeRef* ref, bool strong) {
  if (strong) {
    if (ref->strong == 0) {
      return false;  // underflow: ignored
    }
    if (--ref->strong == 0) {
      decNode(ref->node, /*strong=*/true, /*internal=*/true);
    }
  } else {
    if (ref->weak == 0) {
      return false;
    }
    ref->weak--;
  }
  if (ref->strong == 0 && ref->weak == 0) {
    deleteRef(ref);
    return true;
  }
  return false;
}

// Deletes the ref: its counts leave the node, its descriptor becomes free, and its death
// registration is discarded silently (§6.5: dropping the last ref with a registration).
void Context::deleteRef(NodeRef* ref) {
  Node* node = ref->node;
  if (ref->strong > 0) {
    (void)decNodeNoFree(node, /*strong=*/true, /*internal=*/true);
  }
  std::erase(node->refs, ref);
  const bool free_node = decNodeNoFree(node, /*strong=*/false, /*internal=*/true);
  Process* proc = ref->proc;
  if (Death* death = ref->death) {
    freeDeath(proc, death);
  }
  proc->refs.erase(ref);
  stats_.deleted(StatObj::kRef);
  if (free_node) {
    freeNode(node);
  }
}

int Context::updateRefForHandle(Process* proc, uint32_t desc, bool increment, bool strong) {
  NodeRef* ref = getRef(proc, desc, strong);
  if (ref == nullptr) {
    return EINVAL;
  }
  if (increment) {
    return incRef(ref, strong, nullptr);
  }
  (void)decRef(ref, strong);
  return 0;
}

Death* Context::newDeath(Process* proc, NodeRef* ref, uint64_t cookie) {
  auto death = std::make_unique<Death>();
  death->cookie = cookie;
  death->ref = ref;
  Death* raw = death.get();
  proc->deaths.emplace(raw, std::move(death));
  stats_.created(StatObj::kDeath);
  return raw;
}

void Context::freeDeath(Process* proc, Death* death) {
  dequeueWork(death);
  if (death->ref != nullptr && death->ref->death == death) {
    death->ref->death = nullptr;
  }
  stats_.deleted(StatObj::kDeath);
  proc->deaths.erase(death);
}

void Context::handleBcDeathNotification(Process* proc, Thread* thread, uint32_t cmd,
                                        uint32_t target, uint64_t cookie) {
  NodeRef* ref = getRef(proc, target, /*need_strong=*/false);
  if (ref == nullptr) {
    return;  // invalid handle: ignored
  }
  if (cmd == BC_REQUEST_DEATH_NOTIFICATION) {
    if (ref->death != nullptr) {
      return;  // already registered: ignored
    }
    Death* death = newDeath(proc, ref, cookie);
    ref->death = death;
    if (ref->node->owner == nullptr) {
      death->type = WorkType::kDeadBinder;  // already dead: notify at once
      enqueueProcWork(proc, death);
      wakeupProc(proc);
    }
    return;
  }
  Death* death = ref->death;
  if (death == nullptr || death->cookie != cookie) {
    return;  // nothing registered / cookie mismatch: ignored
  }
  ref->death = nullptr;
  death->ref = nullptr;
  if (!death->queued()) {
    death->type = WorkType::kClearDeathNotification;
    if ((thread->looper & (kLooperRegistered | kLooperEntered)) != 0) {
      enqueueThreadWork(thread, death);
    } else {
      enqueueProcWork(proc, death);
      wakeupProc(proc);
    }
  } else {
    // BR_DEAD_BINDER is queued or delivered and not acked: it is still delivered, and the
    // CLEAR_DONE follows BC_DEAD_BINDER_DONE.
    death->type = WorkType::kDeadBinderAndClear;
  }
}

void Context::handleBcDeadBinderDone(Process* proc, Thread* thread, uint64_t cookie) {
  Death* death = nullptr;
  for (WorkItem* w = proc->delivered_death.front(); w != nullptr; w = w->next) {
    if (static_cast<Death*>(w)->cookie == cookie) {
      death = static_cast<Death*>(w);
      break;
    }
  }
  if (death == nullptr) {
    return;  // unknown cookie: ignored
  }
  dequeueWork(death);
  if (death->type == WorkType::kDeadBinderAndClear) {
    death->type = WorkType::kClearDeathNotification;
    if ((thread->looper & (kLooperRegistered | kLooperEntered)) != 0) {
      enqueueThreadWork(thread, death);
    } else {
      enqueueProcWork(proc, death);
      wakeupProc(proc);
    }
  }
}

}  // namespace nb::driver
