#include "import/csv_reader.h"

#include <array>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace rebound::reboundctl {
namespace {

constexpr size_t kChunkSize = 64 * 1024;
constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace

char SniffDelimiter(std::string_view text) {
  constexpr std::array<char, 4> kCandidates = {',', ';', '\t', '|'};
  std::array<int, 4> counts{};
  bool quoted = false;
  for (char c : text) {
    if (c == '"') {
      quoted = !quoted;
      continue;
    }
    if (!quoted && (c == '\n' || c == '\r')) {
      break;
    }
    if (quoted) {
      continue;
    }
    for (size_t i = 0; i < kCandidates.size(); ++i) {
      if (c == kCandidates[i]) {
        ++counts[i];
      }
    }
  }
  size_t best = 0;
  for (size_t i = 1; i < kCandidates.size(); ++i) {
    if (counts[i] > counts[best]) {
      best = i;
    }
  }
  return kCandidates[best];
}

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Open(const std::string& path,
                                                           const CsvOptions& options) {
  auto file = std::make_unique<std::ifstream>(path, std::ios::binary);
  if (!file->is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  }
  file->seekg(0, std::ios::end);
  const int64_t size = file->tellg();
  file->seekg(0, std::ios::beg);
  auto decoder = Decoder::Create(options.encoding);
  if (!decoder.ok()) {
    return decoder.status();
  }
  return std::unique_ptr<CsvReader>(
      new CsvReader(std::move(file), size, std::move(*decoder), options.delimiter));
}

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::FromString(std::string data,
                                                                 const CsvOptions& options) {
  const auto size = static_cast<int64_t>(data.size());
  auto decoder = Decoder::Create(options.encoding);
  if (!decoder.ok()) {
    return decoder.status();
  }
  return std::unique_ptr<CsvReader>(
      new CsvReader(std::make_unique<std::istringstream>(std::move(data)), size,
                    std::move(*decoder), options.delimiter));
}

CsvReader::CsvReader(std::unique_ptr<std::istream> input, int64_t total_bytes,
                     std::unique_ptr<Decoder> decoder, char delimiter)
    : input_(std::move(input)),
      total_bytes_(total_bytes),
      decoder_(std::move(decoder)),
      delimiter_(delimiter) {
  // Not strict: real exports put stray quotes inside unquoted fields, which libcsv then keeps
  // as text.
  csv_init(&parser_, 0);
}

CsvReader::~CsvReader() { csv_free(&parser_); }

void CsvReader::OnField(void* data, size_t length, void* self) {
  auto* reader = static_cast<CsvReader*>(self);
  reader->fields_.emplace_back(static_cast<const char*>(data), length);
}

void CsvReader::OnRecord(int terminator, void* self) {
  auto* reader = static_cast<CsvReader*>(self);
  CsvRecord record;
  record.line = reader->record_line_;
  record.index = reader->next_index_++;
  record.fields = std::move(reader->fields_);
  reader->fields_.clear();
  reader->ready_.push_back(std::move(record));
  reader->in_record_ = false;
}

void CsvReader::Feed(std::string_view text) {
  // The callbacks must fire while `line_` still names the line of the byte that completed the
  // field or record, and a record's first significant byte fixes its start line. So line breaks
  // go to libcsv one at a time, as do the bytes between records (libcsv skips blank lines and
  // leading blanks there, and so does this); the rest of a line goes in one call.
  size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '\r' || c == '\n') {
      csv_parse(&parser_, &c, 1, &CsvReader::OnField, &CsvReader::OnRecord, this);
      if (c == '\r' || previous_ != '\r') {
        ++line_;
      }
      previous_ = c;
      ++pos;
      continue;
    }
    if (!in_record_) {
      if (c != ' ' && c != '\t') {
        in_record_ = true;
        record_line_ = line_;
      }
      csv_parse(&parser_, &c, 1, &CsvReader::OnField, &CsvReader::OnRecord, this);
      previous_ = c;
      ++pos;
      continue;
    }
    size_t end = text.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    csv_parse(&parser_, text.data() + pos, end - pos, &CsvReader::OnField, &CsvReader::OnRecord,
              this);
    previous_ = text[end - 1];
    pos = end;
  }
}

absl::Status CsvReader::Fill() {
  std::string raw(kChunkSize, '\0');
  input_->read(raw.data(), static_cast<std::streamsize>(raw.size()));
  raw.resize(static_cast<size_t>(input_->gcount()));
  bytes_read_ += static_cast<int64_t>(raw.size());
  const bool last = raw.empty() || input_->eof();
  decoded_.clear();
  if (auto status = decoder_->Decode(raw, last, decoded_); !status.ok()) {
    return status;
  }
  std::string_view text = decoded_;
  if (!started_) {
    started_ = true;
    if (text.substr(0, kUtf8Bom.size()) == kUtf8Bom) {
      text.remove_prefix(kUtf8Bom.size());
    }
    if (delimiter_ == 0) {
      delimiter_ = SniffDelimiter(text);
    }
    csv_set_delim(&parser_, static_cast<unsigned char>(delimiter_));
  }
  Feed(text);
  if (csv_error(&parser_) == CSV_ENOMEM || csv_error(&parser_) == CSV_ETOOBIG) {
    return absl::ResourceExhaustedError(
        absl::StrCat("line ", line_, ": a field is too large to hold in memory"));
  }
  if (last) {
    finished_ = true;
    // libcsv's strict end check would drop the last record; look at its state instead: 2 is
    // its FIELD_BEGUN state, i.e. inside a field, and `quoted` says the field opened a quote.
    constexpr int kFieldBegun = 2;
    const bool open_quote = parser_.pstate == kFieldBegun && parser_.quoted != 0;
    const size_t before = ready_.size();
    csv_fini(&parser_, &CsvReader::OnField, &CsvReader::OnRecord, this);
    if (open_quote && ready_.size() > before) {
      ready_.back().unterminated = true;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CsvReader::Next(CsvRecord& record) {
  while (ready_.empty() && !finished_) {
    if (auto status = Fill(); !status.ok()) {
      return status;
    }
  }
  if (ready_.empty()) {
    return false;
  }
  record = std::move(ready_.front());
  ready_.pop_front();
  return true;
}

}  // namespace rebound::reboundctl
