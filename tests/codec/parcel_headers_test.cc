// Interface token and AIDL Status (../shared/reference/aosp-binder.md §2.2, §2.4). Expected bytes
// are computed by hand and written out as hex.
#include "codec/parcel_headers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "codec/parcel_reader.h"
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

std::string toHex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

void expectBytes(const ParcelWriter& writer, std::string_view expected_hex) {
  EXPECT_EQ(toHex(writer.data()), toHex(fromHex(expected_hex)));
}

template <typename T>
void expectError(const absl::StatusOr<T>& result, absl::StatusCode code, std::string_view needle) {
  ASSERT_FALSE(result.ok()) << "expected " << absl::StatusCodeToString(code);
  EXPECT_EQ(result.status().code(), code) << result.status();
  EXPECT_NE(std::string(result.status().message()).find(needle), std::string::npos)
      << result.status();
}

constexpr std::u16string_view kServiceManager = u"android.os.IServiceManager";

// "android.os.IServiceManager": 26 UTF-16 units, then a 16-bit NUL and 2 bytes of padding.
constexpr std::string_view kServiceManagerString16 =
    "1a000000"
    "61006e00 64007200 6f006900 64002e00 6f007300 2e004900 53006500"  // a n d r o i d . o s . I S
    "72007600 69006300 65004d00 61006e00 61006700 65007200"           // e r v i c e M a n a g e r
    "00000000";                                                       // NUL + padding

// ---- Interface token ------------------------------------------------------------------------

TEST(ParcelHeadersTest, ServiceManagerTokenAndroid11Plus) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager).ok());
  expectBytes(w, std::string("00000080"   // strict-mode policy 0 | STRICT_MODE_PENALTY_GATHER
                             "ffffffff"   // work source: kUnsetWorkSource
                             "54535953")  // 'SYST' = 0x53595354
                     .append(kServiceManagerString16));
  EXPECT_EQ(w.dataSize(), 72u);
  EXPECT_TRUE(w.offsets().empty());
}

TEST(ParcelHeadersTest, ServiceManagerTokenAndroid10) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager, {.layout = ParcelLayout::kAndroid10}).ok());
  expectBytes(w, std::string("00000080 ffffffff").append(kServiceManagerString16));
  EXPECT_EQ(w.dataSize(), 68u);
}

TEST(ParcelHeadersTest, TokenWithPolicyWorkSourceAndVendorMarker) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, u"a", {.marker = HeaderMarker::kVendor},
                                  /*strict_mode_policy=*/0x42, /*work_source_uid=*/1000)
                  .ok());
  expectBytes(w, "42000080 e8030000 52444e56 01000000 61000000");
}

TEST(ParcelHeadersTest, MarkerValues) {
  EXPECT_EQ(static_cast<uint32_t>(HeaderMarker::kSystem), 0x53595354u);
  EXPECT_EQ(static_cast<uint32_t>(HeaderMarker::kVendor), 0x564e4452u);
  EXPECT_EQ(static_cast<uint32_t>(HeaderMarker::kRecovery), 0x5245434fu);
  EXPECT_EQ(static_cast<uint32_t>(HeaderMarker::kUnknown), 0x554e4b4eu);
  EXPECT_EQ(headerMarkerName(0x53595354u), "'SYST'");
  EXPECT_EQ(headerMarkerName(0x5245434fu), "'RECO'");
  EXPECT_EQ(headerMarkerName(0x1au), "0x0000001a");
}

TEST(ParcelHeadersTest, EnforceInterfaceReturnsTheHeader) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager, {}, 0x5, 2000).ok());
  w.writeInt32(99);
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<InterfaceToken> token = enforceInterface(r, kServiceManager);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->strict_mode_policy, static_cast<int32_t>(0x80000005u));
  EXPECT_EQ(token->work_source_uid, 2000);
  EXPECT_EQ(token->marker, 0x53595354u);
  EXPECT_EQ(token->descriptor, kServiceManager);
  EXPECT_EQ(r.position(), 72u);
  EXPECT_EQ(r.readInt32().value(), 99);
}

TEST(ParcelHeadersTest, EnforceInterfaceAndroid10) {
  ParcelWriter w;
  const InterfaceHeaderFormat android10{.layout = ParcelLayout::kAndroid10};
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager, android10).ok());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<InterfaceToken> token = enforceInterface(r, kServiceManager, android10);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_FALSE(token->marker.has_value());
  EXPECT_EQ(token->work_source_uid, kUnsetWorkSource);
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelHeadersTest, EachMarkerIsAcceptedOnlyWhenSelected) {
  const HeaderMarker markers[] = {HeaderMarker::kSystem, HeaderMarker::kVendor,
                                  HeaderMarker::kRecovery, HeaderMarker::kUnknown};
  for (const HeaderMarker written : markers) {
    ParcelWriter w;
    ASSERT_TRUE(writeInterfaceToken(w, kServiceManager, {.marker = written}).ok());
    for (const HeaderMarker expected : markers) {
      ParcelReader r(w.data(), w.offsets());
      absl::StatusOr<InterfaceToken> token =
          enforceInterface(r, kServiceManager, {.marker = expected});
      if (written == expected) {
        ASSERT_TRUE(token.ok()) << token.status();
        EXPECT_EQ(token->marker, static_cast<uint32_t>(written));
      } else {
        expectError(token, absl::StatusCode::kFailedPrecondition, "header mismatch");
        EXPECT_EQ(r.position(), 0u);
      }
    }
  }
}

TEST(ParcelHeadersTest, HeaderMismatchMessage) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager, {.marker = HeaderMarker::kVendor}).ok());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<InterfaceToken> token = enforceInterface(r, kServiceManager);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(token.status().message(), "header mismatch: got 'VNDR' expected 'SYST'");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelHeadersTest, Android10TokenReadAsAndroid11IsAHeaderMismatch) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager, {.layout = ParcelLayout::kAndroid10}).ok());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<InterfaceToken> token = enforceInterface(r, kServiceManager);
  ASSERT_FALSE(token.ok());
  // The descriptor's length word (26) sits where the marker is expected.
  EXPECT_EQ(token.status().message(), "header mismatch: got 0x0000001a expected 'SYST'");
}

TEST(ParcelHeadersTest, DescriptorMismatch) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, u"android.os.IFoo").ok());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<InterfaceToken> token = enforceInterface(r, kServiceManager);
  ASSERT_FALSE(token.ok());
  EXPECT_EQ(token.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(token.status().message(),
            "interface mismatch: got 'android.os.IFoo' expected 'android.os.IServiceManager'");
  EXPECT_EQ(r.position(), 0u);
  // A prefix is not a match either.
  ParcelReader r2(w.data(), w.offsets());
  expectError(enforceInterface(r2, u"android.os.IFo"), absl::StatusCode::kFailedPrecondition,
              "interface mismatch");
}

TEST(ParcelHeadersTest, ReadInterfaceTokenAcceptsAnyMarker) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, u"x", {.marker = HeaderMarker::kRecovery}).ok());
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<InterfaceToken> token = readInterfaceToken(r);
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(token->marker, 0x5245434fu);
  EXPECT_EQ(token->descriptor, u"x");
}

TEST(ParcelHeadersTest, TruncatedOrMalformedTokens) {
  ParcelWriter w;
  ASSERT_TRUE(writeInterfaceToken(w, kServiceManager).ok());
  for (const size_t cut : {0u, 3u, 8u, 12u, 16u, 70u}) {
    ParcelReader r(w.data().first(cut), {});
    expectError(enforceInterface(r, kServiceManager), absl::StatusCode::kOutOfRange, "position");
    EXPECT_EQ(r.position(), 0u);
  }
  const std::vector<uint8_t> null_descriptor = fromHex("00000080 ffffffff 54535953 ffffffff");
  ParcelReader r(null_descriptor);
  expectError(readInterfaceToken(r), absl::StatusCode::kInvalidArgument, "unexpected null");
  EXPECT_EQ(r.position(), 0u);
}

// ---- AIDL Status ----------------------------------------------------------------------------

TEST(ParcelHeadersTest, StatusServiceSpecificGolden) {
  ParcelWriter w;
  ASSERT_TRUE(writeStatus(w, AidlStatus::fromServiceSpecificError(8, u":/")).ok());
  expectBytes(w, "f8ffffff 02000000 3a002f00 00000000 00000000 08000000");
  ParcelReader r(w.data(), w.offsets());
  absl::StatusOr<AidlStatus> status = readStatus(r);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->exception_code, kExServiceSpecific);
  EXPECT_EQ(status->message, u":/");
  EXPECT_EQ(status->service_specific_error, 8);
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelHeadersTest, StatusEncodings) {
  ParcelWriter ok;
  ASSERT_TRUE(writeStatus(ok, AidlStatus::ok()).ok());
  expectBytes(ok, "00000000");

  ParcelWriter security;
  ASSERT_TRUE(writeStatus(security, AidlStatus::fromExceptionCode(kExSecurity, u"no")).ok());
  expectBytes(security, "ffffffff 02000000 6e006f00 00000000 00000000");

  ParcelWriter parcelable;
  ASSERT_TRUE(writeStatus(parcelable, AidlStatus::fromExceptionCode(kExParcelable)).ok());
  expectBytes(parcelable, "f7ffffff 00000000 00000000 00000000 00000000");
}

TEST(ParcelHeadersTest, ExceptionCodeValues) {
  EXPECT_EQ(kExNone, 0);
  EXPECT_EQ(kExSecurity, -1);
  EXPECT_EQ(kExBadParcelable, -2);
  EXPECT_EQ(kExIllegalArgument, -3);
  EXPECT_EQ(kExNullPointer, -4);
  EXPECT_EQ(kExIllegalState, -5);
  EXPECT_EQ(kExNetworkMainThread, -6);
  EXPECT_EQ(kExUnsupportedOperation, -7);
  EXPECT_EQ(kExServiceSpecific, -8);
  EXPECT_EQ(kExParcelable, -9);
  EXPECT_EQ(kExHasReplyHeader, -128);
  EXPECT_EQ(kExTransactionFailed, -129);
}

TEST(ParcelHeadersTest, StatusRoundTrips) {
  const AidlStatus statuses[] = {
      AidlStatus::ok(),
      AidlStatus::fromExceptionCode(kExIllegalArgument, u"bad arg"),
      AidlStatus::fromExceptionCode(kExNullPointer),
      AidlStatus::fromExceptionCode(kExParcelable, u"p"),
      AidlStatus::fromServiceSpecificError(-42, u"service"),
      AidlStatus::fromExceptionCode(12345, u"unknown code"),
  };
  ParcelWriter w;
  for (const AidlStatus& s : statuses) {
    ASSERT_TRUE(writeStatus(w, s).ok());
  }
  ParcelReader r(w.data(), w.offsets());
  for (const AidlStatus& s : statuses) {
    absl::StatusOr<AidlStatus> read = readStatus(r);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, s);
  }
  EXPECT_EQ(r.dataAvail(), 0u);
}

TEST(ParcelHeadersTest, StatusCodesThatAreNeverWritten) {
  for (const int32_t code : {kExTransactionFailed, kExHasReplyHeader}) {
    ParcelWriter w;
    EXPECT_EQ(writeStatus(w, AidlStatus::fromExceptionCode(code)).code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(w.dataSize(), 0u);
  }
}

TEST(ParcelHeadersTest, FatReplyHeaderIsSkipped) {
  // EX_HAS_REPLY_HEADER, size 12 (counting the size word), 8 bytes of header, then the result.
  const std::vector<uint8_t> data = fromHex("80ffffff 0c000000 aaaaaaaa bbbbbbbb 2a000000");
  ParcelReader r(data);
  absl::StatusOr<AidlStatus> status = readStatus(r);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(status->isOk());
  EXPECT_EQ(r.position(), 16u);
  EXPECT_EQ(r.readInt32().value(), 42);
}

TEST(ParcelHeadersTest, FatReplyHeaderBadSizes) {
  for (const char* hex : {"80ffffff 10000000 aaaaaaaa bbbbbbbb",  // 16 > 12 remaining
                          "80ffffff 02000000 aaaaaaaa",           // smaller than its size word
                          "80ffffff ffffffff aaaaaaaa"}) {        // negative
    const std::vector<uint8_t> data = fromHex(hex);
    ParcelReader r(data);
    expectError(readStatus(r), absl::StatusCode::kInvalidArgument, "fat reply header");
    EXPECT_EQ(r.position(), 0u);
  }
  const std::vector<uint8_t> truncated = fromHex("80ffffff 0c00");
  ParcelReader r(truncated);
  expectError(readStatus(r), absl::StatusCode::kOutOfRange, "position 4");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelHeadersTest, RemoteStackTraceIsSkipped) {
  // EX_ILLEGAL_STATE, message "x", stack-trace header of 12 bytes, then the next value.
  const std::vector<uint8_t> data =
      fromHex("fbffffff 01000000 78000000 0c000000 11111111 22222222 07000000");
  ParcelReader r(data);
  absl::StatusOr<AidlStatus> status = readStatus(r);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->exception_code, kExIllegalState);
  EXPECT_EQ(status->message, u"x");
  EXPECT_EQ(r.position(), 24u);
  EXPECT_EQ(r.readInt32().value(), 7);
}

TEST(ParcelHeadersTest, RemoteStackTraceTooLarge) {
  const std::vector<uint8_t> data = fromHex("fbffffff 01000000 78000000 0c000000 11111111");
  ParcelReader r(data);
  expectError(readStatus(r), absl::StatusCode::kInvalidArgument, "remote stack-trace header");
  EXPECT_EQ(r.position(), 0u);
}

TEST(ParcelHeadersTest, JavaParcelableExceptionBlobIsSkipped) {
  // EX_PARCELABLE, null message (Java), empty stack trace, blob of 8 bytes (size word + 4).
  const std::vector<uint8_t> data =
      fromHex("f7ffffff ffffffff 00000000 08000000 01000000 05000000");
  ParcelReader r(data);
  absl::StatusOr<AidlStatus> status = readStatus(r);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(status->exception_code, kExParcelable);
  EXPECT_TRUE(status->message.empty());
  EXPECT_EQ(r.position(), 20u);
}

TEST(ParcelHeadersTest, TruncatedStatuses) {
  for (const char* hex :
       {"", "f8ff", "f8ffffff 02000000 3a002f00", "f8ffffff 02000000 3a002f00 00000000",
        "f8ffffff 02000000 3a002f00 00000000 00000000"}) {
    const std::vector<uint8_t> data = fromHex(hex);
    ParcelReader r(data);
    expectError(readStatus(r), absl::StatusCode::kOutOfRange, "position");
    EXPECT_EQ(r.position(), 0u) << hex;
  }
  const std::vector<uint8_t> bad_message = fromHex("ffffffff feffffff");
  ParcelReader r(bad_message);
  expectError(readStatus(r), absl::StatusCode::kInvalidArgument, "negative length");
  EXPECT_EQ(r.position(), 0u);
}

}  // namespace
}  // namespace nb::codec
