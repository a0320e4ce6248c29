// ImportTable: what this gateway imports from one peer (docs/protocol.md §3, §5): the peer's
// export id ↔ local proxy, with the counts received. Pure bookkeeping; the session creates and
// drops the proxy nodes.
//
// Invariants (enforced here): one entry per peer export id; counts are what was received (every
// SENDER_EXPORT reference adds one) until the entry is released, when all of them go back in one
// ExportRelease; one-way numbering per entry starts at 1.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

namespace nb::gateway {

class ImportTable {
 public:
  struct Entry {
    uint64_t strong = 0;
    uint64_t weak = 0;
    bool dead = false;
    uint64_t next_oneway_seq = 1;
    uint64_t owner_key = 0;
    // Incremented each time the entry is created, so that a proxy of an erased entry cannot
    // release a newer entry that reuses the id.
    uint64_t generation = 0;
  };

  struct Received {
    bool created = false;
    uint64_t generation = 0;
  };
  // A SENDER_EXPORT reference arrived.
  Received receive(uint64_t id, bool weak, uint64_t owner_key);
  // (A parcel that is received but not delivered keeps its counts in the entry: they go back
  // with the entry's ExportRelease, which satisfies §5.2.)

  struct Released {
    uint64_t strong = 0;
    uint64_t weak = 0;
  };
  // The local proxy of generation `generation` is gone: erases the entry and returns the counts
  // for ExportRelease (none if the entry is gone or newer).
  std::optional<Released> release(uint64_t id, uint64_t generation);
  // DeathNotice: marks the entry dead. False if the id is not imported (ignored, §5.3).
  bool markDead(uint64_t id);
  // The next oneway_seq for a one-way call to `id` (0 if not imported).
  uint64_t nextOnewaySeq(uint64_t id);
  const Entry* find(uint64_t id) const;
  // Teardown: all ids, the table emptied.
  std::vector<uint64_t> drain();
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<uint64_t, Entry> entries_;
  uint64_t next_generation_ = 1;
};

}  // namespace nb::gateway
