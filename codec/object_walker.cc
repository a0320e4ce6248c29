#include "codec/object_walker.h"

#include <cstddef>
#include <cstring>
#include <limits>
#include <type_traits>

namespace nb::codec {
namespace {

// The walker models the 64-bit binder ABI (protocol version 8) only.
static_assert(sizeof(binder_size_t) == 8 && sizeof(binder_uintptr_t) == 8);
static_assert(sizeof(flat_binder_object) == 24);
static_assert(sizeof(binder_fd_object) == 24);
static_assert(sizeof(binder_buffer_object) == 40);
static_assert(sizeof(binder_fd_array_object) == 32);

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t kOffsetEntrySize = sizeof(binder_size_t);
// binder_get_object() needs only the header (a u32 type) before it can look at the type.
constexpr uint64_t kHeaderSize = sizeof(binder_object_header);
// Object offsets must be u32-aligned (CVE-2024-26926).
constexpr uint64_t kObjectAlignment = sizeof(uint32_t);
// A PTR fixup writes one binder_uintptr_t into its parent's payload.
constexpr uint64_t kFixupPointerSize = sizeof(binder_uintptr_t);
// An FDA is an array of u32 fds inside its parent's payload.
constexpr uint64_t kFdSize = sizeof(uint32_t);
// Kernel: ALIGN(x, sizeof(u64)) for every part of the buffer and every PTR payload.
constexpr uint64_t kSgAlignment = sizeof(uint64_t);

// Rounds `value` up to a multiple of 8; false if that does not fit in 64 bits.
bool alignUp8(uint64_t value, uint64_t* aligned) {
  if (value > kU64Max - (kSgAlignment - 1)) {
    return false;
  }
  *aligned = (value + (kSgAlignment - 1)) & ~(kSgAlignment - 1);
  return true;
}

// Reads a T from `bytes` at `offset` with memcpy (the bytes may have any alignment).
// The caller guarantees offset + sizeof(T) <= bytes.size().
template <typename T>
T load(std::span<const uint8_t> bytes, uint64_t offset) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value;
  // SAFETY: every caller validated offset + sizeof(T) <= bytes.size() (binder_get_object rules
  // for objects, index < objectCount() for offsets entries).
  std::memcpy(&value, bytes.data() + offset, sizeof(T));
  return value;
}

// Size of the object structure for a BINDER_TYPE_* value, 0 for an unknown type
// (binder_get_object()'s switch).
uint64_t objectSizeForType(uint32_t type) {
  switch (type) {
    case BINDER_TYPE_BINDER:
    case BINDER_TYPE_WEAK_BINDER:
    case BINDER_TYPE_HANDLE:
    case BINDER_TYPE_WEAK_HANDLE:
      return sizeof(flat_binder_object);
    case BINDER_TYPE_FD:
      return sizeof(binder_fd_object);
    case BINDER_TYPE_PTR:
      return sizeof(binder_buffer_object);
    case BINDER_TYPE_FDA:
      return sizeof(binder_fd_array_object);
    default:
      return 0;
  }
}

// Only called for a type objectSizeForType() accepted.
ObjectKind kindForType(uint32_t type) {
  switch (type) {
    case BINDER_TYPE_BINDER:
      return ObjectKind::kBinder;
    case BINDER_TYPE_WEAK_BINDER:
      return ObjectKind::kWeakBinder;
    case BINDER_TYPE_HANDLE:
      return ObjectKind::kHandle;
    case BINDER_TYPE_WEAK_HANDLE:
      return ObjectKind::kWeakHandle;
    case BINDER_TYPE_FD:
      return ObjectKind::kFd;
    case BINDER_TYPE_FDA:
      return ObjectKind::kFdArray;
    default:
      return ObjectKind::kPtr;
  }
}

// binder_get_object(): is there a whole object of a known type at `offset`? On success sets its
// type and size. The kernel tests "offset > data_size || fewer than 4 bytes || !IS_ALIGNED(offset,
// 4)" as one condition (all EINVAL); we name them in that textual order.
std::optional<WalkError> checkObjectAt(std::span<const uint8_t> data, uint64_t offset,
                                       uint32_t* type, uint64_t* size) {
  const uint64_t data_size = data.size();
  // Covers offset == data_size (§17.8: EINVAL): not even the u32 type can be read.
  if (offset > data_size || data_size - offset < kHeaderSize) {
    return WalkError::kObjectTruncated;
  }
  // CVE-2024-26926: the deferred-copy rework had dropped this check.
  if (offset % kObjectAlignment != 0) {
    return WalkError::kOffsetUnaligned;
  }
  const auto hdr = load<binder_object_header>(data, offset);
  const uint64_t object_size = objectSizeForType(hdr.type);
  if (object_size == 0) {
    return WalkError::kUnknownType;
  }
  // Kernel: offset <= data_size - object_size && data_size >= object_size.
  if (object_size > data_size - offset) {
    return WalkError::kObjectTruncated;
  }
  *type = hdr.type;
  *size = object_size;
  return std::nullopt;
}

// binder_get_object() + "hdr.type == BINDER_TYPE_PTR", used to re-read an earlier (already
// validated) object as binder_validate_ptr() and binder_validate_fixup() do.
std::optional<binder_buffer_object> ptrAt(std::span<const uint8_t> data, uint64_t offset) {
  uint32_t type = 0;
  uint64_t size = 0;
  if (checkObjectAt(data, offset, &type, &size).has_value() || type != BINDER_TYPE_PTR) {
    return std::nullopt;
  }
  return load<binder_buffer_object>(data, offset);
}

// binder_translate_fd_array(): the fd array checks after the parent and the fixup order passed,
// in the kernel's order (count, bounds, alignment).
std::optional<WalkError> checkFdArray(const binder_fd_array_object& fda,
                                      const binder_buffer_object& parent) {
  // The C driver returns before any other check: an empty FDA is a valid no-op wherever its
  // parent_offset points (CVE-2026-23194 was the Rust driver getting this wrong at
  // parent_offset == parent.length).
  if (fda.num_fds == 0) {
    return std::nullopt;
  }
  // Kernel: num_fds >= SIZE_MAX / sizeof(u32) (so 2^62 - 1 is already rejected).
  if (fda.num_fds >= kU64Max / kFdSize) {
    return WalkError::kFdaCountOverflow;
  }
  const uint64_t fd_buf_size = fda.num_fds * kFdSize;
  // Written as a subtraction so that parent_offset + fd_buf_size cannot wrap.
  if (fd_buf_size > parent.length || fda.parent_offset > parent.length - fd_buf_size) {
    return WalkError::kFdaOutOfBounds;
  }
  // The fds are written at parent's SG copy + parent_offset in the target; SG copies are 8-aligned,
  // so only parent_offset % 4 matters there. They are read from parent.buffer + parent_offset in
  // the sender. Both must be u32-aligned; the sum is taken mod 4 so it cannot wrap.
  const uint64_t sender_misalignment =
      (parent.buffer % kFdSize + fda.parent_offset % kFdSize) % kFdSize;
  if (fda.parent_offset % kFdSize != 0 || sender_misalignment != 0) {
    return WalkError::kFdaUnaligned;
  }
  return std::nullopt;
}

// Fills the fields of a flat_binder_object (BINDER / WEAK_BINDER / HANDLE / WEAK_HANDLE).
void decodeFlat(std::span<const uint8_t> data, WalkedObject* obj) {
  const auto fp = load<flat_binder_object>(data, obj->offset);
  obj->flags = fp.flags;
  // The union is read through its member's own bytes rather than by punning the union.
  if (obj->kind == ObjectKind::kBinder || obj->kind == ObjectKind::kWeakBinder) {
    obj->binder = load<binder_uintptr_t>(data, obj->offset + offsetof(flat_binder_object, binder));
    obj->cookie = fp.cookie;
  } else {
    obj->handle = load<uint32_t>(data, obj->offset + offsetof(flat_binder_object, handle));
  }
}

void decodeFd(std::span<const uint8_t> data, WalkedObject* obj) {
  const auto fp = load<binder_fd_object>(data, obj->offset);
  // Modular u32 -> i32 conversion (well defined since C++20), as the kernel's `int fd` sees it.
  obj->fd =
      static_cast<int32_t>(load<uint32_t>(data, obj->offset + offsetof(binder_fd_object, fd)));
  obj->cookie = fp.cookie;
}

}  // namespace

const char* objectKindName(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kBinder:
      return "BINDER";
    case ObjectKind::kWeakBinder:
      return "WEAK_BINDER";
    case ObjectKind::kHandle:
      return "HANDLE";
    case ObjectKind::kWeakHandle:
      return "WEAK_HANDLE";
    case ObjectKind::kFd:
      return "FD";
    case ObjectKind::kFdArray:
      return "FDA";
    case ObjectKind::kPtr:
      return "PTR";
  }
  return "UNKNOWN";
}

ObjectWalker::ObjectWalker(std::span<const uint8_t> data, std::span<const uint8_t> offsets,
                           uint64_t buffers_size)
    : data_(data), offsets_(offsets), buffers_size_(buffers_size) {
  checkSizes();
}

void ObjectWalker::checkSizes() {
  // binder_alloc_new_buf() runs first: data, offsets and buffers, each ALIGN(8)ed, must sum
  // without overflow (it also catches ALIGN itself wrapping: "size < extra_buffers_size").
  uint64_t data_aligned = 0;
  uint64_t offsets_aligned = 0;
  uint64_t buffers_aligned = 0;
  uint64_t total = 0;
  if (!alignUp8(data_.size(), &data_aligned) || !alignUp8(offsets_.size(), &offsets_aligned) ||
      !alignUp8(buffers_size_, &buffers_aligned) ||
      __builtin_add_overflow(data_aligned, offsets_aligned, &total) ||
      __builtin_add_overflow(total, buffers_aligned, &total)) {
    error_ = WalkError::kSizeOverflow;
    return;
  }
  // Then binder_transaction(): offsets are binder_size_t entries. A failure here releases
  // nothing, even if the data holds well-formed objects (CVE-2023-20938).
  if (offsets_.size() % kOffsetEntrySize != 0) {
    error_ = WalkError::kOffsetsSizeUnaligned;
    return;
  }
  // Then the scatter-gather area, which PTR payloads fill in 8-byte steps.
  if (buffers_size_ % kSgAlignment != 0) {
    error_ = WalkError::kBuffersSizeUnaligned;
  }
}

const WalkedObject* ObjectWalker::fail(WalkError error) {
  error_ = error;
  current_ = WalkedObject{};
  return nullptr;
}

uint64_t ObjectWalker::offsetAt(size_t index) const {
  return load<binder_size_t>(offsets_, static_cast<uint64_t>(index) * kOffsetEntrySize);
}

const WalkedObject* ObjectWalker::next() {
  if (failed() || index_ >= objectCount()) {
    return nullptr;
  }
  const uint64_t offset = offsetAt(index_);
  // Kernel: copy_size = object_offset - user_offset; a non-zero gap must run forwards (no overlap,
  // duplicate or decreasing offset) and end inside data ("binder: fix UAF caused by offsets
  // overwrite"), else EFAULT. A zero gap goes straight to binder_get_object() (EINVAL), which is
  // why offset == end of previous == data_size is EINVAL, not EFAULT.
  if (offset != end_of_previous_) {
    if (offset < end_of_previous_) {
      return fail(WalkError::kOffsetOverlaps);
    }
    if (offset > data_.size()) {
      return fail(WalkError::kOffsetBeyondData);
    }
  }
  uint32_t type = 0;
  uint64_t size = 0;
  if (const auto error = checkObjectAt(data_, offset, &type, &size)) {
    return fail(*error);
  }
  current_ = WalkedObject{};
  current_.kind = kindForType(type);
  current_.type = type;
  current_.index = index_;
  current_.offset = offset;
  current_.size = size;
  std::optional<WalkError> error;
  switch (current_.kind) {
    case ObjectKind::kBinder:
    case ObjectKind::kWeakBinder:
    case ObjectKind::kHandle:
    case ObjectKind::kWeakHandle:
      decodeFlat(data_, &current_);
      break;
    case ObjectKind::kFd:
      decodeFd(data_, &current_);
      break;
    case ObjectKind::kPtr:
      error = walkPtr();
      break;
    case ObjectKind::kFdArray:
      error = walkFda();
      break;
  }
  if (error) {
    return fail(*error);
  }
  // No overflow: checkObjectAt() proved offset + size <= data_.size().
  end_of_previous_ = offset + size;
  ++index_;
  return &current_;
}

std::optional<WalkError> ObjectWalker::walkPtr() {
  const auto bp = load<binder_buffer_object>(data_, current_.offset);
  current_.flags = bp.flags;
  current_.buffer = bp.buffer;
  current_.length = bp.length;
  current_.sg_offset = sg_used_;
  // CVE-2019-2214: the payload must fit in what is left of the scatter-gather area. The kernel
  // checks this before any parent rule.
  if (bp.length > buffers_size_ - sg_used_) {
    return WalkError::kPtrTooLarge;
  }
  // Cannot fail: length <= buffers_size_ - sg_used_, a multiple of 8 (checkSizes()).
  uint64_t payload = 0;
  if (!alignUp8(bp.length, &payload)) {
    return WalkError::kPtrTooLarge;
  }
  if ((bp.flags & BINDER_BUFFER_FLAG_HAS_PARENT) != 0) {
    // binder_fixup_parent(): the 8-byte pointer is written into an earlier PTR's payload.
    current_.has_parent = true;
    current_.parent = bp.parent;
    current_.parent_offset = bp.parent_offset;
    uint64_t parent_object_offset = 0;
    binder_buffer_object parent{};
    if (const auto error = findParent(bp.parent, &parent_object_offset, &parent)) {
      return error;
    }
    if (!fixupAllowed(parent_object_offset, bp.parent_offset)) {
      return WalkError::kFixupOutOfOrder;
    }
    // No space for a pointer here. Written as a subtraction so it cannot wrap. (The C driver does
    // not require parent_offset to be aligned; the Rust driver does since 2026-01.)
    if (parent.length < kFixupPointerSize || bp.parent_offset > parent.length - kFixupPointerSize) {
      return WalkError::kFixupOutOfBounds;
    }
  }
  sg_used_ += payload;
  // This PTR is now the buffer later fixups may land in, from its start.
  last_fixup_obj_off_ = current_.offset;
  last_fixup_min_off_ = 0;
  return std::nullopt;
}

std::optional<WalkError> ObjectWalker::walkFda() {
  const auto fda = load<binder_fd_array_object>(data_, current_.offset);
  current_.has_parent = true;
  current_.parent = fda.parent;
  current_.parent_offset = fda.parent_offset;
  current_.num_fds = fda.num_fds;
  // The kernel's order: parent (binder_validate_ptr), fixup order (binder_validate_fixup), then
  // the array itself (binder_translate_fd_array).
  uint64_t parent_object_offset = 0;
  binder_buffer_object parent{};
  if (const auto error = findParent(fda.parent, &parent_object_offset, &parent)) {
    return error;
  }
  if (!fixupAllowed(parent_object_offset, fda.parent_offset)) {
    return WalkError::kFixupOutOfOrder;
  }
  if (const auto error = checkFdArray(fda, parent)) {
    return error;
  }
  // Later fixups in the parent must come after this array. No overflow: num_fds == 0 adds 0,
  // otherwise checkFdArray() proved parent_offset + 4 * num_fds <= parent.length.
  last_fixup_obj_off_ = parent_object_offset;
  last_fixup_min_off_ = fda.parent_offset + fda.num_fds * kFdSize;
  return std::nullopt;
}

std::optional<WalkError> ObjectWalker::findParent(uint64_t parent_index,
                                                  uint64_t* parent_object_offset,
                                                  binder_buffer_object* parent) const {
  // CVE-2020-0041: only objects validated before this one (num_valid == index_) may be parents;
  // the bug computed num_valid wrongly and let an attacker-controlled entry be used.
  if (parent_index >= index_) {
    return WalkError::kParentInvalid;
  }
  const uint64_t object_offset = offsetAt(static_cast<size_t>(parent_index));
  const auto ptr = ptrAt(data_, object_offset);
  if (!ptr) {
    return WalkError::kParentNotPtr;
  }
  *parent_object_offset = object_offset;
  *parent = *ptr;
  return std::nullopt;
}

bool ObjectWalker::fixupAllowed(uint64_t parent_object_offset, uint64_t fixup_offset) const {
  // Offset 0 doubles as "no PTR yet", so a PTR at data offset 0 can never receive a fixup (§17.4).
  if (last_fixup_obj_off_ == 0) {
    return false;
  }
  // Fixups may only land in the last validated PTR or one of its ancestors, at increasing offsets.
  // Allowed:  A; B(parent A, 0); C(A, 16); D(C, 0); E(A, 32)  -- E's minimum is 16 + 8.
  // Refused:  A; C(A, 16); B(A, 0)                            -- decreasing offset in A.
  //           A; B(A, 0); C(A, 16); D(B, 0)                   -- B is not C or C's ancestor.
  uint64_t last_object_offset = last_fixup_obj_off_;
  uint64_t min_offset = last_fixup_min_off_;
  // Each step moves to a parent of strictly lower index, so index_ steps always suffice; the
  // bound (like the checks below) only guards against a broken invariant.
  for (size_t steps = 0; last_object_offset != parent_object_offset; ++steps) {
    const auto last = ptrAt(data_, last_object_offset);
    if (steps >= index_ || !last || (last->flags & BINDER_BUFFER_FLAG_HAS_PARENT) == 0 ||
        last->parent >= index_) {
      return false;
    }
    // Moving up to the parent: later fixups there must come after the pointer to `last`.
    if (__builtin_add_overflow(last->parent_offset, kFixupPointerSize, &min_offset)) {
      return false;
    }
    last_object_offset = offsetAt(static_cast<size_t>(last->parent));
  }
  return fixup_offset >= min_offset;
}

}  // namespace nb::codec
