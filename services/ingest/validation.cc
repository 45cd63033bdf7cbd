#include "validation.h"

#include <unicode/unistr.h>

#include <cstdint>
#include <optional>
#include <unordered_set>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "rebound/domain/utf8.h"

namespace rebound::ingest {
namespace {

constexpr char kFieldPayloadUrl[] = "type.rebound.dev/ingest.field";

using domain::DecodeNext;

bool IsSpace(char32_t cp) {
  return cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000 || cp == 0xFEFF;
}

bool IsControl(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

// True when `pred` holds for every code point of `text` (false for ill-formed UTF-8).
template <typename Fn>
bool AllCodePoints(std::string_view text, Fn pred) {
  size_t pos = 0;
  while (pos < text.size()) {
    std::optional<char32_t> cp = DecodeNext(text, pos);
    if (!cp || !pred(*cp)) {
      return false;
    }
  }
  return true;
}

bool IsEmailDomainLabel(std::string_view label) {
  if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') {
    return false;
  }
  for (char c : label) {
    const auto u = static_cast<unsigned char>(c);
    const bool ok = (u >= 0x80) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

std::string Path(std::string_view prefix, std::string_view field) {
  return absl::StrCat(std::string(prefix), ".", std::string(field));
}

std::string Indexed(std::string_view prefix, size_t index) {
  return absl::StrCat(std::string(prefix), "[", index, "]");
}

// Checks UTF-8 first (nothing else can be judged on broken bytes), then applies `normalize`
// and the length cap. `required` rejects a value that is empty after normalisation.
absl::Status CleanText(std::string& value, std::string_view field, size_t max_chars, bool collapse,
                       bool required = false) {
  if (!IsValidUtf8(value)) {
    return InvalidField(field, "must be valid UTF-8");
  }
  value = collapse ? CollapseWhitespace(value) : Trim(value);
  if (required && value.empty()) {
    return InvalidField(field, "is required");
  }
  const size_t chars = CountChars(value);
  if (chars > max_chars) {
    return InvalidField(field, absl::StrCat("is too long: ", chars, " characters, at most ",
                                            max_chars, " allowed"));
  }
  return absl::OkStatus();
}

bool ContainsChainSeparator(std::string_view text) {
  return text.find("\u203A") != std::string_view::npos || text.find('>') != std::string_view::npos;
}

absl::Status NormalizeOwners(v1::SurveyResponse& response, const Limits& limits) {
  // Expand links that hold a whole written chain or a "Role: Name" first, so that callers
  // which only have the text (CSV exports, simple clients) can pass it through unparsed.
  std::vector<v1::Owner> links;
  for (int i = 0; i < response.owner_chain_size(); ++i) {
    v1::Owner owner = response.owner_chain(i);
    const std::string field = Indexed("owner_chain", i);
    if (!IsValidUtf8(owner.name())) {
      return InvalidField(Path(field, "name"), "must be valid UTF-8");
    }
    if (!IsValidUtf8(owner.role())) {
      return InvalidField(Path(field, "role"), "must be valid UTF-8");
    }
    if (!IsValidUtf8(owner.email())) {
      return InvalidField(Path(field, "email"), "must be valid UTF-8");
    }
    if (owner.role().empty() && owner.email().empty()) {
      if (ContainsChainSeparator(owner.name())) {
        for (v1::Owner& link : ParseOwnerChain(owner.name())) {
          links.push_back(std::move(link));
        }
        continue;
      }
      owner = ParseOwnerLink(owner.name());
    }
    links.push_back(std::move(owner));
  }

  if (links.size() > limits.max_owner_links) {
    return InvalidField("owner_chain", absl::StrCat("has ", links.size(), " links, at most ",
                                                    limits.max_owner_links, " allowed"));
  }
  response.clear_owner_chain();
  for (size_t i = 0; i < links.size(); ++i) {
    v1::Owner& owner = links[i];
    const std::string field = Indexed("owner_chain", i);
    if (auto s = CleanText(*owner.mutable_name(), Path(field, "name"), limits.max_name_chars,
                           /*collapse=*/true, /*required=*/true);
        !s.ok()) {
      return s;
    }
    if (auto s = CleanText(*owner.mutable_role(), Path(field, "role"), limits.max_name_chars,
                           /*collapse=*/true);
        !s.ok()) {
      return s;
    }
    if (auto s = CleanText(*owner.mutable_email(), Path(field, "email"), limits.max_email_chars,
                           /*collapse=*/false);
        !s.ok()) {
      return s;
    }
    if (!owner.email().empty() && !IsValidEmail(owner.email())) {
      return InvalidField(Path(field, "email"), "is not a valid email address");
    }
    *response.add_owner_chain() = std::move(owner);
  }
  return absl::OkStatus();
}

absl::Status NormalizeTags(v1::SurveyResponse& response, const Limits& limits) {
  std::vector<std::string> tags;
  for (int i = 0; i < response.tags_size(); ++i) {
    std::string tag = response.tags(i);
    if (auto s = CleanText(tag, Indexed("tags", i), limits.max_tag_chars, /*collapse=*/true);
        !s.ok()) {
      return s;
    }
    if (!tag.empty()) {
      tags.push_back(std::move(tag));
    }
  }
  tags = DedupeTags(tags);
  if (tags.size() > limits.max_tags) {
    return InvalidField("tags", absl::StrCat("has ", tags.size(), " distinct tags, at most ",
                                             limits.max_tags, " allowed"));
  }
  response.clear_tags();
  for (std::string& tag : tags) {
    response.add_tags(std::move(tag));
  }
  return absl::OkStatus();
}

absl::Status NormalizeRespondent(v1::Respondent& respondent, const Limits& limits) {
  if (auto s = CleanText(*respondent.mutable_respondent_id(), "respondent.respondent_id",
                         limits.max_id_chars, /*collapse=*/false);
      !s.ok()) {
    return s;
  }
  if (auto s = CleanText(*respondent.mutable_full_name(), "respondent.full_name",
                         limits.max_name_chars, /*collapse=*/true);
      !s.ok()) {
    return s;
  }
  if (auto s = CleanText(*respondent.mutable_email(), "respondent.email", limits.max_email_chars,
                         /*collapse=*/false);
      !s.ok()) {
    return s;
  }
  if (!respondent.email().empty() && !IsValidEmail(respondent.email())) {
    return InvalidField("respondent.email", "is not a valid email address");
  }
  if (auto s = CleanText(*respondent.mutable_phone(), "respondent.phone", limits.max_phone_chars,
                         /*collapse=*/true);
      !s.ok()) {
    return s;
  }
  if (!v1::RespondentKind_IsValid(respondent.kind())) {
    return InvalidField("respondent.kind", "must be client or talent");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InvalidField(std::string_view field, std::string_view message) {
  absl::Status status(absl::StatusCode::kInvalidArgument,
                      absl::StrCat(std::string(field), ": ", std::string(message)));
  status.SetPayload(kFieldPayloadUrl, absl::Cord(std::string(field)));
  return status;
}

FieldError FieldErrorOf(const absl::Status& status) {
  FieldError error;
  const std::string message(status.message());
  auto field = status.GetPayload(kFieldPayloadUrl);
  if (!field) {
    error.message = message;
    return error;
  }
  error.field = std::string(*field);
  const std::string prefix = error.field + ": ";
  error.message = message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
  return error;
}

std::string Trim(std::string_view text) {
  // Find the byte range between the first and after the last non-space code point.
  size_t begin = std::string_view::npos;
  size_t end = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    std::optional<char32_t> cp = DecodeNext(text, pos);
    if (!cp) {
      pos = start + 1;
    }
    if (!cp || !IsSpace(*cp)) {
      if (begin == std::string_view::npos) {
        begin = start;
      }
      end = pos;
    }
  }
  if (begin == std::string_view::npos) {
    return "";
  }
  return std::string(text.substr(begin, end - begin));
}

std::string CollapseWhitespace(std::string_view text) {
  const std::string trimmed = Trim(text);
  std::string out;
  out.reserve(trimmed.size());
  bool in_space = false;
  size_t pos = 0;
  while (pos < trimmed.size()) {
    const size_t start = pos;
    std::optional<char32_t> cp = DecodeNext(trimmed, pos);
    if (!cp) {
      pos = start + 1;
    }
    if (cp && IsSpace(*cp)) {
      in_space = true;
      continue;
    }
    if (in_space) {
      out.push_back(' ');
      in_space = false;
    }
    out.append(trimmed, start, pos - start);
  }
  return out;
}

std::string CaseFold(std::string_view text) {
  icu::UnicodeString unicode = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  std::string out;
  unicode.foldCase().toUTF8String(out);
  return out;
}

bool IsValidEmail(std::string_view email) {
  if (email.size() > 254 || !IsValidUtf8(email)) {
    return false;
  }
  const size_t at = email.find('@');
  if (at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) {
    return false;
  }
  const std::string_view local = email.substr(0, at);
  const std::string_view domain = email.substr(at + 1);
  if (local.empty() || CountChars(local) > 64) {
    return false;
  }
  if (!AllCodePoints(local, [](char32_t cp) { return !IsSpace(cp) && !IsControl(cp); })) {
    return false;
  }
  size_t labels = 0;
  size_t start = 0;
  while (true) {
    const size_t dot = domain.find('.', start);
    const std::string_view label =
        domain.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!IsEmailDomainLabel(label)) {
      return false;
    }
    ++labels;
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return labels >= 2;
}

v1::Owner ParseOwnerLink(std::string_view text) {
  v1::Owner owner;
  const size_t colon = text.find(':');
  if (colon != std::string_view::npos) {
    owner.set_role(CollapseWhitespace(text.substr(0, colon)));
    owner.set_name(CollapseWhitespace(text.substr(colon + 1)));
  } else {
    owner.set_name(CollapseWhitespace(text));
  }
  return owner;
}

std::vector<v1::Owner> ParseOwnerChain(std::string_view text) {
  static constexpr std::string_view kAngle = "\u203A";
  std::vector<v1::Owner> links;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t angle = text.find(kAngle, start);
    const size_t gt = text.find('>', start);
    const size_t end = std::min(angle, gt);
    const std::string_view piece =
        text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!CollapseWhitespace(piece).empty()) {
      links.push_back(ParseOwnerLink(piece));
    }
    if (end == std::string_view::npos) {
      break;
    }
    start = end + (end == angle ? kAngle.size() : 1);
  }
  return links;
}

std::string DeriveAccountId(std::string_view name) {
  const std::string collapsed = CollapseWhitespace(name);
  if (collapsed.empty()) {
    return std::string(kUnassignedAccount);
  }
  std::string id = CaseFold(collapsed);
  for (char& c : id) {
    if (c == ' ') {
      c = '-';
    }
  }
  return id;
}

std::string RespondentKey(const v1::Respondent& respondent) {
  if (!respondent.respondent_id().empty()) {
    return respondent.respondent_id();
  }
  if (!respondent.email().empty()) {
    return CaseFold(respondent.email());
  }
  return "";
}

std::vector<std::string> DedupeTags(const std::vector<std::string>& tags) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (const std::string& tag : tags) {
    if (seen.insert(CaseFold(tag)).second) {
      out.push_back(tag);
    }
  }
  return out;
}

absl::StatusOr<v1::SurveyResponse> NormalizeResponse(v1::SurveyResponse response,
                                                     const Limits& limits, absl::Time now) {
  // response_id: the idempotency key.
  std::string& id = *response.mutable_response_id();
  if (auto s = CleanText(id, "response_id", limits.max_response_id_chars, /*collapse=*/false,
                         /*required=*/true);
      !s.ok()) {
    return s;
  }
  if (!AllCodePoints(id, [](char32_t cp) { return !IsControl(cp); })) {
    return InvalidField("response_id", "must not contain control characters");
  }

  // submitted_at: required, a valid timestamp, not beyond the allowed skew in the future.
  if (!response.has_submitted_at()) {
    return InvalidField("submitted_at", "is required");
  }
  const google::protobuf::Timestamp& ts = response.submitted_at();
  if (ts.seconds() < google::protobuf::util::TimeUtil::kTimestampMinSeconds ||
      ts.seconds() > google::protobuf::util::TimeUtil::kTimestampMaxSeconds || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return InvalidField("submitted_at", "is not a valid timestamp");
  }
  const absl::Time submitted = absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  if (submitted > now + limits.max_future_skew) {
    return InvalidField("submitted_at", absl::StrCat("lies in the future (more than ",
                                                     absl::FormatDuration(limits.max_future_skew),
                                                     " ahead of the server clock)"));
  }

  if (response.score() < 0 || response.score() > 10) {
    return InvalidField("score", "must be an integer from 0 to 10");
  }

  if (auto s = CleanText(*response.mutable_survey_id(), "survey_id", limits.max_id_chars,
                         /*collapse=*/false);
      !s.ok()) {
    return s;
  }
  if (auto s = CleanText(*response.mutable_reason(), "reason", limits.max_text_chars,
                         /*collapse=*/false);
      !s.ok()) {
    return s;
  }
  if (auto s = CleanText(*response.mutable_do_differently(), "do_differently",
                         limits.max_text_chars, /*collapse=*/false);
      !s.ok()) {
    return s;
  }
  if (auto s = NormalizeRespondent(*response.mutable_respondent(), limits); !s.ok()) {
    return s;
  }

  v1::Account& account = *response.mutable_account();
  if (auto s = CleanText(*account.mutable_account_id(), "account.account_id", limits.max_id_chars,
                         /*collapse=*/false);
      !s.ok()) {
    return s;
  }
  if (auto s = CleanText(*account.mutable_name(), "account.name", limits.max_name_chars,
                         /*collapse=*/true);
      !s.ok()) {
    return s;
  }
  if (account.account_id().empty()) {
    account.set_account_id(DeriveAccountId(account.name()));
  }

  if (auto s = NormalizeOwners(response, limits); !s.ok()) {
    return s;
  }
  if (auto s = NormalizeTags(response, limits); !s.ok()) {
    return s;
  }
  response.set_respondent_key(RespondentKey(response.respondent()));
  return response;
}

}  // namespace rebound::ingest
