#include "import/mapping.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "import/encoding.h"
#include "nlohmann/json.hpp"
#include "rebound/domain/domain.h"

namespace rebound::reboundctl {
namespace {

using nlohmann::json;

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Trim(std::string_view s) { return std::string(absl::StripAsciiWhitespace(Absl(s))); }

absl::Status KeyError(const std::string& path, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("mapping key '", path, "': ", std::string(problem)));
}

std::string Join(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : absl::StrCat(parent, ".", key);
}

// Fails on keys outside `known`; keys starting with '_' are comments.
absl::Status CheckKeys(const json& object, const std::string& path,
                       const std::vector<std::string>& known) {
  for (const auto& [key, value] : object.items()) {
    if (absl::StartsWith(key, "_")) {
      continue;
    }
    bool found = false;
    for (const auto& k : known) {
      found = found || k == key;
    }
    if (!found) {
      return KeyError(
          Join(path, key),
          absl::StrCat("unknown key (expected one of: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> GetString(const json& value, const std::string& path) {
  if (!value.is_string()) {
    return KeyError(path, absl::StrCat("must be a string, not ", value.type_name()));
  }
  return value.get<std::string>();
}

absl::StatusOr<std::vector<std::string>> GetStrings(const json& value, const std::string& path) {
  if (value.is_string()) {
    return std::vector<std::string>{value.get<std::string>()};
  }
  if (!value.is_array()) {
    return KeyError(path, absl::StrCat("must be a list of strings, not ", value.type_name()));
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i) {
    auto item = GetString(value[i], absl::StrCat(path, "[", i, "]"));
    if (!item.ok()) {
      return item.status();
    }
    out.push_back(*item);
  }
  return out;
}

// A string is a constant; an object has "column" (with "na" and "prefix") or "constant".
absl::StatusOr<ValueSource> ParseValueSource(const json& value, const std::string& path) {
  ValueSource source;
  if (value.is_string()) {
    source.constant = value.get<std::string>();
    return source;
  }
  if (value.is_number_integer()) {
    source.constant = std::to_string(value.get<int64_t>());
    return source;
  }
  if (!value.is_object()) {
    return KeyError(path, absl::StrCat("must be a string (a constant) or an object with "
                                       "\"column\" or \"constant\", not ",
                                       value.type_name()));
  }
  if (auto s = CheckKeys(value, path, {"column", "constant", "na", "prefix"}); !s.ok()) {
    return s;
  }
  if (value.contains("column") == value.contains("constant")) {
    return KeyError(path, "needs exactly one of \"column\" and \"constant\"");
  }
  if (value.contains("column")) {
    auto column = GetString(value["column"], Join(path, "column"));
    if (!column.ok()) {
      return column.status();
    }
    if (column->empty()) {
      return KeyError(Join(path, "column"), "must not be empty");
    }
    source.column = *column;
  } else {
    auto constant = GetString(value["constant"], Join(path, "constant"));
    if (!constant.ok()) {
      return constant.status();
    }
    source.constant = *constant;
  }
  if (value.contains("na")) {
    auto na = GetStrings(value["na"], Join(path, "na"));
    if (!na.ok()) {
      return na.status();
    }
    source.na = *na;
  }
  if (value.contains("prefix")) {
    auto prefix = GetString(value["prefix"], Join(path, "prefix"));
    if (!prefix.ok()) {
      return prefix.status();
    }
    source.prefix = *prefix;
  }
  return source;
}

absl::StatusOr<v1::RespondentKind> ParseKindName(const json& value, const std::string& path) {
  auto name = GetString(value, path);
  if (!name.ok()) {
    return name.status();
  }
  const std::string lower = absl::AsciiStrToLower(Trim(*name));
  if (lower == "client") {
    return v1::RESPONDENT_KIND_CLIENT;
  }
  if (lower == "talent") {
    return v1::RESPONDENT_KIND_TALENT;
  }
  if (lower == "unspecified" || lower.empty()) {
    return v1::RESPONDENT_KIND_UNSPECIFIED;
  }
  return KeyError(path, absl::StrCat("'", *name, "' is not one of client, talent, unspecified"));
}

absl::StatusOr<std::vector<OwnerSpec>> ParseOwners(const json& value, const std::string& path) {
  if (value.is_string()) {
    return ParseOwnerChain(value.get<std::string>());
  }
  if (!value.is_array()) {
    return KeyError(path, "must be a list of owners (top link first) or a chain like \"A > B\"");
  }
  std::vector<OwnerSpec> owners;
  for (size_t i = 0; i < value.size(); ++i) {
    const std::string item_path = absl::StrCat(path, "[", i, "]");
    const json& item = value[i];
    if (item.is_string()) {
      auto parsed = ParseOwnerChain(item.get<std::string>());
      owners.insert(owners.end(), parsed.begin(), parsed.end());
      continue;
    }
    if (!item.is_object()) {
      return KeyError(item_path, "must be an object with \"name\" (and \"role\", \"email\")");
    }
    if (auto s = CheckKeys(item, item_path, {"name", "role", "email"}); !s.ok()) {
      return s;
    }
    OwnerSpec owner;
    for (auto [key, field] : {std::pair<const char*, std::string*>{"name", &owner.name},
                              {"role", &owner.role},
                              {"email", &owner.email}}) {
      if (item.contains(key)) {
        auto text = GetString(item[key], Join(item_path, key));
        if (!text.ok()) {
          return text.status();
        }
        *field = *text;
      }
    }
    if (Trim(owner.name).empty()) {
      return KeyError(Join(item_path, "name"), "is required");
    }
    owners.push_back(std::move(owner));
  }
  return owners;
}

absl::StatusOr<RouteEntry> ParseRouteEntry(const json& value, const std::string& path) {
  if (!value.is_object()) {
    return KeyError(path, "must be an object with \"account\", \"owner_chain\" or \"tags\"");
  }
  if (auto s = CheckKeys(value, path, {"account", "owner_chain", "tags"}); !s.ok()) {
    return s;
  }
  RouteEntry entry;
  if (value.contains("account")) {
    const json& account = value["account"];
    const std::string account_path = Join(path, "account");
    if (!account.is_object()) {
      return KeyError(account_path, "must be an object with \"id\" and \"name\"");
    }
    if (auto s = CheckKeys(account, account_path, {"id", "name"}); !s.ok()) {
      return s;
    }
    if (account.contains("id")) {
      auto id = GetString(account["id"], Join(account_path, "id"));
      if (!id.ok()) {
        return id.status();
      }
      entry.account_id = *id;
    }
    if (account.contains("name")) {
      auto name = GetString(account["name"], Join(account_path, "name"));
      if (!name.ok()) {
        return name.status();
      }
      entry.account_name = *name;
    }
  }
  if (value.contains("owner_chain")) {
    auto owners = ParseOwners(value["owner_chain"], Join(path, "owner_chain"));
    if (!owners.ok()) {
      return owners.status();
    }
    entry.owner_chain = *owners;
  }
  if (value.contains("tags")) {
    auto tags = GetStrings(value["tags"], Join(path, "tags"));
    if (!tags.ok()) {
      return tags.status();
    }
    entry.tags = *tags;
  }
  return entry;
}

absl::StatusOr<absl::TimeZone> ParseZone(const std::string& name, const std::string& path) {
  const std::string trimmed = Trim(name);
  if (trimmed.empty() || trimmed == "UTC" || trimmed == "Z") {
    return absl::UTCTimeZone();
  }
  if (trimmed.size() == 6 && (trimmed[0] == '+' || trimmed[0] == '-') && trimmed[3] == ':') {
    int hours = 0;
    int minutes = 0;
    if (absl::SimpleAtoi(Absl(std::string_view(trimmed).substr(1, 2)), &hours) &&
        absl::SimpleAtoi(Absl(std::string_view(trimmed).substr(4, 2)), &minutes) && hours <= 14 &&
        minutes < 60) {
      const int seconds = (hours * 60 + minutes) * 60;
      return absl::FixedTimeZone(trimmed[0] == '-' ? -seconds : seconds);
    }
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(trimmed, &zone)) {
    return KeyError(path, absl::StrCat("unknown time zone '", trimmed,
                                       "' (use UTC, an offset like -06:00, or an IANA name)"));
  }
  return zone;
}

absl::Status ParseSubmittedAt(const json& value, const std::string& path, Mapping& mapping) {
  if (value.is_string() && value.get<std::string>() == "now") {
    mapping.time_source = TimeSource::kNow;
    return absl::OkStatus();
  }
  if (!value.is_object()) {
    return KeyError(path, "must be \"now\" or an object with \"column\", \"constant\" or \"now\"");
  }
  if (auto s = CheckKeys(value, path, {"column", "format", "time_zone", "constant", "now"});
      !s.ok()) {
    return s;
  }
  const int sources = static_cast<int>(value.contains("column")) +
                      static_cast<int>(value.contains("constant")) +
                      static_cast<int>(value.contains("now"));
  if (sources != 1) {
    return KeyError(path, "needs exactly one of \"column\", \"constant\" and \"now\"");
  }
  if (value.contains("time_zone")) {
    auto name = GetString(value["time_zone"], Join(path, "time_zone"));
    if (!name.ok()) {
      return name.status();
    }
    auto zone = ParseZone(*name, Join(path, "time_zone"));
    if (!zone.ok()) {
      return zone.status();
    }
    mapping.time_zone = *zone;
  }
  if (value.contains("format")) {
    auto format = GetString(value["format"], Join(path, "format"));
    if (!format.ok()) {
      return format.status();
    }
    if (format->empty()) {
      return KeyError(Join(path, "format"), "must not be empty");
    }
    mapping.time_format = *format;
  }
  if (value.contains("now")) {
    if (!value["now"].is_boolean() || !value["now"].get<bool>()) {
      return KeyError(Join(path, "now"), "must be true");
    }
    mapping.time_source = TimeSource::kNow;
  } else if (value.contains("constant")) {
    auto text = GetString(value["constant"], Join(path, "constant"));
    if (!text.ok()) {
      return text.status();
    }
    auto time = ParseMappedTime(*text, mapping.time_format, mapping.time_zone);
    if (!time) {
      return KeyError(Join(path, "constant"),
                      absl::StrCat("'", *text, "' is not a time in format ", mapping.time_format));
    }
    mapping.time_source = TimeSource::kConstant;
    mapping.constant_time = *time;
  } else {
    auto column = GetString(value["column"], Join(path, "column"));
    if (!column.ok()) {
      return column.status();
    }
    mapping.time_source = TimeSource::kColumn;
    mapping.submitted_at.column = *column;
  }
  return absl::OkStatus();
}

absl::Status ParseScoreKey(const json& value, const std::string& path, Mapping& mapping) {
  if (value.is_string()) {
    mapping.score.column = value.get<std::string>();
    return absl::OkStatus();
  }
  if (!value.is_object()) {
    return KeyError(path, "must be a column name or an object with \"column\"");
  }
  if (auto s = CheckKeys(value, path, {"column", "na", "labels"}); !s.ok()) {
    return s;
  }
  if (!value.contains("column")) {
    return KeyError(Join(path, "column"), "is required");
  }
  auto column = GetString(value["column"], Join(path, "column"));
  if (!column.ok()) {
    return column.status();
  }
  mapping.score.column = *column;
  if (value.contains("na")) {
    auto na = GetStrings(value["na"], Join(path, "na"));
    if (!na.ok()) {
      return na.status();
    }
    mapping.score_rules.na_tokens = *na;
  }
  if (value.contains("labels")) {
    const json& labels = value["labels"];
    if (!labels.is_object()) {
      return KeyError(Join(path, "labels"), "must be an object of label to score");
    }
    for (const auto& [label, score] : labels.items()) {
      const std::string label_path = Join(Join(path, "labels"), label);
      if (!score.is_number_integer() || score.get<int64_t>() < 0 || score.get<int64_t>() > 10) {
        return KeyError(label_path,
                        absl::StrCat("must be an integer from 0 to 10, not ", score.dump()));
      }
      mapping.score_rules.labels.emplace_back(label, score.get<int>());
    }
  }
  return absl::OkStatus();
}

absl::Status ParseResponseId(const json& value, const std::string& path, Mapping& mapping) {
  if (value.is_string()) {
    mapping.id_derivation = IdDerivation::kColumn;
    mapping.response_id.column = value.get<std::string>();
    return absl::OkStatus();
  }
  if (!value.is_object()) {
    return KeyError(path, "must be a column name or an object with \"column\" or \"derive\"");
  }
  if (auto s = CheckKeys(value, path, {"column", "derive", "prefix"}); !s.ok()) {
    return s;
  }
  if (value.contains("column") == value.contains("derive")) {
    return KeyError(path, "needs exactly one of \"column\" and \"derive\"");
  }
  if (value.contains("prefix")) {
    auto prefix = GetString(value["prefix"], Join(path, "prefix"));
    if (!prefix.ok()) {
      return prefix.status();
    }
    mapping.response_id.prefix = *prefix;
  }
  if (value.contains("column")) {
    auto column = GetString(value["column"], Join(path, "column"));
    if (!column.ok()) {
      return column.status();
    }
    mapping.response_id.column = *column;
    mapping.id_derivation = IdDerivation::kColumn;
    return absl::OkStatus();
  }
  auto derive = GetString(value["derive"], Join(path, "derive"));
  if (!derive.ok()) {
    return derive.status();
  }
  if (*derive == "row_number") {
    mapping.id_derivation = IdDerivation::kRowNumber;
  } else if (*derive == "content_hash") {
    mapping.id_derivation = IdDerivation::kContentHash;
  } else {
    return KeyError(Join(path, "derive"),
                    absl::StrCat("'", *derive, "' is not one of row_number, content_hash"));
  }
  if (mapping.response_id.prefix.empty()) {
    return KeyError(Join(path, "prefix"),
                    "is required with \"derive\", so derived ids of different files never meet");
  }
  return absl::OkStatus();
}

absl::Status ParseTags(const json& value, const std::string& path, Mapping& mapping) {
  if (value.is_array()) {
    auto tags = GetStrings(value, path);
    if (!tags.ok()) {
      return tags.status();
    }
    mapping.tags = *tags;
    return absl::OkStatus();
  }
  if (!value.is_object()) {
    return KeyError(path, "must be a list of tags or an object with \"constant\" and \"columns\"");
  }
  if (auto s = CheckKeys(value, path, {"constant", "columns", "separator"}); !s.ok()) {
    return s;
  }
  if (value.contains("constant")) {
    auto tags = GetStrings(value["constant"], Join(path, "constant"));
    if (!tags.ok()) {
      return tags.status();
    }
    mapping.tags = *tags;
  }
  if (value.contains("separator")) {
    auto separator = GetString(value["separator"], Join(path, "separator"));
    if (!separator.ok()) {
      return separator.status();
    }
    mapping.tag_separator = *separator;
  }
  if (value.contains("columns")) {
    const json& columns = value["columns"];
    if (!columns.is_array()) {
      return KeyError(Join(path, "columns"), "must be a list of columns");
    }
    for (size_t i = 0; i < columns.size(); ++i) {
      const std::string item_path = absl::StrCat(path, ".columns[", i, "]");
      json item = columns[i];
      if (item.is_string()) {
        item = json{{"column", item.get<std::string>()}};
      }
      auto source = ParseValueSource(item, item_path);
      if (!source.ok()) {
        return source.status();
      }
      if (!source->is_column()) {
        return KeyError(item_path, "must name a column");
      }
      mapping.tag_columns.push_back(*source);
    }
  }
  return absl::OkStatus();
}

absl::Status ParseRouting(const json& value, const std::string& path, Mapping& mapping) {
  if (!value.is_object()) {
    return KeyError(path, "must be an object with \"key\", \"table\" and optionally \"default\"");
  }
  if (auto s = CheckKeys(value, path, {"key", "modulo", "table", "default"}); !s.ok()) {
    return s;
  }
  Routing routing;
  if (!value.contains("key")) {
    return KeyError(Join(path, "key"), "is required");
  }
  auto key = ParseValueSource(value["key"], Join(path, "key"));
  if (!key.ok()) {
    return key.status();
  }
  if (!key->is_column()) {
    return KeyError(Join(path, "key"), "must name a column");
  }
  routing.key = *key;
  if (value.contains("modulo")) {
    if (!value["modulo"].is_number_integer() || value["modulo"].get<int64_t>() < 1) {
      return KeyError(Join(path, "modulo"), "must be a positive integer");
    }
    routing.modulo = value["modulo"].get<int64_t>();
  }
  if (!value.contains("table") || !value["table"].is_object()) {
    return KeyError(Join(path, "table"), "must be an object of key value to entry");
  }
  for (const auto& [entry_key, entry] : value["table"].items()) {
    auto parsed = ParseRouteEntry(entry, Join(Join(path, "table"), entry_key));
    if (!parsed.ok()) {
      return parsed.status();
    }
    routing.table.emplace(entry_key, *parsed);
  }
  if (value.contains("default")) {
    auto parsed = ParseRouteEntry(value["default"], Join(path, "default"));
    if (!parsed.ok()) {
      return parsed.status();
    }
    routing.fallback = *parsed;
  }
  mapping.routing = std::move(routing);
  return absl::OkStatus();
}

absl::Status ParseObjectOf(const json& value, const std::string& path,
                           const std::vector<std::pair<std::string, ValueSource*>>& fields) {
  if (!value.is_object()) {
    return KeyError(path, "must be an object");
  }
  std::vector<std::string> known;
  for (const auto& [key, target] : fields) {
    known.push_back(key);
  }
  if (auto s = CheckKeys(value, path, known); !s.ok()) {
    return s;
  }
  for (const auto& [key, target] : fields) {
    if (value.contains(key)) {
      auto source = ParseValueSource(value[key], Join(path, key));
      if (!source.ok()) {
        return source.status();
      }
      *target = *source;
    }
  }
  return absl::OkStatus();
}

absl::Status ParseRespondent(const json& value, const std::string& path, Mapping& mapping) {
  json copy = value;
  if (copy.is_object() && copy.contains("kind")) {
    const json kind = copy["kind"];
    copy.erase("kind");
    const std::string kind_path = Join(path, "kind");
    if (kind.is_string()) {
      auto parsed = ParseKindName(kind, kind_path);
      if (!parsed.ok()) {
        return parsed.status();
      }
      mapping.kind = *parsed;
    } else if (kind.is_object()) {
      if (auto s = CheckKeys(kind, kind_path, {"column", "values", "default"}); !s.ok()) {
        return s;
      }
      auto column = kind.contains("column") ? GetString(kind["column"], Join(kind_path, "column"))
                                            : KeyError(Join(kind_path, "column"), "is required");
      if (!column.ok()) {
        return column.status();
      }
      mapping.kind_column.column = *column;
      if (!kind.contains("values") || !kind["values"].is_object()) {
        return KeyError(Join(kind_path, "values"),
                        "must be an object of column value to client or talent");
      }
      for (const auto& [text, name] : kind["values"].items()) {
        auto parsed = ParseKindName(name, Join(Join(kind_path, "values"), text));
        if (!parsed.ok()) {
          return parsed.status();
        }
        mapping.kind_values.emplace_back(text, *parsed);
      }
      if (kind.contains("default")) {
        auto parsed = ParseKindName(kind["default"], Join(kind_path, "default"));
        if (!parsed.ok()) {
          return parsed.status();
        }
        mapping.kind = *parsed;
      }
    } else {
      return KeyError(kind_path, "must be client, talent, or an object with \"column\"");
    }
  }
  return ParseObjectOf(copy, path,
                       {{"id", &mapping.respondent_id},
                        {"full_name", &mapping.full_name},
                        {"email", &mapping.email},
                        {"phone", &mapping.phone}});
}

// Looks up `column` in `header`; on success sets `index`.
absl::Status BindColumn(ValueSource& source, const std::vector<std::string>& header,
                        const std::string& key, std::vector<std::pair<int, std::string>>& used) {
  if (!source.is_column()) {
    return absl::OkStatus();
  }
  int found = -1;
  for (size_t i = 0; i < header.size() && found < 0; ++i) {
    if (header[i] == source.column) {
      found = static_cast<int>(i);
    }
  }
  for (size_t i = 0; i < header.size() && found < 0; ++i) {
    if (absl::EqualsIgnoreCase(absl::StripAsciiWhitespace(header[i]),
                               absl::StripAsciiWhitespace(source.column))) {
      found = static_cast<int>(i);
    }
  }
  if (found < 0) {
    std::vector<std::string> quoted;
    for (const auto& name : header) {
      quoted.push_back(absl::StrCat("'", name, "'"));
    }
    return KeyError(
        key, absl::StrCat("column '", source.column, "' is not in the file's header (columns: ",
                          absl::StrJoin(quoted, ", "), ")"));
  }
  source.index = found;
  used.emplace_back(found, header[found]);
  return absl::OkStatus();
}

// The value of `source` in `record`: trimmed, empty for an NA token, prefixed when non-empty.
std::string ValueOf(const ValueSource& source, const CsvRecord& record) {
  if (!source.is_column()) {
    return source.constant;
  }
  if (source.index < 0 || static_cast<size_t>(source.index) >= record.fields.size()) {
    return "";
  }
  std::string value = Trim(record.fields[source.index]);
  for (const auto& token : source.na) {
    if (absl::EqualsIgnoreCase(value, token)) {
      return "";
    }
  }
  if (!value.empty() && !source.prefix.empty()) {
    value = absl::StrCat(source.prefix, value);
  }
  return value;
}

// Text answers keep their inner line breaks and spacing; only the ends are trimmed.
std::string TextOf(const ValueSource& source, const CsvRecord& record) {
  return ValueOf(source, record);
}

void AddTag(std::string tag, v1::SurveyResponse& out) {
  tag = Trim(tag);
  if (tag.empty()) {
    return;
  }
  for (const auto& existing : out.tags()) {
    if (absl::EqualsIgnoreCase(existing, tag)) {
      return;
    }
  }
  out.add_tags(std::move(tag));
}

void SetOwners(const std::vector<OwnerSpec>& owners, v1::SurveyResponse& out) {
  out.clear_owner_chain();
  for (const auto& spec : owners) {
    auto* owner = out.add_owner_chain();
    owner->set_name(spec.name);
    owner->set_role(spec.role);
    owner->set_email(spec.email);
  }
}

}  // namespace

std::optional<absl::Time> ParseMappedTime(std::string_view text, const std::string& format,
                                          const absl::TimeZone& zone) {
  const std::string value = Trim(text);
  if (value.empty()) {
    return std::nullopt;
  }
  absl::Time time;
  std::string error;
  if (format != "iso8601") {
    if (absl::ParseTime(format, value, zone, &time, &error)) {
      return time;
    }
    return std::nullopt;
  }
  // ISO 8601 as exports write it: 'T' or a space between date and time, optional fractions,
  // a "Z" or "+hh:mm" offset or none (then the mapping's zone applies), or a bare date.
  static const char* const kFormats[] = {
      "%Y-%m-%d%ET%H:%M:%E*S%Ez", "%Y-%m-%d %H:%M:%E*S%Ez",
      "%Y-%m-%d%ET%H:%M:%E*SZ",   "%Y-%m-%d %H:%M:%E*SZ",
      "%Y-%m-%d%ET%H:%M:%E*S",    "%Y-%m-%d %H:%M:%E*S",
      "%Y-%m-%d%ET%H:%M%Ez",      "%Y-%m-%d%ET%H:%M",
      "%Y-%m-%d %H:%M",           "%Y-%m-%d",
  };
  for (const char* candidate : kFormats) {
    if (absl::ParseTime(candidate, value, zone, &time, &error)) {
      return time;
    }
  }
  return std::nullopt;
}

std::vector<OwnerSpec> ParseOwnerChain(std::string_view text) {
  std::string normalized(text);
  normalized = absl::StrReplaceAll(normalized, {{"\xE2\x80\xBA", ">"}, {";", ">"}});
  std::vector<OwnerSpec> owners;
  for (absl::string_view part : absl::StrSplit(normalized, '>', absl::SkipWhitespace())) {
    OwnerSpec owner;
    const auto colon = part.find(':');
    if (colon != absl::string_view::npos) {
      owner.role = Trim(std::string_view(part.data(), colon));
      part.remove_prefix(colon + 1);
    }
    owner.name = Trim(std::string_view(part.data(), part.size()));
    if (!owner.name.empty()) {
      owners.push_back(std::move(owner));
    }
  }
  return owners;
}

absl::StatusOr<Mapping> ParseMapping(const std::string& json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& error) {
    return absl::InvalidArgumentError(
        absl::StrCat("not valid JSON (at byte ", error.byte, "): ", error.what()));
  }
  if (!root.is_object()) {
    return absl::InvalidArgumentError("the mapping must be a JSON object");
  }
  if (auto s = CheckKeys(root, "",
                         {"description", "encoding", "delimiter", "response_id", "submitted_at",
                          "survey_id", "score", "reason", "do_differently", "respondent", "account",
                          "owner_chain", "tags", "routing"});
      !s.ok()) {
    return s;
  }
  Mapping mapping;
  if (root.contains("description")) {
    auto text = GetString(root["description"], "description");
    if (!text.ok()) {
      return text.status();
    }
    mapping.description = *text;
  }
  if (root.contains("encoding")) {
    auto text = GetString(root["encoding"], "encoding");
    if (!text.ok()) {
      return text.status();
    }
    if (auto decoder = Decoder::Create(*text); !decoder.ok()) {
      return KeyError("encoding", std::string(decoder.status().message()));
    }
    mapping.encoding = *text;
  }
  if (root.contains("delimiter")) {
    auto text = GetString(root["delimiter"], "delimiter");
    if (!text.ok()) {
      return text.status();
    }
    if (*text == "auto") {
      mapping.delimiter = 0;
    } else if (*text == "\\t" || *text == "tab") {
      mapping.delimiter = '\t';
    } else if (text->size() == 1 && *text != "\"" && *text != "\n" && *text != "\r") {
      mapping.delimiter = (*text)[0];
    } else {
      return KeyError("delimiter",
                      absl::StrCat("'", *text, "' is not one character (or \"auto\", \"tab\")"));
    }
  }
  if (!root.contains("response_id")) {
    return KeyError("response_id", "is required (a column, or \"derive\" with a prefix)");
  }
  if (auto s = ParseResponseId(root["response_id"], "response_id", mapping); !s.ok()) {
    return s;
  }
  if (!root.contains("score")) {
    return KeyError("score", "is required");
  }
  if (auto s = ParseScoreKey(root["score"], "score", mapping); !s.ok()) {
    return s;
  }
  if (!root.contains("submitted_at")) {
    return KeyError("submitted_at", "is required (a column, a constant, or \"now\")");
  }
  if (auto s = ParseSubmittedAt(root["submitted_at"], "submitted_at", mapping); !s.ok()) {
    return s;
  }
  for (auto [key, target] : {std::pair<const char*, ValueSource*>{"survey_id", &mapping.survey_id},
                             {"reason", &mapping.reason},
                             {"do_differently", &mapping.do_differently}}) {
    if (root.contains(key)) {
      auto source = ParseValueSource(root[key], key);
      if (!source.ok()) {
        return source.status();
      }
      *target = *source;
    }
  }
  if (root.contains("respondent")) {
    if (auto s = ParseRespondent(root["respondent"], "respondent", mapping); !s.ok()) {
      return s;
    }
  }
  if (root.contains("account")) {
    if (auto s = ParseObjectOf(root["account"], "account",
                               {{"id", &mapping.account_id}, {"name", &mapping.account_name}});
        !s.ok()) {
      return s;
    }
  }
  if (root.contains("owner_chain")) {
    const json& chain = root["owner_chain"];
    if (chain.is_object()) {
      auto source = ParseValueSource(chain, "owner_chain");
      if (!source.ok()) {
        return source.status();
      }
      if (source->is_column()) {
        mapping.owner_chain_column = *source;
      } else {
        mapping.owner_chain = ParseOwnerChain(source->constant);
      }
    } else {
      auto owners = ParseOwners(chain, "owner_chain");
      if (!owners.ok()) {
        return owners.status();
      }
      mapping.owner_chain = *owners;
    }
  }
  if (root.contains("tags")) {
    if (auto s = ParseTags(root["tags"], "tags", mapping); !s.ok()) {
      return s;
    }
  }
  if (root.contains("routing")) {
    if (auto s = ParseRouting(root["routing"], "routing", mapping); !s.ok()) {
      return s;
    }
  }
  return mapping;
}

absl::StatusOr<Mapping> LoadMapping(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open mapping file '", path, "'"));
  }
  std::stringstream text;
  text << file.rdbuf();
  auto mapping = ParseMapping(text.str());
  if (!mapping.ok()) {
    return absl::Status(mapping.status().code(),
                        absl::StrCat(path, ": ", std::string(mapping.status().message())));
  }
  return mapping;
}

absl::Status Mapping::Bind(const std::vector<std::string>& header) {
  header_size_ = header.size();
  used_columns_.clear();
  std::vector<std::pair<ValueSource*, std::string>> columns = {
      {&response_id, "response_id.column"},
      {&submitted_at, "submitted_at.column"},
      {&score, "score.column"},
      {&survey_id, "survey_id.column"},
      {&reason, "reason.column"},
      {&do_differently, "do_differently.column"},
      {&respondent_id, "respondent.id.column"},
      {&full_name, "respondent.full_name.column"},
      {&email, "respondent.email.column"},
      {&phone, "respondent.phone.column"},
      {&kind_column, "respondent.kind.column"},
      {&account_id, "account.id.column"},
      {&account_name, "account.name.column"},
      {&owner_chain_column, "owner_chain.column"},
  };
  for (size_t i = 0; i < tag_columns.size(); ++i) {
    columns.emplace_back(&tag_columns[i], absl::StrCat("tags.columns[", i, "]"));
  }
  if (routing) {
    columns.emplace_back(&routing->key, "routing.key.column");
  }
  for (auto& [source, key] : columns) {
    if (auto s = BindColumn(*source, header, key, used_columns_); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

std::optional<RowError> Mapping::MapRow(const CsvRecord& record, absl::Time now,
                                        v1::SurveyResponse& out) const {
  out.Clear();
  if (record.unterminated) {
    return RowError{"(row)", "a quoted field is never closed (the file ends inside it)", ""};
  }
  if (record.fields.size() != header_size_) {
    return RowError{"(row)", "wrong number of fields",
                    absl::StrCat(record.fields.size(), " fields, the header has ", header_size_)};
  }
  for (const auto& [index, name] : used_columns_) {
    const std::string& field = record.fields[index];
    if (const size_t bad = FindInvalidUtf8(field); bad != std::string_view::npos) {
      return RowError{
          absl::StrCat("column '", name, "'"), "invalid UTF-8",
          absl::StrCat(
              "byte 0x", absl::Hex(static_cast<unsigned char>(field[bad]), absl::kZeroPad2),
              " at offset ", bad, "; if the file is not UTF-8, set \"encoding\" in the mapping")};
    }
  }

  // The score first: it is what an import most often gets wrong.
  const std::string raw_score = record.fields[score.index];
  auto parsed_score = ParseScore(raw_score, score_rules);
  if (!parsed_score.ok()) {
    const std::string reason(parsed_score.status().message());
    const bool missing = absl::StartsWith(reason, "missing");
    return RowError{"score", reason, missing ? "" : absl::StrCat("'", Trim(raw_score), "'")};
  }
  out.set_score(*parsed_score);

  switch (id_derivation) {
    case IdDerivation::kColumn: {
      std::string id = ValueOf(response_id, record);
      if (id.empty()) {
        return RowError{"response_id", "missing", ""};
      }
      out.set_response_id(std::move(id));
      break;
    }
    case IdDerivation::kRowNumber:
      out.set_response_id(absl::StrCat(response_id.prefix, record.index));
      break;
    case IdDerivation::kContentHash: {
      // Over every field of the row, so that identical rows (a double submission) share an id
      // and ingest answers the second as a duplicate.
      const std::string digest = domain::Sha256Hex(absl::StrJoin(record.fields, "\x1f"));
      out.set_response_id(absl::StrCat(response_id.prefix, digest.substr(0, 24)));
      break;
    }
  }

  absl::Time submitted;
  switch (time_source) {
    case TimeSource::kNow:
      submitted = now;
      break;
    case TimeSource::kConstant:
      submitted = constant_time;
      break;
    case TimeSource::kColumn: {
      const std::string text = ValueOf(submitted_at, record);
      if (text.empty()) {
        return RowError{"submitted_at", "missing", ""};
      }
      auto parsed = ParseMappedTime(text, time_format, time_zone);
      if (!parsed) {
        return RowError{"submitted_at", absl::StrCat("does not match format ", time_format),
                        absl::StrCat("'", text, "'")};
      }
      submitted = *parsed;
      break;
    }
  }
  const absl::Duration since_epoch = submitted - absl::UnixEpoch();
  const int64_t seconds = absl::ToInt64Seconds(absl::Floor(since_epoch, absl::Seconds(1)));
  out.mutable_submitted_at()->set_seconds(seconds);
  out.mutable_submitted_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(since_epoch - absl::Seconds(seconds))));

  out.set_survey_id(ValueOf(survey_id, record));
  out.set_reason(TextOf(reason, record));
  out.set_do_differently(TextOf(do_differently, record));

  auto* respondent = out.mutable_respondent();
  respondent->set_respondent_id(ValueOf(respondent_id, record));
  respondent->set_full_name(ValueOf(full_name, record));
  respondent->set_email(ValueOf(email, record));
  respondent->set_phone(ValueOf(phone, record));
  v1::RespondentKind respondent_kind = kind;
  if (kind_column.is_column()) {
    const std::string value = ValueOf(kind_column, record);
    for (const auto& [text, mapped] : kind_values) {
      if (absl::EqualsIgnoreCase(Trim(text), value)) {
        respondent_kind = mapped;
      }
    }
  }
  respondent->set_kind(respondent_kind);

  out.mutable_account()->set_account_id(ValueOf(account_id, record));
  out.mutable_account()->set_name(ValueOf(account_name, record));
  if (owner_chain_column.is_column()) {
    SetOwners(ParseOwnerChain(ValueOf(owner_chain_column, record)), out);
  } else {
    SetOwners(owner_chain, out);
  }

  for (const auto& tag : tags) {
    AddTag(tag, out);
  }
  for (const auto& column : tag_columns) {
    const std::string value = ValueOf(column, record);
    if (tag_separator.empty()) {
      AddTag(value, out);
    } else {
      for (absl::string_view part : absl::StrSplit(value, tag_separator)) {
        AddTag(std::string(part), out);
      }
    }
  }

  if (routing) {
    std::string key = ValueOf(routing->key, record);
    if (routing->modulo > 0) {
      int64_t number = 0;
      key = absl::SimpleAtoi(key, &number)
                ? std::to_string(((number % routing->modulo) + routing->modulo) % routing->modulo)
                : "";
    }
    const RouteEntry* entry = nullptr;
    if (auto it = routing->table.find(key); it != routing->table.end()) {
      entry = &it->second;
    } else if (routing->fallback) {
      entry = &*routing->fallback;
    }
    if (entry != nullptr) {
      if (entry->account_id) {
        out.mutable_account()->set_account_id(*entry->account_id);
      }
      if (entry->account_name) {
        out.mutable_account()->set_name(*entry->account_name);
      }
      if (entry->owner_chain) {
        SetOwners(*entry->owner_chain, out);
      }
      for (const auto& tag : entry->tags) {
        AddTag(tag, out);
      }
    }
  }
  return std::nullopt;
}

}  // namespace rebound::reboundctl
