#include "rebound/runtime/config.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::runtime {
namespace {

using ::testing::HasSubstr;

struct Parsed {
  std::optional<int> exit;
  CommonOptions options;
};

Parsed Parse(std::vector<std::string> args, CommonDefaults defaults = {}) {
  CLI::App app{"test service", "rebound-test"};
  Parsed parsed;
  AddCommonOptions(app, parsed.options, defaults);
  args.insert(args.begin(), "rebound-test");
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  parsed.exit = ParseOrExit(app, static_cast<int>(argv.size()), argv.data());
  return parsed;
}

TEST(ConfigTest, DefaultsAreValid) {
  Parsed parsed = Parse({}, {.grpc_port = 50052, .http_port = 8082});
  EXPECT_FALSE(parsed.exit.has_value());
  EXPECT_EQ(parsed.options.grpc_address, "0.0.0.0:50052");
  EXPECT_EQ(parsed.options.http_address, "0.0.0.0:8082");
  EXPECT_EQ(parsed.options.redis_prefix, "rebound:");
  EXPECT_TRUE(ValidateCommonOptions(parsed.options).ok());
}

TEST(ConfigTest, FlagsAndEnvironment) {
  setenv("REBOUND_REDIS_PREFIX", "t1:", 1);
  Parsed parsed = Parse({"--log-level", "debug", "--grpc-address", "127.0.0.1:0"});
  unsetenv("REBOUND_REDIS_PREFIX");
  ASSERT_FALSE(parsed.exit.has_value());
  EXPECT_EQ(parsed.options.log_level, "debug");
  EXPECT_EQ(parsed.options.grpc_address, "127.0.0.1:0");
  EXPECT_EQ(parsed.options.redis_prefix, "t1:");
  EXPECT_EQ(parsed.options.Redis().address, parsed.options.redis_address);
}

TEST(ConfigTest, HelpExitsZeroAndBadFlagExitsTwo) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(Parse({"--help"}).exit, 0);
  std::string help = ::testing::internal::GetCapturedStdout();
  EXPECT_THAT(help, HasSubstr("--redis-prefix"));
  EXPECT_THAT(help, HasSubstr("REBOUND_REDIS_PREFIX"));
  EXPECT_THAT(help, HasSubstr("rebound:"));

  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Parse({"--no-such-flag"}).exit, 2);
  ::testing::internal::GetCapturedStderr();
}

TEST(ConfigTest, NoGrpcFlagsWithoutGrpcServer) {
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(Parse({"--grpc-address", "1.2.3.4:5"}, {.grpc_port = 0, .http_port = 8083}).exit, 2);
  ::testing::internal::GetCapturedStderr();
}

TEST(ConfigTest, ValidationNamesFlagVariableAndProblem) {
  CommonOptions options = Parse({}).options;
  options.log_level = "loud";
  EXPECT_EQ(std::string(ValidateCommonOptions(options).message()),
            "--log-level (REBOUND_LOG_LEVEL): 'loud' is not one of trace, debug, info, warn, "
            "error");

  options = Parse({}).options;
  options.http_address = "localhost:99999";
  absl::Status status = ValidateCommonOptions(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("--http-address (REBOUND_HTTP_ADDRESS)"));

  options = Parse({}).options;
  options.tls_cert_file = "cert.pem";
  EXPECT_THAT(std::string(ValidateCommonOptions(options).message()),
              HasSubstr("--tls-key-file (REBOUND_TLS_KEY_FILE)"));

  options = Parse({}).options;
  options.redis_prefix = "";
  EXPECT_THAT(std::string(ValidateCommonOptions(options).message()),
              HasSubstr("REBOUND_REDIS_PREFIX"));

  options = Parse({}).options;
  options.shutdown_grace_seconds = 0;
  EXPECT_THAT(std::string(ValidateCommonOptions(options).message()),
              HasSubstr("--shutdown-grace-seconds"));
}

TEST(ConfigTest, ValidateHostPort) {
  EXPECT_TRUE(ValidateHostPort("127.0.0.1:0", "--x").ok());
  EXPECT_TRUE(ValidateHostPort("[::1]:50051", "--x").ok());
  EXPECT_FALSE(ValidateHostPort("127.0.0.1", "--x").ok());
  EXPECT_FALSE(ValidateHostPort(":80", "--x").ok());
  EXPECT_FALSE(ValidateHostPort("host:http", "--x").ok());
  EXPECT_FALSE(ValidateHostPort("::1:80", "--x").ok());
  EXPECT_THAT(std::string(ValidateHostPort("h:70000", "--x (REBOUND_X)").message()),
              HasSubstr("--x (REBOUND_X): 'h:70000'"));
}

}  // namespace
}  // namespace rebound::runtime
