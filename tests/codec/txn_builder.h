// TxnBuilder: lays out the data and offsets of a transaction buffer for ObjectWalker tests.
//
// Objects are the uapi structs of <linux/android/binder.h>, built by the make*() helpers and
// appended (add) or placed at a chosen data offset (addAt); each records one offsets entry and
// returns its index. write() places bytes without an offsets entry, addOffset() records an entry
// without bytes, so malformed layouts (overlaps, offsets past the data, odd offsets_size) are as
// easy to build as well-formed ones. The builder owns the bytes; a walker over them must not
// outlive it.
#pragma once

#include <linux/android/binder.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

#include "codec/object_walker.h"

namespace nb::codec::testutil {

inline flat_binder_object makeFlat(uint32_t type, uint64_t binder, uint64_t cookie,
                                   uint32_t flags = 0) {
  flat_binder_object obj{};
  obj.hdr.type = type;
  obj.flags = flags;
  obj.binder = binder;
  obj.cookie = cookie;
  return obj;
}

inline flat_binder_object makeBinder(uint64_t ptr, uint64_t cookie, uint32_t flags = 0) {
  return makeFlat(BINDER_TYPE_BINDER, ptr, cookie, flags);
}

inline flat_binder_object makeHandle(uint32_t handle, uint32_t flags = 0) {
  flat_binder_object obj = makeFlat(BINDER_TYPE_HANDLE, 0, 0, flags);
  obj.handle = handle;
  return obj;
}

inline binder_fd_object makeFd(uint32_t fd, uint64_t cookie = 0) {
  binder_fd_object obj{};
  obj.hdr.type = BINDER_TYPE_FD;
  obj.fd = fd;
  obj.cookie = cookie;
  return obj;
}

// A PTR without a parent.
inline binder_buffer_object makePtr(uint64_t buffer, uint64_t length, uint32_t flags = 0) {
  binder_buffer_object obj{};
  obj.hdr.type = BINDER_TYPE_PTR;
  obj.flags = flags;
  obj.buffer = buffer;
  obj.length = length;
  return obj;
}

// A PTR with BINDER_BUFFER_FLAG_HAS_PARENT: its address is patched into `parent` (an index in the
// offsets array) at `parent_offset`.
inline binder_buffer_object makeChildPtr(uint64_t buffer, uint64_t length, uint64_t parent,
                                         uint64_t parent_offset) {
  binder_buffer_object obj = makePtr(buffer, length, BINDER_BUFFER_FLAG_HAS_PARENT);
  obj.parent = parent;
  obj.parent_offset = parent_offset;
  return obj;
}

inline binder_fd_array_object makeFda(uint64_t num_fds, uint64_t parent, uint64_t parent_offset) {
  binder_fd_array_object obj{};
  obj.hdr.type = BINDER_TYPE_FDA;
  obj.num_fds = num_fds;
  obj.parent = parent;
  obj.parent_offset = parent_offset;
  return obj;
}

class TxnBuilder {
 public:
  // Appends `object` at the end of data; returns its index in the offsets array.
  template <typename T>
  size_t add(const T& object) {
    return addAt(data_.size(), object);
  }

  // Writes `object` at data offset `offset` (growing data with zeros) and records the offset.
  template <typename T>
  size_t addAt(uint64_t offset, const T& object) {
    write(offset, object);
    return addOffset(offset);
  }

  // Writes the bytes of `value` at data offset `offset` without recording an offset.
  template <typename T>
  TxnBuilder& write(uint64_t offset, const T& value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (data_.size() < offset + sizeof(T)) {
      data_.resize(offset + sizeof(T));
    }
    std::memcpy(data_.data() + offset, &value, sizeof(T));
    return *this;
  }

  // Appends `count` zero bytes to data.
  TxnBuilder& pad(size_t count) {
    data_.resize(data_.size() + count);
    return *this;
  }

  // Truncates or extends (with zeros) data to exactly `size` bytes.
  TxnBuilder& resizeData(size_t size) {
    data_.resize(size);
    return *this;
  }

  // Records a raw offsets entry; returns its index.
  size_t addOffset(uint64_t offset) {
    const size_t index = offsets_.size() / sizeof(binder_size_t);
    const auto* bytes = reinterpret_cast<const uint8_t*>(&offset);
    offsets_.insert(offsets_.end(), bytes, bytes + sizeof(offset));
    return index;
  }

  // Appends `count` stray bytes to the offsets array (offsets_size no longer a multiple of 8).
  TxnBuilder& padOffsets(size_t count) {
    offsets_.resize(offsets_.size() + count);
    return *this;
  }

  std::span<const uint8_t> data() const { return data_; }
  std::span<const uint8_t> offsets() const { return offsets_; }

  ObjectWalker walker(uint64_t buffers_size = 0) const {
    return ObjectWalker(data_, offsets_, buffers_size);
  }

 private:
  std::vector<uint8_t> data_;
  std::vector<uint8_t> offsets_;
};

// Everything a complete walk reported.
struct WalkResult {
  std::vector<WalkedObject> objects;
  std::optional<WalkError> error;
  size_t failed_index = 0;
  uint64_t sg_used = 0;

  bool ok() const { return !error.has_value(); }
};

// Runs `walker` to the end (or its first error) and collects what it reported.
inline WalkResult walkAll(ObjectWalker& walker) {
  WalkResult result;
  while (const WalkedObject* obj = walker.next()) {
    result.objects.push_back(*obj);
  }
  result.error = walker.error();
  result.failed_index = walker.failedIndex();
  result.sg_used = walker.sgUsed();
  return result;
}

inline WalkResult walkAll(const TxnBuilder& txn, uint64_t buffers_size = 0) {
  ObjectWalker walker = txn.walker(buffers_size);
  return walkAll(walker);
}

}  // namespace nb::codec::testutil
