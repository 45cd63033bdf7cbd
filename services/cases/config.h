// Settings of rebound-cases: the common ones plus the case service's own, each a flag with an
// environment variable and a default.
#ifndef REBOUND_SERVICES_CASES_CONFIG_H_
#define REBOUND_SERVICES_CASES_CONFIG_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "rebound/runtime/config.h"

namespace rebound::cases {

struct CasesConfig {
  runtime::CommonOptions common;
  std::string detractors_topic = "survey.detractors.v1";
  std::string case_events_topic = "case.events.v1";
  std::string consumer_group = "rebound-cases";
  // "id:secret,id:secret": the first signs (the notifier), all verify. Empty: links off.
  std::string link_keys;
  int closed_retention_hours = 24 * 30;
  int overdue_interval_seconds = 5;
  int outbox_interval_ms = 200;
  int outbox_claim_idle_seconds = 30;
  int changes_max_len = 100000;
  // Names this replica among the outbox publishers; empty: host name and process id.
  std::string instance_id;
};

void AddCasesOptions(CLI::App& app, CasesConfig& config);

// Validates everything; the message names the flag, its variable and the problem.
absl::Status ValidateCasesConfig(const CasesConfig& config);

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_CONFIG_H_
