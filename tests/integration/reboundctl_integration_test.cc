// reboundctl against real services: the Miro export imported through a rebound-ingest child
// process into the stack's Kafka, and the case commands against a rebound-cases child.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "rebound/kafka/kafka.h"
#include "rebound/testing/stack.h"
#include "rebound/v1/events.pb.h"

namespace rebound {
namespace {

using ::rebound::testing::BinaryPath;
using ::rebound::testing::ChildProcess;
using ::rebound::testing::FreePort;
using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout only; stderr goes to the test log
};

// Runs reboundctl with `args` (each quoted for the shell) and returns its exit code and stdout.
CommandResult Reboundctl(const std::vector<std::string>& args) {
  std::string command = "'" + BinaryPath("tools/reboundctl/reboundctl") + "'";
  for (const auto& arg : args) {
    absl::StrAppend(&command, " '", arg, "'");
  }
  CommandResult result;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  char buffer[4096];
  size_t n = 0;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    result.out.append(buffer, n);
  }
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string DataDir() {
  return (std::filesystem::path(testing::SourcePath("")) / ".." / "shared" / "data" / "real")
      .string();
}

std::string MiroFile() { return DataDir() + "/miro-nps/nps.csv"; }
std::string MiroMapping() { return testing::SourcePath("examples/mappings/miro-nps.json"); }

// Every ResponseReceived on `topic`, read until `expected` arrived and then a quiet second more
// (so that an extra, doubled record would be seen).
std::vector<v1::ResponseReceived> ReadResponses(const kafka::KafkaConfig& config,
                                                const std::string& topic, size_t expected) {
  std::vector<v1::ResponseReceived> out;
  auto consumer = kafka::Consumer::Create(config, UniqueName("ctl-it-reader"), {topic});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  if (!consumer.ok()) {
    return out;
  }
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::Time quiet_until = absl::InfiniteFuture();
  while (absl::Now() < deadline && absl::Now() < quiet_until) {
    auto messages = (*consumer)->Poll(absl::Milliseconds(250));
    EXPECT_TRUE(messages.ok()) << messages.status();
    if (!messages.ok()) {
      break;
    }
    for (const auto& message : *messages) {
      v1::ResponseReceived event;
      EXPECT_TRUE(event.ParseFromString(message.value));
      out.push_back(std::move(event));
    }
    if (out.size() >= expected && quiet_until == absl::InfiniteFuture()) {
      quiet_until = absl::Now() + absl::Seconds(1);
    }
  }
  (*consumer)->Close();
  return out;
}

class ReboundctlImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(MiroFile())) {
      GTEST_SKIP() << "no shared data folder beside the checkout";
    }
    kafka_ = {.brokers = StackValue("REBOUND_KAFKA_BROKERS")};
    topic_ = UniqueName("ctl-it-responses");
    ASSERT_TRUE(kafka::EnsureTopics(kafka_, {topic_}, 3).ok());
    grpc_port_ = FreePort();
    const int http_port = FreePort();
    ingest_ = std::make_unique<ChildProcess>(
        BinaryPath("services/ingest/rebound-ingest"), std::vector<std::string>{},
        std::map<std::string, std::string>{
            {"REBOUND_KAFKA_BROKERS", StackValue("REBOUND_KAFKA_BROKERS")},
            {"REBOUND_REDIS_ADDRESS", StackValue("REBOUND_REDIS_ADDRESS")},
            {"REBOUND_REDIS_PREFIX", UniqueName("ctl-it") + ":"},
            {"REBOUND_RESPONSES_TOPIC", topic_},
            {"REBOUND_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", grpc_port_)},
            {"REBOUND_HTTP_ADDRESS", absl::StrCat("127.0.0.1:", http_port)},
            {"REBOUND_LOG_FORMAT", "text"},
        },
        BinaryPath(absl::StrCat("tests/integration/", UniqueName("ctl-it-ingest"), ".log")));
    ASSERT_TRUE(testing::WaitForHttpOk(absl::StrCat("http://127.0.0.1:", http_port, "/readyz"),
                                       absl::Seconds(30)))
        << ingest_->Log();
  }

  void TearDown() override {
    if (ingest_) {
      ingest_->Signal(SIGTERM);
      EXPECT_EQ(ingest_->Wait(absl::Seconds(30)), 0) << ingest_->Log();
    }
  }

  kafka::KafkaConfig kafka_;
  std::string topic_;
  int grpc_port_ = 0;
  std::unique_ptr<ChildProcess> ingest_;
};

TEST_F(ReboundctlImportTest, MiroExportIsPublishedOnceAndReimportIsAllDuplicates) {
  const std::string address = absl::StrCat("127.0.0.1:", grpc_port_);
  // Small batches so that the import takes several SubmitResponses calls.
  CommandResult first = Reboundctl({"import", "--file", MiroFile(), "--mapping", MiroMapping(),
                                    "--ingest-address", address, "--batch-size", "100", "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.out << ingest_->Log();
  auto summary = nlohmann::json::parse(first.out);
  EXPECT_EQ(summary["rows_read"], 441);
  // 15 rows repeat an earlier row exactly; their derived id is the same, so ingest answers them
  // as duplicates.
  EXPECT_EQ(summary["accepted"], 426);
  EXPECT_EQ(summary["duplicates"], 15);
  EXPECT_EQ(summary["rejected"], 0);
  EXPECT_EQ(summary["complete"], true);

  const auto events = ReadResponses(kafka_, topic_, 426);
  EXPECT_EQ(events.size(), 426u);
  std::set<std::string> ids;
  for (const auto& event : events) {
    ids.insert(event.response().response_id());
  }
  EXPECT_EQ(ids.size(), events.size());
  ASSERT_FALSE(events.empty());
  const v1::SurveyResponse& sample = events.front().response();
  EXPECT_EQ(sample.source(), "import");
  EXPECT_EQ(sample.account().account_id(), "acct-miro");
  EXPECT_EQ(sample.owner_chain_size(), 2);
  EXPECT_EQ(sample.response_id().rfind("miro-", 0), 0u);
  EXPECT_GE(sample.score(), 0);
  EXPECT_LE(sample.score(), 10);

  // The same file again: nothing new is published.
  CommandResult second = Reboundctl({"import", "--file", MiroFile(), "--mapping", MiroMapping(),
                                     "--ingest-address", address, "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.out;
  auto again = nlohmann::json::parse(second.out);
  EXPECT_EQ(again["accepted"], 0);
  EXPECT_EQ(again["duplicates"], 441);
  EXPECT_EQ(ReadResponses(kafka_, topic_, 426).size(), 426u);
}

TEST(ReboundctlImport, UnreachableIngestExitsThree) {
  if (!std::filesystem::exists(MiroFile())) {
    GTEST_SKIP() << "no shared data folder beside the checkout";
  }
  CommandResult result =
      Reboundctl({"import", "--file", MiroFile(), "--mapping", MiroMapping(), "--ingest-address",
                  absl::StrCat("127.0.0.1:", FreePort()), "--max-attempts", "2", "--json"});
  EXPECT_EQ(result.exit_code, 3) << result.out;
  EXPECT_EQ(nlohmann::json::parse(result.out)["complete"], false);
}

// The case commands against a rebound-cases child with no cases: exit codes and messages.
TEST(ReboundctlCases, ExitCodesAgainstTheCaseService) {
  if (!std::filesystem::exists(BinaryPath("services/cases/rebound-cases"))) {
    GTEST_SKIP() << "rebound-cases is not built";
  }
  const int grpc_port = FreePort();
  const int http_port = FreePort();
  ChildProcess cases(
      BinaryPath("services/cases/rebound-cases"), {},
      {
          {"REBOUND_KAFKA_BROKERS", StackValue("REBOUND_KAFKA_BROKERS")},
          {"REBOUND_REDIS_ADDRESS", StackValue("REBOUND_REDIS_ADDRESS")},
          {"REBOUND_REDIS_PREFIX", UniqueName("ctl-it-cases") + ":"},
          {"REBOUND_DETRACTORS_TOPIC", UniqueName("ctl-it-detractors")},
          {"REBOUND_CASE_EVENTS_TOPIC", UniqueName("ctl-it-case-events")},
          {"REBOUND_CONSUMER_GROUP", UniqueName("ctl-it-cases-group")},
          {"REBOUND_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", grpc_port)},
          {"REBOUND_HTTP_ADDRESS", absl::StrCat("127.0.0.1:", http_port)},
          {"REBOUND_API_TOKEN", "ctl-it-token"},
          {"REBOUND_LOG_FORMAT", "text"},
      },
      BinaryPath(absl::StrCat("tests/integration/", UniqueName("ctl-it-cases"), ".log")));
  ASSERT_TRUE(testing::WaitForHttpOk(absl::StrCat("http://127.0.0.1:", http_port, "/readyz"),
                                     absl::Seconds(30)))
      << cases.Log();
  const std::string address = absl::StrCat("127.0.0.1:", grpc_port);

  CommandResult list = Reboundctl({"cases", "list", "--cases-address", address, "--json"});
  EXPECT_EQ(list.exit_code, 0) << list.out << cases.Log();
  EXPECT_TRUE(nlohmann::json::accept(list.out)) << list.out;

  CommandResult table = Reboundctl({"cases", "list", "--state", "all", "--cases-address", address});
  EXPECT_EQ(table.exit_code, 0);
  EXPECT_NE(table.out.find("No cases match."), std::string::npos) << table.out;

  CommandResult show =
      Reboundctl({"cases", "show", "case-00000000000000000000", "--cases-address", address});
  EXPECT_EQ(show.exit_code, 1);

  CommandResult resolve =
      Reboundctl({"cases", "resolve", "case-00000000000000000000", "resolved", "--actor", "it",
                  "--cases-address", address, "--api-token", "ctl-it-token"});
  EXPECT_EQ(resolve.exit_code, 1);

  CommandResult refused =
      Reboundctl({"cases", "resolve", "case-00000000000000000000", "resolved", "--actor", "it",
                  "--cases-address", address, "--api-token", "wrong-token"});
  EXPECT_EQ(refused.exit_code, 4);

  CommandResult usage =
      Reboundctl({"cases", "resolve", "case-00000000000000000000", "fixed", "--actor", "it"});
  EXPECT_EQ(usage.exit_code, 2);

  cases.Signal(SIGTERM);
  EXPECT_EQ(cases.Wait(absl::Seconds(30)), 0) << cases.Log();

  CommandResult unreachable =
      Reboundctl({"cases", "list", "--cases-address", address, "--timeout", "2"});
  EXPECT_EQ(unreachable.exit_code, 3);
}

}  // namespace
}  // namespace rebound
