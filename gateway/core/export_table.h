// ExportTable: this gateway's exports to one peer (docs/protocol.md §3, §5): local node ↔ export
// id, with the counts the peer holds. Pure bookkeeping: the caller pins and unpins local nodes
// as entries appear and are erased (the `erased` outputs), and sends the frames.
//
// Invariants (enforced here): one entry per local node key; ids are non-zero, lowest free first,
// reused only after erasure; an entry exists while either peer-held count is non-zero; a count
// never goes below zero (a decrement that would is refused and changes nothing).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nb::gateway {

enum class RefKind : uint8_t { kIncStrong, kDecStrong, kIncWeak, kDecWeak };

class ExportTable {
 public:
  explicit ExportTable(size_t max_entries) : max_entries_(max_entries) {}

  struct Sent {
    uint64_t id = 0;
    bool created = false;  // a new entry: the caller pins the local node
    bool dead = false;     // the node is known dead: a DeathNotice must follow the reference
  };
  // A SENDER_EXPORT reference to local node `key` is being sent: find or create its entry and add
  // one peer-held count. ResourceExhausted when a new entry would exceed max_entries.
  absl::StatusOr<Sent> send(uint64_t key, bool weak);
  // Undoes one send() (the parcel carrying it was not sent). Returns the key if this erased the
  // entry (the caller unpins it).
  std::optional<uint64_t> unsend(uint64_t id, bool weak);

  // The importer's RefCount op / ExportRelease. NotFound: unknown id (UNKNOWN_EXPORT).
  // OutOfRange: below zero (REFCOUNT_UNDERFLOW), or an INC that would overflow the count.
  // FailedPrecondition: an INC the importer may not make (INC_STRONG without a strong count,
  // INC_WEAK without any). `erased` gets the key of an entry this erased.
  absl::Status apply(uint64_t id, RefKind kind, uint64_t count, std::vector<uint64_t>* erased);
  struct Op {
    uint64_t id = 0;
    RefKind kind = RefKind::kIncStrong;
    uint64_t count = 0;
  };
  // A RefCount batch, all or nothing: if any op would fail (same errors as apply), none is applied.
  absl::Status applyBatch(const std::vector<Op>& ops, std::vector<uint64_t>* erased);
  absl::Status release(uint64_t id, uint64_t strong, uint64_t weak, std::vector<uint64_t>* erased);

  enum class Target : uint8_t { kOk, kUnknown, kDead, kNotStrong };
  // A call's target. `key` is set for kOk.
  Target target(uint64_t id, uint64_t* key) const;
  // A RECEIVER_EXPORT reference: the entry must exist with a peer-held count. Returns its key.
  absl::StatusOr<uint64_t> home(uint64_t id) const;
  // The local node died: marks its entry dead. Returns the id to send a DeathNotice for (none if
  // the node is not exported or already dead).
  std::optional<uint64_t> markDead(uint64_t key);
  std::optional<uint64_t> idOf(uint64_t key) const;

  // One-way sequencing on receipt (§7): true if `seq` is the next for `id` (and advances it).
  bool acceptOneway(uint64_t id, uint64_t seq);

  // Teardown: every key, the table emptied.
  std::vector<uint64_t> drain();
  size_t size() const { return entries_.size(); }

  struct Entry {
    uint64_t key = 0;
    uint64_t strong = 0;
    uint64_t weak = 0;
    bool dead = false;
    uint64_t next_oneway_seq = 1;
  };
  const Entry* find(uint64_t id) const;

 private:
  uint64_t allocateId();
  // The rules of one op on the counts of an entry (no erasure): the single place they live.
  static absl::Status applyTo(uint64_t id, RefKind kind, uint64_t count, uint64_t& strong,
                              uint64_t& weak);
  void eraseIfUnused(uint64_t id, std::vector<uint64_t>* erased);

  const size_t max_entries_;
  std::map<uint64_t, Entry> entries_;
  std::unordered_map<uint64_t, uint64_t> by_key_;
  std::set<uint64_t> free_ids_;  // ids below next_id_ that are free
  uint64_t next_id_ = 1;
};

}  // namespace nb::gateway
