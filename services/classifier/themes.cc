#include "themes.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace rebound::classifier {
namespace {

// ASCII spelling of U+00C0..U+017F; an empty entry is not a letter (x and / signs).
const std::array<std::string_view, 0x180 - 0xC0>& LatinFoldTable() {
  static const auto* table = [] {
    auto* t = new std::array<std::string_view, 0x180 - 0xC0>();
    // U+00C0..U+00FF: the upper half of Latin-1, capitals then small letters.
    static constexpr std::string_view kLatin1[64] = {
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
        "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "ss",
        "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e", "i", "i", "i",  "i",
        "d", "n", "o", "o", "o", "o", "o",  "",  "o", "u", "u", "u", "u", "y", "th", "y"};
    for (int i = 0; i < 64; ++i) {
      (*t)[i] = kLatin1[i];
    }
    // U+0100..U+017F, Latin Extended-A: runs of letters sharing one base letter.
    struct Run {
      int count;
      std::string_view base;
    };
    static constexpr Run kExtendedA[] = {
        {6, "a"}, {8, "c"},  {4, "d"},  {10, "e"}, {8, "g"}, {4, "h"},  {10, "i"}, {2, "ij"},
        {2, "j"}, {3, "k"},  {10, "l"}, {9, "n"},  {6, "o"}, {2, "oe"}, {6, "r"},  {8, "s"},
        {6, "t"}, {12, "u"}, {2, "w"},  {3, "y"},  {6, "z"}, {1, "s"}};
    int index = 0x100 - 0xC0;
    for (const Run& run : kExtendedA) {
      for (int i = 0; i < run.count; ++i) {
        (*t)[index++] = run.base;
      }
    }
    return t;
  }();
  return *table;
}

// Decodes one UTF-8 sequence at `pos`; returns the code point and advances `pos`, or -1 for an
// invalid byte (advancing by one).
int32_t NextCodePoint(std::string_view s, size_t& pos) {
  const auto b0 = static_cast<unsigned char>(s[pos]);
  int length = 0;
  int32_t cp = 0;
  if (b0 < 0x80) {
    ++pos;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    length = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    length = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    length = 4;
    cp = b0 & 0x07;
  } else {
    ++pos;
    return -1;
  }
  if (pos + length > s.size()) {
    ++pos;
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    const auto b = static_cast<unsigned char>(s[pos + i]);
    if ((b & 0xC0) != 0x80) {
      ++pos;
      return -1;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  pos += length;
  return cp;
}

// True for code points above Latin that read as punctuation, symbols or emoji rather than
// letters; they separate words.
bool IsSeparatorAboveLatin(int32_t cp) {
  return (cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F) ||
         (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
         (cp >= 0xFF1A && cp <= 0xFF20) || cp >= 0x1F000 || cp == 0xFFFD;
}

bool IsWordByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u >= 'a' && u <= 'z') || u >= 0x80;
}

// Endings stripped by Stem(), longest first so that the longest match wins.
constexpr std::string_view kSuffixes[] = {
    // French and Spanish adverbs and nouns of action.
    "issements", "issement", "aciones", "iciones", "ements", "amente", "idades", "ations", "ement",
    "mente", "acion", "icion", "ation", "ments", "idad", "ities", "ment",
    // English.
    "ness", "ings", "ing", "ity", "ies", "ied", "ers", "ed", "ly",
    // Adjective and participle endings.
    "euses", "euse", "eux", "ives", "ive", "ados", "adas", "idos", "idas", "ado", "ada", "ido",
    "ida", "ees", "ee",
    // Infinitives and plurals.
    "er", "ez", "ar", "ir", "es", "os", "as", "s", "e", "o", "a"};

constexpr size_t kMinStem = 4;

std::string StemOnce(std::string_view word) {
  for (std::string_view suffix : kSuffixes) {
    if (word.size() >= suffix.size() + kMinStem &&
        word.substr(word.size() - suffix.size()) == suffix) {
      return std::string(word.substr(0, word.size() - suffix.size()));
    }
  }
  return std::string(word);
}

}  // namespace

std::string FoldText(std::string_view utf8) {
  const auto& table = LatinFoldTable();
  std::string out;
  out.reserve(utf8.size());
  size_t pos = 0;
  while (pos < utf8.size()) {
    const size_t start = pos;
    const int32_t cp = NextCodePoint(utf8, pos);
    if (cp < 0) {
      out.push_back(' ');
    } else if (cp < 0x80) {
      out.push_back(cp >= 'A' && cp <= 'Z' ? static_cast<char>(cp - 'A' + 'a')
                                           : static_cast<char>(cp));
    } else if (cp < 0xC0) {
      out.push_back(' ');  // C1 controls and Latin-1 symbols (no-break space, quotes, ...)
    } else if (cp < 0x180) {
      const std::string_view ascii = table[cp - 0xC0];
      out.append(ascii.empty() ? std::string_view(" ") : ascii);
    } else if (cp >= 0x300 && cp <= 0x36F) {
      // Combining accents of decomposed text: dropping them folds "e" + acute to "e".
    } else if (IsSeparatorAboveLatin(cp)) {
      out.push_back(' ');
    } else {
      out.append(utf8.substr(start, pos - start));
    }
  }
  return out;
}

std::vector<std::string> Tokenize(std::string_view folded) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < folded.size()) {
    while (i < folded.size() && !IsWordByte(folded[i])) {
      ++i;
    }
    const size_t start = i;
    while (i < folded.size() && IsWordByte(folded[i])) {
      ++i;
    }
    if (i > start) {
      words.emplace_back(folded.substr(start, i - start));
    }
  }
  return words;
}

std::string Stem(std::string_view word) {
  // Two passes make stacked endings agree: "answered" -> "answer" -> "answ" like "answers".
  return StemOnce(StemOnce(word));
}

absl::StatusOr<Lexicon> Lexicon::FromJson(std::string_view json_text) {
  nlohmann::json json = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError("lexicon: not a JSON object");
  }
  Lexicon lexicon;
  if (json.contains("general_label")) {
    if (!json["general_label"].is_string()) {
      return absl::InvalidArgumentError("lexicon: general_label must be a string");
    }
    lexicon.general_label_ = json["general_label"].get<std::string>();
  }
  if (!json.contains("themes") || !json["themes"].is_array() || json["themes"].empty()) {
    return absl::InvalidArgumentError("lexicon: \"themes\" must be a non-empty array");
  }
  for (const auto& item : json["themes"]) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string() ||
        item["id"].get<std::string>().empty()) {
      return absl::InvalidArgumentError("lexicon: every theme needs a non-empty string \"id\"");
    }
    ThemeEntry theme;
    theme.id = item["id"].get<std::string>();
    if (theme.id == kGeneralId) {
      return absl::InvalidArgumentError("lexicon: \"general\" is reserved for texts without match");
    }
    theme.label = item.value("label", theme.id);
    if (!item.contains("terms") || !item["terms"].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat("lexicon: theme ", theme.id, ": \"terms\" must map languages to lists"));
    }
    for (const auto& [language, list] : item["terms"].items()) {
      if (!list.is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat("lexicon: theme ", theme.id, ", language ", language, ": not a list"));
      }
      for (const auto& entry : list) {
        if (!entry.is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat("lexicon: theme ", theme.id, ": terms must be strings"));
        }
        Term term;
        term.text = entry.get<std::string>();
        // Split the folded term at anything but letters and the prefix marker.
        const std::string folded = FoldText(term.text);
        std::string current;
        auto flush = [&term, &current] {
          if (current.empty()) {
            return;
          }
          const bool prefix = current.back() == '*';
          std::string word = prefix ? current.substr(0, current.size() - 1) : current;
          if (!word.empty()) {
            term.words.push_back(prefix ? word : Stem(word));
            term.is_prefix.push_back(prefix);
          }
          current.clear();
        };
        for (char c : folded) {
          if (IsWordByte(c) || c == '*') {
            current.push_back(c);
          } else {
            flush();
          }
        }
        flush();
        if (term.words.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat("lexicon: theme ", theme.id, ": term \"", term.text, "\" has no word"));
        }
        // Terms that reduce to the same words (e.g. "clarity" and "claridad") would count one
        // mention several times; keep the first.
        const bool duplicate =
            std::any_of(theme.terms.begin(), theme.terms.end(), [&term](const Term& other) {
              return other.words == term.words && other.is_prefix == term.is_prefix;
            });
        if (!duplicate) {
          theme.terms.push_back(std::move(term));
        }
      }
    }
    lexicon.themes_.push_back(std::move(theme));
  }
  return lexicon;
}

absl::StatusOr<Lexicon> Lexicon::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read lexicon file ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto lexicon = FromJson(buffer.str());
  if (!lexicon.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", std::string(lexicon.status().message())));
  }
  return lexicon;
}

v1::Theme Lexicon::Detect(std::string_view text) const { return DetectOverall({text}); }

v1::Theme Lexicon::DetectOverall(const std::vector<std::string_view>& texts) const {
  std::vector<std::vector<std::string>> words;
  words.reserve(texts.size());
  for (std::string_view text : texts) {
    words.push_back(Tokenize(FoldText(text)));
  }
  return Score(words);
}

v1::Theme Lexicon::Score(const std::vector<std::vector<std::string>>& texts_words) const {
  // Stems once per text; prefixes compare against the folded words themselves.
  std::vector<std::vector<std::string>> texts_stems;
  texts_stems.reserve(texts_words.size());
  for (const auto& words : texts_words) {
    std::vector<std::string> stems;
    stems.reserve(words.size());
    for (const auto& word : words) {
      stems.push_back(Stem(word));
    }
    texts_stems.push_back(std::move(stems));
  }

  const ThemeEntry* best = nullptr;
  int best_count = 0;
  std::vector<std::string> best_terms;
  for (const ThemeEntry& theme : themes_) {
    int count = 0;
    std::vector<std::string> matched;
    for (const Term& term : theme.terms) {
      bool term_matched = false;
      for (size_t t = 0; t < texts_words.size(); ++t) {
        const auto& words = texts_words[t];
        const auto& stems = texts_stems[t];
        if (words.size() < term.words.size()) {
          continue;
        }
        for (size_t i = 0; i + term.words.size() <= words.size(); ++i) {
          bool all = true;
          for (size_t k = 0; k < term.words.size() && all; ++k) {
            const std::string& want = term.words[k];
            all = term.is_prefix[k] ? words[i + k].compare(0, want.size(), want) == 0
                                    : stems[i + k] == want;
          }
          if (all) {
            ++count;
            term_matched = true;
          }
        }
      }
      if (term_matched) {
        matched.push_back(term.text);
      }
    }
    if (count > best_count) {
      best = &theme;
      best_count = count;
      best_terms = std::move(matched);
    }
  }

  v1::Theme result;
  if (best == nullptr) {
    result.set_id(std::string(kGeneralId));
    result.set_label(general_label_);
    return result;
  }
  result.set_id(best->id);
  result.set_label(best->label);
  for (auto& term : best_terms) {
    result.add_matched_terms(std::move(term));
  }
  return result;
}

std::vector<std::string> Lexicon::ThemeIds() const {
  std::vector<std::string> ids;
  for (const auto& theme : themes_) {
    ids.push_back(theme.id);
  }
  return ids;
}

}  // namespace rebound::classifier
