#include "config.h"

#include "absl/strings/str_cat.h"
#include "rebound/token/token.h"

namespace rebound::cases {

void AddCasesOptions(CLI::App& app, CasesConfig& config) {
  runtime::AddCommonOptions(app, config.common, {.grpc_port = 50052, .http_port = 8082});
  app.add_option("--detractors-topic", config.detractors_topic,
                 "Topic of DetractorIdentified records to open cases from")
      ->envname("REBOUND_DETRACTORS_TOPIC")
      ->capture_default_str();
  app.add_option("--case-events-topic", config.case_events_topic,
                 "Topic the outbox publishes CaseEvent records to")
      ->envname("REBOUND_CASE_EVENTS_TOPIC")
      ->capture_default_str();
  app.add_option("--consumer-group", config.consumer_group,
                 "Kafka consumer group of the detractor intake")
      ->envname("REBOUND_CONSUMER_GROUP")
      ->capture_default_str();
  app.add_option("--link-keys", config.link_keys,
                 "Keys of the one-click links as id:secret,id:secret (first signs, all verify; "
                 "secrets of at least 32 bytes). Empty: the link pages answer 503")
      ->envname("REBOUND_LINK_KEYS");
  app.add_option("--closed-retention-hours", config.closed_retention_hours,
                 "Hours a closed case stays readable before Redis drops it")
      ->envname("REBOUND_CLOSED_RETENTION_HOURS")
      ->capture_default_str();
  app.add_option("--overdue-interval-seconds", config.overdue_interval_seconds,
                 "Seconds between scans for overdue cases")
      ->envname("REBOUND_OVERDUE_INTERVAL_SECONDS")
      ->capture_default_str();
  app.add_option("--outbox-interval-ms", config.outbox_interval_ms,
                 "Milliseconds between outbox publishing rounds when it is empty")
      ->envname("REBOUND_OUTBOX_INTERVAL_MS")
      ->capture_default_str();
  app.add_option("--outbox-claim-idle-seconds", config.outbox_claim_idle_seconds,
                 "Seconds after which outbox entries another replica took are taken over")
      ->envname("REBOUND_OUTBOX_CLAIM_IDLE_SECONDS")
      ->capture_default_str();
  app.add_option("--changes-max-len", config.changes_max_len,
                 "Approximate number of changes kept for WatchCases resumption")
      ->envname("REBOUND_CHANGES_MAX_LEN")
      ->capture_default_str();
  app.add_option("--instance-id", config.instance_id,
                 "Name of this replica among outbox publishers (default: host name and pid)")
      ->envname("REBOUND_INSTANCE_ID");
}

absl::Status ValidateCasesConfig(const CasesConfig& config) {
  if (absl::Status s = runtime::ValidateCommonOptions(config.common); !s.ok()) {
    return s;
  }
  if (config.detractors_topic.empty()) {
    return runtime::InvalidSetting("--detractors-topic", "REBOUND_DETRACTORS_TOPIC",
                                   "must not be empty");
  }
  if (config.case_events_topic.empty()) {
    return runtime::InvalidSetting("--case-events-topic", "REBOUND_CASE_EVENTS_TOPIC",
                                   "must not be empty");
  }
  if (config.consumer_group.empty()) {
    return runtime::InvalidSetting("--consumer-group", "REBOUND_CONSUMER_GROUP",
                                   "must not be empty");
  }
  if (!config.link_keys.empty()) {
    if (auto signer = token::LinkSigner::FromConfig(config.link_keys); !signer.ok()) {
      return runtime::InvalidSetting("--link-keys", "REBOUND_LINK_KEYS",
                                     std::string(signer.status().message()));
    }
  }
  if (absl::Status s =
          runtime::CheckSettingRange(config.closed_retention_hours, 1, 24 * 3660,
                                     "--closed-retention-hours", "REBOUND_CLOSED_RETENTION_HOURS");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = runtime::CheckSettingRange(config.overdue_interval_seconds, 1, 3600,
                                                  "--overdue-interval-seconds",
                                                  "REBOUND_OVERDUE_INTERVAL_SECONDS");
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          runtime::CheckSettingRange(config.outbox_interval_ms, 10, 60000, "--outbox-interval-ms",
                                     "REBOUND_OUTBOX_INTERVAL_MS");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = runtime::CheckSettingRange(config.outbox_claim_idle_seconds, 1, 86400,
                                                  "--outbox-claim-idle-seconds",
                                                  "REBOUND_OUTBOX_CLAIM_IDLE_SECONDS");
      !s.ok()) {
    return s;
  }
  return runtime::CheckSettingRange(config.changes_max_len, 100, 100000000, "--changes-max-len",
                                    "REBOUND_CHANGES_MAX_LEN");
}

}  // namespace rebound::cases
