#include "rebound/domain/utf8.h"

#include <unicode/utf8.h>

#include <cstdint>
#include <limits>

namespace rebound::domain {

std::optional<char32_t> DecodeNext(std::string_view text, size_t& pos) {
  // ICU indexes with int32_t; texts reaching this are capped far below 2 GB.
  if (pos >= text.size() ||
      text.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return std::nullopt;
  }
  const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
  auto index = static_cast<int32_t>(pos);
  UChar32 cp = 0;
  U8_NEXT(bytes, index, static_cast<int32_t>(text.size()), cp);
  if (cp < 0) {
    return std::nullopt;
  }
  pos = static_cast<size_t>(index);
  return static_cast<char32_t>(cp);
}

bool IsValidUtf8(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    if (!DecodeNext(text, pos).has_value()) {
      return false;
    }
  }
  return true;
}

size_t CountChars(std::string_view text) {
  size_t count = 0;
  for (char c : text) {
    // Every code point has exactly one byte that is not a continuation byte (10xxxxxx).
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++count;
    }
  }
  return count;
}

}  // namespace rebound::domain
