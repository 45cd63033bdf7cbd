// The mapping file: how the columns of one CSV export become SurveyResponse fields. JSON; the
// schema is documented in tools/reboundctl/README.md. Loading checks every key and names the
// one at fault; Bind() then resolves column names against the file's header.
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_MAPPING_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_MAPPING_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "import/csv_reader.h"
#include "import/score.h"
#include "rebound/v1/survey.pb.h"

namespace rebound::reboundctl {

// A value taken from a column or given as a constant.
struct ValueSource {
  std::string column;           // column header; empty for a constant
  std::string constant;         // used when `column` is empty
  std::vector<std::string> na;  // column values that mean "no value" (case-insensitive)
  std::string prefix;           // put before a non-empty column value
  int index = -1;               // column position, set by Mapping::Bind
  bool is_column() const { return !column.empty(); }
};

struct OwnerSpec {
  std::string name;
  std::string role;
  std::string email;
};

// What one routing table entry supplies for the rows whose key selects it.
struct RouteEntry {
  std::optional<std::string> account_id;
  std::optional<std::string> account_name;
  std::optional<std::vector<OwnerSpec>> owner_chain;
  std::vector<std::string> tags;
};

struct Routing {
  ValueSource key;
  int64_t modulo = 0;  // > 0: the key is an integer, taken modulo this
  std::map<std::string, RouteEntry> table;
  std::optional<RouteEntry> fallback;  // "default"
};

enum class IdDerivation { kColumn, kRowNumber, kContentHash };
enum class TimeSource { kColumn, kConstant, kNow };

// Why a row could not be mapped: the response field and the reason ("score", "missing (NA)").
// `detail` adds the offending value where that is not personal data (scores, dates).
struct RowError {
  std::string field;
  std::string reason;
  std::string detail;
};

struct Mapping {
  std::string description;
  std::string encoding = "utf-8";
  char delimiter = 0;  // 0: sniff

  IdDerivation id_derivation = IdDerivation::kColumn;
  ValueSource response_id;  // column (kColumn); its prefix also applies to derived ids

  TimeSource time_source = TimeSource::kNow;
  ValueSource submitted_at;
  std::string time_format = "iso8601";  // strftime-style (absl::ParseTime) or "iso8601"
  absl::TimeZone time_zone = absl::UTCTimeZone();
  absl::Time constant_time;

  ValueSource score;
  ScoreRules score_rules;

  ValueSource survey_id;
  ValueSource reason;
  ValueSource do_differently;

  ValueSource respondent_id;
  ValueSource full_name;
  ValueSource email;
  ValueSource phone;
  v1::RespondentKind kind = v1::RESPONDENT_KIND_UNSPECIFIED;
  ValueSource kind_column;
  std::vector<std::pair<std::string, v1::RespondentKind>> kind_values;

  ValueSource account_id;
  ValueSource account_name;
  ValueSource owner_chain_column;
  std::vector<OwnerSpec> owner_chain;

  std::vector<ValueSource> tag_columns;
  std::vector<std::string> tags;
  std::string tag_separator;  // splits a tag column's value into several tags when set

  std::optional<Routing> routing;

  // Resolves every column name against `header` (exact match first, then ignoring case and
  // surrounding spaces). INVALID_ARGUMENT names the mapping key and lists the columns.
  absl::Status Bind(const std::vector<std::string>& header);

  // Fills `out` from one data record; the error says which field is wrong and why. `now` is
  // used for TimeSource::kNow (one instant for the whole import).
  std::optional<RowError> MapRow(const CsvRecord& record, absl::Time now,
                                 v1::SurveyResponse& out) const;

  // The bound column of the score (-1 before Bind).
  int score_index() const { return score.index; }

 private:
  size_t header_size_ = 0;
  std::vector<std::pair<int, std::string>> used_columns_;  // index, header name
};

// Parses mapping JSON. INVALID_ARGUMENT names the key path ("score.labels.Probably") and the
// problem.
absl::StatusOr<Mapping> ParseMapping(const std::string& json_text);
// Reads and parses a mapping file; errors start with the file name.
absl::StatusOr<Mapping> LoadMapping(const std::string& path);

// Parses a time as the mapping says; nullopt when it does not match.
std::optional<absl::Time> ParseMappedTime(std::string_view text, const std::string& format,
                                          const absl::TimeZone& zone);

// Parses "Director: A › B", "A > B" or "A; B" into owners (role before a colon).
std::vector<OwnerSpec> ParseOwnerChain(std::string_view text);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_MAPPING_H_
