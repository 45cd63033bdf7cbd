#include "rebound/runtime/log.h"

#include <regex>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace rebound::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedactTest, MasksEmails) {
  EXPECT_EQ(Redact("mail to jane.doe+nps@example.co.uk failed"), "mail to [email] failed");
  EXPECT_EQ(Redact("owner a***@example.com."), "owner [email].");
  EXPECT_EQ(Redact("a@b.com,c@d.org"), "[email],[email]");
}

TEST(RedactTest, KeepsTextThatIsNotAnEmail) {
  EXPECT_EQ(Redact("user@localhost"), "user@localhost");
  EXPECT_EQ(Redact("@handle and trailing@"), "@handle and trailing@");
}

TEST(RedactTest, MasksPhoneNumbers) {
  EXPECT_EQ(Redact("call +44 20 7946 0958 now"), "call [phone] now");
  EXPECT_EQ(Redact("tel (555) 123-4567."), "tel [phone].");
  EXPECT_EQ(Redact("phone=555.123.4567"), "phone=[phone]");
  EXPECT_EQ(Redact("5551234567"), "[phone]");
}

TEST(RedactTest, KeepsShortNumbersIdsAndDates) {
  EXPECT_EQ(Redact("listening on 0.0.0.0:50051"), "listening on 0.0.0.0:50051");
  EXPECT_EQ(Redact("partition 3 offset 123456"), "partition 3 offset 123456");
  EXPECT_EQ(Redact("case 550e8400-e29b-41d4-a716-446655440000"),
            "case 550e8400-e29b-41d4-a716-446655440000");
  EXPECT_EQ(Redact("sha 9f86d0818847d65a"), "sha 9f86d0818847d65a");
  EXPECT_EQ(Redact("resp-12345678 on 2026-01-31"), "resp-12345678 on 2026-01-31");
  EXPECT_EQ(Redact("nothing to see"), "nothing to see");
}

TEST(LogTest, JsonLineHasTheDocumentedFields) {
  ASSERT_TRUE(InitLogging("testsvc", "json", "debug").ok());
  ::testing::internal::CaptureStderr();
  Logger("redis")->info("reached \"x\" at bob@example.com\nsecond line");
  FlushLogs();
  std::string output = ::testing::internal::GetCapturedStderr();

  ASSERT_FALSE(output.empty());
  EXPECT_EQ(output.back(), '\n');
  // Exactly one line: the embedded newline is escaped.
  EXPECT_EQ(output.find('\n'), output.size() - 1) << output;
  nlohmann::json line = nlohmann::json::parse(output);
  EXPECT_EQ(line["severity"], "INFO");
  EXPECT_EQ(line["logger"], "redis");
  EXPECT_EQ(line["service"], "testsvc");
  EXPECT_EQ(line["message"], "reached \"x\" at [email]\nsecond line");
  EXPECT_TRUE(std::regex_match(line["time"].get<std::string>(),
                               std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << line["time"];
}

TEST(LogTest, LevelFiltersAndTextFormatRedacts) {
  ASSERT_TRUE(InitLogging("testsvc", "text", "warn").ok());
  ::testing::internal::CaptureStderr();
  Logger("kafka")->info("hidden");
  Logger("kafka")->warn("visible +1 415 555 0100");
  FlushLogs();
  std::string output = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(output, Not(HasSubstr("hidden")));
  EXPECT_THAT(output, HasSubstr("[kafka] visible [phone]"));
}

TEST(LogTest, RejectsUnknownSettings) {
  EXPECT_EQ(InitLogging("s", "xml", "info").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InitLogging("s", "json", "loud").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rebound::runtime
