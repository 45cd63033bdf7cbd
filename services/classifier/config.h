// Settings of rebound-classifier: the common ones (runtime/config.h) plus the classifier flags
// below, each with an environment variable and a default (README.md, "Configuration").
#ifndef REBOUND_SERVICES_CLASSIFIER_CONFIG_H_
#define REBOUND_SERVICES_CLASSIFIER_CONFIG_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "rebound/runtime/config.h"

namespace rebound::classifier {

struct ClassifierConfig {
  runtime::CommonOptions common;
  std::string responses_topic = "survey.responses.v1";
  std::string detractors_topic = "survey.detractors.v1";
  // Empty: "<responses topic>.dlq".
  std::string dead_letter_topic;
  std::string group_id = "rebound-classifier";
  // The transactional id is "<prefix>-<instance id>". The instance id must be stable across
  // restarts of one instance (the pod name in Kubernetes) so that a restart fences the
  // previous incarnation; it defaults to the host name.
  std::string transactional_id_prefix = "rebound-classifier";
  std::string instance_id;
  // Empty: config/rules.json and config/lexicon.json beside the binary.
  std::string rules_file;
  std::string lexicon_file;
  int max_batch = 500;
  int poll_timeout_ms = 500;

  std::string DeadLetterTopic() const;
  std::string TransactionalId() const;
};

// Registers the common and the classifier flags on `app`.
void AddClassifierOptions(CLI::App& app, ClassifierConfig& config);

// Checks every setting and fills the defaults that depend on the machine (instance id, file
// paths); the message names the flag, its variable and the problem.
absl::Status ValidateClassifierConfig(ClassifierConfig& config);

}  // namespace rebound::classifier

#endif  // REBOUND_SERVICES_CLASSIFIER_CONFIG_H_
