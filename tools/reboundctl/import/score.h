// Reading a 0-10 score as survey exports write it: "7", " 7 ", "10 - Extremely likely",
// "0 (Not at all likely)", "10.0", or a word that the mapping maps to a number.
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_SCORE_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_SCORE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace rebound::reboundctl {

struct ScoreRules {
  // Values that mean "no answer" ("NA", "N/A"), compared case-insensitively after trimming.
  std::vector<std::string> na_tokens = {"NA"};
  // Label to score, compared case-insensitively with whitespace collapsed. Checked first, so a
  // label may also map a value that starts with a number.
  std::vector<std::pair<std::string, int>> labels;
};

// The score of `raw`, or INVALID_ARGUMENT whose message is the rejection reason: "missing (NA)",
// "missing (empty)", "not a whole number", "out of range 0-10", "not a number from 0 to 10".
// A leading integer counts when the rest is a label: it starts with a space, '-', '(', ':' or
// a dash and holds no further digit ("10 - Extremely likely"); "10/10" is read as 10.
absl::StatusOr<int> ParseScore(std::string_view raw, const ScoreRules& rules);

// True when `raw` is an answer written in words: not empty, not an NA token, and not starting
// with a digit (or a sign and a digit).
bool IsVerbalScore(std::string_view raw, const ScoreRules& rules);

// Lower case ASCII letters and single spaces, for label comparison.
std::string NormalizeLabel(std::string_view text);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_SCORE_H_
