#include "import/score.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace rebound::reboundctl {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsNaToken(std::string_view value, const ScoreRules& rules) {
  for (const auto& token : rules.na_tokens) {
    if (absl::EqualsIgnoreCase(Absl(value), token)) {
      return true;
    }
  }
  return false;
}

// True when `rest` (what follows the leading integer) reads as a label for it.
bool IsLabelSuffix(std::string_view rest) {
  if (rest.empty()) {
    return true;
  }
  if (rest == "/10" || rest == "/ 10" || rest == " / 10" || rest == " /10") {
    return true;
  }
  const unsigned char first = static_cast<unsigned char>(rest.front());
  const bool separator = first == ' ' || first == '-' || first == '(' || first == ':' ||
                         first == '\t' || absl::StartsWith(Absl(rest), "\xE2\x80\x93") ||
                         absl::StartsWith(Absl(rest), "\xE2\x80\x94");
  if (!separator) {
    return false;
  }
  for (char c : rest) {
    if (IsDigit(c)) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string NormalizeLabel(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : absl::StripAsciiWhitespace(Absl(text))) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !out.empty()) {
      out.push_back(' ');
    }
    space = false;
    out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsVerbalScore(std::string_view raw, const ScoreRules& rules) {
  const absl::string_view value = absl::StripAsciiWhitespace(Absl(raw));
  if (value.empty() || IsNaToken(std::string_view(value.data(), value.size()), rules)) {
    return false;
  }
  const char first = value.front();
  if (IsDigit(first)) {
    return false;
  }
  if ((first == '-' || first == '+') && value.size() > 1 && IsDigit(value[1])) {
    return false;
  }
  return true;
}

absl::StatusOr<int> ParseScore(std::string_view raw, const ScoreRules& rules) {
  const absl::string_view trimmed = absl::StripAsciiWhitespace(Absl(raw));
  const std::string_view value(trimmed.data(), trimmed.size());
  if (!rules.labels.empty()) {
    const std::string label = NormalizeLabel(value);
    for (const auto& [text, score] : rules.labels) {
      if (NormalizeLabel(text) == label) {
        return score;
      }
    }
  }
  if (value.empty()) {
    return absl::InvalidArgumentError("missing (empty)");
  }
  if (IsNaToken(value, rules)) {
    return absl::InvalidArgumentError("missing (NA)");
  }
  size_t pos = 0;
  bool negative = false;
  if (value[0] == '-' || value[0] == '+') {
    negative = value[0] == '-';
    pos = 1;
  }
  if (pos >= value.size() || !IsDigit(value[pos])) {
    return absl::InvalidArgumentError("not a number from 0 to 10");
  }
  long number = 0;
  size_t digits = 0;
  while (pos < value.size() && IsDigit(value[pos])) {
    if (digits < 6) {
      number = number * 10 + (value[pos] - '0');
    }
    ++digits;
    ++pos;
  }
  // A decimal part is fine when it is all zeros ("10.0" from a spreadsheet).
  if (pos + 1 < value.size() && (value[pos] == '.' || value[pos] == ',') &&
      IsDigit(value[pos + 1])) {
    size_t end = pos + 1;
    bool zeros = true;
    while (end < value.size() && IsDigit(value[end])) {
      zeros = zeros && value[end] == '0';
      ++end;
    }
    if (!zeros) {
      return absl::InvalidArgumentError("not a whole number");
    }
    pos = end;
  }
  if (!IsLabelSuffix(value.substr(pos))) {
    return absl::InvalidArgumentError("not a number from 0 to 10");
  }
  if ((negative && number != 0) || digits > 2 || number > 10) {
    return absl::InvalidArgumentError("out of range 0-10");
  }
  return static_cast<int>(number);
}

}  // namespace rebound::reboundctl
