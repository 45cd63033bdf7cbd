#include "ingest_service.h"

#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/v1/events.pb.h"

namespace rebound::ingest {
namespace {

using ::testing::ElementsAre;

// In-memory stand-in for the few Redis commands ingest uses (SET NX/EX/PX, GET, DEL, PING).
// Expiry is not modelled; tests that need it set values directly.
class FakeRedis : public redis::Client {
 public:
  absl::StatusOr<redis::Reply> Command(const std::vector<std::string>& args) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Run(args);
  }

  absl::StatusOr<std::vector<absl::StatusOr<redis::Reply>>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (down_) {
      return absl::UnavailableError("connection refused");
    }
    std::vector<absl::StatusOr<redis::Reply>> replies;
    for (const auto& command : commands) {
      replies.push_back(Run(command));
    }
    return replies;
  }

  void Set(const std::string& key, const std::string& value) {
    std::lock_guard<std::mutex> lock(mu_);
    values_[key] = value;
  }
  void Delete(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    values_.erase(key);
  }
  std::optional<std::string> Get(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = values_.find(key);
    return it == values_.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void SetDown(bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    down_ = down;
  }
  std::vector<std::string> ttls;  // "EX n" / "PX n" seen, in order

 private:
  absl::StatusOr<redis::Reply> Run(const std::vector<std::string>& args) {
    if (down_) {
      return absl::UnavailableError("connection refused");
    }
    redis::Reply reply;
    if (args[0] == "PING") {
      reply.type = redis::Reply::Type::kStatus;
      reply.str = "PONG";
    } else if (args[0] == "GET") {
      auto it = values_.find(args[1]);
      if (it != values_.end()) {
        reply.type = redis::Reply::Type::kString;
        reply.str = it->second;
      }
    } else if (args[0] == "DEL") {
      reply.type = redis::Reply::Type::kInteger;
      reply.integer = static_cast<int64_t>(values_.erase(args[1]));
    } else if (args[0] == "SET") {
      bool nx = false;
      for (size_t i = 3; i < args.size(); ++i) {
        if (args[i] == "NX") {
          nx = true;
        } else if (args[i] == "EX" || args[i] == "PX") {
          ttls.push_back(args[i] + " " + args[i + 1]);
          ++i;
        }
      }
      if (nx && values_.count(args[1]) > 0) {
        return reply;  // nil: not set
      }
      values_[args[1]] = args[2];
      reply.type = redis::Reply::Type::kStatus;
      reply.str = "OK";
    } else {
      return absl::InternalError("unknown command " + args[0]);
    }
    return reply;
  }

  std::mutex mu_;
  bool down_ = false;
  std::map<std::string, std::string> values_;
};

class FakeProducer : public kafka::Producer {
 public:
  absl::Status Send(const kafka::OutRecord& record, absl::Duration timeout) override {
    return SendBatch({record}, timeout).front();
  }
  std::vector<absl::Status> SendBatch(const std::vector<kafka::OutRecord>& records,
                                      absl::Duration) override {
    std::vector<absl::Status> out;
    for (const auto& record : records) {
      if (down) {
        out.push_back(absl::UnavailableError("broker transport failure"));
      } else {
        sent.push_back(record);
        out.push_back(absl::OkStatus());
      }
    }
    return out;
  }
  int Flush(absl::Duration) override { return 0; }

  bool down = false;
  std::vector<kafka::OutRecord> sent;
};

const absl::Time kNow = absl::FromUnixSeconds(1796033600);

v1::SurveyResponse Response(const std::string& id, int score = 4) {
  v1::SurveyResponse response;
  response.set_response_id(id);
  response.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  response.set_score(score);
  response.mutable_account()->set_account_id("acc-1");
  return response;
}

class IngestorTest : public ::testing::Test {
 protected:
  IngestorTest() : ingestor_(Options(), producer_, redis_, nullptr, [] { return kNow; }) {}

  static IngestorOptions Options() {
    IngestorOptions options;
    options.topic = "responses";
    options.redis_prefix = "t:";
    options.publish_timeout = absl::Milliseconds(300);
    return options;
  }

  FakeRedis redis_;
  FakeProducer producer_;
  Ingestor ingestor_;
};

TEST_F(IngestorTest, AcceptsAndPublishesEvent) {
  absl::StatusOr<ItemResult> result = ingestor_.Submit(Response("r-1"), kSourceGrpc);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, v1::SUBMIT_OUTCOME_ACCEPTED);
  ASSERT_EQ(producer_.sent.size(), 1u);

  const kafka::OutRecord& record = producer_.sent[0];
  EXPECT_EQ(record.topic, "responses");
  EXPECT_EQ(record.key, "acc-1");
  v1::ResponseReceived event;
  ASSERT_TRUE(event.ParseFromString(record.value));
  EXPECT_EQ(event.event_id(), EventIdForResponse("r-1"));
  EXPECT_EQ(event.event_id().size(), 4u + 24u);
  EXPECT_EQ(event.response().source(), "grpc");
  EXPECT_EQ(event.response().received_at().seconds(), absl::ToUnixSeconds(kNow));
  const kafka::CloudEvent ce = kafka::FromHeaders(record.headers);
  EXPECT_EQ(ce.id, event.event_id());
  EXPECT_EQ(ce.type, "rebound.v1.ResponseReceived");
  EXPECT_EQ(ce.source, "rebound/ingest");

  EXPECT_EQ(redis_.Get("t:ingest:seen:r-1"), "done");
  // Claimed briefly first, then remembered for the whole window.
  EXPECT_THAT(redis_.ttls, ElementsAre("PX 60000", "EX 604800"));
}

TEST_F(IngestorTest, DuplicateIsNotPublishedAgain) {
  ASSERT_EQ(ingestor_.Submit(Response("r-1"), kSourceGrpc)->outcome, v1::SUBMIT_OUTCOME_ACCEPTED);
  absl::StatusOr<ItemResult> again = ingestor_.Submit(Response("r-1", 9), kSourceWebhook);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_EQ(producer_.sent.size(), 1u);
}

TEST_F(IngestorTest, RejectedIsNeitherPublishedNorClaimed) {
  absl::StatusOr<ItemResult> result = ingestor_.Submit(Response("r-1", 11), kSourceGrpc);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->outcome, v1::SUBMIT_OUTCOME_REJECTED);
  EXPECT_EQ(result->error.field, "score");
  EXPECT_TRUE(producer_.sent.empty());
  EXPECT_EQ(redis_.Get("t:ingest:seen:r-1"), std::nullopt);
}

TEST_F(IngestorTest, PublishFailureReleasesIdSoRetryIsAccepted) {
  producer_.down = true;
  absl::StatusOr<ItemResult> failed = ingestor_.Submit(Response("r-1"), kSourceGrpc);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(redis_.Get("t:ingest:seen:r-1"), std::nullopt);
  EXPECT_EQ(ingestor_.Ready().code(), absl::StatusCode::kUnavailable);

  producer_.down = false;
  absl::StatusOr<ItemResult> retried = ingestor_.Submit(Response("r-1"), kSourceGrpc);
  ASSERT_TRUE(retried.ok()) << retried.status();
  EXPECT_EQ(retried->outcome, v1::SUBMIT_OUTCOME_ACCEPTED);
  EXPECT_TRUE(ingestor_.Ready().ok());
}

TEST_F(IngestorTest, RedisDownIsUnavailableAndPublishesNothing) {
  redis_.SetDown(true);
  EXPECT_EQ(ingestor_.Submit(Response("r-1"), kSourceGrpc).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_TRUE(producer_.sent.empty());
  EXPECT_EQ(ingestor_.Ready().code(), absl::StatusCode::kUnavailable);
}

TEST_F(IngestorTest, BatchGivesOneResultPerItemInOrder) {
  ASSERT_EQ(ingestor_.Submit(Response("seen"), kSourceGrpc)->outcome, v1::SUBMIT_OUTCOME_ACCEPTED);
  std::vector<v1::SurveyResponse> batch = {Response("a"), Response("", 3),  Response("b"),
                                           Response("a"), Response("seen"), Response("c", -1)};
  absl::StatusOr<std::vector<ItemResult>> results =
      ingestor_.SubmitBatch(std::move(batch), kSourceImport);
  ASSERT_TRUE(results.ok()) << results.status();
  std::vector<v1::SubmitOutcome> outcomes;
  for (const ItemResult& r : *results) {
    outcomes.push_back(r.outcome);
  }
  EXPECT_THAT(outcomes, ElementsAre(v1::SUBMIT_OUTCOME_ACCEPTED, v1::SUBMIT_OUTCOME_REJECTED,
                                    v1::SUBMIT_OUTCOME_ACCEPTED, v1::SUBMIT_OUTCOME_DUPLICATE,
                                    v1::SUBMIT_OUTCOME_DUPLICATE, v1::SUBMIT_OUTCOME_REJECTED));
  EXPECT_EQ((*results)[1].error.field, "response_id");
  EXPECT_EQ((*results)[5].error.field, "score");
  ASSERT_EQ(producer_.sent.size(), 3u);  // "seen" earlier, then "a" and "b"
  v1::ResponseReceived event;
  ASSERT_TRUE(event.ParseFromString(producer_.sent[1].value));
  EXPECT_EQ(event.response().response_id(), "a");
  EXPECT_EQ(event.response().source(), "import");
}

TEST_F(IngestorTest, ForeignClaimThatEndsPublishedMeansDuplicate) {
  redis_.Set("t:ingest:seen:r-1", "pending");
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    redis_.Set("t:ingest:seen:r-1", "done");
  });
  absl::StatusOr<ItemResult> result = ingestor_.Submit(Response("r-1"), kSourceGrpc);
  other.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, v1::SUBMIT_OUTCOME_DUPLICATE);
  EXPECT_TRUE(producer_.sent.empty());
}

TEST_F(IngestorTest, ForeignClaimThatIsReleasedIsTakenOver) {
  redis_.Set("t:ingest:seen:r-1", "pending");
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    redis_.Delete("t:ingest:seen:r-1");
  });
  absl::StatusOr<ItemResult> result = ingestor_.Submit(Response("r-1"), kSourceGrpc);
  other.join();
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->outcome, v1::SUBMIT_OUTCOME_ACCEPTED);
  EXPECT_EQ(producer_.sent.size(), 1u);
}

TEST_F(IngestorTest, ForeignClaimThatNeverEndsIsUnavailableInBoundedTime) {
  redis_.Set("t:ingest:seen:r-1", "pending");
  const absl::Time start = absl::Now();
  EXPECT_EQ(ingestor_.Submit(Response("r-1"), kSourceGrpc).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  EXPECT_EQ(redis_.Get("t:ingest:seen:r-1"), "pending");  // not ours to release
}

TEST(EventIdTest, IsStableAndDistinct) {
  EXPECT_EQ(EventIdForResponse("r-1"), EventIdForResponse("r-1"));
  EXPECT_NE(EventIdForResponse("r-1"), EventIdForResponse("r-2"));
  EXPECT_EQ(EventIdForResponse("r-1").rfind("rsp-", 0), 0u);
}

}  // namespace
}  // namespace rebound::ingest
