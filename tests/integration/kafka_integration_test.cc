// libs/kafka against the real local broker: delivery, group sharing, transactions, failures.
#include <librdkafka/rdkafkacpp.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/kafka/kafka.h"
#include "rebound/testing/stack.h"

namespace rebound::kafka {
namespace {

using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

KafkaConfig Stack() { return {.brokers = StackValue("REBOUND_KAFKA_BROKERS")}; }

std::unique_ptr<Producer> MakeProducer() {
  auto producer = Producer::Create(Stack(), "kafka-integration-test");
  EXPECT_TRUE(producer.ok()) << producer.status();
  return producer.ok() ? *std::move(producer) : nullptr;
}

std::unique_ptr<Consumer> MakeConsumer(const std::string& group, const std::string& topic) {
  auto consumer = Consumer::Create(Stack(), group, {topic});
  EXPECT_TRUE(consumer.ok()) << consumer.status();
  return consumer.ok() ? *std::move(consumer) : nullptr;
}

// Polls until `count` records arrived or `timeout` passed.
std::vector<Message> ReadAtLeast(Consumer& consumer, size_t count,
                                 absl::Duration timeout = absl::Seconds(20)) {
  std::vector<Message> out;
  absl::Time deadline = absl::Now() + timeout;
  while (out.size() < count && absl::Now() < deadline) {
    auto batch = consumer.Poll(absl::Milliseconds(200));
    EXPECT_TRUE(batch.ok()) << batch.status();
    if (!batch.ok()) {
      break;
    }
    out.insert(out.end(), batch->begin(), batch->end());
  }
  return out;
}

std::vector<std::string> Values(const std::vector<Message>& messages) {
  std::vector<std::string> out;
  for (const Message& m : messages) {
    out.push_back(m.value);
  }
  return out;
}

TEST(KafkaIntegrationTest, ProducedRecordIsReadBackWithKeyAndHeaders) {
  std::string topic = UniqueName("kafka-roundtrip");
  ASSERT_TRUE(EnsureTopics(Stack(), {topic}, 1).ok());
  // A second call finds the topic already there, which is fine.
  ASSERT_TRUE(EnsureTopics(Stack(), {topic}, 1).ok());

  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  CloudEvent event{.id = "evt-1",
                   .type = "rebound.v1.Test",
                   .source = "rebound/test",
                   .time = absl::FromUnixSeconds(1700000000)};
  std::vector<Header> headers = ToHeaders(event);
  headers.push_back({"x-extra", std::string("bin\0ary", 7)});
  std::string value("\x08\x01\x00\xff", 4);
  absl::Time before = absl::Now();
  ASSERT_TRUE(
      producer->Send({.topic = topic, .key = "acct-1", .value = value, .headers = headers}).ok());

  auto consumer = MakeConsumer(UniqueName("kafka-roundtrip-group"), topic);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> got = ReadAtLeast(*consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic, topic);
  EXPECT_EQ(got[0].key, "acct-1");
  EXPECT_EQ(got[0].value, value);
  EXPECT_EQ(got[0].offset, 0);
  EXPECT_EQ(FindHeader(got[0].headers, "x-extra"), std::string("bin\0ary", 7));
  CloudEvent back = FromHeaders(got[0].headers);
  EXPECT_EQ(back.id, "evt-1");
  EXPECT_EQ(back.type, "rebound.v1.Test");
  EXPECT_EQ(back.time, event.time);
  EXPECT_GE(got[0].timestamp, before - absl::Seconds(5));
  EXPECT_TRUE(consumer->Commit(got[0]).ok());
  consumer->Close();
  EXPECT_FALSE(consumer->Poll(absl::ZeroDuration()).ok());
}

TEST(KafkaIntegrationTest, TwoConsumersInOneGroupSplitPartitionsAndReadEachRecordOnce) {
  std::string topic = UniqueName("kafka-group");
  std::string group = UniqueName("kafka-group");
  ASSERT_TRUE(EnsureTopics(Stack(), {topic}, 4).ok());
  auto a = MakeConsumer(group, topic);
  auto b = MakeConsumer(group, topic);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);

  // Both members must own partitions before anything is produced, or the first one to join
  // could read everything.
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    ASSERT_TRUE(a->Poll(absl::Milliseconds(100)).ok());
    ASSERT_TRUE(b->Poll(absl::Milliseconds(100)).ok());
    auto owned_a = a->Assignment();
    auto owned_b = b->Assignment();
    if (!owned_a.empty() && !owned_b.empty() && owned_a.size() + owned_b.size() == 4) {
      break;
    }
  }
  ASSERT_FALSE(a->Assignment().empty());
  ASSERT_FALSE(b->Assignment().empty());

  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  std::vector<OutRecord> records;
  std::vector<std::string> expected;
  for (int i = 0; i < 60; ++i) {
    records.push_back({.topic = topic, .key = absl::StrCat("key-", i), .value = absl::StrCat(i)});
    expected.push_back(absl::StrCat(i));
  }
  for (const absl::Status& s : producer->SendBatch(records)) {
    ASSERT_TRUE(s.ok()) << s;
  }

  std::vector<Message> from_a;
  std::vector<Message> from_b;
  deadline = absl::Now() + absl::Seconds(30);
  while (from_a.size() + from_b.size() < records.size() && absl::Now() < deadline) {
    for (auto [consumer, sink] : {std::pair{a.get(), &from_a}, std::pair{b.get(), &from_b}}) {
      auto batch = consumer->Poll(absl::Milliseconds(100));
      ASSERT_TRUE(batch.ok()) << batch.status();
      ASSERT_TRUE(consumer->Commit(*batch).ok());
      sink->insert(sink->end(), batch->begin(), batch->end());
    }
  }
  EXPECT_THAT(from_a, Not(IsEmpty()));
  EXPECT_THAT(from_b, Not(IsEmpty()));
  std::vector<std::string> all = Values(from_a);
  for (const std::string& v : Values(from_b)) {
    all.push_back(v);
  }
  EXPECT_THAT(all, UnorderedElementsAreArray(expected));
  // No partition was read by both.
  std::set<int32_t> parts_a;
  for (const Message& m : from_a) {
    parts_a.insert(m.partition);
  }
  for (const Message& m : from_b) {
    EXPECT_EQ(parts_a.count(m.partition), 0u) << "partition " << m.partition;
  }
  a->Close();
  b->Close();
}

// Writes one transaction with librdkafka directly and commits or aborts it.
void WriteTransaction(RdKafka::Producer& producer, const std::string& topic,
                      const std::string& value, bool commit) {
  RdKafka::Error* e = producer.begin_transaction();
  ASSERT_EQ(e, nullptr) << e->str();
  ASSERT_EQ(producer.produce(topic, 0, RdKafka::Producer::RK_MSG_COPY,
                             const_cast<char*>(value.data()), value.size(), nullptr, 0, 0, nullptr),
            RdKafka::ERR_NO_ERROR);
  ASSERT_EQ(producer.flush(10000), RdKafka::ERR_NO_ERROR);
  e = commit ? producer.commit_transaction(10000) : producer.abort_transaction(10000);
  ASSERT_EQ(e, nullptr) << e->str();
}

TEST(KafkaIntegrationTest, ReadCommittedConsumerSkipsAbortedTransaction) {
  std::string topic = UniqueName("kafka-txn");
  ASSERT_TRUE(EnsureTopics(Stack(), {topic}, 1).ok());
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  ASSERT_EQ(conf->set("bootstrap.servers", Stack().brokers, error), RdKafka::Conf::CONF_OK);
  ASSERT_EQ(conf->set("transactional.id", UniqueName("kafka-txn-id"), error),
            RdKafka::Conf::CONF_OK);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), error));
  ASSERT_NE(producer, nullptr) << error;
  RdKafka::Error* e = producer->init_transactions(20000);
  ASSERT_EQ(e, nullptr) << e->str();

  WriteTransaction(*producer, topic, "aborted", /*commit=*/false);
  WriteTransaction(*producer, topic, "committed", /*commit=*/true);

  auto consumer = MakeConsumer(UniqueName("kafka-txn-group"), topic);
  ASSERT_NE(consumer, nullptr);
  std::vector<Message> got = ReadAtLeast(*consumer, 1);
  // The aborted record sits before the committed one in the same partition, so had it been
  // visible it would have come first.
  ASSERT_EQ(Values(got), std::vector<std::string>{"committed"});
  auto more = consumer->Poll(absl::Milliseconds(300));
  ASSERT_TRUE(more.ok());
  EXPECT_THAT(*more, IsEmpty());
}

TEST(KafkaIntegrationTest, TransactionalProcessorCommitsOutputsWithInputOffsets) {
  std::string input = UniqueName("kafka-proc-in");
  std::string output = UniqueName("kafka-proc-out");
  std::string group = UniqueName("kafka-proc-group");
  std::string txn_id = UniqueName("kafka-proc-txn");
  ASSERT_TRUE(EnsureTopics(Stack(), {input, output}, 2).ok());
  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  std::vector<OutRecord> inputs;
  for (int i = 0; i < 10; ++i) {
    inputs.push_back({.topic = input, .key = absl::StrCat("k", i), .value = absl::StrCat(i)});
  }
  for (const absl::Status& s : producer->SendBatch(inputs)) {
    ASSERT_TRUE(s.ok()) << s;
  }

  int calls = 0;
  TransactionalProcessor::Transform transform =
      [&](const std::vector<Message>& batch) -> absl::StatusOr<std::vector<OutRecord>> {
    // The first batch fails once: it must be rolled back and read again, not lost.
    if (calls++ == 0) {
      return absl::UnavailableError("simulated failure");
    }
    std::vector<OutRecord> out;
    for (const Message& m : batch) {
      out.push_back({.topic = output,
                     .key = m.key,
                     .value = "out-" + m.value,
                     .headers = {{"from-offset", absl::StrCat(m.offset)}}});
    }
    return out;
  };

  {
    auto processor = TransactionalProcessor::Create(Stack(), group, {input}, txn_id);
    ASSERT_TRUE(processor.ok()) << processor.status();
    int processed = 0;
    bool failed_once = false;
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (processed < 10 && absl::Now() < deadline) {
      auto n = (*processor)->RunOnce(transform, absl::Milliseconds(200));
      if (!n.ok()) {
        EXPECT_EQ(n.status().code(), absl::StatusCode::kUnavailable) << n.status();
        failed_once = true;
        continue;
      }
      processed += *n;
    }
    EXPECT_TRUE(failed_once);
    EXPECT_EQ(processed, 10);
    (*processor)->Close();
  }

  std::vector<std::string> expected;
  for (int i = 0; i < 10; ++i) {
    expected.push_back(absl::StrCat("out-", i));
  }
  auto reader = MakeConsumer(UniqueName("kafka-proc-reader"), output);
  ASSERT_NE(reader, nullptr);
  std::vector<Message> outputs = ReadAtLeast(*reader, 10);
  EXPECT_THAT(Values(outputs), UnorderedElementsAreArray(expected));

  // A new incarnation on the same group and id resumes after the committed offsets: it sees
  // only the record produced after the first one finished.
  auto processor = TransactionalProcessor::Create(Stack(), group, {input}, txn_id);
  ASSERT_TRUE(processor.ok()) << processor.status();
  ASSERT_TRUE(producer->Send({.topic = input, .key = "k-late", .value = "late"}).ok());
  std::vector<std::string> seen;
  auto collect = [&](const std::vector<Message>& batch) -> absl::StatusOr<std::vector<OutRecord>> {
    for (const Message& m : batch) {
      seen.push_back(m.value);
    }
    return std::vector<OutRecord>{};
  };
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (seen.empty() && absl::Now() < deadline) {
    ASSERT_TRUE((*processor)->RunOnce(collect, absl::Milliseconds(200)).ok());
  }
  auto extra = (*processor)->RunOnce(collect, absl::Milliseconds(300));
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_EQ(seen, std::vector<std::string>{"late"});
  auto more = reader->Poll(absl::Milliseconds(300));
  ASSERT_TRUE(more.ok());
  EXPECT_THAT(*more, IsEmpty());
}

TEST(KafkaIntegrationTest, NewIncarnationFencesOldTransactionalProcessor) {
  std::string input = UniqueName("kafka-fence-in");
  std::string txn_id = UniqueName("kafka-fence-txn");
  ASSERT_TRUE(EnsureTopics(Stack(), {input}, 1).ok());
  auto old_one =
      TransactionalProcessor::Create(Stack(), UniqueName("kafka-fence-a"), {input}, txn_id);
  ASSERT_TRUE(old_one.ok()) << old_one.status();
  auto new_one =
      TransactionalProcessor::Create(Stack(), UniqueName("kafka-fence-b"), {input}, txn_id);
  ASSERT_TRUE(new_one.ok()) << new_one.status();

  auto producer = MakeProducer();
  ASSERT_NE(producer, nullptr);
  ASSERT_TRUE(producer->Send({.topic = input, .value = "x"}).ok());
  auto pass = [&](const std::vector<Message>& batch) -> absl::StatusOr<std::vector<OutRecord>> {
    return std::vector<OutRecord>{};
  };
  absl::StatusOr<int> result = 0;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (result.ok() && *result == 0 && absl::Now() < deadline) {
    result = (*old_one)->RunOnce(pass, absl::Milliseconds(200));
  }
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("fenced"));
  // Fatal stays fatal: the caller has to stop this instance.
  EXPECT_EQ((*old_one)->RunOnce(pass, absl::ZeroDuration()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(KafkaIntegrationTest, SendToUnreachableBrokerIsUnavailableWithinTimeout) {
  KafkaConfig config{.brokers = absl::StrCat("127.0.0.1:", rebound::testing::FreePort())};
  auto producer = Producer::Create(
      config, "kafka-unreachable-test",
      ProducerOptions{.delivery_timeout = absl::Seconds(2), .close_timeout = absl::ZeroDuration()});
  ASSERT_TRUE(producer.ok()) << producer.status();

  // Send gives up at its own timeout while librdkafka still tries.
  absl::Time start = absl::Now();
  absl::Status s = (*producer)->Send({.topic = "t", .value = "v"}, absl::Milliseconds(500));
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_LT(took, absl::Milliseconds(1500));

  // With a longer wait, librdkafka's own delivery timeout makes the failure definite.
  start = absl::Now();
  s = (*producer)->Send({.topic = "t", .value = "v"}, absl::Seconds(10));
  took = absl::Now() - start;
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("timed out"));
  EXPECT_LT(took, absl::Seconds(5));
}

}  // namespace
}  // namespace rebound::kafka
