// ObjectWalker: validates the objects of one transaction buffer exactly as the kernel driver does
// (drivers/android/binder.c binder_transaction(); ../shared/reference/kernel-binder.md §7.4, §17.8)
// and reports each object, so that binderd and bindergw translate through the same checks.
//
// The walker never trusts a byte: every offset, size and index is checked before use, with
// arithmetic that cannot overflow. It allocates nothing and keeps O(1) state; ancestor chains are
// re-read from the (already validated) buffer, as the kernel does.
//
// Usage:
//   ObjectWalker walker(data, offsets, buffers_size);
//   while (const WalkedObject* obj = walker.next()) { translate(*obj); }
//   if (walker.failed()) { release objects [0, walker.failedIndex()); report walker.error(); }
//
// Contract on `data`: it must not change during the walk. (1) Walk a copy the sender can no longer
// modify — otherwise validation is a time-of-check race. (2) Write translated objects elsewhere or
// after the walk: parent checks re-read earlier objects (PTR length, and for FDA the parent's
// *sender* buffer address, as the kernel reads the sender's original object).
#pragma once

#include <linux/android/binder.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "codec/walk_error.h"

namespace nb::codec {

enum class ObjectKind : uint8_t {
  kBinder,      // BINDER_TYPE_BINDER
  kWeakBinder,  // BINDER_TYPE_WEAK_BINDER
  kHandle,      // BINDER_TYPE_HANDLE
  kWeakHandle,  // BINDER_TYPE_WEAK_HANDLE
  kFd,          // BINDER_TYPE_FD
  kFdArray,     // BINDER_TYPE_FDA
  kPtr,         // BINDER_TYPE_PTR
};

const char* objectKindName(ObjectKind kind);

// One validated object. Fields not used by `kind` are zero.
struct WalkedObject {
  ObjectKind kind;
  uint32_t type;    // the raw BINDER_TYPE_* value
  size_t index;     // position in the offsets array
  uint64_t offset;  // byte offset of the object in data
  uint64_t size;    // size of the object structure in data (24, 32 or 40)
  uint32_t flags;   // flat_binder_object.flags / binder_buffer_object.flags

  // BINDER / WEAK_BINDER: the sender's node pointer and cookie. FD: the cookie too (the kernel
  // passes it through unchanged). HANDLE / WEAK_HANDLE: cookie is 0 (the kernel ignores it).
  uint64_t binder;
  uint64_t cookie;
  // HANDLE / WEAK_HANDLE: the sender's descriptor. FD: the sender's fd number (the u32 bits).
  uint32_t handle;
  int32_t fd;

  // PTR: the sender's buffer address and length, and where its payload lands in the
  // scatter-gather area (offset from the start of that area, 8-aligned as the kernel places it).
  uint64_t buffer;
  uint64_t length;
  uint64_t sg_offset;

  // PTR with BINDER_BUFFER_FLAG_HAS_PARENT, and every FDA: the parent's index in the offsets
  // array (always < index, always a PTR) and the byte offset inside the parent's payload where the
  // 8-byte pointer (PTR) or the u32 fd array (FDA) is written.
  bool has_parent;
  uint64_t parent;
  uint64_t parent_offset;
  // FDA: number of fds in the array (may be 0: a valid no-op).
  uint64_t num_fds;
};

class ObjectWalker {
 public:
  // data: the transaction's data bytes; offsets: the offsets array bytes (offsets_size of them);
  // buffers_size: the scatter-gather area size the sender declared (BC_*_SG), 0 otherwise.
  ObjectWalker(std::span<const uint8_t> data, std::span<const uint8_t> offsets,
               uint64_t buffers_size);

  // Validates and returns the next object, or nullptr at the end or on the first error. The
  // returned pointer is valid until the next call.
  const WalkedObject* next();

  bool failed() const { return error_.has_value(); }
  std::optional<WalkError> error() const { return error_; }
  // Index (in the offsets array) of the object that failed; objects [0, failedIndex()) were valid.
  // 0 when a whole-buffer rule failed (nothing may be released then: CVE-2023-20938/21255).
  size_t failedIndex() const { return index_; }
  // Total bytes of the scatter-gather area consumed by the PTR payloads of the objects returned so
  // far (each 8-aligned); a PTR that fails validation consumes nothing.
  uint64_t sgUsed() const { return sg_used_; }
  size_t objectCount() const { return offsets_.size() / sizeof(binder_size_t); }

 private:
  // Validates the whole-buffer rules that precede the walk (offsets_size, buffers_size).
  void checkSizes();
  // Records `error` for the object at index_ and ends the walk.
  const WalkedObject* fail(WalkError error);
  // The offsets array entry `index` (< objectCount()).
  uint64_t offsetAt(size_t index) const;
  // Type-specific validation of the object in current_ (kernel: the BINDER_TYPE_PTR and
  // BINDER_TYPE_FDA arms of binder_transaction()). They commit walker state only on success.
  std::optional<WalkError> walkPtr();
  std::optional<WalkError> walkFda();
  // binder_validate_ptr(): the parent must be an already validated PTR. On success sets the
  // parent's data offset and object.
  std::optional<WalkError> findParent(uint64_t parent_index, uint64_t* parent_object_offset,
                                      binder_buffer_object* parent) const;
  // binder_validate_fixup(): may a fixup at `fixup_offset` land in the PTR at data offset
  // `parent_object_offset`?
  bool fixupAllowed(uint64_t parent_object_offset, uint64_t fixup_offset) const;

  std::span<const uint8_t> data_;
  std::span<const uint8_t> offsets_;
  uint64_t buffers_size_;
  // INVARIANT: objects [0, index_) were validated and returned; when failed(), index_ failed.
  size_t index_ = 0;
  uint64_t end_of_previous_ = 0;  // kernel: user_offset / off_min
  // INVARIANT: sg_used_ <= buffers_size_ and sg_used_ % 8 == 0 (once checkSizes() passed).
  uint64_t sg_used_ = 0;
  // Kernel's last_fixup_obj_off / last_fixup_min_off: the object offset of the last PTR (or the
  // FDA's parent) that fixups may land in, and the lowest offset a next fixup in it may use.
  // 0 means "no parent yet" — which is why a PTR at data offset 0 can never be a parent (§17.4).
  uint64_t last_fixup_obj_off_ = 0;
  uint64_t last_fixup_min_off_ = 0;
  std::optional<WalkError> error_;
  WalkedObject current_{};
};

}  // namespace nb::codec
