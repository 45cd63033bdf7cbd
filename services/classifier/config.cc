#include "config.h"

#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace rebound::classifier {
namespace {

absl::Status CheckReadable(std::string& path, const char* default_name, const char* flag,
                           const char* env) {
  if (path.empty()) {
    path = absl::StrCat(runtime::BinaryDirectory(), "/config/", default_name);
  }
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    return runtime::InvalidSetting(flag, env, absl::StrCat("'", path, "' is not a readable file"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ClassifierConfig::DeadLetterTopic() const {
  return dead_letter_topic.empty() ? absl::StrCat(responses_topic, ".dlq") : dead_letter_topic;
}

std::string ClassifierConfig::TransactionalId() const {
  return absl::StrCat(transactional_id_prefix, "-", instance_id);
}

void AddClassifierOptions(CLI::App& app, ClassifierConfig& config) {
  config.common.service_name = "classifier";
  runtime::AddCommonOptions(app, config.common, {.grpc_port = 0, .http_port = 8083});

  app.add_option("--responses-topic", config.responses_topic, "Topic of ResponseReceived events")
      ->envname("REBOUND_RESPONSES_TOPIC")
      ->capture_default_str();
  app.add_option("--detractors-topic", config.detractors_topic,
                 "Topic that DetractorIdentified events are published to")
      ->envname("REBOUND_DETRACTORS_TOPIC")
      ->capture_default_str();
  app.add_option("--dead-letter-topic", config.dead_letter_topic,
                 "Topic of records that cannot be decoded (default: <responses topic>.dlq)")
      ->envname("REBOUND_DEAD_LETTER_TOPIC");
  app.add_option("--consumer-group", config.group_id, "Kafka consumer group of the classifiers")
      ->envname("REBOUND_CONSUMER_GROUP")
      ->capture_default_str();
  app.add_option("--transactional-id-prefix", config.transactional_id_prefix,
                 "Prefix of the Kafka transactional id (<prefix>-<instance id>)")
      ->envname("REBOUND_TRANSACTIONAL_ID_PREFIX")
      ->capture_default_str();
  app.add_option("--instance-id", config.instance_id,
                 "Stable id of this instance, e.g. the pod name (default: the host name)")
      ->envname("REBOUND_INSTANCE_ID");
  app.add_option("--rules-file", config.rules_file,
                 "Priority rules JSON (default: config/rules.json beside the binary)")
      ->envname("REBOUND_RULES_FILE");
  app.add_option("--lexicon-file", config.lexicon_file,
                 "Theme lexicon JSON (default: config/lexicon.json beside the binary)")
      ->envname("REBOUND_LEXICON_FILE");
  app.add_option("--max-batch", config.max_batch, "Most records handled in one transaction")
      ->envname("REBOUND_MAX_BATCH")
      ->capture_default_str();
  app.add_option("--poll-timeout-ms", config.poll_timeout_ms,
                 "Longest wait for the first record of a batch, in milliseconds")
      ->envname("REBOUND_POLL_TIMEOUT_MS")
      ->capture_default_str();
}

absl::Status ValidateClassifierConfig(ClassifierConfig& config) {
  if (auto s = runtime::ValidateCommonOptions(config.common); !s.ok()) {
    return s;
  }
  if (config.responses_topic.empty()) {
    return runtime::InvalidSetting("--responses-topic", "REBOUND_RESPONSES_TOPIC",
                                   "must not be empty");
  }
  if (config.detractors_topic.empty()) {
    return runtime::InvalidSetting("--detractors-topic", "REBOUND_DETRACTORS_TOPIC",
                                   "must not be empty");
  }
  if (config.DeadLetterTopic() == config.responses_topic ||
      config.DeadLetterTopic() == config.detractors_topic) {
    return runtime::InvalidSetting("--dead-letter-topic", "REBOUND_DEAD_LETTER_TOPIC",
                                   "must differ from the responses and detractors topics");
  }
  if (config.group_id.empty()) {
    return runtime::InvalidSetting("--consumer-group", "REBOUND_CONSUMER_GROUP",
                                   "must not be empty");
  }
  if (config.transactional_id_prefix.empty()) {
    return runtime::InvalidSetting("--transactional-id-prefix", "REBOUND_TRANSACTIONAL_ID_PREFIX",
                                   "must not be empty");
  }
  if (config.instance_id.empty()) {
    char host[256] = {};
    if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
      return runtime::InvalidSetting("--instance-id", "REBOUND_INSTANCE_ID",
                                     "not given and the host name is unknown");
    }
    config.instance_id = host;
  }
  if (config.max_batch < 1 || config.max_batch > 10000) {
    return runtime::InvalidSetting(
        "--max-batch", "REBOUND_MAX_BATCH",
        absl::StrCat(config.max_batch, " is outside the allowed range 1 to 10000"));
  }
  if (config.poll_timeout_ms < 10 || config.poll_timeout_ms > 10000) {
    return runtime::InvalidSetting(
        "--poll-timeout-ms", "REBOUND_POLL_TIMEOUT_MS",
        absl::StrCat(config.poll_timeout_ms, " is outside the allowed range 10 to 10000"));
  }
  if (auto s = CheckReadable(config.rules_file, "rules.json", "--rules-file", "REBOUND_RULES_FILE");
      !s.ok()) {
    return s;
  }
  return CheckReadable(config.lexicon_file, "lexicon.json", "--lexicon-file",
                       "REBOUND_LEXICON_FILE");
}

}  // namespace rebound::classifier
