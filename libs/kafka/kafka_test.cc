#include "rebound/kafka/kafka.h"

#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "producer_testing.h"

namespace rebound::kafka {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(ParsePropertiesTest, SplitsOnSemicolonsAndNewlines) {
  auto props = ParseProperties(
      "security.protocol=SASL_SSL; sasl.mechanism = PLAIN\n"
      "ssl.ca.location=/etc/ca.pem\n\n# a comment\n;");
  ASSERT_TRUE(props.ok()) << props.status();
  EXPECT_THAT(*props,
              ElementsAre(Pair("sasl.mechanism", "PLAIN"), Pair("security.protocol", "SASL_SSL"),
                          Pair("ssl.ca.location", "/etc/ca.pem")));
}

TEST(ParsePropertiesTest, KeepsEqualsSignsInValues) {
  auto props = ParseProperties("sasl.jaas.config=user=a pass=b");
  ASSERT_TRUE(props.ok()) << props.status();
  EXPECT_EQ(props->at("sasl.jaas.config"), "user=a pass=b");
}

TEST(ParsePropertiesTest, EmptyTextIsNoProperties) {
  auto props = ParseProperties("  ");
  ASSERT_TRUE(props.ok());
  EXPECT_TRUE(props->empty());
}

TEST(ParsePropertiesTest, RejectsEntryWithoutEqualsAndNamesIt) {
  auto props = ParseProperties("acks=all;lingerms");
  ASSERT_FALSE(props.ok());
  EXPECT_EQ(props.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(props.status().message()), HasSubstr("lingerms"));
}

TEST(ParsePropertiesTest, RejectsEmptyKey) { EXPECT_FALSE(ParseProperties("=value").ok()); }

TEST(CloudEventTest, HeadersRoundTrip) {
  CloudEvent event{.id = "resp-123",
                   .type = "rebound.v1.ResponseReceived",
                   .source = "rebound/ingest",
                   .time = absl::FromUnixMillis(1700000000123),
                   .content_type = "application/x-protobuf"};
  std::vector<Header> headers = ToHeaders(event);
  EXPECT_EQ(FindHeader(headers, "ce_id"), "resp-123");
  EXPECT_EQ(FindHeader(headers, "ce_specversion"), "1.0");
  EXPECT_EQ(FindHeader(headers, "ce_time"), "2023-11-14T22:13:20.123+00:00");

  CloudEvent back = FromHeaders(headers);
  EXPECT_EQ(back.id, event.id);
  EXPECT_EQ(back.type, event.type);
  EXPECT_EQ(back.source, event.source);
  EXPECT_EQ(back.time, event.time);
  EXPECT_EQ(back.content_type, event.content_type);
}

TEST(CloudEventTest, MissingHeadersStayEmpty) {
  CloudEvent event = FromHeaders({{"ce_id", "x"}, {"ce_time", "not a time"}});
  EXPECT_EQ(event.id, "x");
  EXPECT_EQ(event.type, "");
  EXPECT_EQ(event.content_type, "");
  EXPECT_EQ(event.time, absl::UnixEpoch());
  EXPECT_EQ(FindHeader({}, "ce_id"), std::nullopt);
}

TEST(ProducerTest, RejectsMissingBrokers) {
  auto producer = Producer::Create(KafkaConfig{}, "test");
  ASSERT_FALSE(producer.ok());
  EXPECT_EQ(producer.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ProducerTest, RejectsUnknownProperty) {
  auto producer = Producer::Create(
      KafkaConfig{.brokers = "127.0.0.1:1", .properties = {{"no.such.property", "1"}}}, "test");
  ASSERT_FALSE(producer.ok());
  EXPECT_THAT(std::string(producer.status().message()), HasSubstr("no.such.property"));
}

// librdkafka's built-in mock cluster stands in for a broker, so this runs without the stack.
KafkaConfig MockCluster() {
  return {.brokers = "", .properties = {{"test.mock.num.brokers", "1"}}};
}

TEST(ProducerTest, SendAndBatchAreAcknowledgedByMockCluster) {
  auto producer = Producer::Create(MockCluster(), "test");
  ASSERT_TRUE(producer.ok()) << producer.status();
  EXPECT_TRUE((*producer)->Send({.topic = "t", .key = "k", .value = "v"}).ok());
  std::vector<OutRecord> records(50, OutRecord{.topic = "t", .key = "k", .value = "v"});
  for (const absl::Status& s : (*producer)->SendBatch(records)) {
    EXPECT_TRUE(s.ok()) << s;
  }
  EXPECT_EQ((*producer)->Flush(absl::Seconds(5)), 0);
}

TEST(ProducerTest, RebuildsAfterFatalError) {
  auto producer = Producer::Create(MockCluster(), "test");
  ASSERT_TRUE(producer.ok()) << producer.status();
  Producer& p = **producer;
  ASSERT_TRUE(p.Send({.topic = "t", .value = "before"}).ok());

  ASSERT_TRUE(testing::InjectFatalError(p, "injected by test").ok());
  // The delivery thread notices within one poll interval and replaces the handle.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (testing::Generation(p) == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(testing::Generation(p), 1u);
  EXPECT_TRUE(p.Send({.topic = "t", .value = "after"}).ok());
}

}  // namespace
}  // namespace rebound::kafka
