// Reading the real survey exports in ../shared/data/real (beside the checkout) from tests.
// The exports stay outside the repository (not all licences allow redistribution), so tests
// read them in place and skip when the folder is missing.
#ifndef REBOUND_TESTING_REAL_DATA_H_
#define REBOUND_TESTING_REAL_DATA_H_

#include <string>
#include <string_view>
#include <vector>

namespace rebound::testing {

// The folder of the real exports: $REBOUND_REAL_DATA_DIR when set, else
// $REBOUND_SOURCE_DIR/../shared/data/real.
std::string RealDataDir();

// The bytes of a file; empty when it cannot be read.
std::string ReadFileBytes(const std::string& path);

// Rows of RFC 4180 CSV text (quoted fields, "" escapes, line breaks inside quotes, CRLF),
// parsed by libcsv. Blank lines are skipped.
std::vector<std::vector<std::string>> ParseCsv(std::string_view text);

// Windows-1252 text decoded by ICU into UTF-8; bytes the code page leaves undefined become
// U+FFFD, as reboundctl import does.
std::string Windows1252ToUtf8(std::string_view text);

}  // namespace rebound::testing

#endif  // REBOUND_TESTING_REAL_DATA_H_
