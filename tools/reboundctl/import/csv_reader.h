// Reads CSV exports as survey tools write them, on libcsv: RFC 4180 quoting, quoted fields that
// span lines, a UTF-8 byte order mark, CRLF or LF line ends, and a delimiter other than comma
// (given, or sniffed from the header line). Input in another encoding is converted to UTF-8
// first (see encoding.h). Each record carries the physical line it starts on, so rejections can
// point at the line a person sees in an editor.
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_CSV_READER_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_CSV_READER_H_

#include <csv.h>

#include <cstdint>
#include <deque>
#include <istream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "import/encoding.h"

namespace rebound::reboundctl {

struct CsvOptions {
  std::string encoding = "utf-8";
  // 0: sniff from the header line among ',', ';', tab and '|' (comma when none occurs).
  char delimiter = 0;
};

struct CsvRecord {
  int64_t line = 0;           // physical line (1-based) where the record starts
  int64_t index = 0;          // 0 for the first record (the header), then 1, 2, ...
  bool unterminated = false;  // the file ended inside a quoted field opened in this record
  std::vector<std::string> fields;
};

class CsvReader {
 public:
  static absl::StatusOr<std::unique_ptr<CsvReader>> Open(const std::string& path,
                                                         const CsvOptions& options);
  static absl::StatusOr<std::unique_ptr<CsvReader>> FromString(std::string data,
                                                               const CsvOptions& options);
  ~CsvReader();
  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Fills `record` with the next record; false at the end of the input.
  absl::StatusOr<bool> Next(CsvRecord& record);

  // Raw input bytes consumed so far and in all (for a progress percentage).
  int64_t bytes_read() const { return bytes_read_; }
  int64_t total_bytes() const { return total_bytes_; }
  // U+FFFD characters the decoder wrote for undefined bytes.
  int64_t replacements() const { return decoder_->replacements(); }
  // The delimiter in use (known after the first Next()).
  char delimiter() const { return delimiter_; }

 private:
  CsvReader(std::unique_ptr<std::istream> input, int64_t total_bytes,
            std::unique_ptr<Decoder> decoder, char delimiter);
  absl::Status Fill();
  void Feed(std::string_view text);
  static void OnField(void* data, size_t length, void* self);
  static void OnRecord(int terminator, void* self);

  std::unique_ptr<std::istream> input_;
  int64_t total_bytes_ = 0;
  int64_t bytes_read_ = 0;
  std::unique_ptr<Decoder> decoder_;
  char delimiter_ = 0;
  csv_parser parser_{};
  bool started_ = false;
  bool finished_ = false;
  std::string decoded_;
  // Position tracking: the line being fed and where the current record began.
  int64_t line_ = 1;
  char previous_ = 0;
  bool in_record_ = false;
  int64_t record_line_ = 1;
  int64_t next_index_ = 0;
  std::vector<std::string> fields_;
  std::deque<CsvRecord> ready_;
};

// The delimiter that occurs most often outside quotes in the first line of `text`: one of
// ',', ';', '\t', '|'; ',' when none does.
char SniffDelimiter(std::string_view text);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_CSV_READER_H_
