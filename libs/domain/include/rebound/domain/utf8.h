// UTF-8 checks shared by every service that accepts text from people. Built on ICU's decoder
// (U8_NEXT), which treats overlong forms, encoded surrogates and values above U+10FFFF as
// ill-formed.
#ifndef REBOUND_DOMAIN_UTF8_H_
#define REBOUND_DOMAIN_UTF8_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace rebound::domain {

// True when `text` is well-formed UTF-8. Protobuf (proto3) string fields must be, or a stored
// record can no longer be parsed.
bool IsValidUtf8(std::string_view text);

// Number of code points of well-formed UTF-8 `text` (what a person counts as characters,
// near enough for length limits).
size_t CountChars(std::string_view text);

// Decodes the code point starting at byte `pos` and moves `pos` past it. Returns nullopt for an
// ill-formed sequence, leaving `pos` where it was.
std::optional<char32_t> DecodeNext(std::string_view text, size_t& pos);

}  // namespace rebound::domain

#endif  // REBOUND_DOMAIN_UTF8_H_
