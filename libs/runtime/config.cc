#include "rebound/runtime/config.h"

#include <unistd.h>

#include <charconv>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace rebound::runtime {
namespace {

absl::string_view AbslView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// "--flag (REBOUND_FLAG)" for error messages.
std::string Name(std::string_view flag, std::string_view env) {
  return absl::StrCat(AbslView(flag), " (", AbslView(env), ")");
}

absl::Status Invalid(std::string_view flag, std::string_view env, std::string_view problem) {
  return InvalidSetting(AbslView(flag), AbslView(env), AbslView(problem));
}

absl::Status CheckReadableFile(const std::string& path, std::string_view flag,
                               std::string_view env) {
  if (access(path.c_str(), R_OK) != 0) {
    return Invalid(flag, env, absl::StrCat("cannot read file '", path, "'"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InvalidSetting(absl::string_view flag, absl::string_view env,
                            absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(flag, " (", env, "): ", problem));
}

absl::Status CheckSettingRange(int64_t value, int64_t min, int64_t max, absl::string_view flag,
                               absl::string_view env) {
  if (value < min || value > max) {
    return InvalidSetting(flag, env,
                          absl::StrCat(value, " is out of range; use ", min, " to ", max));
  }
  return absl::OkStatus();
}

std::string BinaryDirectory() {
  std::error_code error;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", error);
  return error ? "." : exe.parent_path().string();
}

kafka::KafkaConfig CommonOptions::Kafka() const {
  kafka::KafkaConfig config;
  config.brokers = kafka_brokers;
  // ValidateCommonOptions() rejected unparsable properties already.
  if (auto properties = kafka::ParseProperties(kafka_properties); properties.ok()) {
    config.properties = *std::move(properties);
  }
  // Kept apart from the properties so the password can come from a Secret on its own.
  if (!kafka_sasl_password.empty()) {
    config.properties["sasl.password"] = kafka_sasl_password;
  }
  return config;
}

redis::RedisConfig CommonOptions::Redis() const {
  redis::RedisConfig config;
  config.address = redis_address;
  config.password = redis_password;
  return config;
}

void AddCommonOptions(CLI::App& app, CommonOptions& options, const CommonDefaults& defaults) {
  app.add_option("--log-format", options.log_format,
                 "Log line format: json, text, or auto (text on a terminal, json otherwise)")
      ->envname("REBOUND_LOG_FORMAT")
      ->capture_default_str();
  app.add_option("--log-level", options.log_level,
                 "Lowest level logged: trace, debug, info, warn, error")
      ->envname("REBOUND_LOG_LEVEL")
      ->capture_default_str();

  if (defaults.grpc_port > 0) {
    if (options.grpc_address.empty()) {
      options.grpc_address = absl::StrCat("0.0.0.0:", defaults.grpc_port);
    }
    app.add_option("--grpc-address", options.grpc_address,
                   "host:port of the gRPC server (port 0 picks a free port)")
        ->envname("REBOUND_GRPC_ADDRESS")
        ->capture_default_str();
  }
  if (options.http_address.empty()) {
    options.http_address = absl::StrCat("0.0.0.0:", defaults.http_port);
  }
  app.add_option("--http-address", options.http_address,
                 "host:port of the HTTP port with /healthz, /readyz and /metrics (0 picks one)")
      ->envname("REBOUND_HTTP_ADDRESS")
      ->capture_default_str();

  app.add_option("--kafka-brokers", options.kafka_brokers,
                 "Kafka bootstrap servers, comma-separated host:port")
      ->envname("REBOUND_KAFKA_BROKERS")
      ->capture_default_str();
  app.add_option("--kafka-properties", options.kafka_properties,
                 "Extra librdkafka properties as k=v;k=v (security.protocol, sasl.*, ssl.*)")
      ->envname("REBOUND_KAFKA_PROPERTIES")
      ->capture_default_str();
  app.add_option("--kafka-sasl-password", options.kafka_sasl_password,
                 "SASL password for Kafka (sets sasl.password; empty: none)")
      ->envname("REBOUND_KAFKA_SASL_PASSWORD");

  app.add_option("--redis-address", options.redis_address, "Redis host:port")
      ->envname("REBOUND_REDIS_ADDRESS")
      ->capture_default_str();
  app.add_option("--redis-password", options.redis_password, "Redis AUTH password (empty: no AUTH)")
      ->envname("REBOUND_REDIS_PASSWORD");
  app.add_option("--redis-prefix", options.redis_prefix, "Prefix of every Redis key")
      ->envname("REBOUND_REDIS_PREFIX")
      ->capture_default_str();

  if (defaults.grpc_port > 0) {
    app.add_option("--tls-cert-file", options.tls_cert_file,
                   "PEM certificate chain of the gRPC server; TLS is on when both files are set")
        ->envname("REBOUND_TLS_CERT_FILE")
        ->capture_default_str();
    app.add_option("--tls-key-file", options.tls_key_file, "PEM private key of the gRPC server")
        ->envname("REBOUND_TLS_KEY_FILE")
        ->capture_default_str();
    app.add_option("--api-token", options.api_token,
                   "Bearer token required for mutating RPCs (empty: no authentication)")
        ->envname("REBOUND_API_TOKEN");
    app.add_flag("--auth-reads", options.auth_reads, "Require the API token for read RPCs too")
        ->envname("REBOUND_AUTH_READS")
        ->capture_default_str();
  }

  app.add_option("--shutdown-grace-seconds", options.shutdown_grace_seconds,
                 "Seconds to finish in-flight work after SIGTERM")
      ->envname("REBOUND_SHUTDOWN_GRACE_SECONDS")
      ->capture_default_str();
}

absl::Status ValidateHostPort(std::string_view value, std::string_view what) {
  auto fail = [&](std::string_view problem) {
    return absl::InvalidArgumentError(
        absl::StrCat(AbslView(what), ": '", AbslView(value), "' ", AbslView(problem)));
  };
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) {
    return fail("is not host:port");
  }
  std::string_view host = value.substr(0, colon);
  std::string_view port = value.substr(colon + 1);
  if (host.empty()) {
    return fail("has no host (use 0.0.0.0 to listen on every interface)");
  }
  if (host.front() == '[' && host.back() != ']') {
    return fail("has an unclosed IPv6 bracket");
  }
  if (host.front() != '[' && host.find(':') != std::string_view::npos) {
    return fail("needs brackets around an IPv6 host, e.g. [::1]:50051");
  }
  int number = -1;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || number < 0 ||
      number > 65535) {
    return fail("has no port between 0 and 65535");
  }
  return absl::OkStatus();
}

absl::Status ValidateCommonOptions(const CommonOptions& options) {
  if (options.log_format != "json" && options.log_format != "text" &&
      options.log_format != "auto") {
    return Invalid("--log-format", "REBOUND_LOG_FORMAT",
                   absl::StrCat("'", options.log_format, "' is not one of json, text, auto"));
  }
  static const char* const kLevels[] = {"trace", "debug", "info", "warn", "error"};
  bool level_ok = false;
  for (const char* level : kLevels) {
    level_ok = level_ok || options.log_level == level;
  }
  if (!level_ok) {
    return Invalid(
        "--log-level", "REBOUND_LOG_LEVEL",
        absl::StrCat("'", options.log_level, "' is not one of trace, debug, info, warn, error"));
  }

  if (!options.grpc_address.empty()) {
    if (auto s =
            ValidateHostPort(options.grpc_address, Name("--grpc-address", "REBOUND_GRPC_ADDRESS"));
        !s.ok()) {
      return s;
    }
  }
  if (auto s =
          ValidateHostPort(options.http_address, Name("--http-address", "REBOUND_HTTP_ADDRESS"));
      !s.ok()) {
    return s;
  }

  if (options.kafka_brokers.empty()) {
    return Invalid("--kafka-brokers", "REBOUND_KAFKA_BROKERS", "must name at least one broker");
  }
  for (absl::string_view broker : absl::StrSplit(options.kafka_brokers, ',')) {
    if (auto s = ValidateHostPort(std::string_view(broker.data(), broker.size()),
                                  Name("--kafka-brokers", "REBOUND_KAFKA_BROKERS"));
        !s.ok()) {
      return s;
    }
  }
  if (auto properties = kafka::ParseProperties(options.kafka_properties); !properties.ok()) {
    return Invalid("--kafka-properties", "REBOUND_KAFKA_PROPERTIES",
                   std::string(properties.status().message()));
  }

  if (auto s =
          ValidateHostPort(options.redis_address, Name("--redis-address", "REBOUND_REDIS_ADDRESS"));
      !s.ok()) {
    return s;
  }
  if (options.redis_prefix.empty()) {
    return Invalid("--redis-prefix", "REBOUND_REDIS_PREFIX",
                   "must not be empty (keys of different deployments would mix)");
  }

  if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
    return options.tls_cert_file.empty() ? Invalid("--tls-cert-file", "REBOUND_TLS_CERT_FILE",
                                                   "is required when --tls-key-file is set")
                                         : Invalid("--tls-key-file", "REBOUND_TLS_KEY_FILE",
                                                   "is required when --tls-cert-file is set");
  }
  if (!options.tls_cert_file.empty()) {
    if (auto s =
            CheckReadableFile(options.tls_cert_file, "--tls-cert-file", "REBOUND_TLS_CERT_FILE");
        !s.ok()) {
      return s;
    }
    if (auto s = CheckReadableFile(options.tls_key_file, "--tls-key-file", "REBOUND_TLS_KEY_FILE");
        !s.ok()) {
      return s;
    }
  }
  if (options.auth_reads && options.api_token.empty()) {
    return Invalid("--auth-reads", "REBOUND_AUTH_READS",
                   "needs --api-token (REBOUND_API_TOKEN) to be set");
  }

  if (options.shutdown_grace_seconds < 1 || options.shutdown_grace_seconds > 600) {
    return Invalid(
        "--shutdown-grace-seconds", "REBOUND_SHUTDOWN_GRACE_SECONDS",
        absl::StrCat(options.shutdown_grace_seconds, " is outside the allowed range 1 to 600"));
  }
  return absl::OkStatus();
}

std::optional<int> ParseOrExit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // --help and --version end with 0; every real parse error is a configuration error.
    return code == 0 ? 0 : 2;
  }
  return std::nullopt;
}

}  // namespace rebound::runtime
