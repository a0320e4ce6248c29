// Byte-exact tests of ParcelWriter against libbinder's encodings
// (../shared/reference/aosp-binder.md §2.1, §2.3). Expected bytes are written out by hand as hex,
// never produced by the code under test.
#include "codec/parcel_writer.h"

#include <gtest/gtest.h>
#include <linux/android/binder.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "codec/utf16.h"

namespace nb::codec {
namespace {

// "03000000 0011ff00" -> bytes; spaces are ignored.
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

std::string toHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// Compares as hex strings so a failure shows both encodings.
void expectBytes(const ParcelWriter& writer, std::string_view expected_hex) {
  EXPECT_EQ(toHex(writer.data()), toHex(fromHex(expected_hex)));
}

std::vector<binder_size_t> offsetsOf(const ParcelWriter& writer) {
  return {writer.offsets().begin(), writer.offsets().end()};
}

TEST(ParcelWriterTest, UapiConstantsAreTheLibbinderValues) {
  // B_PACK_CHARS('s','b','*',0x85) etc.; guards against a wrong or redefined header.
  EXPECT_EQ(BINDER_TYPE_BINDER, 0x73622a85u);
  EXPECT_EQ(BINDER_TYPE_WEAK_BINDER, 0x77622a85u);
  EXPECT_EQ(BINDER_TYPE_HANDLE, 0x73682a85u);
  EXPECT_EQ(BINDER_TYPE_WEAK_HANDLE, 0x77682a85u);
  EXPECT_EQ(BINDER_TYPE_FD, 0x66642a85u);
  EXPECT_EQ(FLAT_BINDER_FLAG_ACCEPTS_FDS, 0x100u);
}

TEST(ParcelWriterTest, Int32Golden) {
  ParcelWriter w;
  w.writeInt32(17);
  expectBytes(w, "11000000");
  EXPECT_TRUE(w.offsets().empty());
}

TEST(ParcelWriterTest, DoubleGolden) {
  ParcelWriter w;
  w.writeDouble(0.1);
  expectBytes(w, "9a9999999999b93f");
}

TEST(ParcelWriterTest, SixtyFourBitValuesAreOnlyFourAligned) {
  ParcelWriter w;
  w.writeInt32(1);
  w.writeInt64(0x0102030405060708);
  w.writeUint64(0xfffffffffffffffe);
  expectBytes(w, "01000000 0807060504030201 feffffffffffffff");
  EXPECT_EQ(w.dataSize(), 20u);
}

TEST(ParcelWriterTest, OtherPrimitives) {
  ParcelWriter w;
  w.writeUint32(0xdeadbeef);
  w.writeFloat(1.0f);
  w.writeInt32(-2);
  expectBytes(w, "efbeadde 0000803f feffffff");
}

TEST(ParcelWriterTest, BoolCharByteAreWidenedToInt32) {
  ParcelWriter w;
  w.writeBool(true);
  w.writeBool(false);
  w.writeChar(u'a');
  w.writeChar(char16_t{0xffff});  // zero-extended
  w.writeByte(17);
  w.writeByte(-1);  // sign-extended, as libbinder writeInt32(int8_t)
  expectBytes(w, "01000000 00000000 61000000 ffff0000 11000000 ffffffff");
}

TEST(ParcelWriterTest, String16Golden) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeString16(std::u16string_view(u"a")).ok());
  expectBytes(w, "01000000 61000000");

  ParcelWriter tok;
  ASSERT_TRUE(tok.writeString16(std::u16string_view(u"tok")).ok());
  expectBytes(tok, "03000000 74006f00 6b000000");

  ParcelWriter empty;
  ASSERT_TRUE(empty.writeString16(std::u16string_view(u"")).ok());
  expectBytes(empty, "00000000 00000000");  // length 0, NUL, 2 bytes of padding
}

TEST(ParcelWriterTest, String16FromUtf8MatchesUtf16) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeString16(std::string_view("tok")).ok());
  expectBytes(w, "03000000 74006f00 6b000000");

  ParcelWriter accented;
  ASSERT_TRUE(accented.writeString16(std::string_view("\xc3\xa9")).ok());  // U+00E9
  expectBytes(accented, "01000000 e9000000");

  // U+1F600 is a surrogate pair D83D DE00: the length counts UTF-16 units (2), not code points.
  ParcelWriter emoji;
  ASSERT_TRUE(emoji.writeString16(std::string_view("\xf0\x9f\x98\x80")).ok());
  expectBytes(emoji, "02000000 3dd800de 00000000");
}

TEST(ParcelWriterTest, String16FromMalformedUtf8FailsAndWritesNothing) {
  const std::vector<std::string> malformed = {
      "\xff",              // invalid lead byte
      "a\x80",             // stray continuation byte
      "\xc0\x80",          // overlong NUL
      "\xe0\x80\xaf",      // overlong '/'
      "\xed\xa0\x80",      // encoded surrogate U+D800
      "\xf4\x90\x80\x80",  // U+110000
      "\xe2\x82",          // truncated sequence
  };
  for (const std::string& input : malformed) {
    ParcelWriter w;
    w.writeInt32(5);
    const absl::Status status = w.writeString16(std::string_view(input));
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << toHex(std::span(reinterpret_cast<const uint8_t*>(input.data()), input.size()));
    expectBytes(w, "05000000");
  }
}

TEST(ParcelWriterTest, String8Golden) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeString8("baba").ok());
  expectBytes(w, "04000000 62616261 00000000");

  ParcelWriter empty;
  ASSERT_TRUE(empty.writeString8("").ok());
  expectBytes(empty, "00000000 00000000");

  ParcelWriter abc;
  ASSERT_TRUE(abc.writeString8("abc").ok());
  expectBytes(abc, "03000000 61626300");  // NUL fills the word exactly
}

TEST(ParcelWriterTest, String8KeepsEmbeddedNul) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeString8(std::string_view("a\0b", 3)).ok());
  expectBytes(w, "03000000 61006200");
}

TEST(ParcelWriterTest, NullValuesAreMinusOne) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeNullableString16(std::nullopt).ok());
  ASSERT_TRUE(w.writeNullableUtf8AsString16(std::nullopt).ok());
  ASSERT_TRUE(w.writeNullableString8(std::nullopt).ok());
  ASSERT_TRUE(w.writeNullableByteArray(std::nullopt).ok());
  expectBytes(w, "ffffffff ffffffff ffffffff ffffffff");
}

TEST(ParcelWriterTest, NonNullNullablesEncodeLikeThePlainForms) {
  ParcelWriter w;
  ASSERT_TRUE(w.writeNullableString16(std::u16string_view(u"a")).ok());
  ASSERT_TRUE(w.writeNullableUtf8AsString16(std::string_view("a")).ok());
  ASSERT_TRUE(w.writeNullableString8(std::string_view("")).ok());
  const std::vector<uint8_t> bytes = {7};
  ASSERT_TRUE(w.writeNullableByteArray(std::span<const uint8_t>(bytes)).ok());
  expectBytes(w, "01000000 61000000 01000000 61000000 00000000 00000000 01000000 07000000");
}

TEST(ParcelWriterTest, ByteArrayGolden) {
  ParcelWriter w;
  const std::vector<uint8_t> bytes = {0, 17, 255};
  ASSERT_TRUE(w.writeByteArray(bytes).ok());
  expectBytes(w, "03000000 0011ff00");

  ParcelWriter empty;
  ASSERT_TRUE(empty.writeByteArray({}).ok());
  expectBytes(empty, "00000000");

  ParcelWriter word;
  const std::vector<uint8_t> four = {1, 2, 3, 4};
  ASSERT_TRUE(word.writeByteArray(four).ok());
  expectBytes(word, "04000000 01020304");  // no padding word when already aligned
}

TEST(ParcelWriterTest, WriteInt32AtBackPatches) {
  ParcelWriter w;
  w.writeInt32(0);
  w.writeInt32(9);
  ASSERT_TRUE(w.writeInt32At(0, 8).ok());
  expectBytes(w, "08000000 09000000");
  EXPECT_EQ(w.writeInt32At(5, 1).code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(w.writeInt32At(8, 1).code(), absl::StatusCode::kOutOfRange);
  expectBytes(w, "08000000 09000000");
}

TEST(ParcelWriterTest, StrongBinderLayoutOffsetAndStability) {
  ParcelWriter w;
  w.writeInt32(7);
  w.writeStrongBinder({.binder = 0x1122334455667788, .cookie = 0x99aabbccddeeff00, .flags = 0x17f},
                      kStabilitySystem);
  expectBytes(w,
              "07000000"
              "852a6273"          // hdr.type = BINDER_TYPE_BINDER
              "7f010000"          // flags
              "8877665544332211"  // binder
              "00ffeeddccbbaa99"  // cookie
              "0c000000");        // stability SYSTEM
  EXPECT_EQ(offsetsOf(w), std::vector<binder_size_t>{4});
}

TEST(ParcelWriterTest, WeakBinderLayout) {
  ParcelWriter w;
  w.writeWeakBinder({.binder = 0x10, .cookie = 0x20, .flags = 0}, kStabilityVendor);
  expectBytes(w, "852a6277 00000000 1000000000000000 2000000000000000 03000000");
  EXPECT_EQ(offsetsOf(w), std::vector<binder_size_t>{0});
}

TEST(ParcelWriterTest, NullBinderHasNoOffsetsEntry) {
  ParcelWriter w;
  w.writeNullBinder();
  expectBytes(w, "852a6273 00000000 0000000000000000 0000000000000000 00000000");
  EXPECT_TRUE(w.offsets().empty());

  ParcelWriter flagged;  // libbinder's null binder carries ACCEPTS_FDS | sched bits
  flagged.writeNullBinder(kStabilityUndeclared, 0x113);
  expectBytes(flagged, "852a6273 13010000 0000000000000000 0000000000000000 00000000");
  EXPECT_TRUE(flagged.offsets().empty());
}

TEST(ParcelWriterTest, StrongHandleLayout) {
  ParcelWriter w;
  w.writeStrongHandle(5, kStabilityVintf);
  expectBytes(w, "852a6873 00000000 0500000000000000 0000000000000000 3f000000");
  EXPECT_EQ(offsetsOf(w), std::vector<binder_size_t>{0});
}

TEST(ParcelWriterTest, HandleZeroQuirkWritesNoOffsetsEntry) {
  ParcelWriter w;
  w.writeStrongHandle(3, kStabilitySystem);
  w.writeStrongHandle(0, kStabilitySystem);  // the context manager
  w.writeWeakHandle(0, kStabilitySystem);
  w.writeWeakHandle(4, kStabilitySystem);
  // Objects are 28 bytes apart (24 + stability); only the non-zero handles are listed.
  EXPECT_EQ(offsetsOf(w), (std::vector<binder_size_t>{0, 84}));
  EXPECT_EQ(w.dataSize(), 112u);
}

TEST(ParcelWriterTest, WeakHandleLayout) {
  ParcelWriter w;
  w.writeWeakHandle(0xabcdef01, kStabilitySystem, 0x13);
  expectBytes(w, "852a6877 13000000 01efcdab00000000 0000000000000000 0c000000");
  EXPECT_EQ(offsetsOf(w), std::vector<binder_size_t>{0});
}

TEST(ParcelWriterTest, FileDescriptorLayoutHasOffsetAndNoStability) {
  ParcelWriter w;
  w.writeFileDescriptor(5, /*take_ownership=*/true);
  w.writeFileDescriptor(0, /*take_ownership=*/false);  // fd 0 is still listed
  expectBytes(w,
              "852a6466 00000000 0500000000000000 0100000000000000"
              "852a6466 00000000 0000000000000000 0000000000000000");
  EXPECT_EQ(offsetsOf(w), (std::vector<binder_size_t>{0, 24}));
}

TEST(ParcelWriterTest, ParcelFileDescriptorPrefixesZero) {
  ParcelWriter w;
  w.writeParcelFileDescriptor(9, /*take_ownership=*/true);
  expectBytes(w, "00000000 852a6466 00000000 0900000000000000 0100000000000000");
  EXPECT_EQ(offsetsOf(w), std::vector<binder_size_t>{4});
}

TEST(ParcelWriterTest, WriteFlatObjectRecordsOffsetWhenForcedOrNonZero) {
  flat_binder_object object{};
  object.hdr.type = BINDER_TYPE_BINDER;
  ParcelWriter w;
  w.writeFlatObject(object, /*force_offset=*/false);  // zero word: unlisted
  w.writeFlatObject(object, /*force_offset=*/true);
  object.cookie = 1;  // only the binder word matters to libbinder writeObject
  w.writeFlatObject(object, /*force_offset=*/false);
  object.binder = 1;
  w.writeFlatObject(object, /*force_offset=*/false);
  EXPECT_EQ(offsetsOf(w), (std::vector<binder_size_t>{24, 72}));
}

TEST(ParcelWriterTest, ReleaseMovesBuffersOut) {
  ParcelWriter w;
  w.writeInt32(1);
  w.writeStrongHandle(2, kStabilitySystem);
  ParcelBuffers buffers = std::move(w).release();
  EXPECT_EQ(buffers.data.size(), 32u);
  EXPECT_EQ(buffers.offsets, std::vector<binder_size_t>{4});
}

TEST(ParcelWriterTest, CheckBlobLengthBoundary) {
  EXPECT_TRUE(checkBlobLength(kMaxBlobLength, "x").ok());
  EXPECT_EQ(checkBlobLength(size_t{kMaxBlobLength} + 1, "x").code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ParcelUtf16Test, RoundTripsAllPlanes) {
  const std::string utf8 = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf";
  absl::StatusOr<std::u16string> utf16 = utf8ToUtf16(utf8);
  ASSERT_TRUE(utf16.ok()) << utf16.status();
  EXPECT_EQ(*utf16, (std::u16string{u'a', 0x00e9, 0x20ac, 0xd83d, 0xde00, 0xdbff, 0xdfff}));
  absl::StatusOr<std::string> back = utf16ToUtf8(*utf16);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, utf8);
}

TEST(ParcelUtf16Test, UnpairedSurrogatesAreRejectedOrReplaced) {
  const std::u16string lone_high = {u'a', 0xd800};
  const std::u16string lone_low = {0xdc00, u'b'};
  const std::u16string reversed = {0xde00, 0xd83d};
  for (const std::u16string& s : {lone_high, lone_low, reversed}) {
    EXPECT_EQ(utf16ToUtf8(s).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(utf16ToUtf8Lossy(lone_high), "a\xef\xbf\xbd");
  EXPECT_EQ(utf16ToUtf8Lossy(lone_low),
            "\xef\xbf\xbd"
            "b");
}

}  // namespace
}  // namespace nb::codec
