#include "codec/parcel_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "codec/utf16.h"

namespace nb::codec {
namespace {

constexpr size_t kObjectSize = sizeof(flat_binder_object);
static_assert(kObjectSize == 24, "64-bit binder ABI expected (binder_uintptr_t = u64)");
static_assert(sizeof(binder_fd_object) == kObjectSize);

std::optional<ParcelObjectKind> kindOfType(uint32_t type) {
  switch (type) {
    case BINDER_TYPE_BINDER:
      return ParcelObjectKind::kBinder;
    case BINDER_TYPE_WEAK_BINDER:
      return ParcelObjectKind::kWeakBinder;
    case BINDER_TYPE_HANDLE:
      return ParcelObjectKind::kHandle;
    case BINDER_TYPE_WEAK_HANDLE:
      return ParcelObjectKind::kWeakHandle;
    case BINDER_TYPE_FD:
      return ParcelObjectKind::kFd;
    default:
      return std::nullopt;
  }
}

// Builds the typed view of a raw object whose type is already known to be one of the five.
ParcelObject toParcelObject(const flat_binder_object& raw, ParcelObjectKind kind, size_t position,
                            bool in_offsets) {
  ParcelObject object;
  object.kind = kind;
  object.type = raw.hdr.type;
  object.flags = raw.flags;
  object.position = position;
  object.in_offsets = in_offsets;
  switch (kind) {
    case ParcelObjectKind::kBinder:
    case ParcelObjectKind::kWeakBinder:
      object.binder = raw.binder;
      object.cookie = raw.cookie;
      break;
    case ParcelObjectKind::kHandle:
    case ParcelObjectKind::kWeakHandle:
      object.handle = raw.handle;
      object.cookie = raw.cookie;
      break;
    case ParcelObjectKind::kFd:
      // binder_fd_object shares the layout: pad_flags = flags, fd = low half of the binder word.
      object.fd = static_cast<int32_t>(raw.handle);
      object.cookie = raw.cookie;
      break;
  }
  return object;
}

}  // namespace

const char* parcelObjectKindName(ParcelObjectKind kind) {
  switch (kind) {
    case ParcelObjectKind::kBinder:
      return "BINDER";
    case ParcelObjectKind::kWeakBinder:
      return "WEAK_BINDER";
    case ParcelObjectKind::kHandle:
      return "HANDLE";
    case ParcelObjectKind::kWeakHandle:
      return "WEAK_HANDLE";
    case ParcelObjectKind::kFd:
      return "FD";
  }
  return "?";
}

ParcelReader::ParcelReader(std::span<const uint8_t> data, std::span<const binder_size_t> offsets)
    : data_(data) {
  if (std::is_sorted(offsets.begin(), offsets.end())) {
    borrowed_offsets_ = offsets;
  } else {
    // libbinder sorts its own mObjects the first time a read needs them (validateReadData); the
    // caller's array is const here, so sort a copy once.
    owned_offsets_.assign(offsets.begin(), offsets.end());
    std::sort(owned_offsets_.begin(), owned_offsets_.end());
    uses_owned_offsets_ = true;
  }
}

std::span<const binder_size_t> ParcelReader::sortedOffsets() const {
  return uses_owned_offsets_ ? std::span<const binder_size_t>(owned_offsets_) : borrowed_offsets_;
}

absl::Status ParcelReader::setPosition(size_t position) {
  if (position > data_.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("parcel: setPosition(", position, ") beyond data size ", data_.size()));
  }
  pos_ = position;
  return absl::OkStatus();
}

absl::Status ParcelReader::checkAvailable(size_t pos, size_t size, const char* what) const {
  if (pos > data_.size() || data_.size() - pos < size) {
    const size_t avail = pos > data_.size() ? 0 : data_.size() - pos;
    return absl::OutOfRangeError(absl::StrCat("parcel: ", what, " at position ", pos, " needs ",
                                              size, " bytes, ", avail, " available"));
  }
  return absl::OkStatus();
}

absl::Status ParcelReader::checkPlainRead(size_t pos, size_t size, const char* what) const {
  if (absl::Status status = checkAvailable(pos, size, what); !status.ok()) {
    return status;
  }
  if (size == 0) {
    return absl::OkStatus();
  }
  // Don't allow plain reads of object bytes (libbinder validateReadData): that would let a reader
  // misinterpret a binder as data. All objects are 24 bytes, so only the last listed object that
  // starts before the end of the read can overlap it.
  const std::span<const binder_size_t> offsets = sortedOffsets();
  const size_t end = pos + size;  // no overflow: checkAvailable proved end <= data_.size()
  const auto it = std::lower_bound(offsets.begin(), offsets.end(), end);
  if (it == offsets.begin()) {
    return absl::OkStatus();
  }
  const binder_size_t object = *(it - 1);
  if (object >= pos || pos - object < kObjectSize) {
    return absl::PermissionDeniedError(absl::StrCat("parcel: ", what, " at position ", pos,
                                                    " overlaps the object at position ", object));
  }
  return absl::OkStatus();
}

bool ParcelReader::isListedObject(size_t pos) const {
  const std::span<const binder_size_t> offsets = sortedOffsets();
  return std::binary_search(offsets.begin(), offsets.end(), static_cast<binder_size_t>(pos));
}

template <typename T>
absl::StatusOr<T> ParcelReader::readScalarAt(size_t* pos, const char* what) const {
  if (absl::Status status = checkPlainRead(*pos, sizeof(T), what); !status.ok()) {
    return status;
  }
  T value;
  // SAFETY: checkPlainRead proved [*pos, *pos + sizeof(T)) lies inside data_; memcpy because the
  // position need not be aligned for T.
  std::memcpy(&value, data_.data() + *pos, sizeof(T));
  *pos += sizeof(T);
  return value;
}

template <typename T>
absl::StatusOr<T> ParcelReader::readScalar(const char* what) {
  size_t pos = pos_;
  absl::StatusOr<T> value = readScalarAt<T>(&pos, what);
  if (value.ok()) {
    pos_ = pos;
  }
  return value;
}

absl::StatusOr<int32_t> ParcelReader::readInt32() { return readScalar<int32_t>("int32"); }
absl::StatusOr<uint32_t> ParcelReader::readUint32() { return readScalar<uint32_t>("uint32"); }
absl::StatusOr<int64_t> ParcelReader::readInt64() { return readScalar<int64_t>("int64"); }
absl::StatusOr<uint64_t> ParcelReader::readUint64() { return readScalar<uint64_t>("uint64"); }
absl::StatusOr<float> ParcelReader::readFloat() { return readScalar<float>("float"); }
absl::StatusOr<double> ParcelReader::readDouble() { return readScalar<double>("double"); }

absl::StatusOr<bool> ParcelReader::readBool() {
  absl::StatusOr<int32_t> value = readScalar<int32_t>("bool");
  if (!value.ok()) {
    return value.status();
  }
  return *value != 0;
}

absl::StatusOr<char16_t> ParcelReader::readChar() {
  absl::StatusOr<int32_t> value = readScalar<int32_t>("char");
  if (!value.ok()) {
    return value.status();
  }
  return static_cast<char16_t>(*value);
}

absl::StatusOr<int8_t> ParcelReader::readByte() {
  absl::StatusOr<int32_t> value = readScalar<int32_t>("byte");
  if (!value.ok()) {
    return value.status();
  }
  return static_cast<int8_t>(*value);
}

absl::StatusOr<std::span<const uint8_t>> ParcelReader::readInplace(size_t size) {
  if (size > data_.size()) {
    return checkAvailable(pos_, size, "inplace blob");
  }
  const size_t padded = (size + 3) & ~size_t{3};  // no overflow: size <= data_.size()
  if (absl::Status status = checkPlainRead(pos_, padded, "inplace blob"); !status.ok()) {
    return status;
  }
  const std::span<const uint8_t> bytes = data_.subspan(pos_, size);
  pos_ += padded;
  return bytes;
}

// Worked example, String16 u"tok" at position 0:
//   03000000 74006f00 6b000000
//   length 3 -> 3 units + NUL unit = 8 bytes, already a multiple of 4; unit 3 (bytes 10..11) must
//   be 0. A length of 0x7fffffff asks for 4 GiB and fails the remaining-data check below, before
//   anything is read; the arithmetic is 64-bit, so (length + 1) * 2 cannot wrap.
absl::StatusOr<std::optional<std::span<const uint8_t>>> ParcelReader::readBlobAt(
    size_t* pos, size_t unit_size, bool nul_terminated, const char* what) const {
  const size_t start = *pos;
  size_t p = start;
  absl::StatusOr<int32_t> length = readScalarAt<int32_t>(&p, what);
  if (!length.ok()) {
    return length.status();
  }
  if (*length == -1) {
    *pos = p;
    return std::optional<std::span<const uint8_t>>();
  }
  if (*length < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: ", what, " at position ", start, " has negative length ", *length));
  }
  const uint64_t units = static_cast<uint64_t>(*length) + (nul_terminated ? 1 : 0);
  const uint64_t bytes = units * unit_size;  // < 2^33: cannot overflow
  const uint64_t padded = (bytes + 3) & ~uint64_t{3};
  if (padded > data_.size() - p) {
    return absl::OutOfRangeError(absl::StrCat("parcel: ", what, " at position ", start,
                                              " declares length ", *length, " (", padded,
                                              " bytes) but only ", data_.size() - p, " remain"));
  }
  if (absl::Status status = checkPlainRead(p, static_cast<size_t>(padded), what); !status.ok()) {
    return status;
  }
  const size_t payload = static_cast<size_t>(*length) * unit_size;
  if (nul_terminated) {
    // SAFETY: p + bytes <= p + padded <= data_.size() (checked above).
    const uint8_t* terminator = data_.data() + p + payload;
    if (std::any_of(terminator, terminator + unit_size, [](uint8_t b) { return b != 0; })) {
      return absl::InvalidArgumentError(
          absl::StrCat("parcel: ", what, " at position ", start, " is missing its NUL terminator"));
    }
  }
  *pos = p + static_cast<size_t>(padded);
  return std::optional<std::span<const uint8_t>>(data_.subspan(p, payload));
}

absl::StatusOr<std::optional<std::string>> ParcelReader::readNullableString8() {
  size_t pos = pos_;
  auto blob = readBlobAt(&pos, 1, /*nul_terminated=*/true, "String8");
  if (!blob.ok()) {
    return blob.status();
  }
  pos_ = pos;
  if (!blob->has_value()) {
    return std::optional<std::string>();
  }
  return std::optional<std::string>(std::in_place, (*blob)->begin(), (*blob)->end());
}

absl::StatusOr<std::string> ParcelReader::readString8() {
  const size_t start = pos_;
  absl::StatusOr<std::optional<std::string>> value = readNullableString8();
  if (!value.ok()) {
    return value.status();
  }
  if (!value->has_value()) {
    pos_ = start;
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: unexpected null String8 at position ", start));
  }
  return std::move(**value);
}

absl::StatusOr<std::optional<std::u16string>> ParcelReader::readNullableString16() {
  size_t pos = pos_;
  auto blob = readBlobAt(&pos, sizeof(char16_t), /*nul_terminated=*/true, "String16");
  if (!blob.ok()) {
    return blob.status();
  }
  pos_ = pos;
  if (!blob->has_value()) {
    return std::optional<std::u16string>();
  }
  std::u16string value((*blob)->size() / sizeof(char16_t), u'\0');
  // SAFETY: the blob span holds exactly value.size() * 2 bytes inside data_ (readBlobAt); memcpy
  // because the parcel bytes need not be 2-aligned in memory.
  std::memcpy(value.data(), (*blob)->data(), (*blob)->size());
  return std::optional<std::u16string>(std::move(value));
}

absl::StatusOr<std::u16string> ParcelReader::readString16() {
  const size_t start = pos_;
  absl::StatusOr<std::optional<std::u16string>> value = readNullableString16();
  if (!value.ok()) {
    return value.status();
  }
  if (!value->has_value()) {
    pos_ = start;
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: unexpected null String16 at position ", start));
  }
  return std::move(**value);
}

absl::StatusOr<std::optional<std::string>> ParcelReader::readNullableString16AsUtf8() {
  const size_t start = pos_;
  absl::StatusOr<std::optional<std::u16string>> value = readNullableString16();
  if (!value.ok()) {
    return value.status();
  }
  if (!value->has_value()) {
    return std::optional<std::string>();
  }
  absl::StatusOr<std::string> utf8 = utf16ToUtf8(**value);
  if (!utf8.ok()) {
    pos_ = start;
    return absl::InvalidArgumentError(absl::StrCat(
        "parcel: String16 at position ", start, " is not valid UTF-16: ", utf8.status().message()));
  }
  return std::optional<std::string>(std::move(*utf8));
}

absl::StatusOr<std::string> ParcelReader::readString16AsUtf8() {
  const size_t start = pos_;
  absl::StatusOr<std::optional<std::string>> value = readNullableString16AsUtf8();
  if (!value.ok()) {
    return value.status();
  }
  if (!value->has_value()) {
    pos_ = start;
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: unexpected null String16 at position ", start));
  }
  return std::move(**value);
}

absl::StatusOr<std::optional<std::vector<uint8_t>>> ParcelReader::readNullableByteArray() {
  size_t pos = pos_;
  auto blob = readBlobAt(&pos, 1, /*nul_terminated=*/false, "byte[]");
  if (!blob.ok()) {
    return blob.status();
  }
  pos_ = pos;
  if (!blob->has_value()) {
    return std::optional<std::vector<uint8_t>>();
  }
  return std::optional<std::vector<uint8_t>>(std::in_place, (*blob)->begin(), (*blob)->end());
}

absl::StatusOr<std::vector<uint8_t>> ParcelReader::readByteArray() {
  const size_t start = pos_;
  absl::StatusOr<std::optional<std::vector<uint8_t>>> value = readNullableByteArray();
  if (!value.ok()) {
    return value.status();
  }
  if (!value->has_value()) {
    pos_ = start;
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: unexpected null byte[] at position ", start));
  }
  return std::move(**value);
}

// The object check, as libbinder readObject does it:
//   * the object must lie inside the data;
//   * its position must be listed in the offsets array, except that a binder object whose
//     8-byte binder/handle word and cookie are both 0 is accepted unlisted — that is the null
//     binder and the handle-0 proxy, which writeObject never lists (see parcel_writer.h);
//   * fd objects are always checked (libbinder readObject(nullMetaData = true)), so fd 0 with
//     cookie 0 cannot be forged.
absl::StatusOr<ParcelObject> ParcelReader::readObjectAt(size_t* pos) const {
  const size_t p = *pos;
  if (absl::Status status = checkAvailable(p, kObjectSize, "object"); !status.ok()) {
    return status;
  }
  flat_binder_object raw;
  // SAFETY: checkAvailable proved [p, p + 24) lies inside data_.
  std::memcpy(&raw, data_.data() + p, sizeof(raw));
  const bool listed = isListedObject(p);
  const bool null_or_handle0 = raw.hdr.type != BINDER_TYPE_FD && raw.binder == 0 && raw.cookie == 0;
  if (!listed && !null_or_handle0) {
    return absl::PermissionDeniedError(absl::StrCat("parcel: object at position ", p,
                                                    " is not in the offsets array (type 0x",
                                                    absl::Hex(raw.hdr.type), ")"));
  }
  const std::optional<ParcelObjectKind> kind = kindOfType(raw.hdr.type);
  if (!kind.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "parcel: object at position ", p, " has unsupported type 0x", absl::Hex(raw.hdr.type)));
  }
  *pos = p + kObjectSize;
  return toParcelObject(raw, *kind, p, listed);
}

absl::StatusOr<ParcelObject> ParcelReader::readObject() {
  size_t pos = pos_;
  absl::StatusOr<ParcelObject> object = readObjectAt(&pos);
  if (object.ok()) {
    pos_ = pos;
  }
  return object;
}

absl::StatusOr<ParcelBinder> ParcelReader::readBinder(bool weak) {
  size_t pos = pos_;
  absl::StatusOr<ParcelObject> object = readObjectAt(&pos);
  if (!object.ok()) {
    return object.status();
  }
  const ParcelObjectKind kind = object->kind;
  const bool accepted =
      weak ? (kind == ParcelObjectKind::kWeakBinder || kind == ParcelObjectKind::kWeakHandle ||
              object->isNull())
           : (kind == ParcelObjectKind::kBinder || kind == ParcelObjectKind::kHandle);
  if (!accepted) {
    return absl::InvalidArgumentError(absl::StrCat("parcel: expected a ", weak ? "weak" : "strong",
                                                   " binder at position ", pos_, ", found a ",
                                                   parcelObjectKindName(kind), " object"));
  }
  absl::StatusOr<int32_t> stability = readScalarAt<int32_t>(&pos, "binder stability word");
  if (!stability.ok()) {
    return stability.status();
  }
  pos_ = pos;
  return ParcelBinder{*object, *stability};
}

absl::StatusOr<ParcelBinder> ParcelReader::readStrongBinder() { return readBinder(false); }
absl::StatusOr<ParcelBinder> ParcelReader::readWeakBinder() { return readBinder(true); }

absl::StatusOr<ParcelObject> ParcelReader::readFdAt(size_t* pos) const {
  const size_t start = *pos;
  size_t p = start;
  absl::StatusOr<ParcelObject> object = readObjectAt(&p);
  if (!object.ok()) {
    return object.status();
  }
  if (object->kind != ParcelObjectKind::kFd) {
    return absl::InvalidArgumentError(absl::StrCat("parcel: expected an FD object at position ",
                                                   start, ", found a ",
                                                   parcelObjectKindName(object->kind)));
  }
  *pos = p;
  return object;
}

absl::StatusOr<ParcelObject> ParcelReader::readFileDescriptor() {
  size_t pos = pos_;
  absl::StatusOr<ParcelObject> object = readFdAt(&pos);
  if (object.ok()) {
    pos_ = pos;
  }
  return object;
}

absl::StatusOr<ParcelFd> ParcelReader::readParcelFileDescriptor() {
  size_t pos = pos_;
  absl::StatusOr<int32_t> has_comm = readScalarAt<int32_t>(&pos, "ParcelFileDescriptor header");
  if (!has_comm.ok()) {
    return has_comm.status();
  }
  absl::StatusOr<ParcelObject> fd = readFdAt(&pos);
  if (!fd.ok()) {
    return fd.status();
  }
  ParcelFd result{*fd, std::nullopt};
  if (*has_comm != 0) {
    absl::StatusOr<ParcelObject> comm = readFdAt(&pos);
    if (!comm.ok()) {
      return comm.status();
    }
    result.comm = *comm;
  }
  pos_ = pos;
  return result;
}

}  // namespace nb::codec
