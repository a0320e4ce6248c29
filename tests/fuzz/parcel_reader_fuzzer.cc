// libFuzzer target for ParcelReader and the parcel headers (codec/parcel_reader.h,
// codec/parcel_headers.h).
//
// Input layout:
//   byte 0            selector: seeds the sequence of read operations (kMaxOps of them)
//   byte 1            number of offsets entries, mod 5
//   next N bytes      one per offsets entry: (b & 0x7f) * 4, plus 1 if b & 0x80 (unaligned)
//   rest              the parcel data
//
// Properties checked (a violation traps):
//   * no crash / sanitizer report on any input;
//   * a failed read leaves the position unchanged; the position never passes the data size;
//   * whatever String8 / String16 / UTF-8 String16 / byte[] / AIDL Status is read successfully,
//     written back with ParcelWriter and re-read, compares equal.
#include <linux/android/binder.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codec/parcel_headers.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"

namespace nb::codec {
namespace {

constexpr int kMaxOps = 48;

void check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

// A small deterministic generator so one selector byte names a whole op sequence.
class OpSequence {
 public:
  explicit OpSequence(uint8_t selector) : state_(0x9E3779B9u ^ (selector * 0x01000193u)) {}
  uint32_t next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }

 private:
  uint32_t state_;
};

void roundTripString8(const std::optional<std::string>& value) {
  ParcelWriter writer;
  check(writer.writeNullableString8(value).ok());
  ParcelReader reader(writer.data(), writer.offsets());
  absl::StatusOr<std::optional<std::string>> again = reader.readNullableString8();
  check(again.ok() && *again == value && reader.dataAvail() == 0);
}

void roundTripString16(const std::optional<std::u16string>& value) {
  ParcelWriter writer;
  check(writer.writeNullableString16(value).ok());
  ParcelReader reader(writer.data(), writer.offsets());
  absl::StatusOr<std::optional<std::u16string>> again = reader.readNullableString16();
  check(again.ok() && *again == value && reader.dataAvail() == 0);
}

void roundTripUtf8(const std::string& value) {
  ParcelWriter writer;
  check(writer.writeString16(std::string_view(value)).ok());
  ParcelReader reader(writer.data(), writer.offsets());
  absl::StatusOr<std::string> again = reader.readString16AsUtf8();
  check(again.ok() && *again == value && reader.dataAvail() == 0);
}

void roundTripBytes(const std::optional<std::vector<uint8_t>>& value) {
  ParcelWriter writer;
  std::optional<std::span<const uint8_t>> view;
  if (value.has_value()) {
    view = std::span<const uint8_t>(*value);
  }
  check(writer.writeNullableByteArray(view).ok());
  ParcelReader reader(writer.data(), writer.offsets());
  absl::StatusOr<std::optional<std::vector<uint8_t>>> again = reader.readNullableByteArray();
  check(again.ok() && *again == value && reader.dataAvail() == 0);
}

void roundTripStatus(const AidlStatus& status) {
  ParcelWriter writer;
  if (!writeStatus(writer, status).ok()) {
    // Only the two codes that are never written may be refused.
    check(status.exception_code == kExTransactionFailed ||
          status.exception_code == kExHasReplyHeader);
    return;
  }
  ParcelReader reader(writer.data(), writer.offsets());
  absl::StatusOr<AidlStatus> again = readStatus(reader);
  AidlStatus expected = status;
  if (expected.exception_code != kExServiceSpecific) {
    expected.service_specific_error = 0;
  }
  check(again.ok() && *again == expected && reader.dataAvail() == 0);
}

// Runs one operation. Returns whether it succeeded.
bool runOp(ParcelReader& reader, uint32_t op, uint32_t arg) {
  switch (op) {
    case 0:
      return reader.readInt32().ok();
    case 1:
      return (arg & 1) ? reader.readInt64().ok() : reader.readUint64().ok();
    case 2:
      return (arg & 1) ? reader.readBool().ok() : reader.readByte().ok();
    case 3:
      switch (arg % 3) {
        case 0:
          return reader.readDouble().ok();
        case 1:
          return reader.readFloat().ok();
        default:
          return reader.readChar().ok();
      }
    case 4: {
      if (arg & 1) {
        auto value = reader.readString8();
        if (value.ok()) {
          roundTripString8(*value);
        }
        return value.ok();
      }
      auto value = reader.readNullableString8();
      if (value.ok()) {
        roundTripString8(*value);
      }
      return value.ok();
    }
    case 5: {
      auto value = reader.readNullableString16();
      if (value.ok()) {
        roundTripString16(*value);
      }
      return value.ok();
    }
    case 6: {
      auto value = reader.readString16AsUtf8();
      if (value.ok()) {
        roundTripUtf8(*value);
      }
      return value.ok();
    }
    case 7: {
      if (arg & 1) {
        auto value = reader.readByteArray();
        if (value.ok()) {
          roundTripBytes(*value);
        }
        return value.ok();
      }
      auto value = reader.readNullableByteArray();
      if (value.ok()) {
        roundTripBytes(*value);
      }
      return value.ok();
    }
    case 8:
      return reader.readObject().ok();
    case 9:
      return reader.readStrongBinder().ok();
    case 10:
      return reader.readWeakBinder().ok();
    case 11:
      return reader.readFileDescriptor().ok();
    case 12:
      return reader.readParcelFileDescriptor().ok();
    case 13:
      return reader.readInplace(arg % 64).ok();
    case 14:
      return reader.setPosition(arg % (reader.dataSize() + 8)).ok();
    case 15: {
      const InterfaceHeaderFormat format{.layout = (arg & 1) ? ParcelLayout::kAndroid10
                                                             : ParcelLayout::kAndroid11Plus};
      return (arg & 2) ? readInterfaceToken(reader, format.layout).ok()
                       : enforceInterface(reader, u"android.os.IServiceManager", format).ok();
    }
    default: {
      auto status = readStatus(reader);
      if (status.ok()) {
        roundTripStatus(*status);
      }
      return status.ok();
    }
  }
}

}  // namespace
}  // namespace nb::codec

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nb::codec::ParcelReader;
  if (size < 2) {
    return 0;
  }
  const size_t num_offsets = data[1] % 5;
  if (size < 2 + num_offsets) {
    return 0;
  }
  std::vector<binder_size_t> offsets;
  for (size_t i = 0; i < num_offsets; ++i) {
    const uint8_t b = data[2 + i];
    offsets.push_back(static_cast<binder_size_t>((b & 0x7f) * 4 + (b >> 7)));
  }
  const std::span<const uint8_t> parcel(data + 2 + num_offsets, size - 2 - num_offsets);
  ParcelReader reader(parcel, offsets);
  nb::codec::OpSequence ops(data[0]);
  for (int i = 0; i < nb::codec::kMaxOps; ++i) {
    const uint32_t op = ops.next() % 17;
    const uint32_t arg = ops.next();
    const size_t before = reader.position();
    const bool ok = nb::codec::runOp(reader, op, arg);
    nb::codec::check(ok || reader.position() == before);
    nb::codec::check(reader.position() <= reader.dataSize());
  }
  return 0;
}
