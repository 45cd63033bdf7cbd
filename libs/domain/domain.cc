#include "rebound/domain/domain.h"

#include <openssl/sha.h>

#include <array>
#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"

namespace rebound::domain {
namespace {

// Debian's Abseil has its own absl::string_view, which std::string_view does not convert to.
absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct ResolutionName {
  v1::Resolution value;
  std::string_view slug;
  std::string_view label;
};

constexpr std::array<ResolutionName, 6> kResolutions = {{
    {v1::RESOLUTION_UNSPECIFIED, "open", "Open"},
    {v1::RESOLUTION_IN_PROGRESS, "in_progress", "Resolution in Progress"},
    {v1::RESOLUTION_CANT_RESOLVE, "cant_resolve", "Can't Resolve"},
    {v1::RESOLUTION_NOT_AN_ISSUE, "not_an_issue", "Not an Issue"},
    {v1::RESOLUTION_RESOLVED, "resolved", "Resolved"},
    {v1::RESOLUTION_ESCALATE, "escalate", "Escalate"},
}};

// Lower case, with '-' and ' ' read as '_' and apostrophes dropped ("Can't Resolve" ->
// "cant_resolve").
std::string NormalizeName(std::string_view text) {
  std::string out;
  for (char c : absl::StripAsciiWhitespace(Absl(text))) {
    if (c == '\'') continue;
    out.push_back(c == '-' || c == ' ' ? '_' : absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

v1::Category Categorize(int score, const Bands& bands) {
  if (score <= bands.detractor_max) return v1::CATEGORY_DETRACTOR;
  if (score <= bands.passive_max) return v1::CATEGORY_PASSIVE;
  return v1::CATEGORY_PROMOTER;
}

double NetPromoterScore(int64_t promoters, int64_t passives, int64_t detractors) {
  const int64_t total = promoters + passives + detractors;
  if (total == 0) return 0.0;
  return 100.0 * static_cast<double>(promoters - detractors) / static_cast<double>(total);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * SHA256_DIGEST_LENGTH);
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 0xf]);
  }
  return out;
}

std::string CaseIdForResponse(std::string_view response_id) {
  return absl::StrCat("case-", Sha256Hex(response_id).substr(0, 20));
}

std::string_view ResolutionLabel(v1::Resolution resolution) {
  for (const auto& r : kResolutions) {
    if (r.value == resolution) return r.label;
  }
  return "Unknown";
}

std::string_view ResolutionSlug(v1::Resolution resolution) {
  for (const auto& r : kResolutions) {
    if (r.value == resolution) return r.slug;
  }
  return "unknown";
}

absl::StatusOr<v1::Resolution> ParseResolution(std::string_view text) {
  const std::string name = NormalizeName(text);
  for (const auto& r : kResolutions) {
    if (r.value == v1::RESOLUTION_UNSPECIFIED) continue;
    if (name == r.slug || name == NormalizeName(r.label)) return r.value;
  }
  if (name == "resolution_in_progress") return v1::RESOLUTION_IN_PROGRESS;
  return absl::InvalidArgumentError(absl::StrCat(
      "'", Absl(text),
      "' is not a resolution; use one of in_progress, cant_resolve, not_an_issue, resolved, "
      "escalate"));
}

bool IsClosing(v1::Resolution resolution) {
  return resolution == v1::RESOLUTION_RESOLVED || resolution == v1::RESOLUTION_NOT_AN_ISSUE ||
         resolution == v1::RESOLUTION_CANT_RESOLVE;
}

std::string_view PrioritySlug(v1::Priority priority) {
  switch (priority) {
    case v1::PRIORITY_NORMAL:
      return "normal";
    case v1::PRIORITY_HIGH:
      return "high";
    case v1::PRIORITY_URGENT:
      return "urgent";
    default:
      return "unspecified";
  }
}

std::string_view PriorityLabel(v1::Priority priority) {
  switch (priority) {
    case v1::PRIORITY_NORMAL:
      return "Normal";
    case v1::PRIORITY_HIGH:
      return "High";
    case v1::PRIORITY_URGENT:
      return "Urgent";
    default:
      return "Unspecified";
  }
}

absl::StatusOr<v1::Priority> ParsePriority(std::string_view text) {
  const std::string name = NormalizeName(text);
  if (name == "normal") return v1::PRIORITY_NORMAL;
  if (name == "high") return v1::PRIORITY_HIGH;
  if (name == "urgent") return v1::PRIORITY_URGENT;
  return absl::InvalidArgumentError(
      absl::StrCat("'", Absl(text), "' is not a priority; use one of normal, high, urgent"));
}

std::string_view CategorySlug(v1::Category category) {
  switch (category) {
    case v1::CATEGORY_DETRACTOR:
      return "detractor";
    case v1::CATEGORY_PASSIVE:
      return "passive";
    case v1::CATEGORY_PROMOTER:
      return "promoter";
    default:
      return "unspecified";
  }
}

std::string FormatOwnerChain(const google::protobuf::RepeatedPtrField<v1::Owner>& chain) {
  return absl::StrJoin(chain, " \u203a ", [](std::string* out, const v1::Owner& owner) {
    if (owner.role().empty()) {
      absl::StrAppend(out, owner.name());
    } else {
      absl::StrAppend(out, owner.role(), ": ", owner.name());
    }
  });
}

std::string FirstName(std::string_view full_name) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(Absl(full_name));
  full_name = std::string_view(stripped.data(), stripped.size());
  const size_t space = full_name.find(' ');
  return std::string(space == std::string_view::npos ? full_name : full_name.substr(0, space));
}

}  // namespace rebound::domain
