// rebound-cases as a child process against the real stack: detractors in, cases in Redis,
// CaseService over a real gRPC channel, one-click links over HTTP, events on case.events.v1.
#include <signal.h>

#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "rebound/domain/domain.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/testing/stack.h"
#include "rebound/token/token.h"
#include "rebound/v1/case_service.grpc.pb.h"
#include "rebound/v1/events.pb.h"

namespace rebound {
namespace {

using ::rebound::testing::BinaryPath;
using ::rebound::testing::ChildProcess;
using ::rebound::testing::FreePort;
using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kLinkKeys[] =
    "k2:second-secret-of-at-least-32-bytes-long!!,k1:first-secret-of-at-least-32-bytes-long!!";

google::protobuf::Timestamp Ts(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

// Polls `condition` every 50 ms until it holds or `timeout` passes.
template <typename F>
bool WaitFor(F condition, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) {
      return true;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return condition();
}

// Collects case.events.v1 in the background.
class EventCollector {
 public:
  EventCollector(const kafka::KafkaConfig& config, const std::string& topic) {
    auto consumer = kafka::Consumer::Create(config, UniqueName("cases-it-events"), {topic});
    EXPECT_TRUE(consumer.ok()) << consumer.status();
    consumer_ = std::move(*consumer);
    thread_ = std::thread([this] {
      while (!stop_) {
        auto batch = consumer_->Poll(absl::Milliseconds(200));
        if (!batch.ok()) {
          continue;
        }
        std::lock_guard<std::mutex> lock(mu_);
        for (kafka::Message& m : *batch) {
          messages_.push_back(std::move(m));
        }
      }
      consumer_->Close();
    });
  }
  ~EventCollector() {
    stop_ = true;
    thread_.join();
  }

  // Events of `case_id` so far, in arrival order.
  std::vector<std::pair<kafka::Message, v1::CaseEvent>> For(const std::string& case_id) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::pair<kafka::Message, v1::CaseEvent>> out;
    for (const kafka::Message& m : messages_) {
      if (m.key != case_id) {
        continue;
      }
      v1::CaseEvent event;
      EXPECT_TRUE(event.ParseFromString(m.value));
      out.emplace_back(m, event);
    }
    return out;
  }

  int Count(const std::string& case_id, v1::CaseEventType type) {
    int n = 0;
    for (const auto& [m, e] : For(case_id)) {
      n += e.type() == type ? 1 : 0;
    }
    return n;
  }

 private:
  std::unique_ptr<kafka::Consumer> consumer_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<kafka::Message> messages_;
};

struct Replica {
  std::unique_ptr<ChildProcess> process;
  int grpc_port = 0;
  int http_port = 0;
};

class CasesIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kafka_ = {.brokers = StackValue("REBOUND_KAFKA_BROKERS")};
    prefix_ = UniqueName("cases-it") + ":";
    detractors_topic_ = UniqueName("cases-it-detractors");
    events_topic_ = UniqueName("cases-it-events");
    group_ = UniqueName("cases-it-group");
    ASSERT_TRUE(kafka::EnsureTopics(
                    kafka_, {detractors_topic_, events_topic_, detractors_topic_ + ".dlq"}, 2)
                    .ok());
    auto producer = kafka::Producer::Create(kafka_, "cases-it");
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer).release();
    auto redis = redis::Client::Create({.address = StackValue("REBOUND_REDIS_ADDRESS")});
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = std::move(*redis).release();
    events_ = new EventCollector(kafka_, events_topic_);
    main_ = new Replica(StartReplica("a"));
  }

  static void TearDownTestSuite() {
    if (main_ != nullptr && main_->process) {
      main_->process->Signal(SIGTERM);
      std::optional<int> code = main_->process->Wait(absl::Seconds(30));
      EXPECT_EQ(code, 0) << main_->process->Log();
    }
    delete main_;
    delete events_;
    delete producer_;
    delete redis_;
  }

  static Replica StartReplica(const std::string& name) {
    Replica r;
    r.grpc_port = FreePort();
    r.http_port = FreePort();
    std::map<std::string, std::string> env = {
        {"REBOUND_KAFKA_BROKERS", StackValue("REBOUND_KAFKA_BROKERS")},
        {"REBOUND_REDIS_ADDRESS", StackValue("REBOUND_REDIS_ADDRESS")},
        {"REBOUND_REDIS_PREFIX", prefix_},
        {"REBOUND_DETRACTORS_TOPIC", detractors_topic_},
        {"REBOUND_CASE_EVENTS_TOPIC", events_topic_},
        {"REBOUND_CONSUMER_GROUP", group_},
        {"REBOUND_GRPC_ADDRESS", absl::StrCat("127.0.0.1:", r.grpc_port)},
        {"REBOUND_HTTP_ADDRESS", absl::StrCat("127.0.0.1:", r.http_port)},
        {"REBOUND_LINK_KEYS", kLinkKeys},
        {"REBOUND_API_TOKEN", "it-token"},
        {"REBOUND_OVERDUE_INTERVAL_SECONDS", "1"},
        {"REBOUND_OUTBOX_INTERVAL_MS", "50"},
        {"REBOUND_INSTANCE_ID", name},
        {"REBOUND_LOG_FORMAT", "text"},
        {"REBOUND_SHUTDOWN_GRACE_SECONDS", "8"},
    };
    r.process = std::make_unique<ChildProcess>(
        BinaryPath("services/cases/rebound-cases"), std::vector<std::string>{}, env,
        BinaryPath(
            absl::StrCat("tests/integration/", UniqueName("rebound-cases-" + name), ".log")));
    EXPECT_TRUE(testing::WaitForHttpOk(absl::StrCat("http://127.0.0.1:", r.http_port, "/readyz"),
                                       absl::Seconds(30)))
        << r.process->Log();
    return r;
  }

  static std::unique_ptr<v1::CaseService::Stub> Stub(int port) {
    return v1::CaseService::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void SetUp() override {
    ASSERT_NE(main_, nullptr);
    stub_ = Stub(main_->grpc_port);
  }

  // A client context with a deadline and, for mutations, the bearer token.
  static std::unique_ptr<grpc::ClientContext> Context(bool auth = true) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (auth) {
      context->AddMetadata("authorization", "Bearer it-token");
    }
    return context;
  }

  static v1::DetractorIdentified Detractor(const std::string& response_id,
                                           const std::string& account,
                                           const std::string& respondent_key = "",
                                           absl::Time due = absl::Now() + absl::Hours(4)) {
    v1::DetractorIdentified d;
    d.set_event_id("det-" + response_id);
    v1::SurveyResponse* r = d.mutable_response();
    r->set_response_id(response_id);
    r->set_score(2);
    r->set_reason("They never called back");
    r->set_respondent_key(respondent_key);
    r->mutable_respondent()->set_full_name("Pat Example");
    r->mutable_account()->set_account_id(account);
    r->mutable_account()->set_name("Example Co");
    r->add_owner_chain()->set_name("Dana Director");
    r->add_owner_chain()->set_name("Alex Owner");
    r->add_tags("Portland");
    d.mutable_assessment()->set_category(v1::CATEGORY_DETRACTOR);
    d.mutable_assessment()->set_priority(v1::PRIORITY_HIGH);
    *d.mutable_assessment()->mutable_due_at() = Ts(due);
    return d;
  }

  static void Produce(const v1::DetractorIdentified& d) {
    kafka::CloudEvent ce{.id = d.event_id(),
                         .type = "rebound.v1.DetractorIdentified",
                         .source = "cases-it",
                         .time = absl::Now()};
    ASSERT_TRUE(producer_
                    ->Send({.topic = detractors_topic_,
                            .key = d.response().account().account_id(),
                            .value = d.SerializeAsString(),
                            .headers = kafka::ToHeaders(ce)})
                    .ok());
  }

  absl::StatusOr<v1::Case> Get(const std::string& case_id) {
    v1::GetCaseRequest request;
    request.set_case_id(case_id);
    v1::GetCaseResponse response;
    grpc::Status s = stub_->GetCase(Context(false).get(), request, &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
    }
    return response.case_();
  }

  v1::Case WaitForCase(const std::string& case_id, int64_t min_version = 1) {
    v1::Case found;
    EXPECT_TRUE(WaitFor([&] {
      auto c = Get(case_id);
      if (c.ok() && c->version() >= min_version) {
        found = *c;
        return true;
      }
      return false;
    })) << "case "
        << case_id << " did not reach version " << min_version;
    return found;
  }

  // Opens a case from a fresh detractor and waits for it.
  v1::Case OpenFresh(const std::string& account, const std::string& respondent_key = "") {
    const std::string response_id = UniqueName("rsp");
    Produce(Detractor(response_id, account, respondent_key));
    return WaitForCase(domain::CaseIdForResponse(response_id));
  }

  grpc::Status Update(const std::string& case_id, v1::Resolution resolution,
                      int64_t expected_version, v1::Case* out, bool reopen = false) {
    v1::UpdateResolutionRequest request;
    request.set_case_id(case_id);
    request.set_resolution(resolution);
    request.set_actor("integration-test");
    request.set_expected_version(expected_version);
    request.set_reopen(reopen);
    v1::UpdateResolutionResponse response;
    grpc::Status s = stub_->UpdateResolution(Context().get(), request, &response);
    if (out != nullptr) {
      *out = response.case_();
    }
    return s;
  }

  grpc::Status Note(const std::string& case_id, const std::string& text) {
    v1::AddNoteRequest request;
    request.set_case_id(case_id);
    request.set_actor("integration-test");
    request.set_note(text);
    v1::AddNoteResponse response;
    return stub_->AddNote(Context().get(), request, &response);
  }

  std::string LinkUrl(int port, const std::string& token) {
    return absl::StrCat("http://127.0.0.1:", port, "/r/", token);
  }

  static inline kafka::KafkaConfig kafka_;
  static inline std::string prefix_, detractors_topic_, events_topic_, group_;
  static inline kafka::Producer* producer_ = nullptr;
  static inline redis::Client* redis_ = nullptr;
  static inline EventCollector* events_ = nullptr;
  static inline Replica* main_ = nullptr;
  std::unique_ptr<v1::CaseService::Stub> stub_;
};

TEST_F(CasesIntegrationTest, OpensOneCasePerDetractorEvenWhenRedelivered) {
  const std::string account = UniqueName("acct");
  const std::string response_id = UniqueName("rsp");
  const v1::DetractorIdentified d = Detractor(response_id, account);
  Produce(d);
  Produce(d);
  // A later detractor of the same account (same partition) proves both copies were handled.
  v1::Case marker = OpenFresh(account);

  const std::string case_id = domain::CaseIdForResponse(response_id);
  v1::Case c = WaitForCase(case_id);
  EXPECT_EQ(c.version(), 1);
  EXPECT_EQ(c.owner(), "Alex Owner");
  EXPECT_EQ(c.owner_index(), 1);
  ASSERT_EQ(c.history_size(), 1);
  EXPECT_EQ(c.history(0).kind(), "opened");

  ASSERT_TRUE(
      WaitFor([&] { return events_->Count(marker.case_id(), v1::CASE_EVENT_TYPE_OPENED) == 1; }));
  ASSERT_TRUE(WaitFor([&] { return events_->Count(case_id, v1::CASE_EVENT_TYPE_OPENED) >= 1; }));
  EXPECT_EQ(events_->Count(case_id, v1::CASE_EVENT_TYPE_OPENED), 1);
  auto events = events_->For(case_id);
  ASSERT_FALSE(events.empty());
  const auto& [message, event] = events.front();
  EXPECT_EQ(event.event_id(), case_id + "/1");
  EXPECT_EQ(event.case_().responses(0).response_id(), response_id);
  EXPECT_EQ(kafka::FromHeaders(message.headers).type, "rebound.v1.CaseEvent");
  EXPECT_EQ(kafka::FromHeaders(message.headers).id, case_id + "/1");
}

TEST_F(CasesIntegrationTest, FurtherDetractorOfTheSameRespondentJoins) {
  const std::string account = UniqueName("acct");
  const std::string respondent = UniqueName("person");
  v1::Case first = OpenFresh(account, respondent);
  const std::string second_id = UniqueName("rsp");
  const v1::DetractorIdentified second = Detractor(second_id, account, respondent);
  Produce(second);
  v1::Case joined = WaitForCase(first.case_id(), 2);
  ASSERT_EQ(joined.responses_size(), 2);
  EXPECT_EQ(joined.responses(1).response_id(), second_id);
  EXPECT_EQ(joined.history(1).kind(), "response_joined");
  // Redelivery of the joining detractor changes nothing; the marker shows it was handled.
  Produce(second);
  v1::Case marker = OpenFresh(account);
  EXPECT_EQ(Get(first.case_id())->version(), 2);
  EXPECT_EQ(Get(domain::CaseIdForResponse(second_id)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(WaitFor(
      [&] { return events_->Count(first.case_id(), v1::CASE_EVENT_TYPE_RESPONSE_JOINED) == 1; }));
}

TEST_F(CasesIntegrationTest, ResolutionRulesVersionsAndEvents) {
  v1::Case c = OpenFresh(UniqueName("acct"));
  v1::Case after;
  ASSERT_TRUE(Update(c.case_id(), v1::RESOLUTION_IN_PROGRESS, 1, &after).ok());
  EXPECT_EQ(after.version(), 2);

  // Stale version: refused, nothing changes.
  grpc::Status stale = Update(c.case_id(), v1::RESOLUTION_RESOLVED, 1, nullptr);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(stale.error_message(), HasSubstr("expected_version"));
  EXPECT_EQ(Get(c.case_id())->version(), 2);
  EXPECT_EQ(Get(c.case_id())->resolution(), v1::RESOLUTION_IN_PROGRESS);

  // Escalation moves the owner up; a closed case needs reopen.
  ASSERT_TRUE(Update(c.case_id(), v1::RESOLUTION_ESCALATE, 0, &after).ok());
  EXPECT_EQ(after.owner(), "Dana Director");
  ASSERT_TRUE(Update(c.case_id(), v1::RESOLUTION_RESOLVED, 0, &after).ok());
  EXPECT_TRUE(after.closed());
  grpc::Status closed = Update(c.case_id(), v1::RESOLUTION_IN_PROGRESS, 0, nullptr);
  EXPECT_EQ(closed.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(closed.error_message(), HasSubstr("reopen"));
  ASSERT_TRUE(Update(c.case_id(), v1::RESOLUTION_IN_PROGRESS, 0, &after, /*reopen=*/true).ok());
  EXPECT_FALSE(after.closed());
  ASSERT_TRUE(Note(c.case_id(), "Called back, meeting on Friday").ok());

  // Validation and auth.
  EXPECT_EQ(Update(c.case_id(), v1::RESOLUTION_UNSPECIFIED, 0, nullptr).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Update("case-unknown", v1::RESOLUTION_RESOLVED, 0, nullptr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::UpdateResolutionRequest request;
  request.set_case_id(c.case_id());
  request.set_resolution(v1::RESOLUTION_RESOLVED);
  request.set_actor("intruder");
  v1::UpdateResolutionResponse response;
  EXPECT_EQ(stub_->UpdateResolution(Context(false).get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  // case.events.v1 carries every change, in sequence, with the change as its last history entry.
  const int64_t version = Get(c.case_id())->version();
  ASSERT_EQ(version, 6);
  ASSERT_TRUE(WaitFor([&] { return events_->For(c.case_id()).size() >= 6; }))
      << events_->For(c.case_id()).size();
  std::vector<std::string> kinds;
  for (const auto& [message, event] : events_->For(c.case_id())) {
    kinds.push_back(event.change().kind());
    EXPECT_EQ(event.event_id(), absl::StrCat(c.case_id(), "/", event.change().sequence()));
    EXPECT_EQ(event.case_().version(), event.change().sequence());
  }
  EXPECT_THAT(kinds, ::testing::ElementsAre("opened", "resolution", "escalated", "resolution",
                                            "resolution", "note"));
}

TEST_F(CasesIntegrationTest, ListsWithFiltersPagesAndOrders) {
  const std::string account = UniqueName("acct");
  v1::Case a = OpenFresh(account);
  v1::Case b = OpenFresh(account);
  v1::Case c = OpenFresh(account);
  ASSERT_TRUE(Update(b.case_id(), v1::RESOLUTION_ESCALATE, 0, nullptr).ok());  // owner Dana
  ASSERT_TRUE(Update(c.case_id(), v1::RESOLUTION_RESOLVED, 0, nullptr).ok());  // closed

  auto list = [&](v1::ListCasesRequest request) {
    request.set_account_id(account);
    v1::ListCasesResponse response;
    grpc::Status s = stub_->ListCases(Context(false).get(), request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> ids;
    for (const v1::Case& x : response.cases()) {
      ids.push_back(x.case_id());
    }
    return std::make_pair(ids, response.next_page_token());
  };
  v1::ListCasesRequest all;
  EXPECT_THAT(list(all).first, ::testing::ElementsAre(c.case_id(), b.case_id(), a.case_id()));
  v1::ListCasesRequest open;
  open.set_state(v1::CASE_STATE_FILTER_OPEN);
  EXPECT_THAT(list(open).first, ::testing::ElementsAre(b.case_id(), a.case_id()));
  v1::ListCasesRequest closed;
  closed.set_state(v1::CASE_STATE_FILTER_CLOSED);
  EXPECT_THAT(list(closed).first, ::testing::ElementsAre(c.case_id()));
  v1::ListCasesRequest by_owner;
  by_owner.set_owner("dana director");
  EXPECT_THAT(list(by_owner).first, ::testing::ElementsAre(b.case_id()));
  v1::ListCasesRequest by_resolution;
  by_resolution.set_resolution(v1::RESOLUTION_RESOLVED);
  EXPECT_THAT(list(by_resolution).first, ::testing::ElementsAre(c.case_id()));
  v1::ListCasesRequest by_tag;
  by_tag.set_tag("PORTLAND");
  by_tag.set_state(v1::CASE_STATE_FILTER_OPEN);
  EXPECT_EQ(list(by_tag).first.size(), 2u);

  // Pages of two, then one; the token resumes after the last case.
  v1::ListCasesRequest paged;
  paged.set_page_size(2);
  auto [page1, token] = list(paged);
  ASSERT_EQ(page1.size(), 2u);
  ASSERT_FALSE(token.empty());
  paged.set_page_token(token);
  auto [page2, token2] = list(paged);
  EXPECT_THAT(page2, ::testing::ElementsAre(a.case_id()));
  EXPECT_TRUE(token2.empty());

  v1::ListCasesRequest bad;
  bad.set_page_token("garbage");
  v1::ListCasesResponse response;
  grpc::Status s = stub_->ListCases(Context(false).get(), bad, &response);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("page_token"));
}

TEST_F(CasesIntegrationTest, WatchResumesFromCursor) {
  v1::Case c = OpenFresh(UniqueName("acct"));
  const std::string owner = "alex owner";
  std::string cursor;
  {
    // From the start of the retained changes, so the note cannot be missed however fast it is.
    ASSERT_TRUE(Note(c.case_id(), "first").ok());
    auto context = Context(false);
    v1::WatchCasesRequest request;
    request.set_after_cursor("0-0");
    auto reader = stub_->WatchCases(context.get(), request);
    v1::WatchCasesResponse response;
    while (reader->Read(&response)) {
      if (response.event().case_id() == c.case_id() && response.event().change().kind() == "note") {
        break;
      }
    }
    ASSERT_EQ(response.event().case_id(), c.case_id());
    EXPECT_EQ(response.event().change().kind(), "note");
    cursor = response.cursor();
    context->TryCancel();
  }
  ASSERT_TRUE(Note(c.case_id(), "second").ok());
  ASSERT_TRUE(Note(c.case_id(), "third").ok());

  auto context = Context(false);
  v1::WatchCasesRequest request;
  request.set_after_cursor(cursor);
  request.set_owner("ALEX OWNER");
  auto reader = stub_->WatchCases(context.get(), request);
  std::vector<std::string> notes;
  v1::WatchCasesResponse response;
  while (notes.size() < 2 && reader->Read(&response)) {
    if (response.event().case_id() == c.case_id()) {
      notes.push_back(response.event().change().note());
      EXPECT_EQ(absl::AsciiStrToLower(response.event().owner()), owner);
    }
  }
  EXPECT_THAT(notes, ::testing::ElementsAre("second", "third"));
  context->TryCancel();

  v1::WatchCasesRequest bad;
  bad.set_after_cursor("yesterday");
  auto bad_context = Context(false);
  auto bad_reader = stub_->WatchCases(bad_context.get(), bad);
  while (bad_reader->Read(&response)) {
  }
  EXPECT_EQ(bad_reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(CasesIntegrationTest, StatsOverAKnownSet) {
  // A tag of its own isolates this test's cases in by_tag.
  const std::string tag = UniqueName("Stats");
  const std::string account = UniqueName("acct");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const std::string response_id = UniqueName("rsp");
    v1::DetractorIdentified d = Detractor(response_id, account);
    d.mutable_response()->add_tags(tag);
    Produce(d);
    ids.push_back(WaitForCase(domain::CaseIdForResponse(response_id)).case_id());
  }
  ASSERT_TRUE(Update(ids[0], v1::RESOLUTION_RESOLVED, 0, nullptr).ok());
  ASSERT_TRUE(Update(ids[1], v1::RESOLUTION_IN_PROGRESS, 0, nullptr).ok());

  // The classifier's per-day counters, written here as the classifier would.
  const std::string today = absl::FormatTime("%Y-%m-%d", absl::Now(), absl::UTCTimeZone());
  ASSERT_TRUE(redis_
                  ->Command({"HSET", prefix_ + "stats:categories:" + today, "promoters", "5",
                             "passives", "3", "detractors", "2"})
                  .ok());

  v1::GetStatsRequest request;
  *request.mutable_from() = Ts(absl::Now() - absl::Hours(1));
  v1::GetStatsResponse response;
  grpc::Status s = stub_->GetStats(Context(false).get(), request, &response);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_TRUE(response.by_tag().contains(tag));
  const v1::CaseFigures& f = response.by_tag().at(tag);
  EXPECT_EQ(f.opened(), 3);
  EXPECT_DOUBLE_EQ(f.closed_loop_rate(), 1.0 / 3.0);
  EXPECT_EQ(f.resolution_mix().at("resolved"), 1);
  EXPECT_EQ(f.resolution_mix().at("in_progress"), 1);
  EXPECT_EQ(f.resolution_mix().at("open"), 1);
  EXPECT_EQ(f.open_by_priority().at("high"), 2);
  EXPECT_EQ(f.overdue(), 0);
  EXPECT_GE(f.median_seconds_to_first_action(), 0);
  EXPECT_EQ(response.categories().promoters(), 5);
  EXPECT_EQ(response.categories().detractors(), 2);
  EXPECT_DOUBLE_EQ(response.categories().nps(), 30.0);
  EXPECT_GE(response.total().opened(), 3);
}

TEST_F(CasesIntegrationTest, LinkGetChangesNothingAndPostApplies) {
  v1::Case c = OpenFresh(UniqueName("acct"));
  auto signer = token::LinkSigner::FromConfig(kLinkKeys);
  ASSERT_TRUE(signer.ok());
  const std::string token = signer->Sign({.case_id = c.case_id(),
                                          .resolution = v1::RESOLUTION_RESOLVED,
                                          .expires_at = absl::Now() + absl::Hours(1)});
  const std::string url = LinkUrl(main_->http_port, token);

  testing::HttpResult shown = testing::HttpGet(url);
  EXPECT_EQ(shown.status, 200);
  EXPECT_THAT(shown.body, HasSubstr("Resolved"));
  EXPECT_THAT(shown.body, HasSubstr("<form"));
  EXPECT_THAT(shown.body, Not(HasSubstr("They never called back")));
  EXPECT_EQ(Get(c.case_id())->version(), 1);

  testing::HttpResult applied =
      testing::HttpPost(url, "note=Spoke+with+Pat&version=1", "application/x-www-form-urlencoded");
  EXPECT_EQ(applied.status, 200) << applied.body;
  v1::Case after = *Get(c.case_id());
  EXPECT_EQ(after.resolution(), v1::RESOLUTION_RESOLVED);
  EXPECT_EQ(after.history(after.history_size() - 1).actor(), "link:Alex Owner");
  EXPECT_EQ(after.history(after.history_size() - 1).note(), "Spoke with Pat");

  testing::HttpResult again =
      testing::HttpPost(url, "note=&version=1", "application/x-www-form-urlencoded");
  EXPECT_EQ(again.status, 409);
  EXPECT_THAT(again.body, HasSubstr("Already set to Resolved by link:Alex Owner"));
  EXPECT_EQ(Get(c.case_id())->version(), after.version());

  // Tampered, expired, malformed, unknown.
  std::string tampered = token;
  tampered[tampered.size() / 3] = tampered[tampered.size() / 3] == 'A' ? 'B' : 'A';
  EXPECT_THAT(testing::HttpGet(LinkUrl(main_->http_port, tampered)).status,
              ::testing::AnyOf(400, 403));
  const std::string expired = signer->Sign({.case_id = c.case_id(),
                                            .resolution = v1::RESOLUTION_RESOLVED,
                                            .expires_at = absl::Now() - absl::Minutes(1)});
  EXPECT_EQ(testing::HttpGet(LinkUrl(main_->http_port, expired)).status, 410);
  EXPECT_EQ(testing::HttpGet(LinkUrl(main_->http_port, "nonsense")).status, 400);
  const std::string unknown = signer->Sign({.case_id = "case-00000000000000000000",
                                            .resolution = v1::RESOLUTION_RESOLVED,
                                            .expires_at = absl::Now() + absl::Hours(1)});
  EXPECT_EQ(testing::HttpGet(LinkUrl(main_->http_port, unknown)).status, 404);
  token::LinkSigner stranger({.id = "k1", .secret = "a-different-secret-of-32-bytes-or-more"});
  const std::string forged = stranger.Sign({.case_id = c.case_id(),
                                            .resolution = v1::RESOLUTION_RESOLVED,
                                            .expires_at = absl::Now() + absl::Hours(1)});
  EXPECT_EQ(testing::HttpGet(LinkUrl(main_->http_port, forged)).status, 403);
}

TEST_F(CasesIntegrationTest, OverdueOnceWithTwoReplicasAndCleanShutdown) {
  Replica second = StartReplica("b");
  const std::string account = UniqueName("acct");
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const std::string response_id = UniqueName("rsp");
    Produce(Detractor(response_id, account, "", absl::Now() - absl::Minutes(5)));
    ids.push_back(domain::CaseIdForResponse(response_id));
  }
  for (const std::string& id : ids) {
    ASSERT_TRUE(WaitFor([&] {
      auto c = Get(id);
      return c.ok() && c->overdue();
    })) << id;
  }
  // Both replicas scan every second; give them a few more rounds to misbehave.
  absl::SleepFor(absl::Seconds(3));
  for (const std::string& id : ids) {
    v1::Case c = *Get(id);
    int overdue = 0;
    for (const v1::CaseChange& change : c.history()) {
      overdue += change.kind() == "overdue" ? 1 : 0;
    }
    EXPECT_EQ(overdue, 1) << id;
    EXPECT_TRUE(WaitFor([&] { return events_->Count(id, v1::CASE_EVENT_TYPE_OVERDUE) >= 1; }));
    EXPECT_EQ(events_->Count(id, v1::CASE_EVENT_TYPE_OVERDUE), 1) << id;
  }
  v1::ListCasesRequest overdue_only;
  overdue_only.set_account_id(account);
  overdue_only.set_overdue_only(true);
  v1::ListCasesResponse listed;
  ASSERT_TRUE(stub_->ListCases(Context(false).get(), overdue_only, &listed).ok());
  EXPECT_EQ(listed.cases_size(), 3);

  // A watch stream on the second replica ends with OK when it shuts down.
  auto stub = Stub(second.grpc_port);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::WatchCasesRequest request;
  request.set_after_cursor("0-0");
  auto reader = stub->WatchCases(&context, request);
  v1::WatchCasesResponse response;
  ASSERT_TRUE(reader->Read(&response));  // the stream is established
  second.process->Signal(SIGTERM);
  while (reader->Read(&response)) {
  }
  grpc::Status finished = reader->Finish();
  EXPECT_TRUE(finished.ok()) << finished.error_code() << " " << finished.error_message();
  EXPECT_EQ(second.process->Wait(absl::Seconds(30)), 0) << second.process->Log();
}

}  // namespace
}  // namespace rebound
