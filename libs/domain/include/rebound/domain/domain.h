// Small domain facts shared by every service: category bands, NPS, the names of resolutions
// and priorities as people read them, and the ids derived from a response id.
#ifndef REBOUND_DOMAIN_DOMAIN_H_
#define REBOUND_DOMAIN_DOMAIN_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "rebound/v1/case.pb.h"
#include "rebound/v1/survey.pb.h"

namespace rebound::domain {

// Score bands. Defaults are the standard ones: 0-6 detractor, 7-8 passive, 9-10 promoter.
struct Bands {
  int detractor_max = 6;  // scores <= this are detractors
  int passive_max = 8;    // scores <= this (and above detractor_max) are passives
};

// Category of `score` (0..10) under `bands`.
v1::Category Categorize(int score, const Bands& bands = {});

// NPS = % promoters - % detractors, -100..100; 0 when the total is 0.
double NetPromoterScore(int64_t promoters, int64_t passives, int64_t detractors);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// "case-" + first 20 hex digits of SHA-256(response id): the same response always maps to the
// same case id, so a redelivered detractor opens nothing new.
std::string CaseIdForResponse(std::string_view response_id);

// Resolution as the alert email and pages show it: "Resolution in Progress", "Can't Resolve",
// "Not an Issue", "Resolved", "Escalate"; "Open" for RESOLUTION_UNSPECIFIED.
std::string_view ResolutionLabel(v1::Resolution resolution);
// Machine name used in URLs, metrics and the CLI: "in_progress", "cant_resolve",
// "not_an_issue", "resolved", "escalate"; "open" for RESOLUTION_UNSPECIFIED.
std::string_view ResolutionSlug(v1::Resolution resolution);
// Parses a slug or label (case-insensitive, '-' or ' ' accepted for '_'). INVALID_ARGUMENT
// lists the accepted names.
absl::StatusOr<v1::Resolution> ParseResolution(std::string_view text);
// True for the resolutions that close a case.
bool IsClosing(v1::Resolution resolution);

// "normal", "high", "urgent" ("unspecified" for 0).
std::string_view PrioritySlug(v1::Priority priority);
// "Normal", "High", "Urgent".
std::string_view PriorityLabel(v1::Priority priority);
absl::StatusOr<v1::Priority> ParsePriority(std::string_view text);

// "detractor", "passive", "promoter".
std::string_view CategorySlug(v1::Category category);

// The owner chain as the alert shows it: "Director: A › B" style, i.e. each link as
// "<role>: <name>" when it has a role, joined by " › ".
std::string FormatOwnerChain(const google::protobuf::RepeatedPtrField<v1::Owner>& chain);

// First word of a full name, for greetings ("" when the name is empty).
std::string FirstName(std::string_view full_name);

}  // namespace rebound::domain

#endif  // REBOUND_DOMAIN_DOMAIN_H_
