// The classifier's pure decision about one response: category, and for a detractor the
// priority, the rules that raised it, the first-follow-up due time and the themes. No I/O
// here apart from reading the rules file, so every rule is unit-tested.
//
// Priority rules (names as they appear in Assessment.priority_reasons):
//   key_account      a tag of the response equals a configured key-account tag
//                    (case-insensitive, surrounding spaces ignored)
//   very_low_score   the score is at most very_low_score.max_score (default 3)
//   score_drop       the previous score minus this score is at least score_drop.min_drop
//   repeat_detractor the previous score was a detractor too, given at most
//                    repeat_detractor.window_days before this one
// Each rule carries the priority it raises to. Combination: the highest raised priority wins
// (normal when no rule fires); when at least `combine.urgent_when_raised_by` rules (default 2,
// 0 turns it off) raised the priority above normal, the result is urgent, because several
// warning signs at once are worse than any one of them.
// Due time: the base time (submitted_at, else received_at, else the classification time) plus
// the hours of the resulting priority (urgent 4, high 24, normal 72); a firing rule with its own
// due_hours (key_account: 2) can bring it earlier, never later.
#ifndef REBOUND_SERVICES_CLASSIFIER_CLASSIFY_H_
#define REBOUND_SERVICES_CLASSIFIER_CLASSIFY_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/domain/domain.h"
#include "rebound/v1/case.pb.h"
#include "rebound/v1/survey.pb.h"
#include "themes.h"

namespace rebound::classifier {

// One priority rule's configuration. A rule with enabled=false never fires.
struct RuleSetting {
  bool enabled = true;
  v1::Priority priority = v1::PRIORITY_HIGH;
  // Optional cap on the due time when the rule fires.
  std::optional<absl::Duration> due;
};

struct ClassifierRules {
  domain::Bands bands;

  RuleSetting key_account{.priority = v1::PRIORITY_URGENT, .due = absl::Hours(2)};
  std::vector<std::string> key_account_tags = {"Top 100"};

  RuleSetting very_low_score{.priority = v1::PRIORITY_HIGH, .due = std::nullopt};
  int very_low_score_max = 3;

  RuleSetting score_drop{.priority = v1::PRIORITY_HIGH, .due = std::nullopt};
  int score_drop_min = 3;

  RuleSetting repeat_detractor{.priority = v1::PRIORITY_HIGH, .due = std::nullopt};
  absl::Duration repeat_window = absl::Hours(24 * 90);

  // Rules raising above normal needed to make the result urgent; 0 turns the escalation off.
  int urgent_when_raised_by = 2;

  absl::Duration urgent_due = absl::Hours(4);
  absl::Duration high_due = absl::Hours(24);
  absl::Duration normal_due = absl::Hours(72);
};

// Parses the rules JSON (see config/rules.json for every key). Missing keys keep their
// defaults; unknown keys, wrong types and inconsistent values are INVALID_ARGUMENT naming the
// key.
absl::StatusOr<ClassifierRules> ParseRules(std::string_view json_text);
absl::StatusOr<ClassifierRules> LoadRulesFile(const std::string& path);

// The respondent's score before this response.
struct PreviousScore {
  int score = 0;
  absl::Time at;
};

// The time the response is measured from: submitted_at, else received_at, else `fallback`.
absl::Time BaseTime(const v1::SurveyResponse& response, absl::Time fallback);

// Priority, reasons and due time (fields 2, 3 and 4 of Assessment) for a detractor.
struct PriorityDecision {
  v1::Priority priority = v1::PRIORITY_NORMAL;
  std::vector<std::string> reasons;
  absl::Time due_at;
};
PriorityDecision DecidePriority(const v1::SurveyResponse& response,
                                const std::optional<PreviousScore>& previous,
                                const ClassifierRules& rules, absl::Time now);

// The full assessment of a response: category, priority and due time (for detractors),
// themes and the previous score.
v1::Assessment Assess(const v1::SurveyResponse& response,
                      const std::optional<PreviousScore>& previous, const ClassifierRules& rules,
                      const Lexicon& lexicon, absl::Time now);

// Field of the daily category counter hash: "promoters", "passives" or "detractors".
std::string CategoryField(v1::Category category);
// "YYYY-MM-DD" of `t` in UTC: the day a response counts for.
std::string UtcDay(absl::Time t);

}  // namespace rebound::classifier

#endif  // REBOUND_SERVICES_CLASSIFIER_CLASSIFY_H_
