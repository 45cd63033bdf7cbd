#include "classify.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace rebound::classifier {
namespace {

using nlohmann::json;

absl::Status Invalid(std::string_view key, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("rules: ", std::string(key), ": ", std::string(problem)));
}

// Rejects keys outside `allowed`, so that a typo does not silently keep a default.
absl::Status CheckKeys(const json& object, std::string_view where,
                       std::initializer_list<std::string_view> allowed) {
  if (!object.is_object()) {
    return Invalid(where, "must be an object");
  }
  for (const auto& [key, value] : object.items()) {
    if (key.starts_with("_")) {
      continue;  // comments
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      std::vector<std::string> names(allowed.begin(), allowed.end());
      return Invalid(absl::StrCat(std::string(where), ".", key),
                     absl::StrCat("unknown key (known: ", absl::StrJoin(names, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ReadInt(const json& object, std::string_view where, const char* key, int min, int max,
                     int& out) {
  if (!object.contains(key)) {
    return absl::OkStatus();
  }
  const json& value = object[key];
  const std::string name = absl::StrCat(std::string(where), ".", key);
  if (!value.is_number_integer()) {
    return Invalid(name, "must be an integer");
  }
  const int64_t v = value.get<int64_t>();
  if (v < min || v > max) {
    return Invalid(name, absl::StrCat(v, " is outside ", min, "..", max));
  }
  out = static_cast<int>(v);
  return absl::OkStatus();
}

absl::Status ReadHours(const json& object, std::string_view where, const char* key,
                       absl::Duration& out) {
  if (!object.contains(key)) {
    return absl::OkStatus();
  }
  const json& value = object[key];
  const std::string name = absl::StrCat(std::string(where), ".", key);
  if (!value.is_number()) {
    return Invalid(name, "must be a number of hours");
  }
  const double hours = value.get<double>();
  if (!(hours > 0) || hours > 24 * 366) {
    return Invalid(name, "must be more than 0 and at most a year");
  }
  out = absl::Hours(hours);
  return absl::OkStatus();
}

absl::Status ReadRule(const json& rules, const char* name,
                      std::initializer_list<std::string_view> extra_keys, RuleSetting& setting,
                      const json** object_out) {
  *object_out = nullptr;
  if (!rules.contains(name)) {
    return absl::OkStatus();
  }
  const json& object = rules[name];
  const std::string where = absl::StrCat("rules.", name);
  std::vector<std::string_view> keys = {"enabled", "priority", "due_hours"};
  keys.insert(keys.end(), extra_keys.begin(), extra_keys.end());
  if (!object.is_object()) {
    return Invalid(where, "must be an object");
  }
  for (const auto& [key, value] : object.items()) {
    if (!key.starts_with("_") && std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return Invalid(absl::StrCat(where, ".", key), "unknown key");
    }
  }
  if (object.contains("enabled")) {
    if (!object["enabled"].is_boolean()) {
      return Invalid(absl::StrCat(where, ".enabled"), "must be true or false");
    }
    setting.enabled = object["enabled"].get<bool>();
  }
  if (object.contains("priority")) {
    const json& value = object["priority"];
    auto priority = value.is_string() ? domain::ParsePriority(value.get<std::string>())
                                      : absl::InvalidArgumentError("not a string");
    if (!priority.ok() || *priority == v1::PRIORITY_UNSPECIFIED) {
      return Invalid(absl::StrCat(where, ".priority"),
                     "must be \"normal\", \"high\" or \"urgent\"");
    }
    setting.priority = *priority;
  }
  if (object.contains("due_hours")) {
    absl::Duration due;
    if (auto s = ReadHours(object, where, "due_hours", due); !s.ok()) {
      return s;
    }
    setting.due = due;
  }
  *object_out = &object;
  return absl::OkStatus();
}

std::string NormalizeTag(std::string_view tag) {
  return absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(tag.data(), tag.size())));
}

bool HasTime(const google::protobuf::Timestamp& ts) { return ts.seconds() != 0 || ts.nanos() != 0; }

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

absl::Duration DueFor(v1::Priority priority, const ClassifierRules& rules) {
  switch (priority) {
    case v1::PRIORITY_URGENT:
      return rules.urgent_due;
    case v1::PRIORITY_HIGH:
      return rules.high_due;
    default:
      return rules.normal_due;
  }
}

}  // namespace

absl::StatusOr<ClassifierRules> ParseRules(std::string_view json_text) {
  json root = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    return absl::InvalidArgumentError("rules: not valid JSON");
  }
  ClassifierRules rules;
  if (auto s = CheckKeys(root, "(top level)", {"bands", "due_hours", "rules", "combine"});
      !s.ok()) {
    return s;
  }

  if (root.contains("bands")) {
    const json& bands = root["bands"];
    if (auto s = CheckKeys(bands, "bands", {"detractor_max", "passive_max"}); !s.ok()) {
      return s;
    }
    if (auto s = ReadInt(bands, "bands", "detractor_max", 0, 10, rules.bands.detractor_max);
        !s.ok()) {
      return s;
    }
    if (auto s = ReadInt(bands, "bands", "passive_max", 0, 10, rules.bands.passive_max); !s.ok()) {
      return s;
    }
  }
  if (rules.bands.passive_max < rules.bands.detractor_max) {
    return Invalid("bands.passive_max", "must not be below bands.detractor_max");
  }

  if (root.contains("due_hours")) {
    const json& due = root["due_hours"];
    if (auto s = CheckKeys(due, "due_hours", {"urgent", "high", "normal"}); !s.ok()) {
      return s;
    }
    for (auto [key, out] :
         {std::pair{"urgent", &rules.urgent_due}, std::pair{"high", &rules.high_due},
          std::pair{"normal", &rules.normal_due}}) {
      if (auto s = ReadHours(due, "due_hours", key, *out); !s.ok()) {
        return s;
      }
    }
  }
  if (rules.urgent_due > rules.high_due || rules.high_due > rules.normal_due) {
    return Invalid("due_hours", "urgent must be due no later than high, and high than normal");
  }

  if (root.contains("rules")) {
    const json& list = root["rules"];
    if (auto s = CheckKeys(list, "rules",
                           {"key_account", "very_low_score", "score_drop", "repeat_detractor"});
        !s.ok()) {
      return s;
    }
    const json* object = nullptr;
    if (auto s = ReadRule(list, "key_account", {"tags"}, rules.key_account, &object); !s.ok()) {
      return s;
    }
    if (object != nullptr && object->contains("tags")) {
      const json& tags = (*object)["tags"];
      if (!tags.is_array()) {
        return Invalid("rules.key_account.tags", "must be a list of strings");
      }
      rules.key_account_tags.clear();
      for (const auto& tag : tags) {
        if (!tag.is_string() || NormalizeTag(tag.get<std::string>()).empty()) {
          return Invalid("rules.key_account.tags", "must be a list of non-empty strings");
        }
        rules.key_account_tags.push_back(tag.get<std::string>());
      }
    }
    if (auto s = ReadRule(list, "very_low_score", {"max_score"}, rules.very_low_score, &object);
        !s.ok()) {
      return s;
    }
    if (object != nullptr) {
      if (auto s = ReadInt(*object, "rules.very_low_score", "max_score", 0, 10,
                           rules.very_low_score_max);
          !s.ok()) {
        return s;
      }
    }
    if (auto s = ReadRule(list, "score_drop", {"min_drop"}, rules.score_drop, &object); !s.ok()) {
      return s;
    }
    if (object != nullptr) {
      if (auto s = ReadInt(*object, "rules.score_drop", "min_drop", 1, 10, rules.score_drop_min);
          !s.ok()) {
        return s;
      }
    }
    if (auto s =
            ReadRule(list, "repeat_detractor", {"window_days"}, rules.repeat_detractor, &object);
        !s.ok()) {
      return s;
    }
    if (object != nullptr) {
      int days = static_cast<int>(absl::ToInt64Hours(rules.repeat_window) / 24);
      if (auto s = ReadInt(*object, "rules.repeat_detractor", "window_days", 1, 3660, days);
          !s.ok()) {
        return s;
      }
      rules.repeat_window = absl::Hours(24 * days);
    }
  }

  if (root.contains("combine")) {
    const json& combine = root["combine"];
    if (auto s = CheckKeys(combine, "combine", {"urgent_when_raised_by"}); !s.ok()) {
      return s;
    }
    if (auto s = ReadInt(combine, "combine", "urgent_when_raised_by", 0, 10,
                         rules.urgent_when_raised_by);
        !s.ok()) {
      return s;
    }
  }
  return rules;
}

absl::StatusOr<ClassifierRules> LoadRulesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read rules file ", path));
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto rules = ParseRules(buffer.str());
  if (!rules.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", std::string(rules.status().message())));
  }
  return rules;
}

absl::Time BaseTime(const v1::SurveyResponse& response, absl::Time fallback) {
  if (HasTime(response.submitted_at())) {
    return FromProto(response.submitted_at());
  }
  if (HasTime(response.received_at())) {
    return FromProto(response.received_at());
  }
  return fallback;
}

PriorityDecision DecidePriority(const v1::SurveyResponse& response,
                                const std::optional<PreviousScore>& previous,
                                const ClassifierRules& rules, absl::Time now) {
  struct Fired {
    const char* name;
    const RuleSetting* setting;
  };
  std::vector<Fired> fired;

  if (rules.key_account.enabled && !rules.key_account_tags.empty()) {
    bool key_account = false;
    for (const std::string& tag : response.tags()) {
      const std::string normalized = NormalizeTag(tag);
      for (const std::string& key_tag : rules.key_account_tags) {
        key_account = key_account || normalized == NormalizeTag(key_tag);
      }
    }
    if (key_account) {
      fired.push_back({"key_account", &rules.key_account});
    }
  }
  if (rules.very_low_score.enabled && response.score() <= rules.very_low_score_max) {
    fired.push_back({"very_low_score", &rules.very_low_score});
  }
  const absl::Time base = BaseTime(response, now);
  if (previous.has_value()) {
    if (rules.score_drop.enabled && previous->score - response.score() >= rules.score_drop_min) {
      fired.push_back({"score_drop", &rules.score_drop});
    }
    if (rules.repeat_detractor.enabled &&
        domain::Categorize(previous->score, rules.bands) == v1::CATEGORY_DETRACTOR &&
        previous->at <= base && base - previous->at <= rules.repeat_window) {
      fired.push_back({"repeat_detractor", &rules.repeat_detractor});
    }
  }

  PriorityDecision decision;
  int raising = 0;
  for (const Fired& rule : fired) {
    decision.priority = std::max(decision.priority, rule.setting->priority);
    if (rule.setting->priority > v1::PRIORITY_NORMAL) {
      ++raising;
    }
  }
  if (rules.urgent_when_raised_by > 0 && raising >= rules.urgent_when_raised_by) {
    decision.priority = v1::PRIORITY_URGENT;
  }
  absl::Duration due = DueFor(decision.priority, rules);
  for (const Fired& rule : fired) {
    decision.reasons.emplace_back(rule.name);
    if (rule.setting->due.has_value()) {
      due = std::min(due, *rule.setting->due);
    }
  }
  decision.due_at = base + due;
  return decision;
}

v1::Assessment Assess(const v1::SurveyResponse& response,
                      const std::optional<PreviousScore>& previous, const ClassifierRules& rules,
                      const Lexicon& lexicon, absl::Time now) {
  v1::Assessment assessment;
  assessment.set_category(domain::Categorize(response.score(), rules.bands));
  if (assessment.category() == v1::CATEGORY_DETRACTOR) {
    PriorityDecision decision = DecidePriority(response, previous, rules, now);
    assessment.set_priority(decision.priority);
    for (auto& reason : decision.reasons) {
      assessment.add_priority_reasons(std::move(reason));
    }
    ToProto(decision.due_at, assessment.mutable_due_at());
  }
  *assessment.mutable_reason_theme() = lexicon.Detect(response.reason());
  *assessment.mutable_do_differently_theme() = lexicon.Detect(response.do_differently());
  *assessment.mutable_overall_theme() =
      lexicon.DetectOverall({response.reason(), response.do_differently()});
  if (previous.has_value()) {
    assessment.set_previous_score(previous->score);
    ToProto(previous->at, assessment.mutable_previous_submitted_at());
  }
  return assessment;
}

std::string CategoryField(v1::Category category) {
  switch (category) {
    case v1::CATEGORY_PROMOTER:
      return "promoters";
    case v1::CATEGORY_PASSIVE:
      return "passives";
    default:
      return "detractors";
  }
}

std::string UtcDay(absl::Time t) { return absl::FormatTime("%Y-%m-%d", t, absl::UTCTimeZone()); }

}  // namespace rebound::classifier
