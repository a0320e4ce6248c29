// LocalObjectRegistry: the process-wide table of local objects the driver may name, keyed by
// their id (= node ptr = cookie, binder.h). It answers BR_TRANSACTION's cookie with the object and
// keeps the object alive while anything outside the object's own users refers to it:
//
//   * a driver reference: between BR_INCREFS/BR_ACQUIRE and the matching BR_DECREFS/BR_RELEASE
//     (counts per kind; the driver is the source of truth, kernel-binder.md §6.4);
//   * a pending send: from writeBinder() until the transaction or reply carrying the object was
//     accepted by the driver (BR_TRANSACTION_COMPLETE), by which time any BR_INCREFS/BR_ACQUIRE
//     queued for the transfer has been read (§6.4, §17.1). A parcel that is written but never
//     sent keeps its objects alive (documented leak; send or drop such objects explicitly).
//
// An entry with no count left is removed; the object lives on as long as its users hold it.
// Thread-safe; nothing is destroyed under the lock.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>

namespace nb::runtime {

class LocalBinder;

class LocalObjectRegistry {
 public:
  static LocalObjectRegistry& instance();

  void noteFlattened(const std::shared_ptr<LocalBinder>& object);
  // Ends the pending send of each id in `ids` (ids of BINDER objects in a sent buffer).
  void sendFinished(std::span<const uint64_t> ids);
  // The object for `id`, or null when it is unknown or gone.
  std::shared_ptr<LocalBinder> lookup(uint64_t id);

  enum class RefOp : uint8_t { kIncWeak, kIncStrong, kDecStrong, kDecWeak };
  // A BR_INCREFS / BR_ACQUIRE / BR_RELEASE / BR_DECREFS for `id`. Unknown ids are ignored
  // for decrements and recorded without an object for increments.
  void applyDriverRef(uint64_t id, RefOp op);

  // The driver connection that owned node `id` is gone (closed by this process): its counts will
  // never be decremented by the driver, so they are dropped now (pending sends are kept).
  void forgetDriverRefs(uint64_t id);

  struct Counts {
    int weak = 0;
    int strong = 0;
    int pending_sends = 0;
    bool held = false;
  };
  Counts countsForTest(uint64_t id);

 private:
  struct Entry {
    std::weak_ptr<LocalBinder> object;
    std::shared_ptr<LocalBinder> hold;  // set while any count is non-zero
    int weak = 0;
    int strong = 0;
    int pending_sends = 0;
  };
  // Updates hold / erases the entry; moves a hold to drop into *drop (destroyed by the caller
  // after unlocking).
  void settleLocked(uint64_t id, std::shared_ptr<LocalBinder>* drop);

  std::mutex mu_;
  std::unordered_map<uint64_t, Entry> entries_;  // guarded by mu_
};

}  // namespace nb::runtime
