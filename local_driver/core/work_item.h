// WorkItem / WorkList: the queued things a read delivers (the kernel's struct binder_work and its
// todo lists). Items are intrusive: each lives inside its owner (a Transaction, a Node, a Death, a
// thread's error slot, a pooled CodeWork), so queueing never allocates, and an item can be removed
// from whatever list holds it in O(1) (node work moves between lists; deaths are cancelled).
//
// INVARIANT: an item is in at most one list at a time; `list` names it (nullptr when unqueued).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nb::driver {

enum class WorkType : uint8_t {
  kTransaction,             // Transaction: BR_TRANSACTION / BR_TRANSACTION_SEC_CTX / BR_REPLY
  kTransactionComplete,     // CodeWork: BR_TRANSACTION_COMPLETE
  kOnewaySpamSuspect,       // CodeWork: BR_ONEWAY_SPAM_SUSPECT (instead of COMPLETE)
  kReturnError,             // ErrorWork: a bare BR code (thread's return_error / reply_error)
  kNode,                    // Node: BR_INCREFS / BR_ACQUIRE / BR_RELEASE / BR_DECREFS
  kDeadBinder,              // Death: BR_DEAD_BINDER
  kDeadBinderAndClear,      // Death: BR_DEAD_BINDER, then CLEAR_DONE after BC_DEAD_BINDER_DONE
  kClearDeathNotification,  // Death: BR_CLEAR_DEATH_NOTIFICATION_DONE
};

class WorkList;

struct WorkItem {
  explicit WorkItem(WorkType t) : type(t) {}
  WorkItem(const WorkItem&) = delete;
  WorkItem& operator=(const WorkItem&) = delete;

  bool queued() const { return list != nullptr; }

  WorkType type;
  WorkItem* prev = nullptr;
  WorkItem* next = nullptr;
  WorkList* list = nullptr;
};

class WorkList {
 public:
  WorkList() = default;
  WorkList(const WorkList&) = delete;
  WorkList& operator=(const WorkList&) = delete;

  bool empty() const { return head_ == nullptr; }
  WorkItem* front() const { return head_; }
  size_t size() const { return size_; }

  void pushBack(WorkItem* w) {
    // Callers dequeue first; an item in two lists would corrupt both.
    w->list = this;
    w->next = nullptr;
    w->prev = tail_;
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
    ++size_;
  }

  WorkItem* popFront() {
    WorkItem* w = head_;
    if (w != nullptr) {
      remove(w);
    }
    return w;
  }

  void remove(WorkItem* w) {
    if (w->list != this) {
      return;
    }
    (w->prev != nullptr ? w->prev->next : head_) = w->next;
    (w->next != nullptr ? w->next->prev : tail_) = w->prev;
    w->prev = w->next = nullptr;
    w->list = nullptr;
    --size_;
  }

  template <typename F>
  void forEach(F&& f) const {
    for (WorkItem* w = head_; w != nullptr; w = w->next) {
      f(w);
    }
  }

 private:
  WorkItem* head_ = nullptr;
  WorkItem* tail_ = nullptr;
  size_t size_ = 0;
};

// Removes `w` from whichever list holds it (no-op if unqueued).
inline void dequeueWork(WorkItem* w) {
  if (w->list != nullptr) {
    w->list->remove(w);
  }
}

// A payload-less BR code queued as work (BR_TRANSACTION_COMPLETE, BR_ONEWAY_SPAM_SUSPECT). Pooled
// by the Context so a transaction allocates none.
struct CodeWork : WorkItem {
  CodeWork() : WorkItem(WorkType::kTransactionComplete) {}
};

// One of a thread's two preallocated error slots (kernel: thread->return_error / reply_error).
// INVARIANT: cmd == BR_OK exactly when the item is not queued.
struct ErrorWork : WorkItem {
  ErrorWork() : WorkItem(WorkType::kReturnError) {}
  uint32_t cmd = 0;  // BR_OK is 0x7201; initialised by Thread
};

}  // namespace nb::driver
