#include "import_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "absl/strings/str_format.h"
#include "cases/cases_command.h"
#include "import/importer.h"
#include "import/ingest_sender.h"

namespace rebound::reboundctl {
namespace {

struct ImportFlags {
  std::string file;
  std::string mapping;
  std::string ingest_address = "127.0.0.1:50051";
  std::string api_token;
  int batch_size = 500;
  std::string rejects_file;
  bool allow_rejects = false;
  bool dry_run = false;
  bool json = false;
  double timeout_seconds = 30;
  int max_attempts = 6;
};

// A one-line progress bar on stderr, redrawn at most ten times a second; only on a terminal.
class ProgressBar {
 public:
  ProgressBar() : enabled_(isatty(STDERR_FILENO) != 0) {}

  void Update(int64_t bytes, int64_t total, int64_t rows) {
    if (!enabled_) {
      return;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    const double fraction = total > 0 ? static_cast<double>(bytes) / total : 0;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    constexpr int kBar = 30;
    const int filled = static_cast<int>(fraction * kBar);
    std::fprintf(stderr, "\r%3d%% [%s%s] %lld rows, %.0f rows/s ", static_cast<int>(fraction * 100),
                 std::string(filled, '#').c_str(), std::string(kBar - filled, ' ').c_str(),
                 static_cast<long long>(rows), seconds > 0 ? rows / seconds : 0.0);
    std::fflush(stderr);
    drawn_ = true;
  }

  void Clear() {
    if (drawn_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
      drawn_ = false;
    }
  }

 private:
  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_{};
};

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return kExitAuth;
    default:
      return kExitFailed;
  }
}

int RunImportCommand(const ImportFlags& flags) {
  auto mapping = LoadMapping(flags.mapping);
  if (!mapping.ok()) {
    std::cerr << "reboundctl: " << std::string(mapping.status().message()) << "\n";
    return kExitUsage;
  }
  auto reader =
      CsvReader::Open(flags.file, {.encoding = mapping->encoding, .delimiter = mapping->delimiter});
  if (!reader.ok()) {
    std::cerr << "reboundctl: " << std::string(reader.status().message()) << "\n";
    return kExitUsage;
  }
  std::unique_ptr<IngestSender> sender;
  if (!flags.dry_run) {
    IngestSenderOptions options;
    options.address = flags.ingest_address;
    options.api_token = flags.api_token;
    options.call_timeout = absl::Seconds(flags.timeout_seconds);
    options.max_attempts = flags.max_attempts;
    sender = std::make_unique<IngestSender>(options);
  }
  ProgressBar progress;
  ImportOptions options;
  options.batch_size = flags.batch_size;
  options.dry_run = flags.dry_run;
  options.rejects_file = flags.rejects_file;
  options.progress = [&progress](int64_t bytes, int64_t total, int64_t rows) {
    progress.Update(bytes, total, rows);
  };
  auto summary = RunImport(*std::move(mapping), **reader, sender.get(), options);
  progress.Clear();
  if (!summary.ok()) {
    std::cerr << "reboundctl: " << flags.file << ": " << std::string(summary.status().message())
              << "\n";
    return kExitUsage;
  }
  summary->file = std::filesystem::path(flags.file).filename().string();
  summary->mapping = std::filesystem::path(flags.mapping).filename().string();
  if (flags.json) {
    std::cout << SummaryJson(*summary) << "\n";
  } else {
    std::cout << SummaryText(*summary, flags.rejects_file);
  }
  if (!summary->status.ok()) {
    std::cerr << "reboundctl: " << std::string(summary->status.message()) << "\n";
    return ExitCodeFor(summary->status);
  }
  if (summary->rejected > 0 && !flags.allow_rejects) {
    return kExitFailed;
  }
  return kExitOk;
}

}  // namespace

void AddImportCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<ImportFlags>();
  CLI::App* import = app.add_subcommand("import", "Import a CSV survey export into ingest");
  import->add_option("--file", flags->file, "CSV export to import")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--mapping", flags->mapping, "Mapping file (JSON), see the README")
      ->required()
      ->check(CLI::ExistingFile);
  import->add_option("--ingest-address", flags->ingest_address, "Ingest gRPC address (host:port)")
      ->envname("REBOUND_INGEST_ADDRESS")
      ->capture_default_str();
  import->add_option("--api-token", flags->api_token, "Bearer token for ingest")
      ->envname("REBOUND_API_TOKEN");
  import->add_option("--batch-size", flags->batch_size, "Responses per SubmitResponses call")
      ->envname("REBOUND_IMPORT_BATCH_SIZE")
      ->check(CLI::Range(1, 5000))
      ->capture_default_str();
  import->add_option("--rejects-file", flags->rejects_file,
                     "Write every rejected row here as CSV (line,field,reason)");
  import->add_flag("--allow-rejects", flags->allow_rejects, "Exit 0 even when rows were rejected");
  import->add_flag("--dry-run", flags->dry_run, "Read and map every row, send nothing");
  import->add_flag("--json", flags->json, "Print the summary as JSON");
  import->add_option("--timeout", flags->timeout_seconds, "Deadline of each batch call, seconds")
      ->envname("REBOUND_IMPORT_TIMEOUT")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  import
      ->add_option("--max-attempts", flags->max_attempts,
                   "Attempts per batch while ingest is unavailable (backoff doubles to 4 s)")
      ->envname("REBOUND_IMPORT_MAX_ATTEMPTS")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  import->callback([flags, &exit_code] { exit_code = RunImportCommand(*flags);
});
}  // namespace rebound::reboundctl

}  // namespace rebound::reboundctl
