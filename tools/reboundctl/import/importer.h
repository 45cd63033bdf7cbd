// The import run: read records, map them, send them in batches, and account for every row.
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_IMPORTER_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_IMPORTER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "import/csv_reader.h"
#include "import/mapping.h"
#include "rebound/v1/ingest_service.pb.h"

namespace rebound::reboundctl {

// Where mapped responses go. Implementations retry what is safe to retry; an error they return
// ends the import.
class ResponseSender {
 public:
  virtual ~ResponseSender() = default;
  virtual absl::StatusOr<v1::SubmitResponsesResponse> Send(
      const std::vector<v1::SubmitResponsesRequest>& batch) = 0;
};

struct Rejection {
  int64_t line = 0;
  std::string field;
  std::string reason;
  std::string detail;
};

struct ImportSummary {
  std::string file;
  std::string mapping;
  std::string mapping_description;
  std::string encoding;
  char delimiter = ',';
  bool dry_run = false;
  int64_t rows_read = 0;
  int64_t accepted = 0;  // in a dry run: rows that mapped cleanly (nothing was sent)
  int64_t duplicates = 0;
  int64_t rejected = 0;
  int64_t duplicate_ids_in_file = 0;  // response ids seen twice in this file
  int64_t replacement_characters = 0;
  std::map<std::string, int64_t> rejected_by_reason;  // "score: missing (NA)" -> count
  std::vector<Rejection> first_rejections;            // the first few, in file order
  double seconds = 0;
  // Not OK when the import stopped early (ingest unreachable, the rejects file unwritable).
  absl::Status status;
};

struct ImportOptions {
  int batch_size = 500;
  bool dry_run = false;
  std::string rejects_file;  // every rejection as CSV (line,field,reason); empty: none
  absl::Time now = absl::Now();
  size_t keep_rejections = 20;
  // Called now and then with (bytes read, total bytes, rows read).
  std::function<void(int64_t, int64_t, int64_t)> progress;
};

// Refuses files whose score column holds words while the mapping maps no labels. Looks at the
// first rows only; returns FAILED_PRECONDITION with a message that says what to do.
absl::Status CheckScoreScale(const Mapping& mapping, const std::vector<std::string>& header,
                             const std::vector<CsvRecord>& sample);

// Runs an import. Errors returned here are the caller's mistakes found before anything was
// sent (no header, a column the mapping names is missing, a verbal scale without labels);
// trouble after sending began is in ImportSummary::status. `sender` may be null for a dry run.
absl::StatusOr<ImportSummary> RunImport(Mapping mapping, CsvReader& reader, ResponseSender* sender,
                                        const ImportOptions& options);

// The summary as JSON (for scripts) and as text for people.
std::string SummaryJson(const ImportSummary& summary);
std::string SummaryText(const ImportSummary& summary, const std::string& rejects_file);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_IMPORTER_H_
