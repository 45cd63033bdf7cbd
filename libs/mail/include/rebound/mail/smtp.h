// Sending mail over SMTP with libcurl: smtp:// (optionally upgraded with STARTTLS) or smtps://
// (implicit TLS), optional authentication, connect and overall timeouts. One sender keeps one
// curl handle, so consecutive messages reuse the open connection. The result carries the SMTP
// reply code, so callers can tell a transient refusal (4xx, or no answer at all) from a
// permanent one (5xx).
//
//   auto sender = SmtpSender::Create({.url = "smtp://127.0.0.1:2525"});
//   SendResult r = (*sender)->Send({.from = "a@example.com", .recipients = {"b@example.com"}},
//                                  mime_bytes);
#ifndef REBOUND_MAIL_SMTP_H_
#define REBOUND_MAIL_SMTP_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace rebound::mail {

enum class StartTls {
  kNone,      // plain SMTP (local relays, tests)
  kTry,       // upgrade when the server offers STARTTLS, else go on in plain text
  kRequired,  // fail unless the connection can be upgraded
};

// Parses "none", "try" or "required".
absl::StatusOr<StartTls> ParseStartTls(std::string_view text);

struct SmtpConfig {
  // smtp://host[:port] or smtps://host[:port]. A path ("smtp://host/example.com") sets the
  // EHLO name, as curl does.
  std::string url;
  std::string username;  // empty: no AUTH
  std::string password;
  StartTls starttls = StartTls::kNone;
  absl::Duration connect_timeout = absl::Seconds(10);
  // Limit of one whole send (connect, envelope, data).
  absl::Duration timeout = absl::Seconds(60);
  // PEM bundle of trusted CAs; empty: the system's.
  std::string ca_file;
};

// Checks the URL scheme and the settings that cannot work together; INVALID_ARGUMENT names
// the problem.
absl::Status ValidateSmtpConfig(const SmtpConfig& config);

struct Envelope {
  std::string from;                     // MAIL FROM address
  std::vector<std::string> recipients;  // RCPT TO addresses
};

struct SendResult {
  enum class Outcome {
    kAccepted,   // the server took responsibility for the message (2xx after DATA)
    kTransient,  // 4xx, or the connection failed or timed out: try again later
    kPermanent,  // 5xx, or a message the server can never take: do not retry
  };
  Outcome outcome = Outcome::kTransient;
  // Last SMTP reply code seen (e.g. 250, 451, 550); 0 when none arrived.
  int reply_code = 0;
  // What went wrong (curl's message); empty when accepted. Contains no message content.
  std::string error;

  bool accepted() const { return outcome == Outcome::kAccepted; }
};

// Thread-safe (calls are serialised on the one handle).
class SmtpSender {
 public:
  static absl::StatusOr<std::unique_ptr<SmtpSender>> Create(SmtpConfig config);
  ~SmtpSender();
  SmtpSender(const SmtpSender&) = delete;
  SmtpSender& operator=(const SmtpSender&) = delete;

  // Sends `message` (CRLF line ends, as BuildMime makes it) to the envelope's recipients.
  // Addresses with CR, LF or angle brackets are refused as kPermanent without contacting the
  // server.
  SendResult Send(const Envelope& envelope, std::string_view message);

 private:
  explicit SmtpSender(SmtpConfig config, void* curl);

  SmtpConfig config_;
  absl::Mutex mu_;
  void* curl_ ABSL_GUARDED_BY(mu_);  // CURL*, kept across sends for connection reuse
};

}  // namespace rebound::mail

#endif  // REBOUND_MAIL_SMTP_H_
