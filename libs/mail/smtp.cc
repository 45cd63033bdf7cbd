#include "rebound/mail/smtp.h"

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace rebound::mail {
namespace {

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

struct ReadState {
  std::string_view data;
  size_t offset = 0;
};

size_t ReadCallback(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* state = static_cast<ReadState*>(userdata);
  const size_t n = std::min(size * nitems, state->data.size() - state->offset);
  std::memcpy(buffer, state->data.data() + state->offset, n);
  state->offset += n;
  return n;
}

bool SafeEnvelopeAddress(std::string_view address) {
  if (address.empty()) {
    return false;
  }
  return std::none_of(address.begin(), address.end(), [](char c) {
    return c == '\r' || c == '\n' || c == '<' || c == '>' || c == '\0' || c == ' ';
  });
}

// Curl failures that mean "the server or the network had a problem", worth retrying.
bool IsTransientCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_PARTIAL_FILE:
    case CURLE_AGAIN:
    // A failed login is a configuration problem of this sender, not of the message: retrying
    // (and alerting through metrics) beats discarding every message as undeliverable.
    case CURLE_LOGIN_DENIED:
    case CURLE_USE_SSL_FAILED:
      return true;
    default:
      return false;
  }
}

}  // namespace

absl::StatusOr<StartTls> ParseStartTls(std::string_view text) {
  const std::string t = absl::AsciiStrToLower(Absl(text));
  if (t == "none") return StartTls::kNone;
  if (t == "try") return StartTls::kTry;
  if (t == "required") return StartTls::kRequired;
  return absl::InvalidArgumentError(
      absl::StrCat("'", Absl(text), "' is not one of none, try, required"));
}

absl::Status ValidateSmtpConfig(const SmtpConfig& config) {
  const bool smtp = absl::StartsWith(config.url, "smtp://");
  const bool smtps = absl::StartsWith(config.url, "smtps://");
  if (!smtp && !smtps) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", config.url, "' must start with smtp:// or smtps://"));
  }
  const size_t host_start = config.url.find("://") + 3;
  if (host_start >= config.url.size() || config.url[host_start] == '/' ||
      config.url[host_start] == ':') {
    return absl::InvalidArgumentError(absl::StrCat("'", config.url, "' names no host"));
  }
  if (smtps && config.starttls != StartTls::kNone) {
    return absl::InvalidArgumentError(
        "STARTTLS applies to smtp:// only; smtps:// is already encrypted from the start");
  }
  if (config.username.empty() != config.password.empty()) {
    return absl::InvalidArgumentError("give both a user name and a password, or neither");
  }
  if (config.connect_timeout <= absl::ZeroDuration() || config.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeouts must be positive");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SmtpSender>> SmtpSender::Create(SmtpConfig config) {
  if (absl::Status s = ValidateSmtpConfig(config); !s.ok()) {
    return s;
  }
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    return absl::InternalError("curl_easy_init failed");
  }
  return std::unique_ptr<SmtpSender>(new SmtpSender(std::move(config), curl));
}

SmtpSender::SmtpSender(SmtpConfig config, void* curl) : config_(std::move(config)), curl_(curl) {}

SmtpSender::~SmtpSender() {
  absl::MutexLock lock(&mu_);
  curl_easy_cleanup(static_cast<CURL*>(curl_));
}

SendResult SmtpSender::Send(const Envelope& envelope, std::string_view message) {
  SendResult result;
  if (!SafeEnvelopeAddress(envelope.from) || envelope.recipients.empty() ||
      !std::all_of(envelope.recipients.begin(), envelope.recipients.end(),
                   [](const std::string& r) { return SafeEnvelopeAddress(r); })) {
    result.outcome = SendResult::Outcome::kPermanent;
    result.error = "invalid envelope address";
    return result;
  }

  absl::MutexLock lock(&mu_);
  CURL* curl = static_cast<CURL*>(curl_);
  const std::string from = absl::StrCat("<", envelope.from, ">");
  curl_slist* rcpts = nullptr;
  for (const std::string& r : envelope.recipients) {
    rcpts = curl_slist_append(rcpts, absl::StrCat("<", r, ">").c_str());
  }
  ReadState state{message, 0};
  char error_buffer[CURL_ERROR_SIZE] = {0};

  // Options are set afresh for every message on the same handle: the handle's connection
  // cache is what lets the next message reuse the open SMTP session.
  curl_easy_setopt(curl, CURLOPT_URL, config_.url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(config_.timeout)));
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpts);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, &ReadCallback);
  curl_easy_setopt(curl, CURLOPT_READDATA, &state);
  curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(message.size()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
  long use_ssl = CURLUSESSL_NONE;
  if (config_.starttls == StartTls::kTry) {
    use_ssl = CURLUSESSL_TRY;
  } else if (config_.starttls == StartTls::kRequired) {
    use_ssl = CURLUSESSL_ALL;
  }
  curl_easy_setopt(curl, CURLOPT_USE_SSL, use_ssl);
  if (!config_.username.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, config_.username.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config_.password.c_str());
  }
  if (!config_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, config_.ca_file.c_str());
  }

  const CURLcode code = curl_easy_perform(curl);
  long reply = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply);
  // The handle must not keep pointers to this call's locals.
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, nullptr);
  curl_easy_setopt(curl, CURLOPT_READDATA, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(rcpts);

  result.reply_code = static_cast<int>(reply);
  if (code == CURLE_OK) {
    result.outcome = SendResult::Outcome::kAccepted;
    return result;
  }
  result.error = absl::StrCat(curl_easy_strerror(code),
                              error_buffer[0] != '\0' ? absl::StrCat(": ", error_buffer) : "");
  if (reply >= 500 && reply < 600) {
    result.outcome = SendResult::Outcome::kPermanent;
  } else if ((reply >= 400 && reply < 500) || IsTransientCurlError(code)) {
    result.outcome = SendResult::Outcome::kTransient;
  } else {
    result.outcome = SendResult::Outcome::kPermanent;
  }
  return result;
}

}  // namespace rebound::mail
