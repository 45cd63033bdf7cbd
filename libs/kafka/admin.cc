// Topic creation through librdkafka's C Admin API (the C++ API has none).
#include <librdkafka/rdkafka.h>

#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"
#include "rebound/kafka/kafka.h"

namespace rebound::kafka {
namespace {

struct KafkaDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
template <typename T>
using Owned = std::unique_ptr<T, KafkaDeleter>;

// Waits until every topic has a leader for each partition, so producers and consumers that
// start right after do not see "unknown topic".
absl::Status AwaitLeaders(rd_kafka_t* rk, const std::vector<std::string>& topics,
                          absl::Time deadline) {
  std::string missing;
  while (absl::Now() < deadline) {
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk, 1, nullptr, &raw, internal::ToMillis(absl::Seconds(5)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      Owned<const rd_kafka_metadata_t> metadata(raw);
      std::set<std::string> ready;
      for (int i = 0; i < metadata->topic_cnt; ++i) {
        const rd_kafka_metadata_topic_t& t = metadata->topics[i];
        bool led = t.err == RD_KAFKA_RESP_ERR_NO_ERROR && t.partition_cnt > 0;
        for (int p = 0; led && p < t.partition_cnt; ++p) {
          led = t.partitions[p].leader >= 0;
        }
        if (led) {
          ready.insert(t.topic);
        }
      }
      missing.clear();
      for (const std::string& topic : topics) {
        if (!ready.count(topic)) {
          absl::StrAppend(&missing, missing.empty() ? "" : ",", topic);
        }
      }
      if (missing.empty()) {
        return absl::OkStatus();
      }
    } else {
      missing = rd_kafka_err2str(err);
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("kafka topics not ready before the timeout: ", missing));
}

}  // namespace

absl::Status EnsureTopics(const KafkaConfig& config, const std::vector<std::string>& topics,
                          int partitions, int replication_factor, absl::Duration timeout) {
  if (topics.empty()) {
    return absl::OkStatus();
  }
  absl::Time deadline = absl::Now() + timeout;
  char error[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& key, const std::string& value) -> absl::Status {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), error, sizeof(error)) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, ": ", error));
    }
    return absl::OkStatus();
  };
  absl::Status s = set("bootstrap.servers", config.brokers);
  for (const auto& [key, value] : config.properties) {
    if (s.ok()) {
      s = set(key, value);
    }
  }
  if (!s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  // rd_kafka_new takes the configuration over when it succeeds.
  Owned<rd_kafka_t> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof(error)));
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    return absl::InvalidArgumentError(absl::StrCat("kafka admin client: ", error));
  }

  std::vector<rd_kafka_NewTopic_t*> requests;
  for (const std::string& topic : topics) {
    rd_kafka_NewTopic_t* request =
        rd_kafka_NewTopic_new(topic.c_str(), partitions, replication_factor, error, sizeof(error));
    if (request == nullptr) {
      rd_kafka_NewTopic_destroy_array(requests.data(), requests.size());
      return absl::InvalidArgumentError(absl::StrCat("kafka topic ", topic, ": ", error));
    }
    requests.push_back(request);
  }
  Owned<rd_kafka_AdminOptions_t> options(
      rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  rd_kafka_AdminOptions_set_request_timeout(options.get(), internal::ToMillis(timeout), error,
                                            sizeof(error));
  rd_kafka_AdminOptions_set_operation_timeout(options.get(), internal::ToMillis(timeout), error,
                                              sizeof(error));
  Owned<rd_kafka_queue_t> queue(rd_kafka_queue_new(rk.get()));
  rd_kafka_CreateTopics(rk.get(), requests.data(), requests.size(), options.get(), queue.get());
  rd_kafka_NewTopic_destroy_array(requests.data(), requests.size());

  Owned<rd_kafka_event_t> event(
      rd_kafka_queue_poll(queue.get(), internal::ToMillis(deadline - absl::Now())));
  if (!event) {
    return absl::DeadlineExceededError("kafka topic creation timed out");
  }
  if (rd_kafka_event_error(event.get()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::Status(
        internal::CodeFor(static_cast<RdKafka::ErrorCode>(rd_kafka_event_error(event.get()))),
        absl::StrCat("kafka topic creation: ", rd_kafka_event_error_string(event.get())));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  std::vector<std::string> failures;
  for (size_t i = 0; i < count; ++i) {
    rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[i]);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
      continue;
    }
    const char* message = rd_kafka_topic_result_error_string(results[i]);
    failures.push_back(absl::StrCat(rd_kafka_topic_result_name(results[i]), ": ",
                                    message != nullptr ? message : rd_kafka_err2str(err)));
  }
  if (!failures.empty()) {
    return absl::UnavailableError(
        absl::StrCat("kafka topic creation failed: ", absl::StrJoin(failures, "; ")));
  }
  return AwaitLeaders(rk.get(), topics, deadline);
}

}  // namespace rebound::kafka
