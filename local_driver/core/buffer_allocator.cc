#include "local_driver/core/buffer_allocator.h"

#include <cerrno>

namespace nb::driver {
namespace {

// ALIGN(v, 8) with overflow detection.
bool align8(uint64_t v, uint64_t* out) {
  if (v > UINT64_MAX - 7) {
    return false;
  }
  *out = (v + 7) & ~uint64_t{7};
  return true;
}

}  // namespace

void BufferAllocator::init(uint64_t size) {
  size_ = size & ~uint64_t{7};
  free_async_space_ = size_ / 2;
  oneway_spam_detected_ = false;
  allocated_count_ = 0;
  allocated_bytes_ = 0;
  chunks_.clear();
  free_by_size_.clear();
  if (size_ > 0) {
    insertFree(0, size_);
  }
}

void BufferAllocator::insertFree(uint64_t offset, uint64_t size) {
  chunks_[offset] = Chunk{size, true, false, 0};
  free_by_size_.emplace(size, offset);
}

void BufferAllocator::eraseFree(uint64_t offset, uint64_t size) {
  free_by_size_.erase({size, offset});
  chunks_.erase(offset);
}

int BufferAllocator::allocate(uint64_t data_size, uint64_t offsets_size, uint64_t extra_size,
                              bool is_async, int32_t pid, Allocation* out) {
  uint64_t d = 0;
  uint64_t o = 0;
  uint64_t e = 0;
  if (!align8(data_size, &d) || !align8(offsets_size, &o) || !align8(extra_size, &e)) {
    return EINVAL;
  }
  if (d > UINT64_MAX - o || d + o > UINT64_MAX - e) {
    return EINVAL;
  }
  uint64_t size = d + o + e;
  if (size < 8) {
    size = 8;  // 0-byte transactions still get a unique address
  }
  if (is_async && free_async_space_ < size + kBufferMetadataSize) {
    return ENOSPC;
  }
  auto fit = free_by_size_.lower_bound({size, 0});
  if (fit == free_by_size_.end()) {
    return ENOSPC;
  }
  const uint64_t offset = fit->second;
  const uint64_t chunk_size = fit->first;
  eraseFree(offset, chunk_size);
  if (chunk_size != size) {
    insertFree(offset + size, chunk_size - size);
  }
  chunks_[offset] = Chunk{size, false, is_async, pid};
  ++allocated_count_;
  allocated_bytes_ += size;
  out->offset = offset;
  out->size = size;
  out->oneway_spam_suspect = false;
  if (is_async) {
    free_async_space_ -= size + kBufferMetadataSize;
    if (free_async_space_ < size_ / 10) {
      out->oneway_spam_suspect = lowAsyncSpaceSpam(pid);
    } else {
      oneway_spam_detected_ = false;
    }
  }
  return 0;
}

bool BufferAllocator::lowAsyncSpaceSpam(int32_t pid) {
  uint64_t total = 0;
  size_t count = 0;
  for (const auto& [offset, chunk] : chunks_) {
    if (chunk.free || !chunk.async || chunk.pid != pid) {
      continue;
    }
    total += chunk.size + kBufferMetadataSize;
    ++count;
  }
  if (count > 50 || total > size_ / 4) {
    if (!oneway_spam_detected_) {
      oneway_spam_detected_ = true;
      return true;
    }
  }
  return false;
}

void BufferAllocator::free(uint64_t offset) {
  auto it = chunks_.find(offset);
  if (it == chunks_.end() || it->second.free) {
    return;
  }
  uint64_t start = offset;
  uint64_t size = it->second.size;
  --allocated_count_;
  allocated_bytes_ -= size;
  if (it->second.async) {
    free_async_space_ += size + kBufferMetadataSize;
  }
  chunks_.erase(it);
  // Merge with the following free chunk.
  auto next = chunks_.find(start + size);
  if (next != chunks_.end() && next->second.free) {
    const uint64_t next_size = next->second.size;
    eraseFree(next->first, next_size);
    size += next_size;
  }
  // Merge with the preceding free chunk.
  auto prev = chunks_.lower_bound(start);
  if (prev != chunks_.begin()) {
    --prev;
    if (prev->second.free && prev->first + prev->second.size == start) {
      const uint64_t prev_start = prev->first;
      const uint64_t prev_size = prev->second.size;
      eraseFree(prev_start, prev_size);
      start = prev_start;
      size += prev_size;
    }
  }
  insertFree(start, size);
}

}  // namespace nb::driver
