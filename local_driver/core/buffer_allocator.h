// BufferAllocator: best-fit allocator over one process's receive area (kernel binder_alloc.c,
// kernel-binder.md §9). Works on offsets in [0, area size); knows nothing of buffer contents.
//
// * Allocations are split exactly (a chunk is as large as requested, ALIGN8, minimum 8 bytes).
// * Best fit: the smallest free chunk that fits, lowest offset among equal sizes.
// * Freeing merges with free neighbours.
// * One-way budget: free_async_space starts at size/2 and every async buffer costs its size plus
//   the kernel's per-buffer metadata (sizeof(struct binder_buffer) on 6.1 x86-64, 104 bytes), as
//   6.1 accounts it; an async allocation that does not fit the budget fails with ENOSPC.
// * One-way spam detection (§9.3): when an async allocation leaves less than size/10 of budget,
//   the sender's async buffers are counted (including this one); > 50 buffers or > size/4 bytes
//   flags this allocation, once until the budget recovers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <set>
#include <utility>

namespace nb::driver {

class BufferAllocator {
 public:
  static constexpr uint64_t kBufferMetadataSize = 104;

  struct Allocation {
    uint64_t offset = 0;
    uint64_t size = 0;
    bool oneway_spam_suspect = false;
  };

  // (Re)initialises for an area of `size` bytes.
  void init(uint64_t size);
  uint64_t areaSize() const { return size_; }

  // Returns 0 and fills `out`, or a positive errno: EINVAL (size overflow), ENOSPC.
  int allocate(uint64_t data_size, uint64_t offsets_size, uint64_t extra_size, bool is_async,
               int32_t pid, Allocation* out);
  // Frees the chunk starting at `offset` (must be allocated).
  void free(uint64_t offset);

  uint64_t freeAsyncSpace() const { return free_async_space_; }
  size_t allocatedCount() const { return allocated_count_; }
  uint64_t allocatedBytes() const { return allocated_bytes_; }
  uint64_t freeBytes() const { return size_ - allocated_bytes_; }

 private:
  struct Chunk {
    uint64_t size = 0;
    bool free = true;
    bool async = false;
    int32_t pid = 0;
  };
  bool lowAsyncSpaceSpam(int32_t pid);
  void insertFree(uint64_t offset, uint64_t size);
  void eraseFree(uint64_t offset, uint64_t size);

  uint64_t size_ = 0;
  uint64_t free_async_space_ = 0;
  bool oneway_spam_detected_ = false;
  size_t allocated_count_ = 0;
  uint64_t allocated_bytes_ = 0;
  std::map<uint64_t, Chunk> chunks_;  // every chunk by offset; they tile the area
  std::set<std::pair<uint64_t, uint64_t>> free_by_size_;  // (size, offset) of free chunks
};

}  // namespace nb::driver
