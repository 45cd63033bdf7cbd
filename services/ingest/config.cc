#include "config.h"

#include "absl/strings/str_cat.h"

namespace rebound::ingest {

IngestorOptions IngestConfig::Ingestor() const {
  IngestorOptions options;
  options.topic = responses_topic;
  options.redis_prefix = common.redis_prefix;
  options.dedupe_window = absl::Seconds(dedupe_window_seconds);
  options.pending_ttl = absl::Seconds(pending_ttl_seconds);
  options.publish_timeout = absl::Seconds(publish_timeout_seconds);
  options.limits.max_future_skew = absl::Seconds(clock_skew_seconds);
  return options;
}

SignaturePolicy IngestConfig::Signature() const {
  SignaturePolicy policy;
  policy.secret = webhook_secret;
  policy.max_age = absl::Seconds(webhook_max_age_seconds);
  policy.max_future_skew = absl::Seconds(clock_skew_seconds);
  return policy;
}

void AddIngestOptions(CLI::App& app, IngestConfig& config) {
  config.common.service_name = "ingest";
  runtime::AddCommonOptions(app, config.common, {.grpc_port = 50051, .http_port = 8081});

  app.add_option("--responses-topic", config.responses_topic,
                 "Topic that accepted responses are published to")
      ->envname("REBOUND_RESPONSES_TOPIC")
      ->capture_default_str();
  app.add_option("--webhook-secret", config.webhook_secret,
                 "Shared secret of the webhook's X-Rebound-Signature (empty: webhook off)")
      ->envname("REBOUND_WEBHOOK_SECRET");
  app.add_option("--webhook-max-age-seconds", config.webhook_max_age_seconds,
                 "Oldest signature timestamp the webhook accepts, in seconds")
      ->envname("REBOUND_WEBHOOK_MAX_AGE_SECONDS")
      ->capture_default_str();
  app.add_option("--webhook-max-body-bytes", config.webhook_max_body_bytes,
                 "Largest webhook body accepted, in bytes")
      ->envname("REBOUND_WEBHOOK_MAX_BODY_BYTES")
      ->capture_default_str();
  app.add_option("--clock-skew-seconds", config.clock_skew_seconds,
                 "How far in the future submitted_at and signature timestamps may lie")
      ->envname("REBOUND_CLOCK_SKEW_SECONDS")
      ->capture_default_str();
  app.add_option("--dedupe-window-seconds", config.dedupe_window_seconds,
                 "How long a response id is remembered to answer resends as duplicates")
      ->envname("REBOUND_DEDUPE_WINDOW_SECONDS")
      ->capture_default_str();
  app.add_option("--pending-ttl-seconds", config.pending_ttl_seconds,
                 "Lifetime of the claim on a response id while it is being published")
      ->envname("REBOUND_PENDING_TTL_SECONDS")
      ->capture_default_str();
  app.add_option("--publish-timeout-seconds", config.publish_timeout_seconds,
                 "How long to wait for Kafka's acknowledgement before answering UNAVAILABLE")
      ->envname("REBOUND_PUBLISH_TIMEOUT_SECONDS")
      ->capture_default_str();
  app.add_option("--batch-chunk-size", config.batch_chunk_size,
                 "Streamed responses handled together (one Redis pipeline, one Kafka batch)")
      ->envname("REBOUND_BATCH_CHUNK_SIZE")
      ->capture_default_str();
}

absl::Status ValidateIngestConfig(const IngestConfig& config) {
  if (auto s = runtime::ValidateCommonOptions(config.common); !s.ok()) {
    return s;
  }
  if (config.responses_topic.empty()) {
    return runtime::InvalidSetting("--responses-topic", "REBOUND_RESPONSES_TOPIC",
                                   "must not be empty");
  }
  if (!config.webhook_secret.empty() && config.webhook_secret.size() < 16) {
    return runtime::InvalidSetting(
        "--webhook-secret", "REBOUND_WEBHOOK_SECRET",
        "must be at least 16 bytes long (or empty to turn the webhook off)");
  }
  if (auto s = runtime::CheckSettingRange(config.webhook_max_age_seconds, 1, 3600,
                                          "--webhook-max-age-seconds",
                                          "REBOUND_WEBHOOK_MAX_AGE_SECONDS");
      !s.ok()) {
    return s;
  }
  if (auto s =
          runtime::CheckSettingRange(config.webhook_max_body_bytes, 1024, 64 << 20,
                                     "--webhook-max-body-bytes", "REBOUND_WEBHOOK_MAX_BODY_BYTES");
      !s.ok()) {
    return s;
  }
  if (auto s = runtime::CheckSettingRange(config.clock_skew_seconds, 0, 3600,
                                          "--clock-skew-seconds", "REBOUND_CLOCK_SKEW_SECONDS");
      !s.ok()) {
    return s;
  }
  if (auto s =
          runtime::CheckSettingRange(config.dedupe_window_seconds, 60, 365 * 24 * 3600,
                                     "--dedupe-window-seconds", "REBOUND_DEDUPE_WINDOW_SECONDS");
      !s.ok()) {
    return s;
  }
  if (!(config.publish_timeout_seconds >= 0.1 && config.publish_timeout_seconds <= 120)) {
    return runtime::InvalidSetting(
        "--publish-timeout-seconds", "REBOUND_PUBLISH_TIMEOUT_SECONDS",
        absl::StrCat(config.publish_timeout_seconds, " is outside the allowed range 0.1 to 120"));
  }
  if (auto s = runtime::CheckSettingRange(config.pending_ttl_seconds, 1, 3600,
                                          "--pending-ttl-seconds", "REBOUND_PENDING_TTL_SECONDS");
      !s.ok()) {
    return s;
  }
  // A claim that expired while its publish is still running would let a resend publish too.
  if (config.pending_ttl_seconds < 2 * config.publish_timeout_seconds) {
    return runtime::InvalidSetting(
        "--pending-ttl-seconds", "REBOUND_PENDING_TTL_SECONDS",
        absl::StrCat("must be at least twice --publish-timeout-seconds (",
                     config.publish_timeout_seconds, " s)"));
  }
  if (auto s = runtime::CheckSettingRange(config.batch_chunk_size, 1, 10000, "--batch-chunk-size",
                                          "REBOUND_BATCH_CHUNK_SIZE");
      !s.ok()) {
    return s;
  }
  return absl::OkStatus();
}

}  // namespace rebound::ingest
