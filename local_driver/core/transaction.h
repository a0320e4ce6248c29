// Transaction (kernel struct binder_transaction; Rust transaction.rs) and Buffer (struct
// binder_buffer plus the daemon's private record of the buffer's translated objects).
//
// Lifetimes (as the C driver):
//  * A Transaction is created by BC_TRANSACTION/BC_REPLY and freed when it is replied to, when a
//    one-way or a reply is delivered, or when it is failed back (sendFailedReply) or flushed.
//  * A sync Transaction sits on the sender thread's stack (from_parent link) from send until the
//    reply, and on the receiving thread's stack (to_parent link) from delivery until BC_REPLY.
//  * A Buffer lives in the target's area from send until BC_FREE_BUFFER (or the target's death);
//    `transaction` and Transaction::buffer point at each other while both exist.
#pragma once

#include <cstdint>
#include <vector>

#include "local_driver/core/unique_fd.h"
#include "local_driver/core/work_item.h"

namespace nb::driver {

struct Node;
struct Process;
struct Thread;

// What releasing one translated object means, recorded at translation time so that release never
// reads the (client-visible) area. Looked up again by ptr/desc at release, as the kernel does.
struct TranslatedObject {
  enum class Kind : uint8_t {
    kNodeLocal,  // delivered as BINDER/WEAK_BINDER to the node's owner: a local node ref
    kRef,        // delivered as HANDLE/WEAK_HANDLE: a ref in the receiver
    kFdArray,    // FDA: its installed fds are closed when the buffer is freed
    kOther,      // FD, PTR: nothing to release
  };
  Kind kind = Kind::kOther;
  bool strong = false;
  uint64_t ptr = 0;        // kNodeLocal: node ptr in the receiver (its owner)
  uint32_t desc = 0;       // kRef: descriptor in the receiver
  uint32_t fda_first = 0;  // kFdArray: index range in Buffer::fda_fds
  uint32_t fda_count = 0;
};

// An fd taken from the sender, to be installed in the receiver at read time.
struct FdFixup {
  UniqueFd file;
  uint64_t area_offset = 0;  // where the u32 fd number goes
  bool in_fda = false;       // closed at BC_FREE_BUFFER when true (FDA), never for FD objects
};

struct Transaction;

struct Buffer {
  void reset() {
    transaction = nullptr;
    target_node = nullptr;
    objects.clear();
    fd_fixups.clear();
    fda_fds.clear();
  }
  uint64_t endOfData() const { return offset + ((data_size + 7) & ~uint64_t{7}); }

  uint64_t debug_id = 0;
  uint64_t offset = 0;  // in the area
  uint64_t size = 0;    // allocated bytes
  uint64_t data_size = 0;
  uint64_t offsets_size = 0;
  uint64_t extra_size = 0;  // PTR payloads + secctx
  int32_t pid = 0;          // sender tgid (spam detection)
  bool async = false;
  // Set when the buffer is handed to userspace; cleared by the first BC_FREE_BUFFER (Waterdrop,
  // CVE-2019-2025: frees of undelivered or already freed buffers are ignored).
  bool allow_user_free = false;
  bool clear_on_free = false;
  bool oneway_spam_suspect = false;
  Transaction* transaction = nullptr;
  // The node the transaction targets (nullptr for replies). Holds one local strong ref on it,
  // dropped when the buffer is released.
  Node* target_node = nullptr;
  std::vector<TranslatedObject> objects;  // in offsets order, only successfully translated ones
  std::vector<FdFixup> fd_fixups;         // pending until delivery
  std::vector<int> fda_fds;               // installed FDA fd numbers (closed at free)
};

struct Transaction : WorkItem {
  Transaction() : WorkItem(WorkType::kTransaction) {}
  // Pool reuse: every field back to its initial value. Precondition: not queued.
  void reset() {
    debug_id = 0;
    from = nullptr;
    from_parent = nullptr;
    to_proc = nullptr;
    to_thread = nullptr;
    to_parent = nullptr;
    buffer = nullptr;
    code = flags = 0;
    is_reply = need_reply = false;
    sender_pid = sender_tid = 0;
    sender_euid = 0;
    has_secctx = false;
    secctx_offset = 0;
    priority = 0;
    saved_priority = 0;
  }

  uint64_t debug_id = 0;
  Thread* from = nullptr;  // sync call's sender thread; nullptr for one-way/reply or once it died
  Transaction* from_parent = nullptr;  // sender thread's stack below this one
  Process* to_proc = nullptr;          // cleared when the receiving thread dies
  Thread* to_thread = nullptr;         // set at delivery of a sync call (or nested-call routing)
  Transaction* to_parent = nullptr;    // receiving thread's stack below this one
  Buffer* buffer = nullptr;
  uint32_t code = 0;
  uint32_t flags = 0;
  bool is_reply = false;
  bool need_reply = false;
  int32_t sender_pid = 0;  // tgid of the sender process (kept as a value: the sender may die)
  int32_t sender_tid = 0;
  uint32_t sender_euid = 0;
  bool has_secctx = false;
  uint64_t secctx_offset = 0;  // byte offset of the secctx string in the buffer
  int priority = 0;            // the sender's nice at send time
  int saved_priority = 0;      // the receiver's nice before delivery, restored by its BC_REPLY
};

}  // namespace nb::driver
