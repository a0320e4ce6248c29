// UTF-8 <-> UTF-16 conversion for libbinder String16 values (parcel_writer.h, parcel_reader.h).
//
// Abseil has no public UTF-16 API and std::codecvt is deprecated, so this is a small strict
// converter. Strict means: UTF-8 input must be well-formed (no overlong forms, no encoded
// surrogates, nothing above U+10FFFF, no truncated sequences) and UTF-16 input must have every
// surrogate paired. libbinder's utf8_to_utf16_length() also rejects malformed UTF-8
// (writeUtf8AsUtf16 returns BAD_VALUE); on the UTF-16 side libutils passes an unpaired surrogate
// through as a 3-byte sequence, which is not valid UTF-8 — we report an error instead.
//
// Pure functions, no state; safe from any thread.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace nb::codec {

// Converts well-formed UTF-8 to UTF-16 (code points above U+FFFF become surrogate pairs).
// Fails with InvalidArgument naming the byte offset of the first malformed sequence.
absl::StatusOr<std::u16string> utf8ToUtf16(std::string_view utf8);

// Converts UTF-16 to UTF-8. Fails with InvalidArgument naming the unit index of the first
// unpaired surrogate.
absl::StatusOr<std::string> utf16ToUtf8(std::u16string_view utf16);

// As utf16ToUtf8, but replaces each unpaired surrogate with U+FFFD. For log and error messages.
std::string utf16ToUtf8Lossy(std::u16string_view utf16);

}  // namespace nb::codec
