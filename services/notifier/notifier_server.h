// rebound-notifier: consumes case.events.v1 and mails the case owner. Each event's mail is
// sent at most once in practice: the event id is recorded in Redis once the SMTP server
// accepted the mail, before the offset is committed, and checked before sending.
#ifndef REBOUND_NOTIFIER_NOTIFIER_SERVER_H_
#define REBOUND_NOTIFIER_NOTIFIER_SERVER_H_

#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rebound/runtime/config.h"
#include "rebound/runtime/shutdown.h"

namespace rebound::notifier {

struct NotifierOptions {
  runtime::CommonOptions common;
  std::string events_topic = "case.events.v1";
  std::string dlq_topic;  // empty: <events_topic>.dlq
  std::string group_id = "rebound-notifier";
  // SMTP.
  std::string smtp_url = "smtp://127.0.0.1:25";
  std::string smtp_username;
  std::string smtp_password;
  std::string smtp_starttls = "try";  // none | try | required
  int smtp_connect_timeout_seconds = 10;
  int smtp_timeout_seconds = 60;
  std::string mail_from = "rebound@localhost";
  std::string mail_from_name = "Rebound";
  std::string message_id_domain = "rebound.local";
  // Content.
  std::string templates_dir;  // empty: "templates" beside the binary
  std::string time_zone = "UTC";
  std::string link_base_url = "http://localhost:8082";
  std::string link_keys;  // "id:secret[,id:secret]", as the case service
  int link_expiry_days = 30;
  // Recipients.
  std::string directory_file;
  bool cc_director = false;
  std::string fallback_recipient;
  // Retries of transient failures.
  int retry_initial_ms = 1000;
  int retry_max_ms = 60000;
  int retry_max_attempts = 8;
  int retry_max_seconds = 600;
  // How long the "sent" record of an event is kept in Redis.
  int sent_ttl_days = 90;
};

// Registers the notifier's flags (each with its REBOUND_* variable) and the common ones.
void AddNotifierOptions(CLI::App& app, NotifierOptions& options);

// Checks every setting and fills derived defaults (DLQ topic, templates dir); the message names
// the flag and the problem. The default templates directory lies beside the binary.
absl::Status ValidateNotifierOptions(NotifierOptions& options);

class NotifierServer {
 public:
  // Loads templates and the directory, connects to Redis and Kafka, starts the HTTP port.
  static absl::StatusOr<std::unique_ptr<NotifierServer>> Create(const NotifierOptions& options);
  ~NotifierServer();

  // Consumes until `shutdown` is requested, then finishes the mail in hand, commits, closes
  // the consumer and flushes the producer. Returns the process exit code.
  int Run(runtime::ShutdownSignal& shutdown);

 private:
  struct Impl;
  explicit NotifierServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rebound::notifier

#endif  // REBOUND_NOTIFIER_NOTIFIER_SERVER_H_
