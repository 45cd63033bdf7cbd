#include "rebound/mail/mime.h"

#include <openssl/sha.h>

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rebound::mail {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr size_t kMaxQpLine = 76;        // RFC 2045 6.7 rule 5
constexpr size_t kPlainHeaderMax = 900;  // longer plain values get encoded (998 hard limit)
// Input bytes per encoded word: base64 of 45 bytes is 60 characters, plus "=?UTF-8?B?" and
// "?=" gives 72, under the 75 of RFC 2047 section 2.
constexpr size_t kWordInputBytes = 45;

bool IsPrintableAscii(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e) {
      return false;
    }
  }
  return true;
}

// Length of the UTF-8 sequence starting with `lead` (1 for stray continuation bytes, so
// invalid input still makes progress).
size_t Utf8Length(unsigned char lead) {
  if (lead >= 0xf0 && lead <= 0xf7) return 4;
  if (lead >= 0xe0) return 3;
  if (lead >= 0xc0) return 2;
  return 1;
}

std::string Hex2(unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  return std::string{'=', kHex[c >> 4], kHex[c & 0xf]};
}

// Characters that force a display name into quotes (RFC 5322 "specials").
bool NeedsQuoting(std::string_view name) {
  return name.find_first_of("()<>[]:;@\\,.\"") != std::string_view::npos;
}

absl::Status ValidateAddresses(const std::vector<Address>& addresses, std::string_view what) {
  for (const Address& a : addresses) {
    if (absl::Status s = ValidateHeaderValue(a.name, what); !s.ok()) {
      return s;
    }
    if (absl::Status s = ValidateEmail(a.email); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(Absl(what), ": ", s.message()));
    }
  }
  return absl::OkStatus();
}

void AppendAddressHeader(std::string& out, std::string_view name,
                         const std::vector<Address>& addresses) {
  if (addresses.empty()) {
    return;
  }
  std::vector<std::string> parts;
  for (const Address& a : addresses) {
    parts.push_back(FormatAddress(a));
  }
  // One address per line keeps long recipient lists far below the line limit.
  absl::StrAppend(&out, Absl(name), ": ", absl::StrJoin(parts, ",\r\n "), "\r\n");
}

std::string EncodeBody(std::string_view body, BodyEncoding encoding) {
  return encoding == BodyEncoding::kBase64 ? EncodeBase64Lines(body) : EncodeQuotedPrintable(body);
}

std::string_view EncodingName(BodyEncoding encoding) {
  return encoding == BodyEncoding::kBase64 ? "base64" : "quoted-printable";
}

void AppendPart(std::string& out, std::string_view content_type, std::string_view body,
                BodyEncoding encoding) {
  absl::StrAppend(&out, "Content-Type: ", Absl(content_type), "; charset=UTF-8\r\n",
                  "Content-Transfer-Encoding: ", Absl(EncodingName(encoding)), "\r\n\r\n",
                  EncodeBody(body, encoding));
}

}  // namespace

absl::Status ValidateHeaderValue(std::string_view value, std::string_view what) {
  if (value.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(Absl(what), " contains a line break or NUL, which a header cannot carry"));
  }
  return absl::OkStatus();
}

absl::Status ValidateEmail(std::string_view email) {
  const size_t at = email.rfind('@');
  if (email.empty() || at == std::string_view::npos || at == 0 || at + 1 == email.size()) {
    return absl::InvalidArgumentError("address is not of the form local@domain");
  }
  for (unsigned char c : email) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == '\\' ||
        c == '(' || c == ')' || c == ';' || c == ':') {
      return absl::InvalidArgumentError("address contains a character not allowed here");
    }
  }
  return absl::OkStatus();
}

std::string EncodeHeaderText(std::string_view text) {
  if (IsPrintableAscii(text) && text.size() <= kPlainHeaderMax &&
      text.find("=?") == std::string_view::npos) {
    return std::string(text);
  }
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = i;
    while (end < text.size()) {
      const size_t len = Utf8Length(static_cast<unsigned char>(text[end]));
      if (end + len - i > kWordInputBytes) {
        break;
      }
      end += len;
    }
    if (end == i) {  // a truncated sequence at the very end
      end = text.size();
    }
    end = std::min(end, text.size());
    words.push_back(
        absl::StrCat("=?UTF-8?B?", absl::Base64Escape(Absl(text.substr(i, end - i))), "?="));
    i = end;
  }
  return absl::StrJoin(words, "\r\n ");
}

std::string FormatAddress(const Address& address) {
  if (address.name.empty()) {
    return address.email;
  }
  std::string name;
  if (!IsPrintableAscii(address.name) || address.name.size() > 200 ||
      address.name.find("=?") != std::string::npos) {
    name = EncodeHeaderText(address.name);
  } else if (NeedsQuoting(address.name)) {
    name = "\"";
    for (char c : address.name) {
      if (c == '"' || c == '\\') {
        name.push_back('\\');
      }
      name.push_back(c);
    }
    name.push_back('"');
  } else {
    name = address.name;
  }
  return absl::StrCat(name, " <", address.email, ">");
}

std::string EncodeQuotedPrintable(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  std::string line;  // the encoded current line, without its line break
  auto flush_hard = [&] {
    // Trailing space or tab would be lost in transport (RFC 2045 6.7 rule 3).
    if (!line.empty() && (line.back() == ' ' || line.back() == '\t')) {
      const unsigned char c = static_cast<unsigned char>(line.back());
      line.pop_back();
      const std::string enc = Hex2(c);
      if (line.size() + enc.size() > kMaxQpLine) {
        absl::StrAppend(&out, line, "=\r\n");
        line.clear();
      }
      line += enc;
    }
    absl::StrAppend(&out, line, "\r\n");
    line.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      if (c == '\r') {
        ++i;
      }
      flush_hard();
      continue;
    }
    std::string token;
    if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
      token.assign(1, static_cast<char>(c));
    } else {
      // Keep a UTF-8 character's bytes on one line, so readers that decode line by line
      // still see whole characters.
      const size_t len = std::min(Utf8Length(c), text.size() - i);
      for (size_t k = 0; k < len; ++k) {
        const unsigned char b = static_cast<unsigned char>(text[i + k]);
        if (k > 0 && (b & 0xc0) != 0x80) {
          break;
        }
        token += Hex2(b);
        if (k > 0) {
          ++i;
        }
      }
    }
    // Leave room for the "=" of a soft break.
    if (line.size() + token.size() > kMaxQpLine - 1) {
      absl::StrAppend(&out, line, "=\r\n");
      line.clear();
    }
    line += token;
  }
  if (!line.empty()) {
    // No final line break in the text: end with a soft break, so decoding adds none (the
    // CRLF that follows belongs to the next boundary).
    absl::StrAppend(&out, line, "=\r\n");
  }
  return out;
}

std::string EncodeBase64Lines(std::string_view data) {
  const std::string b64 = absl::Base64Escape(Absl(data));
  std::string out;
  for (size_t i = 0; i < b64.size(); i += 76) {
    absl::StrAppend(&out, absl::string_view(b64).substr(i, 76), "\r\n");
  }
  return out;
}

std::string FormatRfc5322Date(absl::Time time) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S +0000", time, absl::UTCTimeZone());
}

absl::StatusOr<std::string> BuildMime(const MailMessage& message) {
  if (absl::Status s = ValidateAddresses({message.from}, "From"); !s.ok()) {
    return s;
  }
  for (const auto* list : {&message.to, &message.cc, &message.reply_to}) {
    if (absl::Status s = ValidateAddresses(*list, "recipient"); !s.ok()) {
      return s;
    }
  }
  if (message.to.empty() && message.cc.empty()) {
    return absl::InvalidArgumentError("a message needs at least one recipient");
  }
  if (absl::Status s = ValidateHeaderValue(message.subject, "Subject"); !s.ok()) {
    return s;
  }
  if (!message.message_id.empty()) {
    if (absl::Status s = ValidateEmail(message.message_id); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("Message-ID: ", s.message()));
    }
  }
  for (const auto& [name, value] : message.extra_headers) {
    if (name.empty() || !IsPrintableAscii(name) || name.find(':') != std::string::npos ||
        name.find(' ') != std::string::npos) {
      return absl::InvalidArgumentError("a header name must be printable ASCII without ':'");
    }
    if (absl::Status s = ValidateHeaderValue(value, name); !s.ok()) {
      return s;
    }
  }

  std::string out;
  absl::StrAppend(&out, "Date: ", FormatRfc5322Date(message.date), "\r\n");
  AppendAddressHeader(out, "From", {message.from});
  AppendAddressHeader(out, "To", message.to);
  AppendAddressHeader(out, "Cc", message.cc);
  AppendAddressHeader(out, "Reply-To", message.reply_to);
  absl::StrAppend(&out, "Subject: ", EncodeHeaderText(message.subject), "\r\n");
  if (!message.message_id.empty()) {
    absl::StrAppend(&out, "Message-ID: <", message.message_id, ">\r\n");
  }
  for (const auto& [name, value] : message.extra_headers) {
    absl::StrAppend(&out, name, ": ", EncodeHeaderText(value), "\r\n");
  }
  absl::StrAppend(&out, "MIME-Version: 1.0\r\n");

  const bool has_text = !message.text_body.empty() || message.html_body.empty();
  const bool has_html = !message.html_body.empty();
  if (has_text && has_html) {
    unsigned char digest[SHA256_DIGEST_LENGTH];
    const std::string seed = message.message_id.empty() ? "rebound" : message.message_id;
    SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
    const std::string boundary = absl::StrCat(
        "=_rebound_",
        absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 12)));
    absl::StrAppend(&out, "Content-Type: multipart/alternative; boundary=\"", boundary,
                    "\"\r\n\r\n", "This is a multi-part message in MIME format.\r\n");
    absl::StrAppend(&out, "\r\n--", boundary, "\r\n");
    AppendPart(out, "text/plain", message.text_body, message.encoding);
    absl::StrAppend(&out, "\r\n--", boundary, "\r\n");
    AppendPart(out, "text/html", message.html_body, message.encoding);
    absl::StrAppend(&out, "\r\n--", boundary, "--\r\n");
  } else {
    AppendPart(out, has_html ? "text/html" : "text/plain",
               has_html ? message.html_body : message.text_body, message.encoding);
  }
  return out;
}

}  // namespace rebound::mail
