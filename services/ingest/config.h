// Settings of rebound-ingest: the common ones (runtime/config.h) plus the ingest-specific
// flags below, each with an environment variable and a default (README.md, "Configuration").
#ifndef REBOUND_SERVICES_INGEST_CONFIG_H_
#define REBOUND_SERVICES_INGEST_CONFIG_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "ingest_service.h"
#include "rebound/runtime/config.h"
#include "webhook.h"

namespace rebound::ingest {

struct IngestConfig {
  runtime::CommonOptions common;
  std::string responses_topic = "survey.responses.v1";
  // Shared secret of the webhook signature; empty disables the webhook (it answers 404).
  std::string webhook_secret;
  int webhook_max_age_seconds = 300;
  int webhook_max_body_bytes = 1 << 20;
  int clock_skew_seconds = 300;
  int dedupe_window_seconds = 7 * 24 * 3600;
  int pending_ttl_seconds = 60;
  double publish_timeout_seconds = 5.0;
  int batch_chunk_size = 500;

  IngestorOptions Ingestor() const;
  SignaturePolicy Signature() const;
};

// Registers the common and the ingest flags on `app`.
void AddIngestOptions(CLI::App& app, IngestConfig& config);

// Checks every setting; the message names the flag, its variable and the problem.
absl::Status ValidateIngestConfig(const IngestConfig& config);

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_CONFIG_H_
