#include "codec/utf16.h"

#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nb::codec {
namespace {

constexpr char32_t kReplacementChar = 0xFFFD;
constexpr char32_t kMaxCodePoint = 0x10FFFF;

bool isHighSurrogate(char16_t unit) { return (unit & 0xFC00) == 0xD800; }
bool isLowSurrogate(char16_t unit) { return (unit & 0xFC00) == 0xDC00; }
bool isContinuation(uint8_t byte) { return (byte & 0xC0) == 0x80; }

// Decodes one code point starting at utf8[*pos] and advances *pos past it; nullopt if the
// sequence there is malformed (then *pos is unchanged).
std::optional<char32_t> decodeUtf8(std::string_view utf8, size_t* pos) {
  const size_t start = *pos;
  const auto lead = static_cast<uint8_t>(utf8[start]);
  if (lead < 0x80) {
    *pos = start + 1;
    return lead;
  }
  size_t length = 0;
  char32_t code_point = 0;
  char32_t min_value = 0;  // smallest code point that needs `length` bytes (rejects overlong forms)
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    code_point = lead & 0x1F;
    min_value = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    code_point = lead & 0x0F;
    min_value = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    code_point = lead & 0x07;
    min_value = 0x10000;
  } else {
    return std::nullopt;  // stray continuation byte or 0xF8..0xFF
  }
  if (utf8.size() - start < length) {
    return std::nullopt;  // truncated sequence
  }
  for (size_t i = 1; i < length; ++i) {
    const auto byte = static_cast<uint8_t>(utf8[start + i]);
    if (!isContinuation(byte)) {
      return std::nullopt;
    }
    code_point = (code_point << 6) | (byte & 0x3F);
  }
  if (code_point < min_value || code_point > kMaxCodePoint ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return std::nullopt;
  }
  *pos = start + length;
  return code_point;
}

void appendUtf8(char32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

// Decodes the code point at utf16[*pos] (a BMP unit or a surrogate pair) and advances *pos;
// nullopt for an unpaired surrogate (then *pos is unchanged).
std::optional<char32_t> decodeUtf16(std::u16string_view utf16, size_t* pos) {
  const char16_t unit = utf16[*pos];
  if (isLowSurrogate(unit)) {
    return std::nullopt;
  }
  if (!isHighSurrogate(unit)) {
    *pos += 1;
    return unit;
  }
  if (*pos + 1 >= utf16.size() || !isLowSurrogate(utf16[*pos + 1])) {
    return std::nullopt;
  }
  const char16_t low = utf16[*pos + 1];
  *pos += 2;
  return 0x10000 + ((static_cast<char32_t>(unit - 0xD800) << 10) | (low - 0xDC00));
}

}  // namespace

absl::StatusOr<std::u16string> utf8ToUtf16(std::string_view utf8) {
  std::u16string out;
  out.reserve(utf8.size());
  size_t pos = 0;
  while (pos < utf8.size()) {
    const std::optional<char32_t> code_point = decodeUtf8(utf8, &pos);
    if (!code_point.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed UTF-8 sequence at byte offset ", pos));
    }
    if (*code_point < 0x10000) {
      out.push_back(static_cast<char16_t>(*code_point));
    } else {
      const char32_t v = *code_point - 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (v >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (v & 0x3FF)));
    }
  }
  return out;
}

absl::StatusOr<std::string> utf16ToUtf8(std::u16string_view utf16) {
  std::string out;
  out.reserve(utf16.size());
  size_t pos = 0;
  while (pos < utf16.size()) {
    const std::optional<char32_t> code_point = decodeUtf16(utf16, &pos);
    if (!code_point.has_value()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unpaired UTF-16 surrogate at unit index ", pos));
    }
    appendUtf8(*code_point, &out);
  }
  return out;
}

std::string utf16ToUtf8Lossy(std::u16string_view utf16) {
  std::string out;
  out.reserve(utf16.size());
  size_t pos = 0;
  while (pos < utf16.size()) {
    const std::optional<char32_t> code_point = decodeUtf16(utf16, &pos);
    if (!code_point.has_value()) {
      appendUtf8(kReplacementChar, &out);
      ++pos;
      continue;
    }
    appendUtf8(*code_point, &out);
  }
  return out;
}

}  // namespace nb::codec
