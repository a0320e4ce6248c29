// libFuzzer target for ObjectWalker (codec/object_walker.h).
//
// Input layout (little-endian):
//   [0, 8)    buffers_size (u64)
//   [8, 10)   offsets_size (u16; clamped to what is left)
//   then      offsets_size bytes of offsets array
//   then      the rest: data
// Shorter inputs are zero-extended. Data and offsets are copied into buffers of their exact size,
// so ASan reports any read past either.
//
// The walk runs to completion and every reported object is checked against the walker's contract;
// a violation traps.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/object_walker.h"
#include "codec/walk_error.h"

namespace {

using nb::codec::ObjectKind;
using nb::codec::ObjectWalker;
using nb::codec::WalkedObject;

void check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

uint64_t expectedSize(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kBinder:
    case ObjectKind::kWeakBinder:
    case ObjectKind::kHandle:
    case ObjectKind::kWeakHandle:
      return sizeof(flat_binder_object);
    case ObjectKind::kFd:
      return sizeof(binder_fd_object);
    case ObjectKind::kFdArray:
      return sizeof(binder_fd_array_object);
    case ObjectKind::kPtr:
      return sizeof(binder_buffer_object);
  }
  return 0;
}

// What the fuzzer remembers of each returned object, to check later ones against it.
struct Seen {
  ObjectKind kind;
  uint64_t length;
};

// Checks the parent rules of a PTR child or an FDA against the objects returned before it.
void checkParent(const WalkedObject& obj, const std::vector<Seen>& seen) {
  check(obj.parent < obj.index);
  check(seen[obj.parent].kind == ObjectKind::kPtr);
  const uint64_t parent_length = seen[obj.parent].length;
  if (obj.kind == ObjectKind::kPtr) {
    check(parent_length >= 8 && obj.parent_offset <= parent_length - 8);
  } else if (obj.num_fds != 0) {
    check(obj.num_fds < (uint64_t{1} << 62));
    check(obj.num_fds * 4 <= parent_length && obj.parent_offset <= parent_length - obj.num_fds * 4);
    check(obj.parent_offset % 4 == 0);
  }
}

void checkObject(const WalkedObject& obj, size_t expected_index, uint64_t end_of_previous,
                 uint64_t sg_used, uint64_t buffers_size, size_t data_size,
                 const std::vector<Seen>& seen) {
  check(obj.index == expected_index);
  check(obj.size == expectedSize(obj.kind));
  check(obj.offset % 4 == 0);
  check(obj.offset >= end_of_previous);
  check(obj.offset <= data_size && obj.size <= data_size - obj.offset);
  if (obj.kind == ObjectKind::kPtr) {
    check(obj.sg_offset == sg_used);
    check(obj.sg_offset % 8 == 0);
    check(obj.length <= buffers_size && obj.sg_offset <= buffers_size - obj.length);
    check(obj.has_parent == ((obj.flags & BINDER_BUFFER_FLAG_HAS_PARENT) != 0));
  } else {
    check(obj.sg_offset == 0 && obj.length == 0 && obj.buffer == 0);
  }
  if (obj.kind == ObjectKind::kFdArray) {
    check(obj.has_parent);
  } else {
    check(obj.num_fds == 0);
  }
  if (obj.has_parent) {
    checkParent(obj, seen);
  } else {
    check(obj.parent == 0 && obj.parent_offset == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* input, size_t size) {
  uint8_t header[10] = {};
  std::memcpy(header, input, size < sizeof(header) ? size : sizeof(header));
  uint64_t buffers_size = 0;
  uint16_t offsets_size = 0;
  std::memcpy(&buffers_size, header, sizeof(buffers_size));
  std::memcpy(&offsets_size, header + sizeof(buffers_size), sizeof(offsets_size));
  const size_t rest = size > sizeof(header) ? size - sizeof(header) : 0;
  const uint8_t* body = input + (size - rest);
  const size_t offsets_len = offsets_size < rest ? offsets_size : rest;
  const std::vector<uint8_t> offsets(body, body + offsets_len);
  const std::vector<uint8_t> data(body + offsets_len, body + rest);

  ObjectWalker walker(data, offsets, buffers_size);
  std::vector<Seen> seen;
  uint64_t end_of_previous = 0;
  uint64_t sg_used = 0;
  while (const WalkedObject* obj = walker.next()) {
    checkObject(*obj, seen.size(), end_of_previous, sg_used, buffers_size, data.size(), seen);
    check(!walker.failed());
    seen.push_back(Seen{obj->kind, obj->length});
    end_of_previous = obj->offset + obj->size;
    if (obj->kind == ObjectKind::kPtr) {
      sg_used += (obj->length + 7) & ~uint64_t{7};
    }
    check(walker.sgUsed() == sg_used);
  }
  check(walker.next() == nullptr);  // stays finished
  check(walker.sgUsed() == sg_used && sg_used <= buffers_size);
  if (walker.failed()) {
    check(walker.failedIndex() == seen.size());
    // Whole-buffer rules fail before any object; otherwise an existing entry failed.
    check(seen.empty() || seen.size() < walker.objectCount());
    const int error_number = nb::codec::walkErrorErrno(*walker.error());
    check(error_number > 0);
    check(nb::codec::walkErrorName(*walker.error())[0] != '\0');
  } else {
    check(seen.size() == walker.objectCount());
    check(offsets.size() % 8 == 0 && buffers_size % 8 == 0);
  }
  return 0;
}
