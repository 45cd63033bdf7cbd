#include "import/encoding.h"

#include <unicode/ucnv.h>
#include <unicode/ucnv_cb.h>
#include <unicode/ucnv_err.h>
#include <unicode/ustring.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace rebound::reboundctl {
namespace {

constexpr char16_t kReplacement = 0xFFFD;

class PassthroughDecoder : public Decoder {
 public:
  absl::Status Decode(std::string_view input, bool flush, std::string& out) override {
    out.append(input);
    return absl::OkStatus();
  }
  int64_t replacements() const override { return 0; }
  std::string name() const override { return "UTF-8"; }
};

class IcuDecoder : public Decoder {
 public:
  explicit IcuDecoder(UConverter* converter) : converter_(converter) {
    UErrorCode error = U_ZERO_ERROR;
    ucnv_setToUCallBack(converter_, &IcuDecoder::OnInvalid, this, nullptr, nullptr, &error);
  }
  ~IcuDecoder() override { ucnv_close(converter_); }

  absl::Status Decode(std::string_view input, bool flush, std::string& out) override {
    // Every supported encoding yields at most two UTF-16 units per input byte, plus what ICU
    // held back from the previous chunk.
    utf16_.resize(input.size() * 2 + 64);
    const char* source = input.data();
    UChar* target = utf16_.data();
    UErrorCode error = U_ZERO_ERROR;
    ucnv_toUnicode(converter_, &target, utf16_.data() + utf16_.size(), &source,
                   input.data() + input.size(), nullptr, flush, &error);
    if (U_FAILURE(error)) {
      return absl::InternalError(absl::StrCat("decoding failed: ", u_errorName(error)));
    }
    const int32_t length = static_cast<int32_t>(target - utf16_.data());
    for (int32_t i = 0; i < length; ++i) {
      if (utf16_[i] >= 0x80 && utf16_[i] <= 0x9F) {
        utf16_[i] = kReplacement;
        ++replacements_;
      }
    }
    int32_t needed = 0;
    error = U_ZERO_ERROR;
    const size_t start = out.size();
    out.resize(start + static_cast<size_t>(length) * 3 + 4);
    u_strToUTF8WithSub(out.data() + start, static_cast<int32_t>(out.size() - start), &needed,
                       utf16_.data(), length, kReplacement, nullptr, &error);
    if (U_FAILURE(error)) {
      return absl::InternalError(absl::StrCat("UTF-8 conversion failed: ", u_errorName(error)));
    }
    out.resize(start + static_cast<size_t>(needed));
    return absl::OkStatus();
  }

  int64_t replacements() const override { return replacements_; }
  std::string name() const override {
    UErrorCode error = U_ZERO_ERROR;
    return ucnv_getName(converter_, &error);
  }

 private:
  static void OnInvalid(const void* context, UConverterToUnicodeArgs* args, const char*, int32_t,
                        UConverterCallbackReason reason, UErrorCode* error) {
    if (reason > UCNV_IRREGULAR) {
      return;  // reset, close or clone: nothing to substitute
    }
    auto* self = static_cast<IcuDecoder*>(const_cast<void*>(context));
    ++self->replacements_;
    *error = U_ZERO_ERROR;
    const UChar replacement = kReplacement;
    ucnv_cbToUWriteUChars(args, &replacement, 1, 0, error);
  }

  UConverter* converter_;
  std::vector<UChar> utf16_;
  int64_t replacements_ = 0;
};

}  // namespace

bool IsUtf8Name(std::string_view encoding) {
  std::string name;
  for (char c : encoding) {
    if (c != '-' && c != '_') {
      name.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
  }
  return name.empty() || name == "utf8" || name == "utf8sig";
}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::Create(std::string_view encoding) {
  if (IsUtf8Name(encoding)) {
    return std::make_unique<PassthroughDecoder>();
  }
  const std::string name(encoding);
  UErrorCode error = U_ZERO_ERROR;
  UConverter* converter = ucnv_open(name.c_str(), &error);
  if (U_FAILURE(error) || converter == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown encoding '", name,
                     "' (use a name such as utf-8, windows-1252, iso-8859-15, utf-16)"));
  }
  return std::make_unique<IcuDecoder>(converter);
}

size_t FindInvalidUtf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      length = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      length = 3;
      if (c == 0xE0) {
        low = 0xA0;  // overlong
      }
      if (c == 0xED) {
        high = 0x9F;  // surrogates
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      length = 4;
      if (c == 0xF0) {
        low = 0x90;  // overlong
      }
      if (c == 0xF4) {
        high = 0x8F;  // above U+10FFFF
      }
    } else {
      return i;
    }
    if (i + length > n) {
      return i;
    }
    if (s[i + 1] < low || s[i + 1] > high) {
      return i;
    }
    for (size_t k = 2; k < length; ++k) {
      if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
        return i;
      }
    }
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace rebound::reboundctl
