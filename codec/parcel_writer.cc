#include "codec/parcel_writer.h"

#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "codec/utf16.h"

namespace nb::codec {
namespace {

static_assert(sizeof(flat_binder_object) == 24,
              "64-bit binder ABI expected (binder_uintptr_t = u64)");
static_assert(sizeof(binder_fd_object) == sizeof(flat_binder_object));
static_assert(sizeof(binder_size_t) == 8);

static_assert(kMaxBlobLength == std::numeric_limits<int32_t>::max());

}  // namespace

absl::Status checkBlobLength(size_t length, const char* what) {
  if (length > kMaxBlobLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: ", what, " length ", length, " exceeds INT32_MAX"));
  }
  return absl::OkStatus();
}

void ParcelWriter::appendRaw(const void* bytes, size_t size) {
  const auto* begin = static_cast<const uint8_t*>(bytes);
  data_.insert(data_.end(), begin, begin + size);
}

void ParcelWriter::padToWord() {
  // libbinder writeInplace masks the tail word, so padding is always zero. Every write starts
  // 4-aligned (INVARIANT on data_), so padding the total size pads the blob just appended.
  data_.resize((data_.size() + 3) & ~size_t{3}, 0);
}

void ParcelWriter::writeInt32(int32_t value) { appendRaw(&value, sizeof(value)); }
void ParcelWriter::writeUint32(uint32_t value) { appendRaw(&value, sizeof(value)); }
void ParcelWriter::writeInt64(int64_t value) { appendRaw(&value, sizeof(value)); }
void ParcelWriter::writeUint64(uint64_t value) { appendRaw(&value, sizeof(value)); }
void ParcelWriter::writeFloat(float value) { appendRaw(&value, sizeof(value)); }
void ParcelWriter::writeDouble(double value) { appendRaw(&value, sizeof(value)); }
void ParcelWriter::writeBool(bool value) { writeInt32(value ? 1 : 0); }
void ParcelWriter::writeChar(char16_t value) { writeInt32(static_cast<int32_t>(value)); }
void ParcelWriter::writeByte(int8_t value) { writeInt32(static_cast<int32_t>(value)); }

absl::Status ParcelWriter::writeInt32At(size_t position, int32_t value) {
  if (position > data_.size() || data_.size() - position < sizeof(value)) {
    return absl::OutOfRangeError(absl::StrCat("parcel: writeInt32At position ", position,
                                              " beyond data size ", data_.size()));
  }
  // SAFETY: position + 4 <= data_.size() was checked above.
  std::memcpy(data_.data() + position, &value, sizeof(value));
  return absl::OkStatus();
}

absl::Status ParcelWriter::writeString8(std::string_view value) {
  if (absl::Status status = checkBlobLength(value.size(), "String8"); !status.ok()) {
    return status;
  }
  writeInt32(static_cast<int32_t>(value.size()));
  appendRaw(value.data(), value.size());
  data_.push_back(0);  // NUL terminator
  padToWord();
  return absl::OkStatus();
}

absl::Status ParcelWriter::writeNullableString8(std::optional<std::string_view> value) {
  if (!value.has_value()) {
    writeInt32(-1);
    return absl::OkStatus();
  }
  return writeString8(*value);
}

absl::Status ParcelWriter::writeString16(std::u16string_view value) {
  if (absl::Status status = checkBlobLength(value.size(), "String16"); !status.ok()) {
    return status;
  }
  writeInt32(static_cast<int32_t>(value.size()));
  appendRaw(value.data(), value.size() * sizeof(char16_t));
  data_.resize(data_.size() + sizeof(char16_t), 0);  // 16-bit NUL terminator
  padToWord();
  return absl::OkStatus();
}

absl::Status ParcelWriter::writeString16(std::string_view utf8) {
  absl::StatusOr<std::u16string> utf16 = utf8ToUtf16(utf8);
  if (!utf16.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("parcel: String16 from UTF-8: ", utf16.status().message()));
  }
  return writeString16(std::u16string_view(*utf16));
}

absl::Status ParcelWriter::writeNullableString16(std::optional<std::u16string_view> value) {
  if (!value.has_value()) {
    writeInt32(-1);
    return absl::OkStatus();
  }
  return writeString16(*value);
}

absl::Status ParcelWriter::writeNullableUtf8AsString16(std::optional<std::string_view> utf8) {
  if (!utf8.has_value()) {
    writeInt32(-1);
    return absl::OkStatus();
  }
  return writeString16(*utf8);
}

absl::Status ParcelWriter::writeByteArray(std::span<const uint8_t> value) {
  if (absl::Status status = checkBlobLength(value.size(), "byte[]"); !status.ok()) {
    return status;
  }
  writeInt32(static_cast<int32_t>(value.size()));
  appendRaw(value.data(), value.size());
  padToWord();
  return absl::OkStatus();
}

absl::Status ParcelWriter::writeNullableByteArray(std::optional<std::span<const uint8_t>> value) {
  if (!value.has_value()) {
    writeInt32(-1);
    return absl::OkStatus();
  }
  return writeByteArray(*value);
}

void ParcelWriter::writeFlatObject(const flat_binder_object& object, bool force_offset) {
  if (force_offset || object.binder != 0) {
    offsets_.push_back(data_.size());
  }
  appendRaw(&object, sizeof(object));
}

void ParcelWriter::writeBinderObject(uint32_t type, uint32_t flags, uint64_t binder_or_handle,
                                     uint64_t cookie, int32_t stability) {
  flat_binder_object object;
  std::memset(&object, 0, sizeof(object));  // no uninitialised padding goes on the wire
  object.hdr.type = type;
  object.flags = flags;
  object.binder = binder_or_handle;  // for handles: the u32 handle, upper half zero
  object.cookie = cookie;
  writeFlatObject(object, /*force_offset=*/false);
  writeInt32(stability);
}

void ParcelWriter::writeStrongBinder(const LocalBinder& binder, int32_t stability) {
  writeBinderObject(BINDER_TYPE_BINDER, binder.flags, binder.binder, binder.cookie, stability);
}

void ParcelWriter::writeWeakBinder(const LocalBinder& binder, int32_t stability) {
  writeBinderObject(BINDER_TYPE_WEAK_BINDER, binder.flags, binder.binder, binder.cookie, stability);
}

void ParcelWriter::writeNullBinder(int32_t stability, uint32_t flags) {
  writeBinderObject(BINDER_TYPE_BINDER, flags, 0, 0, stability);
}

void ParcelWriter::writeStrongHandle(uint32_t handle, int32_t stability, uint32_t flags) {
  writeBinderObject(BINDER_TYPE_HANDLE, flags, handle, 0, stability);
}

void ParcelWriter::writeWeakHandle(uint32_t handle, int32_t stability, uint32_t flags) {
  writeBinderObject(BINDER_TYPE_WEAK_HANDLE, flags, handle, 0, stability);
}

void ParcelWriter::writeFileDescriptor(int32_t fd, bool take_ownership) {
  binder_fd_object fd_object;
  std::memset(&fd_object, 0, sizeof(fd_object));
  fd_object.hdr.type = BINDER_TYPE_FD;
  fd_object.fd = static_cast<uint32_t>(fd);
  fd_object.cookie = take_ownership ? 1 : 0;
  flat_binder_object object;
  // SAFETY: both structs are 24 bytes (static_assert above) with the same header; libbinder
  // writes fds through the flat_binder_object view too.
  std::memcpy(&object, &fd_object, sizeof(object));
  writeFlatObject(object, /*force_offset=*/true);
}

void ParcelWriter::writeParcelFileDescriptor(int32_t fd, bool take_ownership) {
  writeInt32(0);
  writeFileDescriptor(fd, take_ownership);
}

ParcelBuffers ParcelWriter::release() && {
  return ParcelBuffers{std::exchange(data_, {}), std::exchange(offsets_, {})};
}

}  // namespace nb::codec
