// ParcelWriter: builds a libbinder kernel Parcel — the data bytes plus the out-of-band object
// offsets array the kernel driver receives as (buffer, offsets) in binder_transaction_data —
// byte-for-byte as libbinder's Parcel.cpp writes it (../shared/reference/aosp-binder.md §2.1,
// §2.3).
//
// Encoding rules, all little-endian:
//   * Every write starts and ends 4-aligned. int64/uint64/double are 8 bytes but only 4-aligned.
//   * bool, char16_t and int8_t are widened to int32.
//   * Blobs (String8, String16, byte[]) are padded to 4 with zero bytes.
//   * Nullable strings and arrays are written as length -1 when null.
//   * Binders and fds are flat_binder_object / binder_fd_object structures (24 bytes). Their data
//     offsets go into offsets(); binder objects (not fds) are followed by an int32 stability word.
//
// Writes of fixed-size values cannot fail. Writes of variable-length values return a
// [[nodiscard]] absl::Status (InvalidArgument for a length above INT32_MAX or malformed UTF-8) and
// leave the parcel unchanged on failure.
//
// A ParcelWriter is a plain value owned by its creator; it is not thread-safe.
#pragma once

#include <linux/android/binder.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace nb::codec {

// Binder stability levels written after each binder object (libbinder Stability.h, "Level").
// Android 12 alone wrote a packed {wireFormatVersion, reserved[2], level} "Category" word instead;
// callers that must talk to Android 12 pass that word as the stability value.
inline constexpr int32_t kStabilityUndeclared = 0;
inline constexpr int32_t kStabilityVendor = 0b000011;
inline constexpr int32_t kStabilitySystem = 0b001100;
inline constexpr int32_t kStabilityVintf = 0b111111;

// Longest String8/String16/byte[] a parcel can carry: the length prefix is an int32.
inline constexpr size_t kMaxBlobLength = 0x7fffffff;

// InvalidArgument if `length` (bytes or UTF-16 units) exceeds kMaxBlobLength; `what` names the
// value in the message.
absl::Status checkBlobLength(size_t length, const char* what);

// A local binder object as the sender describes it: `binder` is libbinder's weak-refs pointer
// (the kernel's node key), `cookie` the BBinder pointer, `flags` the FLAT_BINDER_FLAG_* bits
// (min priority/policy, ACCEPTS_FDS, TXN_SECURITY_CTX, INHERIT_RT).
struct LocalBinder {
  uint64_t binder = 0;
  uint64_t cookie = 0;
  uint32_t flags = FLAT_BINDER_FLAG_ACCEPTS_FDS;
};

// The finished parcel, as the kernel takes it (data.size() = data_size, offsets = the offsets
// array of offsets.size() * 8 bytes).
struct ParcelBuffers {
  std::vector<uint8_t> data;
  std::vector<binder_size_t> offsets;
};

class ParcelWriter {
 public:
  ParcelWriter() = default;

  // ---- Primitives -------------------------------------------------------------------------
  void writeInt32(int32_t value);
  void writeUint32(uint32_t value);
  void writeInt64(int64_t value);
  void writeUint64(uint64_t value);
  void writeFloat(float value);
  void writeDouble(double value);
  void writeBool(bool value);      // int32 0 or 1
  void writeChar(char16_t value);  // int32, zero-extended
  void writeByte(int8_t value);    // int32, sign-extended (libbinder writeByte)

  // Overwrites the int32 at `position` (which must lie entirely inside the data written so far),
  // e.g. to back-patch an AIDL structured-parcelable size. Does not move the write position.
  [[nodiscard]] absl::Status writeInt32At(size_t position, int32_t value);

  // ---- Strings and arrays -----------------------------------------------------------------
  // String8: int32 byte length, the bytes, a NUL, zero padding to 4.
  [[nodiscard]] absl::Status writeString8(std::string_view value);
  [[nodiscard]] absl::Status writeNullableString8(std::optional<std::string_view> value);
  // String16: int32 length in UTF-16 units, the units, a 16-bit NUL, zero padding to 4.
  [[nodiscard]] absl::Status writeString16(std::u16string_view value);
  // UTF-8 input converted to String16 (libbinder writeUtf8AsUtf16, AIDL @utf8InCpp).
  [[nodiscard]] absl::Status writeString16(std::string_view utf8);
  [[nodiscard]] absl::Status writeNullableString16(std::optional<std::u16string_view> value);
  [[nodiscard]] absl::Status writeNullableUtf8AsString16(std::optional<std::string_view> utf8);
  // byte[]: int32 count, the packed bytes, zero padding to 4.
  [[nodiscard]] absl::Status writeByteArray(std::span<const uint8_t> value);
  [[nodiscard]] absl::Status writeNullableByteArray(std::optional<std::span<const uint8_t>> value);

  // ---- Objects ----------------------------------------------------------------------------
  // A local binder: BINDER_TYPE_BINDER {flags, binder, cookie} + offsets entry + stability word.
  void writeStrongBinder(const LocalBinder& binder, int32_t stability);
  // As writeStrongBinder with BINDER_TYPE_WEAK_BINDER.
  void writeWeakBinder(const LocalBinder& binder, int32_t stability);
  // A null binder (strong or weak): BINDER_TYPE_BINDER with binder = cookie = 0, NO offsets
  // entry, then the stability word. libbinder puts ACCEPTS_FDS and scheduling bits in `flags`
  // even here; readers ignore them.
  void writeNullBinder(int32_t stability = kStabilityUndeclared, uint32_t flags = 0);
  // A proxy: BINDER_TYPE_HANDLE {flags, handle, cookie = 0} + offsets entry + stability word.
  // Quirk (libbinder writeObject, reproduced): the offsets entry is recorded only when the 8-byte
  // binder/handle word is non-zero, so handle 0 (the context manager) gets NO offsets entry. The
  // kernel never sees such an object and the receiver resolves handle 0 locally.
  void writeStrongHandle(uint32_t handle, int32_t stability, uint32_t flags = 0);
  // As writeStrongHandle with BINDER_TYPE_WEAK_HANDLE (same handle-0 quirk).
  void writeWeakHandle(uint32_t handle, int32_t stability, uint32_t flags = 0);
  // BINDER_TYPE_FD binder_fd_object {pad_flags = 0, fd, cookie = 1 if the receiver's parcel
  // owns (closes) the fd, else 0}. Always gets an offsets entry (even fd 0); no stability word.
  void writeFileDescriptor(int32_t fd, bool take_ownership);
  // ParcelFileDescriptor: int32 0 ("no comm channel"), then the fd object.
  void writeParcelFileDescriptor(int32_t fd, bool take_ownership);

  // Low level: appends `object` verbatim. An offsets entry is recorded when `force_offset` is
  // true or the binder/handle word is non-zero (libbinder writeObject(val, nullMetaData)).
  void writeFlatObject(const flat_binder_object& object, bool force_offset);

  // ---- Result -----------------------------------------------------------------------------
  std::span<const uint8_t> data() const { return data_; }
  // INVARIANT: ascending, each entry < data().size(), 4-aligned, and each names a 24-byte object.
  std::span<const binder_size_t> offsets() const { return offsets_; }
  size_t dataSize() const { return data_.size(); }
  // Moves both buffers out: std::move(writer).release().
  ParcelBuffers release() &&;

 private:
  void appendRaw(const void* bytes, size_t size);
  // Zero-pads data_ to the next multiple of 4 (ends a blob).
  void padToWord();
  void writeBinderObject(uint32_t type, uint32_t flags, uint64_t binder_or_handle, uint64_t cookie,
                         int32_t stability);

  // INVARIANT: data_.size() % 4 == 0 between public calls.
  std::vector<uint8_t> data_;
  std::vector<binder_size_t> offsets_;
};

}  // namespace nb::codec
