// ParcelReader: a bounds-checked read cursor over a libbinder kernel Parcel — the data bytes and
// the object offsets array — that decodes what ParcelWriter (and libbinder's Parcel.cpp) writes
// (../shared/reference/aosp-binder.md §2.1, §2.3).
//
// Every read returns absl::StatusOr<T>. A read never touches a byte outside `data`, and a failed
// read leaves the position where it was. Error codes:
//   OutOfRange        the value does not fit in the remaining data (message names the position)
//   InvalidArgument   malformed value: bad length, missing NUL, unexpected null, wrong object type
//   PermissionDenied  an object read at a position that is not in the offsets array (forgery), or
//                     a plain-data read overlapping a listed object (libbinder validateReadData)
//
// Objects: libbinder accepts an object only at a data position listed in the offsets array —
// otherwise any sender could forge a binder or fd by writing its bytes as plain data. The one
// exception, reproduced here, is a binder object whose binder/handle word and cookie are both 0:
// the null binder and a proxy for handle 0, which libbinder writes without an offsets entry
// (Parcel.cpp readObject / writeObject). fd objects always need an offsets entry.
//
// The reader does not own the bytes: `data` and `offsets` must outlive it and not change while it
// is used. It is a plain value, not thread-safe; copies are independent cursors.
#pragma once

#include <linux/android/binder.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace nb::codec {

// The five 24-byte object types a libbinder kernel Parcel carries. (PTR and FDA objects are
// HIDL scatter-gather objects; this reader rejects them.)
enum class ParcelObjectKind : uint8_t {
  kBinder,      // BINDER_TYPE_BINDER
  kWeakBinder,  // BINDER_TYPE_WEAK_BINDER
  kHandle,      // BINDER_TYPE_HANDLE
  kWeakHandle,  // BINDER_TYPE_WEAK_HANDLE
  kFd,          // BINDER_TYPE_FD
};

const char* parcelObjectKindName(ParcelObjectKind kind);

// A typed copy of one object read from the parcel. Fields not used by `kind` are 0.
struct ParcelObject {
  ParcelObjectKind kind = ParcelObjectKind::kBinder;
  uint32_t type = 0;    // the raw BINDER_TYPE_* value
  uint32_t flags = 0;   // flat_binder_object.flags (pad_flags for fds)
  uint64_t binder = 0;  // kBinder / kWeakBinder: the sender's node (weak-refs) pointer
  uint32_t handle = 0;  // kHandle / kWeakHandle
  int32_t fd = -1;      // kFd
  uint64_t cookie = 0;  // kBinder / kWeakBinder: BBinder pointer; kFd: 1 if owned
  size_t position = 0;  // byte offset of the object in data
  // False only for the binder/handle-0 object accepted without an offsets entry.
  bool in_offsets = false;

  // The null binder: BINDER type with binder = 0 (libbinder reads it as nullptr).
  bool isNull() const { return kind == ParcelObjectKind::kBinder && binder == 0; }
};

// A binder object and the int32 stability word that follows it (raw; see kStability* in
// parcel_writer.h — Android 12 wrote a packed category word instead of a level).
struct ParcelBinder {
  ParcelObject object;
  int32_t stability = 0;
};

// A ParcelFileDescriptor: int32 has-comm-channel, the fd object, and when has-comm is non-zero a
// second fd object (the comm channel, used by Java ParcelFileDescriptor.createReliablePipe).
struct ParcelFd {
  ParcelObject fd;
  std::optional<ParcelObject> comm;
};

class ParcelReader {
 public:
  // `offsets` are the byte positions of objects in `data` (the kernel's offsets array). They need
  // not be sorted or valid: unsorted input is copied and sorted; entries that do not name a
  // readable object simply never match.
  explicit ParcelReader(std::span<const uint8_t> data, std::span<const binder_size_t> offsets = {});

  size_t position() const { return pos_; }
  size_t dataSize() const { return data_.size(); }
  size_t dataAvail() const { return data_.size() - pos_; }
  // Moves the cursor; OutOfRange if `position` > dataSize(). Any position is allowed (reads use
  // memcpy), but libbinder data is 4-aligned.
  [[nodiscard]] absl::Status setPosition(size_t position);

  // ---- Primitives -------------------------------------------------------------------------
  absl::StatusOr<int32_t> readInt32();
  absl::StatusOr<uint32_t> readUint32();
  absl::StatusOr<int64_t> readInt64();
  absl::StatusOr<uint64_t> readUint64();
  absl::StatusOr<float> readFloat();
  absl::StatusOr<double> readDouble();
  absl::StatusOr<bool> readBool();      // any non-zero int32 is true (libbinder)
  absl::StatusOr<char16_t> readChar();  // low 16 bits of an int32
  absl::StatusOr<int8_t> readByte();    // low 8 bits of an int32

  // `size` bytes plus padding to 4 (libbinder readInplace); returns the unpadded bytes.
  absl::StatusOr<std::span<const uint8_t>> readInplace(size_t size);

  // ---- Strings and arrays -----------------------------------------------------------------
  // Length -1 means null: the plain variants fail on it (InvalidArgument "unexpected null"), the
  // Nullable variants return nullopt. Any other negative length is malformed and rejected
  // (libbinder would treat it as null on some paths; no conforming writer produces it).
  absl::StatusOr<std::string> readString8();
  absl::StatusOr<std::optional<std::string>> readNullableString8();
  absl::StatusOr<std::u16string> readString16();
  absl::StatusOr<std::optional<std::u16string>> readNullableString16();
  // String16 converted to UTF-8 (libbinder readUtf8FromUtf16); an unpaired surrogate fails.
  absl::StatusOr<std::string> readString16AsUtf8();
  absl::StatusOr<std::optional<std::string>> readNullableString16AsUtf8();
  absl::StatusOr<std::vector<uint8_t>> readByteArray();
  absl::StatusOr<std::optional<std::vector<uint8_t>>> readNullableByteArray();

  // ---- Objects ----------------------------------------------------------------------------
  // One 24-byte object of any of the five kinds, checked against the offsets array as described
  // at the top of this file. No stability word is consumed.
  absl::StatusOr<ParcelObject> readObject();
  // BINDER or HANDLE object (including null and handle 0) + stability word (libbinder
  // readStrongBinder / unflattenBinder).
  absl::StatusOr<ParcelBinder> readStrongBinder();
  // WEAK_BINDER or WEAK_HANDLE object, or the null BINDER object, + stability word.
  absl::StatusOr<ParcelBinder> readWeakBinder();
  // FD object (always in the offsets array).
  absl::StatusOr<ParcelObject> readFileDescriptor();
  absl::StatusOr<ParcelFd> readParcelFileDescriptor();

 private:
  // OutOfRange unless [pos, pos + size) lies inside data_; `what` names the value for the message.
  absl::Status checkAvailable(size_t pos, size_t size, const char* what) const;
  // checkAvailable, plus PermissionDenied if [pos, pos + size) overlaps a listed object.
  absl::Status checkPlainRead(size_t pos, size_t size, const char* what) const;
  // Reads a length-prefixed blob of `unit_size`-byte units plus a NUL unit (strings) or not
  // (arrays) at *pos; nullopt for length -1. Advances *pos only on success.
  absl::StatusOr<std::optional<std::span<const uint8_t>>> readBlobAt(size_t* pos, size_t unit_size,
                                                                     bool nul_terminated,
                                                                     const char* what) const;
  absl::StatusOr<ParcelObject> readObjectAt(size_t* pos) const;
  absl::StatusOr<ParcelBinder> readBinder(bool weak);
  absl::StatusOr<ParcelObject> readFdAt(size_t* pos) const;
  template <typename T>
  absl::StatusOr<T> readScalarAt(size_t* pos, const char* what) const;
  template <typename T>
  absl::StatusOr<T> readScalar(const char* what);
  bool isListedObject(size_t pos) const;
  std::span<const binder_size_t> sortedOffsets() const;

  std::span<const uint8_t> data_;
  // The caller's offsets when already sorted; otherwise empty and owned_offsets_ is used.
  std::span<const binder_size_t> borrowed_offsets_;
  // INVARIANT: sorted ascending. Holds a sorted copy when the caller's offsets were unsorted.
  std::vector<binder_size_t> owned_offsets_;
  bool uses_owned_offsets_ = false;
  // INVARIANT: pos_ <= data_.size().
  size_t pos_ = 0;
};

}  // namespace nb::codec
