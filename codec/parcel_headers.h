// Parcel headers that frame AIDL calls (../shared/reference/aosp-binder.md §2.2, §2.4):
//
//   * the interface token at the start of every kernel-binder request parcel
//     (libbinder Parcel::writeInterfaceToken / enforceInterface), and
//   * the AIDL Status at the start of every reply parcel (libbinder Status::writeToParcel /
//     readFromParcel).
//
// Interface token layouts, in wire order (all int32 little-endian):
//
//   kAndroid10:     strict-mode policy | 0x80000000, work-source uid,                descriptor
//   kAndroid11Plus: strict-mode policy | 0x80000000, work-source uid, header marker, descriptor
//
// The descriptor is a String16. The header marker says which libbinder copy wrote the parcel:
// 'SYST' (system), 'VNDR' (vendor/VNDK), 'RECO' (recovery) or 'UNKN' (libbinder built for a
// non-Android target). libbinder rejects a parcel whose marker differs from its own ("Mixing
// copies of libbinder?"), so a client must pick the marker its server expects.
//
// Free functions over ParcelWriter / ParcelReader; no state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "codec/parcel_reader.h"
#include "codec/parcel_writer.h"

namespace nb::codec {

// ---- Interface token ----------------------------------------------------------------------

// STRICT_MODE_PENALTY_GATHER: always OR-ed into the written strict-mode policy.
inline constexpr int32_t kStrictModePenaltyGather = static_cast<int32_t>(0x80000000u);
// IPCThreadState::kUnsetWorkSource.
inline constexpr int32_t kUnsetWorkSource = -1;

enum class ParcelLayout : uint8_t {
  kAndroid10,      // no header marker (Android 10)
  kAndroid11Plus,  // header marker before the descriptor (Android 11 and later)
};

// The header marker values: B_PACK_CHARS('S','Y','S','T') etc., written as an int32.
enum class HeaderMarker : uint32_t {
  kSystem = 0x53595354,    // 'SYST'
  kVendor = 0x564e4452,    // 'VNDR'
  kRecovery = 0x5245434f,  // 'RECO'
  kUnknown = 0x554e4b4e,   // 'UNKN': non-Android build of libbinder
};

// "'SYST'" for four printable ASCII characters, else "0x1234abcd".
std::string headerMarkerName(uint32_t marker);

// Which header a peer's libbinder writes and expects.
struct InterfaceHeaderFormat {
  ParcelLayout layout = ParcelLayout::kAndroid11Plus;
  HeaderMarker marker = HeaderMarker::kSystem;  // ignored for kAndroid10
};

// The decoded token.
struct InterfaceToken {
  // As read, including the kStrictModePenaltyGather bit a libbinder writer always sets.
  int32_t strict_mode_policy = 0;
  int32_t work_source_uid = kUnsetWorkSource;
  // The raw marker word; nullopt for kAndroid10.
  std::optional<uint32_t> marker;
  std::u16string descriptor;
};

// Writes the token: (strict_mode_policy | kStrictModePenaltyGather), work_source_uid, the marker
// (kAndroid11Plus only) and `descriptor` as String16.
[[nodiscard]] absl::Status writeInterfaceToken(ParcelWriter& writer, std::u16string_view descriptor,
                                               const InterfaceHeaderFormat& format = {},
                                               int32_t strict_mode_policy = 0,
                                               int32_t work_source_uid = kUnsetWorkSource);

// Reads a token in `layout` without judging it (any marker, any descriptor). A null descriptor
// is an error. On error the reader's position is unchanged.
absl::StatusOr<InterfaceToken> readInterfaceToken(
    ParcelReader& reader, ParcelLayout layout = ParcelLayout::kAndroid11Plus);

// Reads a token and checks it as the server side of libbinder does: the marker must equal
// `format.marker` (FailedPrecondition "header mismatch: got 'VNDR' expected 'SYST'") and the
// descriptor must equal `expected_descriptor` (FailedPrecondition "interface mismatch: ...").
// Malformed or truncated input gives the reader's InvalidArgument / OutOfRange. On any error the
// reader's position is unchanged.
absl::StatusOr<InterfaceToken> enforceInterface(ParcelReader& reader,
                                                std::u16string_view expected_descriptor,
                                                const InterfaceHeaderFormat& format = {});

// ---- AIDL Status --------------------------------------------------------------------------

// binder::Status exception codes (libbinder include/binder/Status.h, EX_*).
inline constexpr int32_t kExNone = 0;                   // EX_NONE
inline constexpr int32_t kExSecurity = -1;              // EX_SECURITY
inline constexpr int32_t kExBadParcelable = -2;         // EX_BAD_PARCELABLE
inline constexpr int32_t kExIllegalArgument = -3;       // EX_ILLEGAL_ARGUMENT
inline constexpr int32_t kExNullPointer = -4;           // EX_NULL_POINTER
inline constexpr int32_t kExIllegalState = -5;          // EX_ILLEGAL_STATE
inline constexpr int32_t kExNetworkMainThread = -6;     // EX_NETWORK_MAIN_THREAD
inline constexpr int32_t kExUnsupportedOperation = -7;  // EX_UNSUPPORTED_OPERATION
inline constexpr int32_t kExServiceSpecific = -8;       // EX_SERVICE_SPECIFIC
inline constexpr int32_t kExParcelable = -9;            // EX_PARCELABLE
// Java "fat" reply header (Parcel.java EX_HAS_STRICTMODE_REPLY_HEADER): int32 size (counting
// itself), payload; then the reply continues as if EX_NONE had been read.
inline constexpr int32_t kExHasReplyHeader = -128;  // EX_HAS_REPLY_HEADER
// Local-only: a transport failure. Never written to a parcel.
inline constexpr int32_t kExTransactionFailed = -129;  // EX_TRANSACTION_FAILED

// An AIDL Status as carried in a reply parcel:
//   int32 exception code; if not EX_NONE: String16 message, int32 remote stack-trace header size
//   (0 when written), then for EX_SERVICE_SPECIFIC an int32 error code, for EX_PARCELABLE an
//   int32 parcelable header size (0 when written; sized blobs are skipped on read).
struct AidlStatus {
  int32_t exception_code = kExNone;
  // A null message (Java writes -1 for an exception without one) reads as empty.
  std::u16string message;
  // Meaningful only for kExServiceSpecific.
  int32_t service_specific_error = 0;

  bool isOk() const { return exception_code == kExNone; }
  static AidlStatus ok() { return AidlStatus{}; }
  static AidlStatus fromExceptionCode(int32_t exception_code, std::u16string message = {});
  static AidlStatus fromServiceSpecificError(int32_t error, std::u16string message = {});

  friend bool operator==(const AidlStatus&, const AidlStatus&) = default;
};

// Fails (InvalidArgument) for kExTransactionFailed and kExHasReplyHeader, which are not
// statuses a server sends, and leaves the writer unchanged then.
[[nodiscard]] absl::Status writeStatus(ParcelWriter& writer, const AidlStatus& status);

// Reads a Status; skips a Java fat reply header (then the status is EX_NONE), a remote stack-trace
// header and an EX_PARCELABLE blob. Each skipped size counts its own int32 and must be 0 (nothing
// to skip) or between 4 and the remaining data; anything else is InvalidArgument. On error the
// reader's position is unchanged.
absl::StatusOr<AidlStatus> readStatus(ParcelReader& reader);

}  // namespace nb::codec
