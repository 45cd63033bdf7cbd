// Configuration shared by every Rebound binary: each setting is a flag and an environment
// variable (REBOUND_*), with a documented default, validated at start-up. Built on CLI11, whose
// --help lists every flag with its variable and default.
//
//   CLI::App app{"Rebound ingest service"};
//   CommonOptions common;
//   AddCommonOptions(app, common, {.grpc_port = 50051, .http_port = 8081});
//   CLI11_PARSE(app, argc, argv);
//   if (auto s = ValidateCommonOptions(common); !s.ok()) { ... exit 2 ... }
#ifndef REBOUND_RUNTIME_CONFIG_H_
#define REBOUND_RUNTIME_CONFIG_H_

#include <map>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"

namespace rebound::runtime {

struct CommonOptions {
  std::string service_name;
  // Logging.
  std::string log_format = "auto";  // json | text | auto (text on a terminal, else json)
  std::string log_level = "info";   // trace | debug | info | warn | error
  // Listening addresses. Port 0 picks a free port (tests); the bound port is logged.
  std::string grpc_address;  // host:port
  std::string http_address;  // host:port of /healthz, /readyz, /metrics (and service pages)
  // Kafka.
  std::string kafka_brokers = "127.0.0.1:9092";
  std::string kafka_properties;     // "k=v;k=v" passed to librdkafka
  std::string kafka_sasl_password;  // merged into the properties as sasl.password
  // Redis.
  std::string redis_address = "127.0.0.1:6379";
  std::string redis_password;
  std::string redis_prefix = "rebound:";  // every key starts with this
  // gRPC security.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string api_token;    // bearer token required for mutations when non-empty
  bool auth_reads = false;  // also require the token for reads
  // Seconds to finish in-flight work after SIGTERM before giving up.
  int shutdown_grace_seconds = 20;

  kafka::KafkaConfig Kafka() const;  // brokers + parsed properties (validated before)
  redis::RedisConfig Redis() const;
};

struct CommonDefaults {
  int grpc_port = 50051;  // <= 0: the service has no gRPC server and no grpc flag
  int http_port = 8080;
};

// Registers the common flags/env vars on `app`:
//   --log-format REBOUND_LOG_FORMAT, --log-level REBOUND_LOG_LEVEL,
//   --grpc-address REBOUND_GRPC_ADDRESS, --http-address REBOUND_HTTP_ADDRESS,
//   --kafka-brokers REBOUND_KAFKA_BROKERS, --kafka-properties REBOUND_KAFKA_PROPERTIES,
//   --kafka-sasl-password REBOUND_KAFKA_SASL_PASSWORD,
//   --redis-address REBOUND_REDIS_ADDRESS, --redis-password REBOUND_REDIS_PASSWORD,
//   --redis-prefix REBOUND_REDIS_PREFIX, --tls-cert-file REBOUND_TLS_CERT_FILE,
//   --tls-key-file REBOUND_TLS_KEY_FILE, --api-token REBOUND_API_TOKEN,
//   --auth-reads REBOUND_AUTH_READS, --shutdown-grace-seconds REBOUND_SHUTDOWN_GRACE_SECONDS.
void AddCommonOptions(CLI::App& app, CommonOptions& options, const CommonDefaults& defaults);

// Checks every common setting; the error names the flag, the variable and the problem, e.g.
// "--log-level (REBOUND_LOG_LEVEL): 'loud' is not one of trace, debug, info, warn, error".
absl::Status ValidateCommonOptions(const CommonOptions& options);

// Validates a "host:port" setting (port 0..65535). `what` names the flag in the message.
absl::Status ValidateHostPort(std::string_view value, std::string_view what);

// An INVALID_ARGUMENT status naming the setting both ways, as every Rebound binary reports bad
// configuration: "--flag (REBOUND_FLAG): problem".
absl::Status InvalidSetting(absl::string_view flag, absl::string_view env,
                            absl::string_view problem);

// OK when min <= value <= max; otherwise InvalidSetting() saying the value and the range.
absl::Status CheckSettingRange(int64_t value, int64_t min, int64_t max, absl::string_view flag,
                               absl::string_view env);

// The directory of the running binary, where its default config files and templates are
// installed; "." when it cannot be found.
std::string BinaryDirectory();

// Parses argv into `app` and returns the process exit code to use when parsing ended the
// program (--help: 0, bad flag: 2), or nullopt to go on. Prints CLI11's message.
std::optional<int> ParseOrExit(CLI::App& app, int argc, char** argv);

}  // namespace rebound::runtime

#endif  // REBOUND_RUNTIME_CONFIG_H_
