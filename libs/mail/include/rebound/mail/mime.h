// Building Internet messages (RFC 5322 + MIME): a multipart/alternative mail with a plain-text
// and an HTML part, UTF-8 everywhere. Non-ASCII header text becomes RFC 2047 encoded words,
// bodies are quoted-printable (or base64), and no line of the result exceeds 998 octets
// (RFC 5322 2.1.1); every line ends in CRLF. Header values containing CR, LF or NUL are
// refused, so user data can never add a header of its own.
//
//   MailMessage m{.from = {"Rebound", "alerts@example.com"}, .to = {{"", "a@example.com"}},
//                 .subject = "Hello", .text_body = "Hi", .html_body = "<p>Hi</p>"};
//   absl::StatusOr<std::string> bytes = BuildMime(m);
#ifndef REBOUND_MAIL_MIME_H_
#define REBOUND_MAIL_MIME_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::mail {

// A mailbox: an optional display name (any UTF-8) and an address (ASCII "local@domain").
struct Address {
  std::string name;
  std::string email;
};

enum class BodyEncoding { kQuotedPrintable, kBase64 };

struct MailMessage {
  Address from;
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> reply_to;
  std::string subject;
  // Without angle brackets ("abc@rebound.local"); empty: no Message-ID header.
  std::string message_id;
  absl::Time date = absl::UnixEpoch();
  std::string text_body;  // UTF-8; empty with a non-empty html_body: HTML-only mail
  std::string html_body;  // UTF-8; empty: a single text/plain part
  BodyEncoding encoding = BodyEncoding::kQuotedPrintable;
  // Further headers in order (name, value), e.g. {"Auto-Submitted", "auto-generated"}.
  std::vector<std::pair<std::string, std::string>> extra_headers;
};

// INVALID_ARGUMENT when `value` holds CR, LF or NUL (a header injection attempt or a bug).
absl::Status ValidateHeaderValue(std::string_view value, std::string_view what);

// INVALID_ARGUMENT unless `email` looks like "local@domain" in printable ASCII without spaces,
// angle brackets, quotes or commas.
absl::Status ValidateEmail(std::string_view email);

// `text` as a header value: unchanged when it is short printable ASCII that cannot be
// mistaken for an encoded word, else one or more RFC 2047 "=?UTF-8?B?...?=" words (each at
// most 75 characters, split only between UTF-8 characters) separated by CRLF SP (folding).
std::string EncodeHeaderText(std::string_view text);

// "name <email>" with the name quoted or encoded as needed; just "email" without a name.
std::string FormatAddress(const Address& address);

// Quoted-printable (RFC 2045 6.7) of UTF-8 text. Line breaks (LF or CRLF) become CRLF; other
// lines are cut with soft breaks so no encoded line exceeds 76 characters.
std::string EncodeQuotedPrintable(std::string_view text);
// Base64 in lines of 76 characters, each ending in CRLF.
std::string EncodeBase64Lines(std::string_view data);

// RFC 5322 date-time in UTC: "Tue, 01 Dec 2026 10:00:00 +0000".
std::string FormatRfc5322Date(absl::Time time);

// The whole message, ready for SMTP DATA. The MIME boundary is derived from the message id
// (or a fixed string without one) and starts with "=_", which neither quoted-printable nor
// base64 output can contain, so it never clashes with a body.
absl::StatusOr<std::string> BuildMime(const MailMessage& message);

}  // namespace rebound::mail

#endif  // REBOUND_MAIL_MIME_H_
