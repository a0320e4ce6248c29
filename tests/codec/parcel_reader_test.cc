// ParcelReader: decoding of libbinder encodings (hand-written hex), round trips through
// ParcelWriter, and every error path. Each error test also checks that the position did not move.
#include "codec/parcel_reader.h"

#include <gtest/gtest.h>
#include <linux/android/binder.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "codec/parcel_writer.h"

namespace nb::codec {
namespace {

std::vector<uint8_t> fromHex(std::string_view hex) {
  std::vector<uint8_t> bytes;
  std::string digits;
  for (const char c : hex) {
    if (c != ' ') {
      digits.push_back(c);
    }
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// Expects `result` to fail with `code` and a message containing `needle`.
template <typename T>
void expectError(const absl::StatusOr<T>& result, absl::StatusCode code, std::string_view needle) {
  ASSERT_FALSE(result.ok()) << "expected " << absl::StatusCodeToString(code);
  EXPECT_EQ(result.status().code(), code) << result.status();
  EXPECT_NE(std::string(result.status().message()).find(needle), std::string::npos)
      << result.status();
}

TEST(ParcelReaderTest, DecodesGoldenPrimitives) {
  const std::vector<uint8_t> data = fromHex("11000000 9a9999999999b93f 0807060504030201");
  ParcelReader r(data);
  EXPECT_EQ(r.readInt32().value(), 17);
  EXPECT_EQ(r.readDouble().value(), 0.1);
  EXPECT_EQ(r.position(), 12u);  // the double was only 4-aligned
  EXPECT_EQ(r.readInt64().value(), 0x0102030405060708);
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, PrimitivesRoundTrip) {
  ParcelWriter w;
  w.writeInt32(std::numeric_limits<int32_t>::min());
  w.writeUint32(0xffffffff);
  w.writeInt64(std::numeric_limits<int64_t>::min());
  w.writeUint64(0x8000000000000001);
  w.writeFloat(-2.5f);
  w.writeDouble(std::numeric_limits<double>::infinity());
  w.writeBool(true);
  w.writeChar(u'\u20ac');
  w.writeByte(-128);
  ParcelReader r(w.data(), w.offsets());
  EXPECT_EQ(r.readInt32().value(), std::numeric_limits<int32_t>::min());
  EXPECT_EQ(r.readUint32().value(), 0xffffffffu);
  EXPECT_EQ(r.readInt64().value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(r.readUint64().value(), 0x8000000000000001u);
  EXPECT_EQ(r.readFloat().value(), -2.5f);
  EXPECT_EQ(r.readDouble().value(), std::numeric_limits<double>::infinity());
  EXPECT_EQ(r.readBool().value(), true);
  EXPECT_EQ(r.readChar().value(), u'\u20ac');
  EXPECT_EQ(r.readByte().value(), -128);
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, WidenedValuesAreNarrowedLikeLibbinder) {
  const std::vector<uint8_t> data = fromHex("02000000 41000100 ff010000");
  ParcelReader r(data);
  EXPECT_EQ(r.readBool().value(), true);  // any non-zero
  EXPECT_EQ(r.readChar().value(), u'A');  // low 16 bits
  EXPECT_EQ(r.readByte().value(), -1);    // low 8 bits
}

TEST(ParcelReaderTest, TruncatedScalarsFailWithoutMoving) {
  const std::vector<uint8_t> data = fromHex("01000000 020000");
  ParcelReader r(data);
  ASSERT_TRUE(r.readInt32().ok());
  expectError(r.readInt32(), absl::StatusCode::kOutOfRange, "position 4");
  EXPECT_EQ(r.position(), 4u);
  ASSERT_TRUE(r.setPosition(0).ok());
  expectError(r.readInt64(), absl::StatusCode::kOutOfRange, "needs 8 bytes, 7 available");
  EXPECT_EQ(r.position(), 0u);
  ParcelReader empty(std::span<const uint8_t>{});
  expectError(empty.readBool(), absl::StatusCode::kOutOfRange, "position 0");
}

TEST(ParcelReaderTest, SetPositionAndDataAvail) {
  const std::vector<uint8_t> data(12, 0);
  ParcelReader r(data);
  EXPECT_EQ(r.dataAvail(), 12u);
  ASSERT_TRUE(r.setPosition(12).ok());
  EXPECT_EQ(r.dataAvail(), 0u);
  EXPECT_EQ(r.setPosition(13).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(r.position(), 12u);
  ASSERT_TRUE(r.setPosition(4).ok());
  EXPECT_EQ(r.dataAvail(), 8u);
}

TEST(ParcelReaderTest, ReadInplaceConsumesPadding) {
  const std::vector<uint8_t> data = fromHex("0102030000000000 05000000");
  ParcelReader r(data);
  absl::StatusOr<std::span<const uint8_t>> bytes = r.readInplace(3);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(std::vector<uint8_t>(bytes->begin(), bytes->end()), (std::vector<uint8_t>{1, 2, 3}));
  EXPECT_EQ(r.position(), 4u);
  expectError(r.readInplace(9), absl::StatusCode::kOutOfRange, "position 4");
  expectError(r.readInplace(1000), absl::StatusCode::kOutOfRange, "position 4");
  EXPECT_EQ(r.position(), 4u);
}

// ---- String16 -------------------------------------------------------------------------------

TEST(ParcelReaderTest, String16Golden) {
  const std::vector<uint8_t> data = fromHex("01000000 61000000 03000000 74006f00 6b000000");
  ParcelReader r(data);
  EXPECT_EQ(r.readString16().value(), u"a");
  EXPECT_EQ(r.readString16().value(), u"tok");
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, String16Null) {
  const std::vector<uint8_t> data = fromHex("ffffffff");
  ParcelReader r(data);
  expectError(r.readString16(), absl::StatusCode::kInvalidArgument, "unexpected null");
  EXPECT_EQ(r.position(), 0u);
  absl::StatusOr<std::optional<std::u16string>> nullable = r.readNullableString16();
  ASSERT_TRUE(nullable.ok());
  EXPECT_FALSE(nullable->has_value());
  EXPECT_EQ(r.position(), 4u);
}

TEST(ParcelReaderTest, String16LengthOverflowIsRejected) {
  // INT32_MAX units: (len + 1) * 2 would overflow 32-bit arithmetic.
  const std::vector<uint8_t> data = fromHex("ffffff7f 61000000");
  ParcelReader r(data);
  expectError(r.readString16(), absl::StatusCode::kOutOfRange, "declares length 2147483647");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelReaderTest, String16HugeLengthIsRejected) {
  const std::vector<uint8_t> data = fromHex("00000040 61006200 63000000");
  ParcelReader r(data);
  expectError(r.readNullableString16(), absl::StatusCode::kOutOfRange, "only 8 remain");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelReaderTest, String16NegativeLengthOtherThanMinusOneIsRejected) {
  for (const char* hex : {"feffffff 00000000", "00000080 00000000"}) {
    const std::vector<uint8_t> data = fromHex(hex);
    ParcelReader r(data);
    expectError(r.readNullableString16(), absl::StatusCode::kInvalidArgument, "negative length");
    EXPECT_EQ(r.position(), 0u);
  }
}

TEST(ParcelReaderTest, String16MissingNulIsRejected) {
  const std::vector<uint8_t> data = fromHex("01000000 61006200");
  ParcelReader r(data);
  expectError(r.readString16(), absl::StatusCode::kInvalidArgument, "NUL terminator");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelReaderTest, String16TruncatedPayloadOrPaddingIsRejected) {
  // Units present but not the NUL; then NUL present but not the padding libbinder requires.
  for (const char* hex : {"03000000 74006f00 6b00", "02000000 61006200 0000"}) {
    const std::vector<uint8_t> data = fromHex(hex);
    ParcelReader r(data);
    expectError(r.readString16(), absl::StatusCode::kOutOfRange, "position 0");
    EXPECT_EQ(r.position(), 0u);
  }
  const std::vector<uint8_t> short_length = fromHex("0100");
  ParcelReader r(short_length);
  expectError(r.readString16(), absl::StatusCode::kOutOfRange, "needs 4 bytes, 2 available");
}

TEST(ParcelReaderTest, String16RoundTripsIncludingSurrogatesAndNul) {
  const std::u16string values[] = {u"", u"x", u"android.os.IServiceManager",
                                   std::u16string{0xd83d, 0xde00, 0, u'z'},
                                   std::u16string(1000, u'q')};
  ParcelWriter w;
  for (const std::u16string& v : values) {
    ASSERT_TRUE(w.writeString16(std::u16string_view(v)).ok());
  }
  ParcelReader r(w.data(), w.offsets());
  for (const std::u16string& v : values) {
    EXPECT_EQ(r.readString16().value(), v);
  }
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, String16AsUtf8) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeString16(std::string_view("caf\xc3\xa9 \xf0\x9f\x98\x80")).ok());
  ASSERT_TRUE(w.writeNullableUtf8AsString16(std::nullopt).ok());
  ParcelReader r(w.data(), w.offsets());
  EXPECT_EQ(r.readString16AsUtf8().value(), "caf\xc3\xa9 \xf0\x9f\x98\x80");
  expectError(r.readString16AsUtf8(), absl::StatusCode::kInvalidArgument, "unexpected null");
  absl::StatusOr<std::optional<std::string>> null_value = r.readNullableString16AsUtf8();
  ASSERT_TRUE(null_value.ok());
  EXPECT_FALSE(null_value->has_value());
}

TEST(ParcelReaderTest, String16AsUtf8RejectsUnpairedSurrogate) {
  const std::vector<uint8_t> data = fromHex("01000000 00d80000");
  ParcelReader r(data);
  expectError(r.readString16AsUtf8(), absl::StatusCode::kInvalidArgument, "not valid UTF-16");
  EXPECT_EQ(r.position(), 0u);
  EXPECT_EQ(r.readString16().value(), std::u16string(1, char16_t{0xd800}));  // raw read is fine
}

// ---- String8 --------------------------------------------------------------------------------

TEST(ParcelReaderTest, String8Golden) {
  const std::vector<uint8_t> data = fromHex("04000000 62616261 00000000 00000000 00000000");
  ParcelReader r(data);
  EXPECT_EQ(r.readString8().value(), "baba");
  EXPECT_EQ(r.readString8().value(), "");
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, String8Errors) {
  {
    const std::vector<uint8_t> data = fromHex("04000000 62616261 01000000");
    ParcelReader r(data);
    expectError(r.readString8(), absl::StatusCode::kInvalidArgument, "NUL terminator");
    EXPECT_EQ(r.position(), 0u);
  }
  {
    const std::vector<uint8_t> data = fromHex("04000000 62616261");
    ParcelReader r(data);
    expectError(r.readString8(), absl::StatusCode::kOutOfRange, "String8 at position 0");
    EXPECT_EQ(r.position(), 0u);
  }
  {
    const std::vector<uint8_t> data = fromHex("fdffffff");
    ParcelReader r(data);
    expectError(r.readNullableString8(), absl::StatusCode::kInvalidArgument, "negative length");
  }
  {
    const std::vector<uint8_t> data = fromHex("ffffffff");
    ParcelReader r(data);
    expectError(r.readString8(), absl::StatusCode::kInvalidArgument, "unexpected null");
    EXPECT_EQ(r.position(), 0u);
    EXPECT_FALSE(r.readNullableString8().value().has_value());
    EXPECT_EQ(r.position(), 4u);
  }
}

TEST(ParcelReaderTest, String8RoundTrip) {
  const std::string values[] = {"", "a", "ab", "abc", "abcd", std::string("x\0y", 3)};
  ParcelWriter w;
  for (const std::string& v : values) {
    ASSERT_TRUE(w.writeString8(v).ok());
  }
  ParcelReader r(w.data(), w.offsets());
  for (const std::string& v : values) {
    EXPECT_EQ(r.readString8().value(), v);
  }
  EXPECT_EQ(r.dataAvail(), 0u);
}

// ---- byte[] ---------------------------------------------------------------------------------

TEST(ParcelReaderTest, ByteArrayGoldenAndNull) {
  const std::vector<uint8_t> data = fromHex("03000000 0011ff00 ffffffff 00000000");
  ParcelReader r(data);
  EXPECT_EQ(r.readByteArray().value(), (std::vector<uint8_t>{0, 17, 255}));
  expectError(r.readByteArray(), absl::StatusCode::kInvalidArgument, "unexpected null");
  EXPECT_EQ(r.position(), 8u);
  EXPECT_FALSE(r.readNullableByteArray().value().has_value());
  EXPECT_TRUE(r.readByteArray().value().empty());
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, ByteArrayErrors) {
  {
    const std::vector<uint8_t> data = fromHex("05000000 01020304");
    ParcelReader r(data);
    expectError(r.readByteArray(), absl::StatusCode::kOutOfRange, "declares length 5");
    EXPECT_EQ(r.position(), 0u);
  }
  {
    const std::vector<uint8_t> data = fromHex("f6ffffff");
    ParcelReader r(data);
    expectError(r.readNullableByteArray(), absl::StatusCode::kInvalidArgument, "negative");
    EXPECT_EQ(r.position(), 0u);
  }
}

// ---- Objects --------------------------------------------------------------------------------

TEST(ParcelReaderTest, StrongBinderRoundTrip) {
  ParcelWriter w;
  w.writeInt32(3);
  w.writeStrongBinder({.binder = 0xb1, .cookie = 0xc1, .flags = 0x17f}, kStabilityVendor);
  w.writeInt32(4);
  ParcelReader r(w.data(), w.offsets());
  EXPECT_EQ(r.readInt32().value(), 3);
  absl::StatusOr<ParcelBinder> b = r.readStrongBinder();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->object.kind, ParcelObjectKind::kBinder);
  EXPECT_EQ(b->object.type, BINDER_TYPE_BINDER);
  EXPECT_EQ(b->object.binder, 0xb1u);
  EXPECT_EQ(b->object.cookie, 0xc1u);
  EXPECT_EQ(b->object.flags, 0x17fu);
  EXPECT_EQ(b->object.position, 4u);
  EXPECT_TRUE(b->object.in_offsets);
  EXPECT_FALSE(b->object.isNull());
  EXPECT_EQ(b->stability, kStabilityVendor);
  EXPECT_EQ(r.position(), 32u);
  EXPECT_EQ(r.readInt32().value(), 4);
}

TEST(ParcelReaderTest, HandlesAndWeakObjectsRoundTrip) {
  ParcelWriter w;
  w.writeStrongHandle(0x7fffffff, kStabilitySystem, 0x13);
  w.writeWeakBinder({.binder = 0xb2, .cookie = 0xc2, .flags = 0}, kStabilitySystem);
  w.writeWeakHandle(6, kStabilityVintf);
  w.writeNullBinder();
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<ParcelBinder> handle = r.readStrongBinder();
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_EQ(handle->object.kind, ParcelObjectKind::kHandle);
  EXPECT_EQ(handle->object.handle, 0x7fffffffu);
  EXPECT_EQ(handle->object.binder, 0u);
  EXPECT_EQ(handle->object.flags, 0x13u);
  absl::StatusOr<ParcelBinder> weak = r.readWeakBinder();
  ASSERT_TRUE(weak.ok()) << weak.status();
  EXPECT_EQ(weak->object.kind, ParcelObjectKind::kWeakBinder);
  EXPECT_EQ(weak->object.binder, 0xb2u);
  EXPECT_EQ(weak->object.cookie, 0xc2u);
  absl::StatusOr<ParcelBinder> weak_handle = r.readWeakBinder();
  ASSERT_TRUE(weak_handle.ok()) << weak_handle.status();
  EXPECT_EQ(weak_handle->object.kind, ParcelObjectKind::kWeakHandle);
  EXPECT_EQ(weak_handle->object.handle, 6u);
  EXPECT_EQ(weak_handle->stability, kStabilityVintf);
  absl::StatusOr<ParcelBinder> null_weak = r.readWeakBinder();  // a null weak is a null BINDER
  ASSERT_TRUE(null_weak.ok()) << null_weak.status();
  EXPECT_TRUE(null_weak->object.isNull());
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, NullBinderIsAcceptedWithoutOffsetsEntry) {
  ParcelWriter w;
  w.writeNullBinder(kStabilityUndeclared, 0x113);
  ASSERT_TRUE(w.offsets().empty());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<ParcelBinder> b = r.readStrongBinder();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_TRUE(b->object.isNull());
  EXPECT_FALSE(b->object.in_offsets);
  EXPECT_EQ(b->object.flags, 0x113u);
  EXPECT_EQ(r.position(), 28u);
}

TEST(ParcelReaderTest, HandleZeroIsAcceptedWithoutOffsetsEntry) {
  ParcelWriter w;
  w.writeStrongHandle(0, kStabilitySystem);
  ASSERT_TRUE(w.offsets().empty());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<ParcelBinder> b = r.readStrongBinder();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->object.kind, ParcelObjectKind::kHandle);
  EXPECT_EQ(b->object.handle, 0u);
  EXPECT_FALSE(b->object.in_offsets);
  EXPECT_FALSE(b->object.isNull());
  EXPECT_EQ(b->stability, kStabilitySystem);
}

TEST(ParcelReaderTest, ObjectNotInOffsetsIsRejected) {
  // A sender writing binder or fd bytes as plain data must not get them read as objects.
  ParcelWriter local;
  local.writeStrongBinder({.binder = 0xb1, .cookie = 0xc1}, kStabilitySystem);
  ParcelWriter handle;
  handle.writeStrongHandle(5, kStabilitySystem);
  ParcelWriter cookie_only;  // binder word 0 but cookie set: not the null object
  flat_binder_object raw{};
  raw.hdr.type = BINDER_TYPE_BINDER;
  raw.cookie = 1;
  cookie_only.writeFlatObject(raw, /*force_offset=*/false);
  cookie_only.writeInt32(0);
  for (const ParcelWriter* w : {&local, &handle, &cookie_only}) {
    ParcelReader r(w->data(), {});  // offsets dropped
    expectError(r.readStrongBinder(), absl::StatusCode::kPermissionDenied,
                "object at position 0 is not in the offsets array");
    EXPECT_EQ(r.position(), 0u);
    expectError(r.readObject(), absl::StatusCode::kPermissionDenied, "not in the offsets");
  }
}

TEST(ParcelReaderTest, ObjectAtUnlistedPositionIsRejectedEvenIfAnotherIsListed) {
  ParcelWriter w;
  w.writeStrongHandle(5, kStabilitySystem);
  const std::vector<binder_size_t> wrong = {4};
  std::vector<uint8_t> data(w.data().begin(), w.data().end());
  data.resize(64, 0);
  ParcelReader r(data, wrong);
  expectError(r.readStrongBinder(), absl::StatusCode::kPermissionDenied, "position 0");
}

TEST(ParcelReaderTest, ZeroFdIsNeverExemptFromOffsets) {
  ParcelWriter w;
  w.writeFileDescriptor(0, /*take_ownership=*/false);  // all-zero words
  ParcelReader listed(w.data(), w.offsets());
  absl::StatusOr<ParcelObject> fd = listed.readFileDescriptor();
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fd->fd, 0);
  ParcelReader forged(w.data(), {});
  expectError(forged.readFileDescriptor(), absl::StatusCode::kPermissionDenied,
              "not in the offsets");
  expectError(forged.readObject(), absl::StatusCode::kPermissionDenied, "not in the offsets");
  EXPECT_EQ(forged.position(), 0u);
}

TEST(ParcelReaderTest, ObjectInOffsetsButTruncated) {
  const std::vector<uint8_t> data = fromHex("852a6873 00000000 0500000000000000");  // 16 of 24
  const std::vector<binder_size_t> offsets = {0};
  ParcelReader r(data, offsets);
  expectError(r.readObject(), absl::StatusCode::kOutOfRange, "object at position 0 needs 24");
  expectError(r.readStrongBinder(), absl::StatusCode::kOutOfRange, "position 0");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelReaderTest, BinderWithTruncatedStabilityWordDoesNotMove) {
  ParcelWriter w;
  w.writeStrongHandle(5, kStabilitySystem);
  const std::span<const uint8_t> object_only = w.data().first(24);
  ParcelReader r(object_only, w.offsets());
  expectError(r.readStrongBinder(), absl::StatusCode::kOutOfRange, "stability word at position 24");
  EXPECT_EQ(r.position(), 0u);
  EXPECT_TRUE(r.readObject().ok());  // the object alone is fine
  EXPECT_EQ(r.position(), 24u);
}

TEST(ParcelReaderTest, UnsupportedObjectTypesAreRejected) {
  std::vector<uint8_t> data(24, 0);
  const std::vector<binder_size_t> offsets = {0};
  for (const uint32_t type : {uint32_t{BINDER_TYPE_PTR}, uint32_t{BINDER_TYPE_FDA}, 0x12345678u}) {
    std::memcpy(data.data(), &type, sizeof(type));
    data[8] = 1;  // non-zero word so no exemption applies
    ParcelReader r(data, offsets);
    expectError(r.readObject(), absl::StatusCode::kInvalidArgument, "unsupported type");
    EXPECT_EQ(r.position(), 0u);
  }
}

TEST(ParcelReaderTest, WrongObjectKindIsRejected) {
  ParcelWriter w;
  w.writeWeakHandle(2, kStabilitySystem);
  w.writeStrongHandle(3, kStabilitySystem);
  w.writeFileDescriptor(4, true);
  ParcelReader r(w.data(), w.offsets());
  expectError(r.readStrongBinder(), absl::StatusCode::kInvalidArgument, "found a WEAK_HANDLE");
  expectError(r.readFileDescriptor(), absl::StatusCode::kInvalidArgument, "found a WEAK_HANDLE");
  EXPECT_EQ(r.position(), 0u);
  ASSERT_TRUE(r.readWeakBinder().ok());
  expectError(r.readWeakBinder(), absl::StatusCode::kInvalidArgument, "found a HANDLE");
  ASSERT_TRUE(r.readStrongBinder().ok());
  expectError(r.readStrongBinder(), absl::StatusCode::kInvalidArgument, "found a FD");
  absl::StatusOr<ParcelObject> fd = r.readFileDescriptor();
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(fd->fd, 4);
  EXPECT_EQ(fd->cookie, 1u);
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, ParcelFileDescriptorRoundTrip) {
  ParcelWriter w;
  w.writeParcelFileDescriptor(11, /*take_ownership=*/true);
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<ParcelFd> pfd = r.readParcelFileDescriptor();
  ASSERT_TRUE(pfd.ok()) << pfd.status();
  EXPECT_EQ(pfd->fd.fd, 11);
  EXPECT_EQ(pfd->fd.position, 4u);
  EXPECT_FALSE(pfd->comm.has_value());
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelReaderTest, ParcelFileDescriptorWithCommChannel) {
  ParcelWriter w;
  w.writeInt32(1);
  w.writeFileDescriptor(11, true);
  w.writeFileDescriptor(12, true);
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<ParcelFd> pfd = r.readParcelFileDescriptor();
  ASSERT_TRUE(pfd.ok()) << pfd.status();
  EXPECT_EQ(pfd->fd.fd, 11);
  ASSERT_TRUE(pfd->comm.has_value());
  EXPECT_EQ(pfd->comm->fd, 12);

  ParcelReader missing_comm(w.data().first(28), w.offsets().first(1));
  expectError(missing_comm.readParcelFileDescriptor(), absl::StatusCode::kOutOfRange,
              "position 28");
  EXPECT_EQ(missing_comm.position(), 0u);
}

TEST(ParcelReaderTest, PlainReadsOfObjectBytesAreDenied) {
  ParcelWriter w;
  w.writeInt32(1);
  w.writeStrongBinder({.binder = 0xb1, .cookie = 0xc1}, kStabilitySystem);
  ParcelReader r(w.data(), w.offsets());
  EXPECT_EQ(r.readInt32().value(), 1);
  expectError(r.readInt32(), absl::StatusCode::kPermissionDenied,
              "overlaps the object at position 4");
  ASSERT_TRUE(r.setPosition(24).ok());  // last word of the object
  expectError(r.readInt32(), absl::StatusCode::kPermissionDenied, "overlaps");
  ASSERT_TRUE(r.setPosition(0).ok());
  expectError(r.readInt64(), absl::StatusCode::kPermissionDenied, "overlaps");  // straddles
  EXPECT_EQ(r.position(), 0u);
  expectError(r.readInplace(8), absl::StatusCode::kPermissionDenied, "overlaps");
  ASSERT_TRUE(r.setPosition(28).ok());  // the stability word is plain data
  EXPECT_EQ(r.readInt32().value(), kStabilitySystem);
}

TEST(ParcelReaderTest, UnsortedOffsetsAreAccepted) {
  ParcelWriter w;
  w.writeStrongHandle(1, kStabilitySystem);
  w.writeStrongHandle(2, kStabilitySystem);
  const std::vector<binder_size_t> reversed = {28, 0};
  std::optional<ParcelReader> original(std::in_place, w.data(), reversed);
  ParcelReader copy = *original;  // owns its sorted copy; must not dangle
  original.reset();
  EXPECT_EQ(copy.readStrongBinder().value().object.handle, 1u);
  EXPECT_EQ(copy.readStrongBinder().value().object.handle, 2u);
}

TEST(ParcelReaderTest, MixedParcelRoundTrip) {
  ParcelWriter w;
  w.writeInt32(-7);
  ASSERT_TRUE(w.writeString16(std::u16string_view(u"name")).ok());
  w.writeStrongBinder({.binder = 0x1000, .cookie = 0x2000}, kStabilitySystem);
  ASSERT_TRUE(w.writeString8("s8").ok());
  w.writeFileDescriptor(3, true);
  const std::vector<uint8_t> blob = {9, 8, 7, 6, 5};
  ASSERT_TRUE(w.writeByteArray(blob).ok());
  w.writeStrongHandle(0, kStabilitySystem);
  w.writeDouble(-0.0);

  ParcelReader r(w.data(), w.offsets());
  EXPECT_EQ(r.readInt32().value(), -7);
  EXPECT_EQ(r.readString16().value(), u"name");
  EXPECT_EQ(r.readStrongBinder().value().object.cookie, 0x2000u);
  EXPECT_EQ(r.readString8().value(), "s8");
  EXPECT_EQ(r.readFileDescriptor().value().fd, 3);
  EXPECT_EQ(r.readByteArray().value(), blob);
  EXPECT_EQ(r.readStrongBinder().value().object.handle, 0u);
  const double d = r.readDouble().value();
  EXPECT_TRUE(d == 0.0 && std::signbit(d));
  EXPECT_EQ(r.dataAvail(), 0u);
}

}  // namespace
}  // namespace nb::codec
