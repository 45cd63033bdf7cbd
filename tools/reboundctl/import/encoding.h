// Character encodings of CSV exports: everything is converted to UTF-8 before parsing.
//
// UTF-8 input passes through unchanged and is validated field by field later (a row with an
// invalid sequence in a mapped column is rejected, naming the column). Any other encoding is
// converted with ICU. Bytes that the named encoding does not define become U+FFFD and are
// counted: ICU's own "unassigned" callbacks, and also the C1 control characters (U+0080 to
// U+009F) that ICU produces for the five holes of windows-1252 (0x81, 0x8D, 0x8F, 0x90, 0x9D).
// No survey answer contains a C1 control on purpose, so such a character always means a byte
// the export's code page left undefined.
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_ENCODING_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_ENCODING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace rebound::reboundctl {

// True for the names that mean UTF-8 ("utf-8", "UTF8", "utf-8-sig").
bool IsUtf8Name(std::string_view encoding);

// Converts a byte stream in one encoding to UTF-8, chunk by chunk (a multi-byte character may
// span two chunks).
class Decoder {
 public:
  // INVALID_ARGUMENT when ICU does not know `encoding`.
  static absl::StatusOr<std::unique_ptr<Decoder>> Create(std::string_view encoding);
  virtual ~Decoder() = default;

  // Appends the UTF-8 of `input` to `out`; `flush` on the last chunk.
  virtual absl::Status Decode(std::string_view input, bool flush, std::string& out) = 0;
  // How many U+FFFD were written for undefined or malformed input so far.
  virtual int64_t replacements() const = 0;
  // The canonical name of the encoding ("UTF-8", "ibm-5348_P100-1997" for windows-1252).
  virtual std::string name() const = 0;
};

// Offset of the first byte of `text` that does not start or continue a valid UTF-8 sequence
// (overlongs, surrogates and code points above U+10FFFF are invalid); npos when all is valid.
size_t FindInvalidUtf8(std::string_view text);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_ENCODING_H_
