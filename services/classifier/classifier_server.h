// Wiring of rebound-classifier: the transactional consume-transform-produce loop on
// survey.responses.v1, Redis for previous scores and counters, and the HTTP port with
// /healthz, /readyz and /metrics.
#ifndef REBOUND_SERVICES_CLASSIFIER_CLASSIFIER_SERVER_H_
#define REBOUND_SERVICES_CLASSIFIER_CLASSIFIER_SERVER_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "classify.h"
#include "config.h"
#include "previous_score.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/runtime/http_server.h"
#include "themes.h"

namespace rebound::classifier {

// Header of a dead-lettered record naming why it could not be processed.
inline constexpr char kDeadLetterReasonHeader[] = "rebound-dlq-reason";

class ClassifierMetrics {
 public:
  explicit ClassifierMetrics(prometheus::Registry& registry);

  prometheus::Family<prometheus::Counter>& responses;   // {category}
  prometheus::Family<prometheus::Counter>& detractors;  // {priority, theme}
  prometheus::Family<prometheus::Counter>& dead_letters;
  prometheus::Family<prometheus::Histogram>& lag;  // now - received_at, seconds
  prometheus::Family<prometheus::Counter>& batch_failures;
};

// Turns one polled batch into output records. Side effects other than the Redis updates (which
// are idempotent) are staged and only applied by Commit(), after the transaction committed, so
// an aborted batch does not count twice in the metrics.
class BatchTransformer {
 public:
  struct Options {
    std::string detractors_topic;
    std::string dead_letter_topic;
  };
  BatchTransformer(Options options, const ClassifierRules& rules, const Lexicon& lexicon,
                   ScoreStore& store, ClassifierMetrics* metrics,
                   std::function<absl::Time()> clock = absl::Now);

  absl::StatusOr<std::vector<kafka::OutRecord>> Transform(const std::vector<kafka::Message>& batch);
  // Applies the staged metrics of the last Transform().
  void Commit();

 private:
  struct Observation {
    v1::Category category = v1::CATEGORY_UNSPECIFIED;
    v1::Priority priority = v1::PRIORITY_UNSPECIFIED;
    std::string theme{};
    std::optional<double> lag_seconds{};
    std::string dead_letter_reason{};
  };

  Options options_;
  const ClassifierRules& rules_;
  const Lexicon& lexicon_;
  ScoreStore& store_;
  ClassifierMetrics* metrics_;
  std::function<absl::Time()> clock_;
  std::vector<Observation> staged_;
};

class ClassifierServer {
 public:
  // Loads the rules and lexicon (INVALID_ARGUMENT on a bad file), connects to Redis, creates
  // the transactional processor, starts the HTTP port and the processing thread. The config
  // must have passed ValidateClassifierConfig.
  static absl::StatusOr<std::unique_ptr<ClassifierServer>> Start(const ClassifierConfig& config);
  ~ClassifierServer();

  int http_port() const;

  // Lets the current batch finish (commit or abort), leaves the group and stops the HTTP port.
  void Shutdown();

 private:
  explicit ClassifierServer(const ClassifierConfig& config);
  absl::Status Ready();
  void Loop();
  // Replaces a fenced or fatally failed processor; false (and no processor) when Kafka refused.
  bool RebuildProcessor();

  ClassifierConfig config_;
  ClassifierRules rules_;
  std::unique_ptr<Lexicon> lexicon_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<ClassifierMetrics> metrics_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<RedisScoreStore> store_;
  std::unique_ptr<BatchTransformer> transformer_;
  std::unique_ptr<kafka::TransactionalProcessor> processor_;
  std::unique_ptr<runtime::HttpServer> http_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> running_{false};
  // Read by the readiness probe; processor_ itself belongs to the loop thread.
  std::atomic<bool> has_processor_{false};
  std::thread loop_;
};

}  // namespace rebound::classifier

#endif  // REBOUND_SERVICES_CLASSIFIER_CLASSIFIER_SERVER_H_
