#include "classifier_server.h"

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rebound/domain/domain.h"
#include "rebound/runtime/log.h"
#include "rebound/v1/events.pb.h"

namespace rebound::classifier {
namespace {

constexpr char kDetractorType[] = "rebound.v1.DetractorIdentified";
constexpr char kSource[] = "rebound/classifier";

std::shared_ptr<spdlog::logger> Log() { return runtime::Logger("classifier"); }

void ToProto(absl::Time t, google::protobuf::Timestamp* out) {
  const int64_t seconds = absl::ToUnixSeconds(t);
  out->set_seconds(seconds);
  out->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
}

kafka::OutRecord DeadLetter(const kafka::Message& message, const std::string& topic,
                            const std::string& reason) {
  kafka::OutRecord record{
      .topic = topic, .key = message.key, .value = message.value, .headers = message.headers};
  record.headers.push_back({kDeadLetterReasonHeader, reason});
  record.headers.push_back(
      {"rebound-dlq-origin",
       absl::StrCat(message.topic, "/", message.partition, "/", message.offset)});
  return record;
}

// The kafka library reports a fenced or fatally failed producer as FAILED_PRECONDITION and a
// fatally failed consumer as INTERNAL "... failed fatally"; neither recovers by itself.
bool IsFatalProcessorError(const absl::Status& status) {
  return absl::IsFailedPrecondition(status) ||
         (absl::IsInternal(status) && absl::StrContains(status.message(), "failed fatally"));
}

}  // namespace

ClassifierMetrics::ClassifierMetrics(prometheus::Registry& registry)
    : responses(prometheus::BuildCounter()
                    .Name("rebound_classifier_responses_total")
                    .Help("Responses classified, by category")
                    .Register(registry)),
      detractors(prometheus::BuildCounter()
                     .Name("rebound_classifier_detractors_total")
                     .Help("Detractor events published, by priority and overall theme")
                     .Register(registry)),
      dead_letters(prometheus::BuildCounter()
                       .Name("rebound_classifier_dead_letters_total")
                       .Help("Records sent to the dead-letter topic, by reason")
                       .Register(registry)),
      lag(prometheus::BuildHistogram()
              .Name("rebound_classifier_lag_seconds")
              .Help("Time from ingest accepting a response to its classification")
              .Register(registry)),
      batch_failures(prometheus::BuildCounter()
                         .Name("rebound_classifier_batch_failures_total")
                         .Help("Batches whose transaction was aborted and retried")
                         .Register(registry)) {}

BatchTransformer::BatchTransformer(Options options, const ClassifierRules& rules,
                                   const Lexicon& lexicon, ScoreStore& store,
                                   ClassifierMetrics* metrics, std::function<absl::Time()> clock)
    : options_(std::move(options)),
      rules_(rules),
      lexicon_(lexicon),
      store_(store),
      metrics_(metrics),
      clock_(std::move(clock)) {}

absl::StatusOr<std::vector<kafka::OutRecord>> BatchTransformer::Transform(
    const std::vector<kafka::Message>& batch) {
  staged_.clear();
  std::vector<kafka::OutRecord> out;
  // Records come in partition order from the processor; keeping that order keeps each
  // account's events (one account, one partition) in order on the output topic.
  for (const kafka::Message& message : batch) {
    v1::ResponseReceived event;
    std::string problem;
    if (!event.ParseFromString(message.value)) {
      problem = "undecodable: not a ResponseReceived protobuf";
    } else if (event.response().response_id().empty()) {
      problem = "invalid: missing response id";
    } else if (event.response().score() < 0 || event.response().score() > 10) {
      problem = "invalid: score outside 0..10";
    }
    if (!problem.empty()) {
      Log()->warn("dead-lettering {}/{}/{}: {}", message.topic, message.partition, message.offset,
                  problem);
      out.push_back(DeadLetter(message, options_.dead_letter_topic, problem));
      staged_.push_back({.dead_letter_reason = problem.substr(0, problem.find(':'))});
      continue;
    }

    const v1::SurveyResponse& response = event.response();
    const absl::Time now = clock_();
    const v1::Category category = domain::Categorize(response.score(), rules_.bands);
    auto previous = store_.Record({.response_id = response.response_id(),
                                   .respondent_key = response.respondent_key(),
                                   .score = response.score(),
                                   .at = BaseTime(response, now),
                                   .category = category});
    if (!previous.ok()) {
      return previous.status();  // Redis trouble: abort the batch and retry it
    }
    Observation observation{.category = category};
    if (response.has_received_at()) {
      observation.lag_seconds =
          absl::ToDoubleSeconds(now - (absl::FromUnixSeconds(response.received_at().seconds()) +
                                       absl::Nanoseconds(response.received_at().nanos())));
    }
    if (category == v1::CATEGORY_DETRACTOR) {
      v1::DetractorIdentified detractor;
      const std::string event_id =
          absl::StrCat("det-", domain::Sha256Hex(response.response_id()).substr(0, 24));
      detractor.set_event_id(event_id);
      *detractor.mutable_response() = response;
      *detractor.mutable_assessment() = Assess(response, *previous, rules_, lexicon_, now);
      ToProto(now, detractor.mutable_classified_at());
      observation.priority = detractor.assessment().priority();
      observation.theme = detractor.assessment().overall_theme().id();
      const std::string& account = response.account().account_id();
      out.push_back(
          {.topic = options_.detractors_topic,
           .key = account.empty() ? message.key : account,
           .value = detractor.SerializeAsString(),
           .headers = kafka::ToHeaders(
               {.id = event_id, .type = kDetractorType, .source = kSource, .time = now})});
    }
    staged_.push_back(std::move(observation));
  }
  return out;
}

void BatchTransformer::Commit() {
  if (metrics_ == nullptr) {
    staged_.clear();
    return;
  }
  static const prometheus::Histogram::BucketBoundaries kLagBuckets = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
  for (const Observation& o : staged_) {
    if (!o.dead_letter_reason.empty()) {
      metrics_->dead_letters.Add({{"reason", o.dead_letter_reason}}).Increment();
      continue;
    }
    metrics_->responses.Add({{"category", std::string(domain::CategorySlug(o.category))}})
        .Increment();
    if (o.category == v1::CATEGORY_DETRACTOR) {
      metrics_->detractors
          .Add({{"priority", std::string(domain::PrioritySlug(o.priority))}, {"theme", o.theme}})
          .Increment();
    }
    if (o.lag_seconds.has_value()) {
      metrics_->lag.Add({}, kLagBuckets).Observe(std::max(0.0, *o.lag_seconds));
    }
  }
  staged_.clear();
}

ClassifierServer::ClassifierServer(const ClassifierConfig& config) : config_(config) {}

absl::StatusOr<std::unique_ptr<ClassifierServer>> ClassifierServer::Start(
    const ClassifierConfig& config) {
  std::unique_ptr<ClassifierServer> server(new ClassifierServer(config));
  auto rules = LoadRulesFile(config.rules_file);
  if (!rules.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rules-file (REBOUND_RULES_FILE): ", std::string(rules.status().message())));
  }
  server->rules_ = *rules;
  auto lexicon = Lexicon::FromFile(config.lexicon_file);
  if (!lexicon.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--lexicon-file (REBOUND_LEXICON_FILE): ",
                                                   std::string(lexicon.status().message())));
  }
  server->lexicon_ = std::make_unique<Lexicon>(std::move(*lexicon));

  server->registry_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<ClassifierMetrics>(*server->registry_);

  auto redis = redis::Client::Create(config.common.Redis());
  if (!redis.ok()) {
    return redis.status();
  }
  server->redis_ = std::move(*redis);
  server->store_ = std::make_unique<RedisScoreStore>(*server->redis_, config.common.redis_prefix);
  server->transformer_ = std::make_unique<BatchTransformer>(
      BatchTransformer::Options{.detractors_topic = config.detractors_topic,
                                .dead_letter_topic = config.DeadLetterTopic()},
      server->rules_, *server->lexicon_, *server->store_, server->metrics_.get());

  auto processor = kafka::TransactionalProcessor::Create(
      config.common.Kafka(), config.group_id, {config.responses_topic}, config.TransactionalId());
  if (!processor.ok()) {
    return processor.status();
  }
  server->processor_ = std::move(*processor);
  server->has_processor_ = true;

  ClassifierServer* self = server.get();
  server->http_ =
      std::make_unique<runtime::HttpServer>(server->registry_, [self] { return self->Ready(); });
  if (auto s = server->http_->Start(config.common.http_address); !s.ok()) {
    return s;
  }
  Log()->info(
      "classifier started: instance {}, transactional id {}, group {}, input {}, "
      "output {}, dead letters {}, HTTP port {}",
      config.instance_id, config.TransactionalId(), config.group_id, config.responses_topic,
      config.detractors_topic, config.DeadLetterTopic(), server->http_->port());
  server->running_ = true;
  server->loop_ = std::thread([self] { self->Loop(); });
  return server;
}

ClassifierServer::~ClassifierServer() { Shutdown(); }

int ClassifierServer::http_port() const { return http_->port(); }

absl::Status ClassifierServer::Ready() {
  if (!running_.load()) {
    return absl::UnavailableError("the processing loop is not running");
  }
  if (!has_processor_.load()) {
    return absl::UnavailableError("kafka: the transactional processor is being rebuilt");
  }
  auto pong = redis_->Command({"PING"});
  if (!pong.ok()) {
    return absl::UnavailableError(absl::StrCat("redis: ", std::string(pong.status().message())));
  }
  return absl::OkStatus();
}

void ClassifierServer::Loop() {
  const auto transform = [this](const std::vector<kafka::Message>& batch) {
    return transformer_->Transform(batch);
  };
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop_.load()) {
    // Without a processor (a rebuild failed), try again after the backoff below.
    absl::StatusOr<int> committed = absl::UnavailableError("kafka: no transactional processor");
    if (processor_ != nullptr || RebuildProcessor()) {
      committed = processor_->RunOnce(transform, absl::Milliseconds(config_.poll_timeout_ms),
                                      config_.max_batch);
    }
    if (committed.ok()) {
      transformer_->Commit();
      backoff = absl::Milliseconds(100);
      if (*committed > 0) {
        Log()->debug("committed a batch of {} records", *committed);
      }
      continue;
    }
    metrics_->batch_failures.Add({}).Increment();
    Log()->warn("batch aborted, retrying in {} ms: {}", absl::ToInt64Milliseconds(backoff),
                std::string(committed.status().message()));
    if (processor_ != nullptr && IsFatalProcessorError(committed.status())) {
      // A fenced or fatally failed producer (or consumer) answers every later call with the
      // same error, so retrying it would stall the partitions for good: build a new one. Its
      // init_transactions aborts whatever the old one left open, and the uncommitted batch is
      // read again from the committed offsets.
      if (RebuildProcessor()) {
        backoff = absl::Milliseconds(100);
        continue;
      }
    }
    // Sleep in short steps so that a shutdown is not held up by the backoff.
    const absl::Time until = absl::Now() + backoff;
    while (!stop_.load() && absl::Now() < until) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  running_ = false;
}

bool ClassifierServer::RebuildProcessor() {
  Log()->error("rebuilding the transactional processor {}", config_.TransactionalId());
  if (processor_ != nullptr) {
    processor_->Close();
    processor_.reset();
    has_processor_ = false;
  }
  auto processor =
      kafka::TransactionalProcessor::Create(config_.common.Kafka(), config_.group_id,
                                            {config_.responses_topic}, config_.TransactionalId());
  if (!processor.ok()) {
    Log()->error("cannot rebuild the transactional processor: {}",
                 std::string(processor.status().message()));
    return false;
  }
  processor_ = std::move(*processor);
  has_processor_ = true;
  return true;
}

void ClassifierServer::Shutdown() {
  if (stop_.exchange(true)) {
    return;
  }
  Log()->info("shutting down: finishing the current batch");
  // The loop returns after its current RunOnce, which commits or aborts that batch.
  if (loop_.joinable()) {
    loop_.join();
  }
  if (processor_ != nullptr) {
    processor_->Close();
  }
  if (http_ != nullptr) {
    http_->Stop();
  }
  Log()->info("classifier stopped");
}

}  // namespace rebound::classifier
