#include "rebound/testing/real_data.h"

#include <csv.h>
#include <unicode/ucnv.h>

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

namespace rebound::testing {
namespace {

struct CsvRows {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
};

void OnField(void* data, size_t length, void* state) {
  static_cast<CsvRows*>(state)->row.emplace_back(static_cast<const char*>(data), length);
}

void OnRowEnd(int /*terminator*/, void* state) {
  auto* csv = static_cast<CsvRows*>(state);
  csv->rows.push_back(std::move(csv->row));
  csv->row.clear();
}

}  // namespace

std::string RealDataDir() {
  if (const char* dir = std::getenv("REBOUND_REAL_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* source = std::getenv("REBOUND_SOURCE_DIR");
  return std::string(source != nullptr ? source : ".") + "/../shared/data/real";
}

std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::vector<std::string>> ParseCsv(std::string_view text) {
  csv_parser parser;
  csv_init(&parser, 0);
  CsvRows csv;
  csv_parse(&parser, text.data(), text.size(), OnField, OnRowEnd, &csv);
  csv_fini(&parser, OnField, OnRowEnd, &csv);
  csv_free(&parser);
  return std::move(csv.rows);
}

std::string Windows1252ToUtf8(std::string_view text) {
  UErrorCode status = U_ZERO_ERROR;
  std::unique_ptr<UConverter, decltype(&ucnv_close)> from(ucnv_open("windows-1252", &status),
                                                          &ucnv_close);
  std::unique_ptr<UConverter, decltype(&ucnv_close)> to(ucnv_open("UTF-8", &status), &ucnv_close);
  if (U_FAILURE(status)) {
    return std::string(text);
  }
  std::u16string wide(text.size(), u'\0');
  const int32_t wide_length =
      ucnv_toUChars(from.get(), wide.data(), static_cast<int32_t>(wide.size()), text.data(),
                    static_cast<int32_t>(text.size()), &status);
  wide.resize(wide_length);
  // ICU maps the five undefined bytes to the C1 controls of the same value.
  for (char16_t& c : wide) {
    if (c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D) {
      c = 0xFFFD;
    }
  }
  std::string out(wide.size() * 3, '\0');
  const int32_t out_length =
      ucnv_fromUChars(to.get(), out.data(), static_cast<int32_t>(out.size()), wide.data(),
                      static_cast<int32_t>(wide.size()), &status);
  out.resize(U_SUCCESS(status) ? out_length : 0);
  return out;
}

}  // namespace rebound::testing
