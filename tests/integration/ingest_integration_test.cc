// rebound-ingest as a child process against the real local Kafka and Redis: gRPC single and
// streamed submissions, the signed webhook, duplicates, the published events read back field by
// field, the bad-input corpus, Kafka down, and shutdown on SIGTERM.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "google/protobuf/util/time_util.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rebound/kafka/kafka.h"
#include "rebound/testing/stack.h"
#include "rebound/token/token.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/ingest_service.grpc.pb.h"

namespace rebound {
namespace {

using ::rebound::testing::ChildProcess;
using ::rebound::testing::FreePort;
using ::rebound::testing::HttpGet;
using ::rebound::testing::HttpPost;
using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;
using ::testing::HasSubstr;

constexpr char kSecret[] = "ingest-integration-secret";

kafka::KafkaConfig Stack() { return {.brokers = StackValue("REBOUND_KAFKA_BROKERS")}; }

// The signature header exactly as README.md documents it, computed here independently.
std::string Sign(const std::string& body, absl::Time at = absl::Now()) {
  const std::string t = absl::StrCat(absl::ToUnixSeconds(at));
  return absl::StrCat("t=", t, ",v1=", token::Hex(token::HmacSha256(kSecret, t + "." + body)));
}

// One rebound-ingest child process.
class Ingest {
 public:
  Ingest(const std::string& brokers, const std::string& topic, const std::string& prefix,
         std::vector<std::string> extra_args = {})
      : grpc_port_(FreePort()), http_port_(FreePort()) {
    std::vector<std::string> args = {"--grpc-address", absl::StrCat("127.0.0.1:", grpc_port_),
                                     "--http-address", absl::StrCat("127.0.0.1:", http_port_)};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<ChildProcess>(
        testing::BinaryPath("services/ingest/rebound-ingest"), args,
        std::map<std::string, std::string>{
            {"REBOUND_KAFKA_BROKERS", brokers},
            {"REBOUND_REDIS_ADDRESS", StackValue("REBOUND_REDIS_ADDRESS")},
            {"REBOUND_REDIS_PREFIX", prefix},
            {"REBOUND_RESPONSES_TOPIC", topic},
            {"REBOUND_WEBHOOK_SECRET", kSecret},
            {"REBOUND_LOG_FORMAT", "text"},
        },
        testing::BinaryPath(absl::StrCat("tests/integration/", UniqueName("ingest-it"), ".log")));
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", grpc_port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = v1::IngestService::NewStub(channel_);
  }

  // /healthz answers once both servers run (readiness may still wait for Kafka).
  bool WaitStarted() { return testing::WaitForHttpOk(Url("/healthz"), absl::Seconds(30)); }

  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", http_port_, path);
  }

  grpc::Status Submit(const v1::SurveyResponse& response, v1::SubmitResponseResponse* reply,
                      absl::Duration deadline = absl::Seconds(20)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    v1::SubmitResponseRequest request;
    *request.mutable_response() = response;
    return stub_->SubmitResponse(&context, request, reply);
  }

  grpc::Status SubmitStream(const std::vector<v1::SurveyResponse>& responses,
                            v1::SubmitResponsesResponse* reply, bool as_import = false) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    if (as_import) {
      context.AddMetadata("x-rebound-source", "import");
    }
    auto writer = stub_->SubmitResponses(&context, reply);
    int64_t item = 100;
    for (const v1::SurveyResponse& response : responses) {
      v1::SubmitResponsesRequest request;
      *request.mutable_response() = response;
      request.set_item(item++);
      if (!writer->Write(request)) {
        break;
      }
    }
    writer->WritesDone();
    return writer->Finish();
  }

  testing::HttpResult PostWebhook(const std::string& body,
                                  std::optional<std::string> signature = std::nullopt) {
    std::map<std::string, std::string> headers = {
        {"X-Rebound-Signature", signature.has_value() ? *signature : Sign(body)}};
    return HttpPost(Url("/v1/responses"), body, "application/json", headers);
  }

  ChildProcess& process() { return *process_; }

  // Sends SIGTERM and returns the exit code. The client channel is closed first: an idle
  // connection of a live channel holds up the server's shutdown by about 5 s.
  std::optional<int> Terminate() {
    stub_.reset();
    channel_.reset();
    process_->Signal(SIGTERM);
    return process_->Wait(absl::Seconds(30));
  }

 private:
  int grpc_port_;
  int http_port_;
  std::unique_ptr<ChildProcess> process_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
};

v1::SurveyResponse FullResponse(const std::string& id) {
  v1::SurveyResponse response;
  response.set_response_id(id);
  *response.mutable_submitted_at() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(absl::Now()) - 3600);
  response.set_survey_id("2026-Q4 client pulse");
  response.set_score(3);
  response.set_reason("  Nobody returned my calls for a week. ");
  response.set_do_differently("Call back the same day.");
  v1::Respondent* respondent = response.mutable_respondent();
  respondent->set_full_name("  Ana   María Li ");
  respondent->set_email("Ana.Li@Example.com");
  respondent->set_phone("+1 503 555 0100");
  respondent->set_kind(v1::RESPONDENT_KIND_CLIENT);
  response.mutable_account()->set_name("Acme  Staffing");
  response.add_owner_chain()->set_name("Director: Dana Whitfield \u203A Sam Ortiz");
  response.add_tags("Portland");
  response.add_tags("Top 100");
  response.add_tags("portland");
  return response;
}

// What FullResponse becomes after ingest normalised it (received_at and source aside).
v1::SurveyResponse NormalizedFullResponse(const v1::SurveyResponse& in) {
  v1::SurveyResponse out = in;
  out.set_reason("Nobody returned my calls for a week.");
  out.mutable_respondent()->set_full_name("Ana María Li");
  out.mutable_account()->set_name("Acme Staffing");
  out.mutable_account()->set_account_id("acme-staffing");
  out.clear_owner_chain();
  v1::Owner* director = out.add_owner_chain();
  director->set_role("Director");
  director->set_name("Dana Whitfield");
  out.add_owner_chain()->set_name("Sam Ortiz");
  out.clear_tags();
  out.add_tags("Portland");
  out.add_tags("Top 100");
  out.set_respondent_key("ana.li@example.com");
  return out;
}

v1::SurveyResponse Minimal(const std::string& id, int score = 8) {
  v1::SurveyResponse response;
  response.set_response_id(id);
  *response.mutable_submitted_at() =
      google::protobuf::util::TimeUtil::SecondsToTimestamp(absl::ToUnixSeconds(absl::Now()));
  response.set_score(score);
  response.mutable_account()->set_account_id("acc-it");
  return response;
}

// Reads records of `topic` until `count` arrived, then keeps polling for `settle` to catch any
// extra (duplicate) record.
std::vector<kafka::Message> ReadRecords(const std::string& topic, size_t count,
                                        absl::Duration settle = absl::Seconds(1)) {
  auto consumer = kafka::Consumer::Create(Stack(), UniqueName("ingest-it-reader"), {topic});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  std::vector<kafka::Message> out;
  if (!consumer.ok()) {
    return out;
  }
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  bool settling = false;
  while (absl::Now() < deadline) {
    auto batch = (*consumer)->Poll(absl::Milliseconds(200));
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) {
      break;
    }
    out.insert(out.end(), batch->begin(), batch->end());
    if (out.size() >= count && !settling) {
      settling = true;
      deadline = absl::Now() + settle;
    }
  }
  (*consumer)->Close();
  return out;
}

std::map<std::string, v1::ResponseReceived> ByResponseId(
    const std::vector<kafka::Message>& records) {
  std::map<std::string, v1::ResponseReceived> out;
  for (const kafka::Message& record : records) {
    v1::ResponseReceived event;
    EXPECT_TRUE(event.ParseFromString(record.value));
    out[event.response().response_id()] = event;
  }
  return out;
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// One ingest against the stack, shared by the tests of the suite; each test uses its own
// response ids, and the suite its own topic and Redis prefix.
class IngestIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    topic_ = new std::string(UniqueName("ingest-it-responses"));
    prefix_ = new std::string(UniqueName("ingest-it") + ":");
    ASSERT_TRUE(kafka::EnsureTopics(Stack(), {*topic_}, 3).ok());
    ingest_ = new Ingest(StackValue("REBOUND_KAFKA_BROKERS"), *topic_, *prefix_);
    ASSERT_TRUE(ingest_->WaitStarted()) << ingest_->process().Log();
    ASSERT_TRUE(testing::WaitForHttpOk(ingest_->Url("/readyz"), absl::Seconds(30)))
        << ingest_->process().Log();
  }

  static void TearDownTestSuite() {
    if (ingest_ != nullptr) {
      // SIGTERM: drains and exits 0 (README.md, "Shutdown").
      EXPECT_EQ(ingest_->Terminate(), 0) << ingest_->process().Log();
    }
    delete ingest_;
    delete topic_;
    delete prefix_;
  }

  // Records of the shared topic for the given response ids.
  static std::map<std::string, std::vector<v1::ResponseReceived>> Published(
      const std::set<std::string>& ids, size_t expected) {
    std::map<std::string, std::vector<v1::ResponseReceived>> out;
    auto consumer = kafka::Consumer::Create(Stack(), UniqueName("ingest-it-reader"), {*topic_});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    if (!consumer.ok()) {
      return out;
    }
    size_t found = 0;
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    bool settling = false;
    while (absl::Now() < deadline) {
      auto batch = (*consumer)->Poll(absl::Milliseconds(200));
      if (!batch.ok()) {
        ADD_FAILURE() << batch.status();
        break;
      }
      for (const kafka::Message& record : *batch) {
        v1::ResponseReceived event;
        EXPECT_TRUE(event.ParseFromString(record.value));
        if (ids.count(event.response().response_id()) > 0) {
          out[event.response().response_id()].push_back(event);
          ++found;
        }
      }
      if (found >= expected && !settling) {
        settling = true;
        deadline = absl::Now() + absl::Seconds(1);
      }
    }
    (*consumer)->Close();
    return out;
  }

  static std::string* topic_;
  static std::string* prefix_;
  static Ingest* ingest_;
};

std::string* IngestIntegrationTest::topic_ = nullptr;
std::string* IngestIntegrationTest::prefix_ = nullptr;
Ingest* IngestIntegrationTest::ingest_ = nullptr;

TEST_F(IngestIntegrationTest, GrpcSingleIsPublishedFieldByField) {
  const std::string id = UniqueName("single");
  const v1::SurveyResponse sent = FullResponse(id);
  const absl::Time before = absl::Now();

  v1::SubmitResponseResponse reply;
  grpc::Status status = ingest_->Submit(sent, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(reply.outcome(), v1::SUBMIT_OUTCOME_ACCEPTED);
  EXPECT_EQ(reply.response_id(), id);

  const std::vector<kafka::Message> records = ReadRecords(*topic_, 1);
  const kafka::Message* record = nullptr;
  v1::ResponseReceived event;
  for (const kafka::Message& m : records) {
    v1::ResponseReceived candidate;
    if (candidate.ParseFromString(m.value) && candidate.response().response_id() == id) {
      ASSERT_EQ(record, nullptr) << "published twice";
      record = &m;
      event = candidate;
    }
  }
  ASSERT_NE(record, nullptr);

  // Kafka record: key and CloudEvents headers.
  EXPECT_EQ(record->key, "acme-staffing");
  const kafka::CloudEvent ce = kafka::FromHeaders(record->headers);
  EXPECT_EQ(ce.type, "rebound.v1.ResponseReceived");
  EXPECT_EQ(ce.source, "rebound/ingest");
  EXPECT_EQ(ce.id, event.event_id());
  EXPECT_EQ(ce.content_type, "application/x-protobuf");
  EXPECT_THAT(event.event_id(), ::testing::StartsWith("rsp-"));
  EXPECT_EQ(event.event_id().size(), 28u);

  // The payload: every field as normalised; received_at and source set by ingest.
  const v1::SurveyResponse& got = event.response();
  EXPECT_EQ(got.source(), "grpc");
  const absl::Time received = absl::FromUnixSeconds(got.received_at().seconds());
  EXPECT_GE(received, absl::FromUnixSeconds(absl::ToUnixSeconds(before)));
  EXPECT_LE(received, absl::Now());
  v1::SurveyResponse expected = NormalizedFullResponse(sent);
  *expected.mutable_received_at() = got.received_at();
  expected.set_source("grpc");
  std::string diff;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(expected, got)) << diff;
}

TEST_F(IngestIntegrationTest, GrpcDuplicateAndRejectedSingles) {
  const std::string id = UniqueName("dup");
  v1::SubmitResponseResponse reply;
  ASSERT_TRUE(ingest_->Submit(Minimal(id), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::SUBMIT_OUTCOME_ACCEPTED);
  ASSERT_TRUE(ingest_->Submit(Minimal(id, 2), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::SUBMIT_OUTCOME_DUPLICATE);

  grpc::Status rejected = ingest_->Submit(Minimal(UniqueName("bad"), 11), &reply);
  EXPECT_EQ(rejected.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(rejected.error_message(), HasSubstr("score"));

  auto published = Published({id}, 1);
  ASSERT_EQ(published[id].size(), 1u);
  EXPECT_EQ(published[id][0].response().score(), 8);  // the first one, not the resend
}

TEST_F(IngestIntegrationTest, GrpcBatchMixedValidInvalidDuplicate) {
  const std::string earlier = UniqueName("batch-earlier");
  v1::SubmitResponseResponse single;
  ASSERT_TRUE(ingest_->Submit(Minimal(earlier), &single).ok());

  const std::string a = UniqueName("batch-a");
  const std::string b = UniqueName("batch-b");
  v1::SurveyResponse bad_email = Minimal(UniqueName("batch-bad"));
  bad_email.mutable_respondent()->set_email("not an email");
  const std::vector<v1::SurveyResponse> batch = {Minimal(a, 1), bad_email,        Minimal(b, 10),
                                                 Minimal(a, 5), Minimal(earlier), Minimal("", 4)};

  v1::SubmitResponsesResponse reply;
  grpc::Status status = ingest_->SubmitStream(batch, &reply, /*as_import=*/true);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(reply.results_size(), 6);
  EXPECT_EQ(reply.accepted(), 2);
  EXPECT_EQ(reply.duplicates(), 2);
  EXPECT_EQ(reply.rejected(), 2);
  const std::vector<v1::SubmitOutcome> expected = {
      v1::SUBMIT_OUTCOME_ACCEPTED,  v1::SUBMIT_OUTCOME_REJECTED,  v1::SUBMIT_OUTCOME_ACCEPTED,
      v1::SUBMIT_OUTCOME_DUPLICATE, v1::SUBMIT_OUTCOME_DUPLICATE, v1::SUBMIT_OUTCOME_REJECTED};
  for (int i = 0; i < reply.results_size(); ++i) {
    EXPECT_EQ(reply.results(i).item(), 100 + i);
    EXPECT_EQ(reply.results(i).outcome(), expected[i]) << "item " << i;
  }
  EXPECT_EQ(reply.results(1).error_field(), "respondent.email");
  EXPECT_EQ(reply.results(1).error_message(), "is not a valid email address");
  EXPECT_EQ(reply.results(5).error_field(), "response_id");

  auto published = Published({a, b, earlier}, 3);
  ASSERT_EQ(published[a].size(), 1u);
  ASSERT_EQ(published[b].size(), 1u);
  EXPECT_EQ(published[earlier].size(), 1u);
  EXPECT_EQ(published[a][0].response().score(), 1);
  EXPECT_EQ(published[a][0].response().source(), "import");
  EXPECT_EQ(published[b][0].response().score(), 10);
}

TEST_F(IngestIntegrationTest, LargeStreamIsPublishedOnceEach) {
  std::vector<v1::SurveyResponse> batch;
  std::set<std::string> ids;
  for (int i = 0; i < 1200; ++i) {
    const std::string id = UniqueName("bulk");
    ids.insert(id);
    batch.push_back(Minimal(id, i % 11));
  }
  const absl::Time start = absl::Now();
  v1::SubmitResponsesResponse reply;
  grpc::Status status = ingest_->SubmitStream(batch, &reply);
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::cerr << "1200 streamed responses acknowledged in " << (absl::Now() - start) << "\n";
  EXPECT_EQ(reply.accepted(), 1200);

  auto published = Published(ids, ids.size());
  EXPECT_EQ(published.size(), ids.size());
  for (const auto& [id, events] : published) {
    EXPECT_EQ(events.size(), 1u) << id;
  }
}

TEST_F(IngestIntegrationTest, WebhookSignedAcceptedThenDuplicate) {
  const std::string id = UniqueName("hook");
  const nlohmann::json body = {
      {"response_id", id},
      {"submitted_at",
       absl::FormatTime(absl::RFC3339_sec, absl::Now() - absl::Minutes(2), absl::UTCTimeZone())},
      {"survey_id", "wave-7"},
      {"score", 2},
      {"reason", "Late invoices."},
      {"respondent", {{"respondent_id", "crm-42"}, {"full_name", "Kim Park"}, {"kind", "talent"}}},
      {"account", {{"account_id", "acc-9"}, {"name", "Acme"}}},
      {"owner_chain", "Director: Dana > Sam"},
      {"tags", {"Industrial", "industrial ", "Top 100"}},
      {"not_in_the_contract", 123},
  };
  const testing::HttpResult first = ingest_->PostWebhook(body.dump());
  EXPECT_EQ(first.status, 202) << first.body;
  EXPECT_EQ(nlohmann::json::parse(first.body)["outcome"], "accepted");

  const testing::HttpResult again = ingest_->PostWebhook(body.dump());
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(nlohmann::json::parse(again.body)["outcome"], "duplicate");

  auto published = Published({id}, 1);
  ASSERT_EQ(published[id].size(), 1u);
  const v1::SurveyResponse& got = published[id][0].response();
  EXPECT_EQ(got.source(), "webhook");
  EXPECT_EQ(got.score(), 2);
  EXPECT_EQ(got.survey_id(), "wave-7");
  EXPECT_EQ(got.reason(), "Late invoices.");
  EXPECT_EQ(got.respondent().respondent_id(), "crm-42");
  EXPECT_EQ(got.respondent().kind(), v1::RESPONDENT_KIND_TALENT);
  EXPECT_EQ(got.respondent_key(), "crm-42");
  EXPECT_EQ(got.account().account_id(), "acc-9");
  ASSERT_EQ(got.owner_chain_size(), 2);
  EXPECT_EQ(got.owner_chain(0).role(), "Director");
  EXPECT_EQ(got.owner_chain(0).name(), "Dana");
  EXPECT_EQ(got.owner_chain(1).name(), "Sam");
  EXPECT_THAT(got.tags(), ::testing::ElementsAre("Industrial", "Top 100"));
}

TEST_F(IngestIntegrationTest, WebhookRefusesBadSignatures) {
  const std::string id = UniqueName("hook-bad");
  const std::string body = nlohmann::json{
      {"response_id", id},
      {"submitted_at", "2026-01-05T10:00:00Z"},
      {"score", 5}}.dump();
  const std::string tampered = nlohmann::json{
      {"response_id", id},
      {"submitted_at", "2026-01-05T10:00:00Z"},
      {"score", 10}}.dump();
  struct Attempt {
    std::string name;
    std::string body;
    std::string signature;
    std::string message_part;
  };
  const std::vector<Attempt> attempts = {
      {"tampered", tampered, Sign(body), "does not match"},
      {"stale", body, Sign(body, absl::Now() - absl::Minutes(6)), "too old"},
      {"future", body, Sign(body, absl::Now() + absl::Minutes(6)), "future"},
      {"missing", body, "", "missing"},
      {"malformed", body, "sha256=abc", "malformed"},
  };
  for (const Attempt& attempt : attempts) {
    const testing::HttpResult result = ingest_->PostWebhook(attempt.body, attempt.signature);
    EXPECT_EQ(result.status, 401) << attempt.name << ": " << result.body;
    nlohmann::json error = nlohmann::json::parse(result.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << attempt.name << ": " << result.body;
    EXPECT_THAT(error["error"]["message"].get<std::string>(), HasSubstr(attempt.message_part))
        << attempt.name;
  }
  // Nothing was published or remembered: a correctly signed request is accepted afterwards.
  const testing::HttpResult ok = ingest_->PostWebhook(body);
  EXPECT_EQ(ok.status, 202) << ok.body;

  const testing::HttpResult metrics = HttpGet(ingest_->Url("/metrics"));
  EXPECT_THAT(metrics.body, HasSubstr("rebound_ingest_webhook_auth_failures_total"));
  EXPECT_THAT(metrics.body, HasSubstr("reason=\"stale\""));
}

// Every file of tests/testdata/bad_input is a webhook body that must be refused with the field
// and message that expected.json names for it. New cases: add a file and its line.
TEST_F(IngestIntegrationTest, BadInputCorpus) {
  const std::filesystem::path dir = testing::SourcePath("tests/testdata/bad_input");
  const nlohmann::json expected = nlohmann::json::parse(ReadFile(dir / "expected.json"));
  std::set<std::string> seen;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name == "expected.json" || entry.path().extension() != ".json") {
      continue;
    }
    seen.insert(name);
    SCOPED_TRACE(name);
    ASSERT_TRUE(expected.contains(name)) << "no expectation in expected.json";
    const testing::HttpResult result = ingest_->PostWebhook(ReadFile(entry.path()));
    EXPECT_EQ(result.status, 400) << result.body;
    nlohmann::json error = nlohmann::json::parse(result.body, nullptr, false);
    ASSERT_TRUE(error.is_object()) << result.body;
    EXPECT_EQ(error["error"].value("field", ""), expected[name]["field"].get<std::string>());
    EXPECT_EQ(error["error"].value("message", ""), expected[name]["message"].get<std::string>());
  }
  EXPECT_EQ(seen.size(), expected.size()) << "expected.json names files that do not exist";
  EXPECT_GE(seen.size(), 15u);

  const testing::HttpResult metrics = HttpGet(ingest_->Url("/metrics"));
  EXPECT_THAT(metrics.body, HasSubstr("outcome=\"rejected\""));
  EXPECT_THAT(metrics.body, HasSubstr("field=\"score\""));
}

TEST_F(IngestIntegrationTest, ProbesAndMetrics) {
  EXPECT_EQ(HttpGet(ingest_->Url("/healthz")).status, 200);
  EXPECT_EQ(HttpGet(ingest_->Url("/readyz")).status, 200);
  const testing::HttpResult metrics = HttpGet(ingest_->Url("/metrics"));
  EXPECT_EQ(metrics.status, 200);
  EXPECT_THAT(metrics.body, HasSubstr("rebound_ingest_responses_total"));
  EXPECT_THAT(metrics.body, HasSubstr("rebound_ingest_publish_seconds_bucket"));
}

// Kafka unreachable: answers UNAVAILABLE / 503 within the publish timeout instead of hanging,
// and releases the response id, so that the retry against a working ingest is ACCEPTED, not
// taken for a duplicate.
TEST(IngestKafkaDownTest, UnavailableInBoundedTimeAndIdReleased) {
  const std::string topic = UniqueName("ingest-it-down");
  const std::string prefix = UniqueName("ingest-it-down") + ":";
  ASSERT_TRUE(kafka::EnsureTopics(Stack(), {topic}, 1).ok());

  Ingest dead(absl::StrCat("127.0.0.1:", FreePort()), topic, prefix,
              {"--publish-timeout-seconds", "1", "--pending-ttl-seconds", "30"});
  ASSERT_TRUE(dead.WaitStarted()) << dead.process().Log();

  const std::string id = UniqueName("down");
  absl::Time start = absl::Now();
  v1::SubmitResponseResponse reply;
  grpc::Status status = dead.Submit(Minimal(id), &reply);
  const absl::Duration grpc_took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_LT(grpc_took, absl::Seconds(4));

  const std::string hook_id = UniqueName("down-hook");
  const std::string body = nlohmann::json{
      {"response_id", hook_id},
      {"submitted_at", absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone())},
      {"score", 6}}.dump();
  start = absl::Now();
  const testing::HttpResult hook = dead.PostWebhook(body);
  const absl::Duration hook_took = absl::Now() - start;
  EXPECT_EQ(hook.status, 503) << hook.body;
  EXPECT_EQ(hook.headers.count("Retry-After"), 1u);
  EXPECT_LT(hook_took, absl::Seconds(4));
  std::cerr << "Kafka down: gRPC answered in " << grpc_took << ", webhook in " << hook_took << "\n";
  EXPECT_EQ(HttpGet(dead.Url("/readyz")).status, 503);

  // The same ids through an ingest with a working broker (same Redis prefix and topic).
  Ingest live(StackValue("REBOUND_KAFKA_BROKERS"), topic, prefix);
  ASSERT_TRUE(live.WaitStarted()) << live.process().Log();
  ASSERT_TRUE(live.Submit(Minimal(id), &reply).ok());
  EXPECT_EQ(reply.outcome(), v1::SUBMIT_OUTCOME_ACCEPTED);
  EXPECT_EQ(live.PostWebhook(body).status, 202);

  // Each id is on the topic exactly once: the failed attempts left nothing behind (their
  // records were never delivered: the dead broker does not exist).
  const std::vector<kafka::Message> records = ReadRecords(topic, 2);
  EXPECT_EQ(records.size(), 2u);
  const auto by_id = ByResponseId(records);
  EXPECT_EQ(by_id.count(id), 1u);
  EXPECT_EQ(by_id.count(hook_id), 1u);

  EXPECT_EQ(dead.Terminate(), 0) << dead.process().Log();
  EXPECT_EQ(live.Terminate(), 0) << live.process().Log();
}

TEST(IngestConfigTest, BadConfigExitsTwoNamingTheFlag) {
  ChildProcess process(testing::BinaryPath("services/ingest/rebound-ingest"),
                       {"--publish-timeout-seconds", "30", "--pending-ttl-seconds", "10"}, {},
                       testing::BinaryPath(absl::StrCat("tests/integration/",
                                                        UniqueName("ingest-it-config"), ".log")));
  EXPECT_EQ(process.Wait(absl::Seconds(10)), 2);
  EXPECT_THAT(process.Log(), HasSubstr("--pending-ttl-seconds"));
}

}  // namespace
}  // namespace rebound
