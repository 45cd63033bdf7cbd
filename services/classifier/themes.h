// Theme detection: which general area a free-text answer points at, from a configurable
// lexicon of English, French and Spanish terms.
//
// Matching rule (documented in README.md too):
//  1. Text and terms are folded the same way: lower case, accents stripped (a small fold table
//     for Latin-1 and Latin Extended-A letters: "é" -> "e", "ñ" -> "n", "œ" -> "oe"), and cut
//     into words at every character that is not a letter. Letters outside the Latin ranges
//     (Cyrillic, Japanese, ...) stay inside words; they simply match nothing.
//  2. A lexicon word ending in '*' is a prefix: it matches every text word that starts with it
//     ("respons*" matches "responsive", "responsiveness").
//  3. Any other lexicon word matches a text word with the same light stem: one common English,
//     French or Spanish ending is stripped when at least four letters remain, twice ("prices"
//     and "price" -> "pric", "lenta" and "lento" -> "lent", "chère" and "cher" -> "cher"). Four
//     letters keep short words of one language from meeting another's: Spanish "pasos" stems
//     to "paso", not to the French negation "pas".
//  4. A term of several words matches those words in a row.
// A theme's score is the number of places in the text where one of its terms matches. The
// theme with the highest score wins; ties go to the theme listed first in the lexicon; no match
// at all gives the "general" theme.
#ifndef REBOUND_SERVICES_CLASSIFIER_THEMES_H_
#define REBOUND_SERVICES_CLASSIFIER_THEMES_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rebound/v1/case.pb.h"

namespace rebound::classifier {

// Lower-cases `utf8` and strips accents. Invalid UTF-8 bytes become spaces.
std::string FoldText(std::string_view utf8);

// Splits folded text into words (runs of letters).
std::vector<std::string> Tokenize(std::string_view folded);

// The light stem of a folded word (see rule 3 above).
std::string Stem(std::string_view word);

class Lexicon {
 public:
  // Theme id of texts that match nothing.
  static constexpr std::string_view kGeneralId = "general";

  // Parses the lexicon JSON:
  //   {"general_label": "general",
  //    "themes": [{"id": "responsiveness", "label": "responsiveness",
  //                "terms": {"en": ["respons*", "call back"], "fr": [...], "es": [...]}}, ...]}
  // Themes are tried in file order. INVALID_ARGUMENT names what is wrong.
  static absl::StatusOr<Lexicon> FromJson(std::string_view json_text);
  static absl::StatusOr<Lexicon> FromFile(const std::string& path);

  // The theme of one text ("general" when nothing matches or the text is empty).
  v1::Theme Detect(std::string_view text) const;
  // The theme of several texts taken together (the response as a whole).
  v1::Theme DetectOverall(const std::vector<std::string_view>& texts) const;

  // Theme ids in lexicon order, without "general".
  std::vector<std::string> ThemeIds() const;

 private:
  struct Term {
    std::string text;                // as written in the lexicon, lower case
    std::vector<std::string> words;  // stems, or prefixes for '*' words
    std::vector<bool> is_prefix;
  };
  struct ThemeEntry {
    std::string id;
    std::string label;
    std::vector<Term> terms;
  };

  v1::Theme Score(const std::vector<std::vector<std::string>>& texts_words) const;

  std::string general_label_ = "general";
  std::vector<ThemeEntry> themes_;
};

}  // namespace rebound::classifier

#endif  // REBOUND_SERVICES_CLASSIFIER_THEMES_H_
