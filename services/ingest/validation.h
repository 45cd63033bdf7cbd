// Validation and normalisation of survey responses, shared by every door into ingest (gRPC,
// webhook, import). Pure functions: no I/O, the clock is passed in.
//
// The limits are documented in README.md ("Validation rules"); keep the two in step.
#ifndef REBOUND_SERVICES_INGEST_VALIDATION_H_
#define REBOUND_SERVICES_INGEST_VALIDATION_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/domain/utf8.h"
#include "rebound/v1/survey.pb.h"

namespace rebound::ingest {

// Caps on what a response may hold. Lengths count Unicode code points after normalisation.
struct Limits {
  size_t max_response_id_chars = 128;
  size_t max_id_chars = 128;     // respondent_id, account_id, survey_id
  size_t max_text_chars = 5000;  // reason, do_differently
  size_t max_name_chars = 200;   // full_name, account name, owner names and roles
  size_t max_email_chars = 254;
  size_t max_phone_chars = 50;
  size_t max_tags = 50;
  size_t max_tag_chars = 100;
  size_t max_owner_links = 10;
  // How far in the future submitted_at may lie (clocks of survey platforms drift).
  absl::Duration max_future_skew = absl::Minutes(5);
};

// The field at fault and what is wrong with it. `field` is a path such as "score",
// "respondent.email" or "owner_chain[1].name"; `message` a sentence fragment that reads after
// the field name ("must be an integer from 0 to 10").
struct FieldError {
  std::string field;
  std::string message;
};

// An INVALID_ARGUMENT status that carries `field` as a payload, so that errors stay
// absl::Status inside the service and the field can still be reported separately.
absl::Status InvalidField(std::string_view field, std::string_view message);
// The field and message of a status. For statuses not made by InvalidField the field is empty
// and the message is the status message.
FieldError FieldErrorOf(const absl::Status& status);

// --- Text helpers -------------------------------------------------------------------------

// UTF-8 checks and code-point counts come from libs/domain, shared with the case service.
using domain::CountChars;
using domain::IsValidUtf8;
// Removes leading and trailing whitespace (ASCII and the Unicode space characters).
std::string Trim(std::string_view text);
// Trims and replaces every run of whitespace (including newlines and tabs) with one space.
std::string CollapseWhitespace(std::string_view text);
// Unicode case folding (full folding, as ICU does it), for case-insensitive comparisons.
std::string CaseFold(std::string_view text);

// The documented email rule: one '@'; a local part of 1 to 64 characters without whitespace,
// control characters or '@'; a domain of at least two dot-separated labels, each 1 to 63
// letters, digits or hyphens (not at either end), non-ASCII letters allowed. No quoted local
// parts, IP literals or comments.
bool IsValidEmail(std::string_view email);

// --- Owner chain --------------------------------------------------------------------------

// Parses one link written as "Role: Name" or "Name". Whitespace is collapsed in both parts.
v1::Owner ParseOwnerLink(std::string_view text);
// Parses a chain written from the top down with "›" (U+203A) or ">" between the links, e.g.
// "Director: Dana Whitfield › Sam Ortiz". Empty links (doubled separators) are skipped.
std::vector<v1::Owner> ParseOwnerChain(std::string_view text);

// --- Derived values -----------------------------------------------------------------------

// Account id for an account without one: the name case-folded with spaces replaced by '-'
// ("Acme Staffing" -> "acme-staffing"); "unassigned" when the name is empty too.
std::string DeriveAccountId(std::string_view name);
inline constexpr std::string_view kUnassignedAccount = "unassigned";

// The respondent id when given, else the case-folded email, else empty.
std::string RespondentKey(const v1::Respondent& respondent);

// Keeps the first spelling of tags that compare equal case-insensitively, in order.
std::vector<std::string> DedupeTags(const std::vector<std::string>& tags);

// --- The whole response -------------------------------------------------------------------

// Validates `response` and returns it normalised: text trimmed, names and tags with whitespace
// collapsed, tags deduplicated, the owner chain split where a link holds a whole chain or a
// "Role: Name", the account id derived when missing and respondent_key set. received_at and
// source are left to the caller. The first problem found is returned as InvalidField.
absl::StatusOr<v1::SurveyResponse> NormalizeResponse(v1::SurveyResponse response,
                                                     const Limits& limits, absl::Time now);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_VALIDATION_H_
