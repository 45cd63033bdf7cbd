// rebound-classifier against the real local Kafka broker and Redis: the detractor stream is
// exactly the detractors of the input, also across kill -9 and a rebalance between two
// instances; poison records go to the dead-letter topic; the previous-score script behaves.
#include <signal.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "previous_score.h"
#include "rebound/domain/domain.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/testing/stack.h"
#include "rebound/v1/events.pb.h"

namespace rebound {
namespace {

using ::rebound::testing::BinaryPath;
using ::rebound::testing::ChildProcess;
using ::rebound::testing::FreePort;
using ::rebound::testing::SourcePath;
using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;
using ::testing::ElementsAre;

// One test's own topics, group and Redis prefix.
struct Names {
  std::string input = UniqueName("cls-it-responses");
  std::string output = UniqueName("cls-it-detractors");
  std::string dlq = UniqueName("cls-it-dlq");
  std::string group = UniqueName("cls-it-group");
  std::string prefix = UniqueName("cls-it") + ":";
};

kafka::KafkaConfig Kafka() { return {.brokers = StackValue("REBOUND_KAFKA_BROKERS")}; }

redis::RedisConfig RedisConfig() {
  redis::RedisConfig config;
  config.address = StackValue("REBOUND_REDIS_ADDRESS");
  return config;
}

class Classifier {
 public:
  Classifier(const Names& names, const std::string& instance, int max_batch = 100)
      : http_port_(FreePort()) {
    std::map<std::string, std::string> env = {
        {"REBOUND_KAFKA_BROKERS", StackValue("REBOUND_KAFKA_BROKERS")},
        {"REBOUND_REDIS_ADDRESS", StackValue("REBOUND_REDIS_ADDRESS")},
        {"REBOUND_REDIS_PREFIX", names.prefix},
        {"REBOUND_RESPONSES_TOPIC", names.input},
        {"REBOUND_DETRACTORS_TOPIC", names.output},
        {"REBOUND_DEAD_LETTER_TOPIC", names.dlq},
        {"REBOUND_CONSUMER_GROUP", names.group},
        {"REBOUND_TRANSACTIONAL_ID_PREFIX", names.group},
        {"REBOUND_INSTANCE_ID", instance},
        {"REBOUND_RULES_FILE", SourcePath("services/classifier/config/rules.json")},
        {"REBOUND_LEXICON_FILE", SourcePath("services/classifier/config/lexicon.json")},
        {"REBOUND_MAX_BATCH", absl::StrCat(max_batch)},
        {"REBOUND_POLL_TIMEOUT_MS", "200"},
        {"REBOUND_HTTP_ADDRESS", absl::StrCat("127.0.0.1:", http_port_)},
        {"REBOUND_LOG_FORMAT", "text"},
        // A killed member holds its partitions until its session times out; the broker's
        // minimum keeps the kill -9 and rebalance tests short.
        {"REBOUND_KAFKA_PROPERTIES", "session.timeout.ms=6000;heartbeat.interval.ms=1000"},
    };
    process_ = std::make_unique<ChildProcess>(
        BinaryPath("services/classifier/rebound-classifier"), std::vector<std::string>{}, env,
        BinaryPath(absl::StrCat("tests/integration/", UniqueName("rebound-classifier-" + instance),
                                ".log")));
  }

  bool WaitReady() { return testing::WaitForHttpOk(Url("/readyz"), absl::Seconds(30)); }
  std::string Url(const std::string& path) const {
    return absl::StrCat("http://127.0.0.1:", http_port_, path);
  }
  ChildProcess& process() { return *process_; }

  // Responses this instance classified and committed, from its /metrics.
  int64_t ResponsesCounted() const {
    int64_t total = 0;
    for (absl::string_view line : absl::StrSplit(testing::HttpGet(Url("/metrics")).body, '\n')) {
      if (absl::StartsWith(line, "rebound_classifier_responses_total{")) {
        double value = 0;
        if (absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) {
          total += static_cast<int64_t>(value);
        }
      }
    }
    return total;
  }

 private:
  int http_port_;
  std::unique_ptr<ChildProcess> process_;
};

v1::ResponseReceived Response(const std::string& id, int score, const std::string& account,
                              const std::string& respondent_key = "",
                              absl::Time submitted = absl::Now()) {
  v1::ResponseReceived event;
  event.set_event_id("rsp-" + id);
  v1::SurveyResponse* r = event.mutable_response();
  r->set_response_id(id);
  r->set_score(score);
  r->set_reason(score <= 6 ? "Prices went up again and the invoices are too high" : "Great team");
  r->mutable_account()->set_account_id(account);
  r->set_respondent_key(respondent_key);
  r->mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(submitted));
  r->mutable_received_at()->set_seconds(absl::ToUnixSeconds(absl::Now()));
  return event;
}

kafka::OutRecord Record(const std::string& topic, const v1::ResponseReceived& event) {
  return {.topic = topic,
          .key = event.response().account().account_id(),
          .value = event.SerializeAsString(),
          .headers = kafka::ToHeaders({.id = event.event_id(),
                                       .type = "rebound.v1.ResponseReceived",
                                       .source = "classifier-it",
                                       .time = absl::Now()})};
}

void ProduceAll(kafka::Producer& producer, const std::vector<kafka::OutRecord>& records) {
  for (const absl::Status& s : producer.SendBatch(records, absl::Seconds(60))) {
    ASSERT_TRUE(s.ok()) << s;
  }
}

// Reads `topic` with read_committed until `expected` records arrived (or `timeout`), then
// keeps reading for `settle` to catch any extra record.
std::vector<kafka::Message> ReadTopic(const std::string& topic, size_t expected,
                                      absl::Duration timeout,
                                      absl::Duration settle = absl::Seconds(2)) {
  auto consumer = kafka::Consumer::Create(Kafka(), UniqueName("cls-it-reader"), {topic});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  std::vector<kafka::Message> out;
  if (!consumer.ok()) {
    return out;
  }
  absl::Time deadline = absl::Now() + timeout;
  bool settling = false;
  while (absl::Now() < deadline) {
    auto batch = (*consumer)->Poll(absl::Milliseconds(200));
    if (!batch.ok()) {
      ADD_FAILURE() << batch.status();
      break;
    }
    out.insert(out.end(), batch->begin(), batch->end());
    if (!settling && out.size() >= expected) {
      settling = true;
      deadline = absl::Now() + settle;
    }
  }
  (*consumer)->Close();
  return out;
}

// Event ids of detractor records, with how often each appeared.
std::map<std::string, int> CountIds(const std::vector<kafka::Message>& messages) {
  std::map<std::string, int> counts;
  for (const auto& m : messages) {
    v1::DetractorIdentified d;
    EXPECT_TRUE(d.ParseFromString(m.value));
    ++counts[d.event_id()];
  }
  return counts;
}

std::string DetractorId(const std::string& response_id) {
  return "det-" + domain::Sha256Hex(response_id).substr(0, 24);
}

void ExpectExactlyOnce(const std::map<std::string, int>& seen,
                       const std::set<std::string>& expected) {
  EXPECT_EQ(seen.size(), expected.size());
  int duplicates = 0;
  int missing = 0;
  for (const auto& id : expected) {
    auto it = seen.find(id);
    missing += it == seen.end() ? 1 : 0;
    duplicates += it != seen.end() && it->second != 1 ? 1 : 0;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicates, 0);
}

// Waits until the output topic has at least `count` committed records.
bool WaitForOutput(const std::string& topic, size_t count, absl::Duration timeout) {
  return ReadTopic(topic, count, timeout, absl::ZeroDuration()).size() >= count;
}

TEST(ClassifierIntegrationTest, MixedStreamYieldsExactlyTheDetractors) {
  Names names;
  ASSERT_TRUE(kafka::EnsureTopics(Kafka(), {names.input, names.output, names.dlq}, 2).ok());
  auto producer = kafka::Producer::Create(Kafka(), "classifier-it");
  ASSERT_TRUE(producer.ok()) << producer.status();

  Classifier classifier(names, "mixed");
  ASSERT_TRUE(classifier.WaitReady()) << classifier.process().Log();

  // Scores 0..10 for three accounts; a key account; one respondent answering twice.
  std::vector<kafka::OutRecord> records;
  std::set<std::string> expected;
  for (int i = 0; i < 33; ++i) {
    const int score = i % 11;
    const std::string id = absl::StrCat(names.group, "-r", i);
    records.push_back(Record(names.input, Response(id, score, absl::StrCat("acct-", i % 3))));
    if (score <= 6) {
      expected.insert(DetractorId(id));
    }
  }
  const absl::Time earlier = absl::Now() - absl::Hours(48);
  records.push_back(
      Record(names.input, Response(names.group + "-first", 9, "acct-key", "resp-1", earlier)));
  auto second = Response(names.group + "-second", 2, "acct-key", "resp-1");
  second.mutable_response()->add_tags("Top 100");
  records.push_back(Record(names.input, second));
  expected.insert(DetractorId(names.group + "-second"));
  ProduceAll(**producer, records);

  const auto messages = ReadTopic(names.output, expected.size(), absl::Seconds(30));
  ExpectExactlyOnce(CountIds(messages), expected);
  for (const auto& m : messages) {
    v1::DetractorIdentified d;
    ASSERT_TRUE(d.ParseFromString(m.value));
    EXPECT_EQ(m.key, d.response().account().account_id());
    const kafka::CloudEvent ce = kafka::FromHeaders(m.headers);
    EXPECT_EQ(ce.id, d.event_id());
    EXPECT_EQ(ce.type, "rebound.v1.DetractorIdentified");
    EXPECT_EQ(ce.source, "rebound/classifier");
    EXPECT_EQ(d.assessment().category(), v1::CATEGORY_DETRACTOR);
    EXPECT_EQ(d.assessment().overall_theme().id(), "pricing_billing");
    if (d.response().response_id() == names.group + "-second") {
      // Key account, very low score and a drop of 7: urgent, due 2 h after submission.
      EXPECT_EQ(d.assessment().priority(), v1::PRIORITY_URGENT);
      EXPECT_THAT(d.assessment().priority_reasons(),
                  ElementsAre("key_account", "very_low_score", "score_drop"));
      EXPECT_EQ(d.assessment().due_at().seconds(),
                d.response().submitted_at().seconds() + 2 * 3600);
      ASSERT_TRUE(d.assessment().has_previous_score());
      EXPECT_EQ(d.assessment().previous_score(), 9);
      EXPECT_EQ(d.assessment().previous_submitted_at().seconds(), absl::ToUnixSeconds(earlier));
    }
  }

  // Category counters: 35 responses, each counted once.
  auto redis = redis::Client::Create(RedisConfig());
  ASSERT_TRUE(redis.ok()) << redis.status();
  int64_t counted = 0;
  for (absl::Time day : {absl::Now(), earlier}) {
    auto reply = (*redis)->Command(
        {"HGETALL", names.prefix + "stats:categories:" + classifier::UtcDay(day)});
    ASSERT_TRUE(reply.ok()) << reply.status();
    for (size_t i = 1; i < reply->elements.size(); i += 2) {
      counted += reply->elements[i].AsInteger().value_or(0);
    }
  }
  EXPECT_EQ(counted, 35);

  const auto metrics = testing::HttpGet(classifier.Url("/metrics"));
  EXPECT_THAT(metrics.body, ::testing::HasSubstr("rebound_classifier_responses_total"));

  classifier.process().Signal(SIGTERM);
  EXPECT_EQ(classifier.process().Wait(absl::Seconds(20)), 0) << classifier.process().Log();
}

TEST(ClassifierIntegrationTest, PoisonRecordGoesToDeadLetterTopicAndNextIsProcessed) {
  Names names;
  ASSERT_TRUE(kafka::EnsureTopics(Kafka(), {names.input, names.output, names.dlq}, 1).ok());
  auto producer = kafka::Producer::Create(Kafka(), "classifier-it");
  ASSERT_TRUE(producer.ok()) << producer.status();
  Classifier classifier(names, "poison");
  ASSERT_TRUE(classifier.WaitReady()) << classifier.process().Log();

  v1::ResponseReceived no_id = Response("", 3, "acct-p");
  ProduceAll(**producer, {{.topic = names.input, .key = "acct-p", .value = "\xff\xff not protobuf"},
                          Record(names.input, no_id),
                          Record(names.input, Response(names.group + "-ok", 4, "acct-p"))});

  const auto dead = ReadTopic(names.dlq, 2, absl::Seconds(30));
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_EQ(dead[0].value, "\xff\xff not protobuf");
  EXPECT_THAT(kafka::FindHeader(dead[0].headers, "rebound-dlq-reason").value_or(""),
              ::testing::HasSubstr("undecodable"));
  EXPECT_THAT(kafka::FindHeader(dead[1].headers, "rebound-dlq-reason").value_or(""),
              ::testing::HasSubstr("missing response id"));
  ExpectExactlyOnce(CountIds(ReadTopic(names.output, 1, absl::Seconds(20))),
                    {DetractorId(names.group + "-ok")});

  classifier.process().Signal(SIGTERM);
  EXPECT_EQ(classifier.process().Wait(absl::Seconds(20)), 0) << classifier.process().Log();
}

TEST(ClassifierIntegrationTest, KillNineMidStreamStillYieldsEachDetractorOnce) {
  Names names;
  ASSERT_TRUE(kafka::EnsureTopics(Kafka(), {names.input, names.output, names.dlq}, 2).ok());
  auto producer = kafka::Producer::Create(Kafka(), "classifier-it");
  ASSERT_TRUE(producer.ok()) << producer.status();

  std::vector<kafka::OutRecord> records;
  std::set<std::string> expected;
  for (int i = 0; i < 2000; ++i) {
    const int score = (i * 7) % 11;
    const std::string id = absl::StrCat(names.group, "-k", i);
    records.push_back(Record(names.input, Response(id, score, absl::StrCat("acct-", i % 17),
                                                   absl::StrCat("resp-", i % 50))));
    if (score <= 6) {
      expected.insert(DetractorId(id));
    }
  }
  ProduceAll(**producer, records);

  {
    Classifier first(names, "crashy", /*max_batch=*/50);
    ASSERT_TRUE(WaitForOutput(names.output, 50, absl::Seconds(30))) << first.process().Log();
    first.process().Signal(SIGKILL);
    ASSERT_TRUE(first.process().Wait(absl::Seconds(10)).has_value());
  }
  // The same instance id: the restart fences the dead incarnation's open transaction.
  Classifier second(names, "crashy", /*max_batch=*/50);
  const auto messages = ReadTopic(names.output, expected.size(), absl::Seconds(60));
  ExpectExactlyOnce(CountIds(messages), expected);

  second.process().Signal(SIGTERM);
  EXPECT_EQ(second.process().Wait(absl::Seconds(20)), 0) << second.process().Log();
}

TEST(ClassifierIntegrationTest, TwoInstancesSplitPartitionsAndRebalanceCleanly) {
  Names names;
  ASSERT_TRUE(kafka::EnsureTopics(Kafka(), {names.input}, 4).ok());
  ASSERT_TRUE(kafka::EnsureTopics(Kafka(), {names.output, names.dlq}, 2).ok());
  auto producer = kafka::Producer::Create(Kafka(), "classifier-it");
  ASSERT_TRUE(producer.ok()) << producer.status();

  Classifier a(names, "a", /*max_batch=*/50);
  Classifier b(names, "b", /*max_batch=*/50);
  ASSERT_TRUE(a.WaitReady()) << a.process().Log();
  ASSERT_TRUE(b.WaitReady()) << b.process().Log();

  std::set<std::string> expected;
  auto produce_range = [&](int from, int to) {
    std::vector<kafka::OutRecord> records;
    for (int i = from; i < to; ++i) {
      const int score = i % 11;
      const std::string id = absl::StrCat(names.group, "-s", i);
      records.push_back(Record(names.input, Response(id, score, absl::StrCat("acct-", i % 23))));
      if (score <= 6) {
        expected.insert(DetractorId(id));
      }
    }
    ProduceAll(**producer, records);
  };
  produce_range(0, 400);
  // Both members take part: each has classified some of the first half.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline && (a.ResponsesCounted() == 0 || b.ResponsesCounted() == 0)) {
    absl::SleepFor(absl::Milliseconds(100));
  }
  ASSERT_GT(a.ResponsesCounted(), 0) << a.process().Log();
  ASSERT_GT(b.ResponsesCounted(), 0) << b.process().Log();
  EXPECT_LT(a.ResponsesCounted(), 400);
  // Stopping one member moves its partitions to the other mid-stream.
  b.process().Signal(SIGTERM);
  EXPECT_EQ(b.process().Wait(absl::Seconds(30)), 0) << b.process().Log();
  produce_range(400, 800);

  const auto messages = ReadTopic(names.output, expected.size(), absl::Seconds(45));
  ExpectExactlyOnce(CountIds(messages), expected);
  std::set<int32_t> partitions_seen;
  for (const auto& m : messages) {
    partitions_seen.insert(m.partition);
  }
  EXPECT_EQ(partitions_seen.size(), 2u);

  a.process().Signal(SIGTERM);
  EXPECT_EQ(a.process().Wait(absl::Seconds(20)), 0) << a.process().Log();
}

TEST(ClassifierIntegrationTest, PreviousScoreScriptIsIdempotentAndMovesForward) {
  auto redis = redis::Client::Create(RedisConfig());
  ASSERT_TRUE(redis.ok()) << redis.status();
  const std::string prefix = UniqueName("cls-it-score") + ":";
  classifier::RedisScoreStore store(**redis, prefix);
  const absl::Time t0 = absl::FromUnixSeconds(1767225600);
  auto update = [&](const std::string& id, int score, absl::Time at) {
    return store.Record({.response_id = id,
                         .respondent_key = "person",
                         .score = score,
                         .at = at,
                         .category = domain::Categorize(score)});
  };

  auto first = update("a", 9, t0);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->has_value());

  auto second = update("b", 3, t0 + absl::Hours(1));
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->score, 9);
  EXPECT_EQ((*second)->at, t0);

  // Redelivery of "b" (an aborted batch): its previous is still "a", not itself.
  auto again = update("b", 3, t0 + absl::Hours(1));
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ((*again)->score, 9);

  // A late, older response does not replace the newer last score.
  auto late = update("c", 6, t0 + absl::Minutes(30));
  ASSERT_TRUE(late.ok() && late->has_value());
  EXPECT_EQ((*late)->score, 9);
  auto hash = (*redis)->Command({"HGET", prefix + "respondent:person", "last_response_id"});
  ASSERT_TRUE(hash.ok());
  EXPECT_EQ(hash->AsString().value_or(""), "b");

  // Counters: a, b, c once each, whatever the redeliveries.
  auto stats = (*redis)->Command({"HGETALL", prefix + "stats:categories:2026-01-01"});
  ASSERT_TRUE(stats.ok());
  std::map<std::string, int64_t> counts;
  for (size_t i = 0; i + 1 < stats->elements.size(); i += 2) {
    counts[stats->elements[i].AsString().value_or("")] =
        stats->elements[i + 1].AsInteger().value_or(-1);
  }
  EXPECT_EQ(counts, (std::map<std::string, int64_t>{{"detractors", 2}, {"promoters", 1}}));

  // Without a respondent key there is no previous score, but the response still counts.
  auto anonymous =
      store.Record({.response_id = "d", .score = 8, .at = t0, .category = v1::CATEGORY_PASSIVE});
  ASSERT_TRUE(anonymous.ok());
  EXPECT_FALSE(anonymous->has_value());
}

}  // namespace
}  // namespace rebound
