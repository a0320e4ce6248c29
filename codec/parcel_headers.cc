#include "codec/parcel_headers.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "codec/utf16.h"

namespace nb::codec {
namespace {

// Rewinds `reader` to where it was at construction unless commit() is called: every header read
// either consumes the whole header or nothing.
class PositionGuard {
 public:
  explicit PositionGuard(ParcelReader& reader) : reader_(reader), start_(reader.position()) {}
  ~PositionGuard() {
    if (!committed_) {
      // Cannot fail: start_ was a valid position of the same data.
      reader_.setPosition(start_).IgnoreError();
    }
  }
  PositionGuard(const PositionGuard&) = delete;
  PositionGuard& operator=(const PositionGuard&) = delete;

  void commit() { committed_ = true; }
  size_t start() const { return start_; }

 private:
  ParcelReader& reader_;
  size_t start_;
  bool committed_ = false;
};

// Skips a sized header whose int32 size counts itself (libbinder Status::readFromParcel, Java
// Parcel.writeException): size 0 means nothing follows the size word; otherwise the header ends
// at (position of the size word + size). libbinder rewinds for sizes 0..3 (it seeks to
// start + size); we treat 0 as empty and reject 1..3, which no writer produces.
absl::Status skipSizedHeader(ParcelReader& reader, const char* what) {
  const size_t start = reader.position();
  const size_t avail = reader.dataAvail();
  absl::StatusOr<int32_t> size = reader.readInt32();
  if (!size.ok()) {
    return size.status();
  }
  if (*size == 0) {
    return absl::OkStatus();
  }
  if (*size < 4 || static_cast<size_t>(*size) > avail) {
    return absl::InvalidArgumentError(absl::StrCat("parcel: ", what, " at position ", start,
                                                   " has invalid size ", *size, " (", avail,
                                                   " bytes remain)"));
  }
  return reader.setPosition(start + static_cast<size_t>(*size));
}

}  // namespace

std::string headerMarkerName(uint32_t marker) {
  std::string name;
  for (int shift = 24; shift >= 0; shift -= 8) {
    const char c = static_cast<char>((marker >> shift) & 0xFF);
    if (c < 0x20 || c > 0x7E) {
      return absl::StrCat("0x", absl::Hex(marker, absl::kZeroPad8));
    }
    name.push_back(c);
  }
  return absl::StrCat("'", name, "'");
}

absl::Status writeInterfaceToken(ParcelWriter& writer, std::u16string_view descriptor,
                                 const InterfaceHeaderFormat& format, int32_t strict_mode_policy,
                                 int32_t work_source_uid) {
  // Check first so that a failure leaves `writer` unchanged; then nothing below can fail.
  if (absl::Status status = checkBlobLength(descriptor.size(), "interface descriptor");
      !status.ok()) {
    return status;
  }
  writer.writeInt32(strict_mode_policy | kStrictModePenaltyGather);
  writer.writeInt32(work_source_uid);
  if (format.layout == ParcelLayout::kAndroid11Plus) {
    writer.writeUint32(static_cast<uint32_t>(format.marker));
  }
  return writer.writeString16(descriptor);
}

namespace {

// Reads the fixed-size words before the descriptor into *token.
absl::Status readTokenPrefix(ParcelReader& reader, ParcelLayout layout, InterfaceToken* token) {
  absl::StatusOr<int32_t> strict = reader.readInt32();
  if (!strict.ok()) {
    return strict.status();
  }
  token->strict_mode_policy = *strict;
  absl::StatusOr<int32_t> work_source = reader.readInt32();
  if (!work_source.ok()) {
    return work_source.status();
  }
  token->work_source_uid = *work_source;
  if (layout == ParcelLayout::kAndroid11Plus) {
    absl::StatusOr<uint32_t> marker = reader.readUint32();
    if (!marker.ok()) {
      return marker.status();
    }
    token->marker = *marker;
  }
  return absl::OkStatus();
}

absl::Status readTokenDescriptor(ParcelReader& reader, InterfaceToken* token) {
  absl::StatusOr<std::u16string> descriptor = reader.readString16();
  if (!descriptor.ok()) {
    return descriptor.status();
  }
  token->descriptor = std::move(*descriptor);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InterfaceToken> readInterfaceToken(ParcelReader& reader, ParcelLayout layout) {
  PositionGuard guard(reader);
  InterfaceToken token;
  if (absl::Status status = readTokenPrefix(reader, layout, &token); !status.ok()) {
    return status;
  }
  if (absl::Status status = readTokenDescriptor(reader, &token); !status.ok()) {
    return status;
  }
  guard.commit();
  return token;
}

absl::StatusOr<InterfaceToken> enforceInterface(ParcelReader& reader,
                                                std::u16string_view expected_descriptor,
                                                const InterfaceHeaderFormat& format) {
  PositionGuard guard(reader);
  InterfaceToken token;
  if (absl::Status status = readTokenPrefix(reader, format.layout, &token); !status.ok()) {
    return status;
  }
  // The marker is checked before the descriptor is parsed, as libbinder does: with the wrong
  // layout or libbinder copy the descriptor bytes are not where we would look for them.
  if (token.marker.has_value() && *token.marker != static_cast<uint32_t>(format.marker)) {
    return absl::FailedPreconditionError(
        absl::StrCat("header mismatch: got ", headerMarkerName(*token.marker), " expected ",
                     headerMarkerName(static_cast<uint32_t>(format.marker))));
  }
  if (absl::Status status = readTokenDescriptor(reader, &token); !status.ok()) {
    return status;
  }
  if (token.descriptor != expected_descriptor) {
    return absl::FailedPreconditionError(
        absl::StrCat("interface mismatch: got '", utf16ToUtf8Lossy(token.descriptor),
                     "' expected '", utf16ToUtf8Lossy(expected_descriptor), "'"));
  }
  guard.commit();
  return token;
}

AidlStatus AidlStatus::fromExceptionCode(int32_t exception_code, std::u16string message) {
  AidlStatus status;
  status.exception_code = exception_code;
  status.message = std::move(message);
  return status;
}

AidlStatus AidlStatus::fromServiceSpecificError(int32_t error, std::u16string message) {
  AidlStatus status;
  status.exception_code = kExServiceSpecific;
  status.message = std::move(message);
  status.service_specific_error = error;
  return status;
}

absl::Status writeStatus(ParcelWriter& writer, const AidlStatus& status) {
  if (status.exception_code == kExTransactionFailed || status.exception_code == kExHasReplyHeader) {
    return absl::InvalidArgumentError(absl::StrCat("parcel: exception code ", status.exception_code,
                                                   " is never written to a reply parcel"));
  }
  if (status.isOk()) {
    writer.writeInt32(kExNone);
    return absl::OkStatus();
  }
  // Check first so that a failure leaves `writer` unchanged; then nothing below can fail.
  if (absl::Status s = checkBlobLength(status.message.size(), "Status message"); !s.ok()) {
    return s;
  }
  writer.writeInt32(status.exception_code);
  if (absl::Status s = writer.writeString16(std::u16string_view(status.message)); !s.ok()) {
    return s;
  }
  writer.writeInt32(0);  // empty remote stack-trace header
  if (status.exception_code == kExServiceSpecific) {
    writer.writeInt32(status.service_specific_error);
  } else if (status.exception_code == kExParcelable) {
    writer.writeInt32(0);  // libbinder does not send parcelable blobs
  }
  return absl::OkStatus();
}

absl::StatusOr<AidlStatus> readStatus(ParcelReader& reader) {
  PositionGuard guard(reader);
  AidlStatus status;
  absl::StatusOr<int32_t> code = reader.readInt32();
  if (!code.ok()) {
    return code.status();
  }
  if (*code == kExHasReplyHeader) {
    if (absl::Status s = skipSizedHeader(reader, "fat reply header"); !s.ok()) {
      return s;
    }
    guard.commit();
    return AidlStatus::ok();  // fat headers are only sent with no exception
  }
  status.exception_code = *code;
  if (status.isOk()) {
    guard.commit();
    return status;
  }
  absl::StatusOr<std::optional<std::u16string>> message = reader.readNullableString16();
  if (!message.ok()) {
    return message.status();
  }
  status.message = message->value_or(std::u16string());
  if (absl::Status s = skipSizedHeader(reader, "remote stack-trace header"); !s.ok()) {
    return s;
  }
  if (status.exception_code == kExServiceSpecific) {
    absl::StatusOr<int32_t> error = reader.readInt32();
    if (!error.ok()) {
      return error.status();
    }
    status.service_specific_error = *error;
  } else if (status.exception_code == kExParcelable) {
    if (absl::Status s = skipSizedHeader(reader, "parcelable exception"); !s.ok()) {
      return s;
    }
  }
  guard.commit();
  return status;
}

}  // namespace nb::codec
