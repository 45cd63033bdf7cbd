#include "import/importer.h"

#include <algorithm>
#include <chrono>
#include <fstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "import/score.h"
#include "nlohmann/json.hpp"

namespace rebound::reboundctl {
namespace {

constexpr size_t kScaleSampleRows = 200;

std::string Quote(const std::string& field) {
  std::string out = "\"";
  for (char c : field) {
    if (c == '"') {
      out.push_back('"');
    }
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string WithSeparators(int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      out.push_back(',');
    }
    out.push_back(digits[i]);
  }
  return value < 0 ? "-" + out : out;
}

std::string DelimiterName(char delimiter) {
  switch (delimiter) {
    case '\t':
      return "tab";
    case ',':
      return "comma";
    case ';':
      return "semicolon";
    case '|':
      return "pipe";
    default:
      return std::string(1, delimiter);
  }
}

std::string RejectionText(const Rejection& rejection) {
  std::string text = absl::StrCat(rejection.field, ": ", rejection.reason);
  if (!rejection.detail.empty()) {
    absl::StrAppend(&text, " (", rejection.detail, ")");
  }
  return text;
}

class Run {
 public:
  Run(Mapping& mapping, ResponseSender* sender, const ImportOptions& options,
      ImportSummary& summary, std::ofstream* rejects)
      : mapping_(mapping),
        sender_(sender),
        options_(options),
        summary_(summary),
        rejects_(rejects) {}

  // False when the import has to stop (summary_.status says why).
  bool Add(const CsvRecord& record) {
    ++summary_.rows_read;
    v1::SubmitResponsesRequest request;
    if (auto error = mapping_.MapRow(record, options_.now, *request.mutable_response())) {
      Reject({record.line, error->field, error->reason, error->detail});
      return summary_.status.ok();
    }
    if (!seen_ids_.insert(request.response().response_id()).second) {
      ++summary_.duplicate_ids_in_file;
    }
    if (options_.dry_run || sender_ == nullptr) {
      ++summary_.accepted;
      return true;
    }
    request.set_item(record.line);
    batch_.push_back(std::move(request));
    if (static_cast<int>(batch_.size()) >= options_.batch_size) {
      return Flush();
    }
    return true;
  }

  bool Flush() {
    if (batch_.empty()) {
      return true;
    }
    auto reply = sender_->Send(batch_);
    if (!reply.ok()) {
      summary_.status = reply.status();
      batch_.clear();
      return false;
    }
    size_t matched = 0;
    for (const auto& result : reply->results()) {
      ++matched;
      switch (result.outcome()) {
        case v1::SUBMIT_OUTCOME_ACCEPTED:
          ++summary_.accepted;
          break;
        case v1::SUBMIT_OUTCOME_DUPLICATE:
          ++summary_.duplicates;
          break;
        default:
          Reject({result.item(), result.error_field().empty() ? "(ingest)" : result.error_field(),
                  result.error_message().empty() ? "rejected by ingest" : result.error_message(),
                  ""});
          break;
      }
    }
    if (matched != batch_.size()) {
      summary_.status = absl::InternalError(
          absl::StrCat("ingest answered ", matched, " results for a batch of ", batch_.size()));
      batch_.clear();
      return false;
    }
    batch_.clear();
    return true;
  }

 private:
  void Reject(Rejection rejection) {
    ++summary_.rejected;
    ++summary_.rejected_by_reason[absl::StrCat(rejection.field, ": ", rejection.reason)];
    if (rejects_ != nullptr) {
      std::string reason = rejection.reason;
      if (!rejection.detail.empty()) {
        absl::StrAppend(&reason, " (", rejection.detail, ")");
      }
      *rejects_ << rejection.line << ',' << Quote(rejection.field) << ',' << Quote(reason) << '\n';
      if (!*rejects_) {
        summary_.status = absl::DataLossError("cannot write the rejects file");
      }
    }
    if (summary_.first_rejections.size() < options_.keep_rejections) {
      summary_.first_rejections.push_back(std::move(rejection));
    }
  }

  Mapping& mapping_;
  ResponseSender* sender_;
  const ImportOptions& options_;
  ImportSummary& summary_;
  std::ofstream* rejects_;
  std::vector<v1::SubmitResponsesRequest> batch_;
  absl::flat_hash_set<std::string> seen_ids_;
};

}  // namespace

absl::Status CheckScoreScale(const Mapping& mapping, const std::vector<std::string>& header,
                             const std::vector<CsvRecord>& sample) {
  if (!mapping.score_rules.labels.empty() || mapping.score_index() < 0) {
    return absl::OkStatus();
  }
  int answered = 0;
  std::vector<std::string> words;
  int verbal = 0;
  for (const auto& record : sample) {
    if (static_cast<size_t>(mapping.score_index()) >= record.fields.size()) {
      continue;
    }
    const std::string& value = record.fields[mapping.score_index()];
    auto score = ParseScore(value, mapping.score_rules);
    if (!score.ok() && absl::StartsWith(score.status().message(), "missing")) {
      continue;
    }
    ++answered;
    if (IsVerbalScore(value, mapping.score_rules)) {
      ++verbal;
      const std::string word(absl::StripAsciiWhitespace(value));
      if (words.size() < 3 && std::find(words.begin(), words.end(), word) == words.end()) {
        words.push_back(word);
      }
    }
  }
  // A stray word among numbers is a rejected row; a column of words is a different scale.
  if (verbal == 0 || verbal * 2 < answered) {
    return absl::OkStatus();
  }
  std::vector<std::string> quoted;
  for (const auto& word : words) {
    quoted.push_back(absl::StrCat("'", word, "'"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the score column '", header[mapping.score_index()], "' holds words (",
                   absl::StrJoin(quoted, ", "),
                   "), not 0-10; map each label to a score in the mapping's score.labels"));
}

absl::StatusOr<ImportSummary> RunImport(Mapping mapping, CsvReader& reader, ResponseSender* sender,
                                        const ImportOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  ImportSummary summary;
  summary.dry_run = options.dry_run || sender == nullptr;
  summary.mapping_description = mapping.description;
  summary.encoding = mapping.encoding;

  CsvRecord header;
  auto has_header = reader.Next(header);
  if (!has_header.ok()) {
    return has_header.status();
  }
  if (!*has_header) {
    return absl::InvalidArgumentError("the file is empty: no header line");
  }
  summary.delimiter = reader.delimiter();
  if (auto status = mapping.Bind(header.fields); !status.ok()) {
    return status;
  }

  // Look at the first rows before sending anything, so that a wrong scale is refused up front.
  std::vector<CsvRecord> sample;
  bool more = true;
  while (more && sample.size() < kScaleSampleRows) {
    CsvRecord record;
    auto next = reader.Next(record);
    if (!next.ok()) {
      return next.status();
    }
    more = *next;
    if (more) {
      sample.push_back(std::move(record));
    }
  }
  if (auto status = CheckScoreScale(mapping, header.fields, sample); !status.ok()) {
    return status;
  }

  std::ofstream rejects;
  if (!options.rejects_file.empty()) {
    rejects.open(options.rejects_file, std::ios::binary | std::ios::trunc);
    if (!rejects.is_open()) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot write the rejects file '", options.rejects_file, "'"));
    }
    rejects << "line,field,reason\n";
  }

  Run run(mapping, sender, options, summary, rejects.is_open() ? &rejects : nullptr);
  auto report = [&] {
    if (options.progress) {
      options.progress(reader.bytes_read(), reader.total_bytes(), summary.rows_read);
    }
  };
  bool going = true;
  for (const auto& record : sample) {
    going = run.Add(record);
    if (!going) {
      break;
    }
    report();
  }
  while (going && more) {
    CsvRecord record;
    auto next = reader.Next(record);
    if (!next.ok()) {
      summary.status = next.status();
      break;
    }
    more = *next;
    if (more) {
      going = run.Add(record);
      report();
    }
  }
  if (going && summary.status.ok()) {
    run.Flush();
  }
  summary.replacement_characters = reader.replacements();
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

std::string SummaryJson(const ImportSummary& summary) {
  nlohmann::json out;
  out["file"] = summary.file;
  out["mapping"] = summary.mapping;
  out["mapping_description"] = summary.mapping_description;
  out["encoding"] = summary.encoding;
  out["delimiter"] = std::string(1, summary.delimiter);
  out["dry_run"] = summary.dry_run;
  out["rows_read"] = summary.rows_read;
  out["accepted"] = summary.accepted;
  out["duplicates"] = summary.duplicates;
  out["rejected"] = summary.rejected;
  out["duplicate_ids_in_file"] = summary.duplicate_ids_in_file;
  out["replacement_characters"] = summary.replacement_characters;
  out["rejected_by_reason"] = nlohmann::json::object();
  for (const auto& [reason, count] : summary.rejected_by_reason) {
    out["rejected_by_reason"][reason] = count;
  }
  out["first_rejections"] = nlohmann::json::array();
  for (const auto& rejection : summary.first_rejections) {
    out["first_rejections"].push_back({{"line", rejection.line},
                                       {"field", rejection.field},
                                       {"reason", rejection.reason},
                                       {"detail", rejection.detail}});
  }
  out["seconds"] = summary.seconds;
  out["complete"] = summary.status.ok();
  if (!summary.status.ok()) {
    out["error"] = std::string(summary.status.message());
  }
  return out.dump(2);
}

std::string SummaryText(const ImportSummary& summary, const std::string& rejects_file) {
  std::string out;
  absl::StrAppend(&out, summary.dry_run ? "Dry run of " : "Import of ", summary.file, " (",
                  summary.encoding, ", ", DelimiterName(summary.delimiter), "-separated)\n");
  if (!summary.mapping_description.empty()) {
    absl::StrAppend(&out, "Mapping: ", summary.mapping_description, "\n");
  }
  auto line = [&](const std::string& label, int64_t value, const std::string& note = "") {
    absl::StrAppend(&out, absl::StrFormat("  %-24s %10s", label, WithSeparators(value)),
                    note.empty() ? "" : "  " + note, "\n");
  };
  line("rows read", summary.rows_read);
  line(summary.dry_run ? "valid (not sent)" : "accepted", summary.accepted);
  if (!summary.dry_run) {
    line("duplicates", summary.duplicates, "(already known to ingest)");
  }
  line("rejected", summary.rejected);
  for (const auto& [reason, count] : summary.rejected_by_reason) {
    absl::StrAppend(&out, absl::StrFormat("    %10s  %s\n", WithSeparators(count), reason));
  }
  if (summary.duplicate_ids_in_file > 0) {
    line("repeated ids in file", summary.duplicate_ids_in_file,
         summary.dry_run ? "(ingest will answer these as duplicates)" : "");
  }
  if (summary.replacement_characters > 0) {
    line("replacement characters", summary.replacement_characters,
         "(bytes the encoding does not define, imported as U+FFFD)");
  }
  if (summary.seconds > 0 && summary.rows_read > 0) {
    absl::StrAppend(
        &out,
        absl::StrFormat("  %-24s %10.1f  (%s rows/s)\n", "seconds", summary.seconds,
                        WithSeparators(static_cast<int64_t>(summary.rows_read / summary.seconds))));
  }
  if (!summary.first_rejections.empty()) {
    absl::StrAppend(&out, "First rejected rows:\n");
    const size_t shown = std::min<size_t>(summary.first_rejections.size(), 10);
    for (size_t i = 0; i < shown; ++i) {
      absl::StrAppend(&out, "  line ", summary.first_rejections[i].line, ": ",
                      RejectionText(summary.first_rejections[i]), "\n");
    }
    if (!rejects_file.empty()) {
      absl::StrAppend(&out, "All ", WithSeparators(summary.rejected),
                      " rejected rows are listed in ", rejects_file, ".\n");
    } else if (static_cast<int64_t>(shown) < summary.rejected) {
      absl::StrAppend(&out, "Pass --rejects-file FILE to keep the full list.\n");
    }
  }
  if (!summary.status.ok()) {
    absl::StrAppend(&out, "The import stopped early: ", std::string(summary.status.message()),
                    "\n");
  }
  if (summary.dry_run) {
    absl::StrAppend(&out, "Nothing was sent (dry run).\n");
  }
  return out;
}

}  // namespace rebound::reboundctl
