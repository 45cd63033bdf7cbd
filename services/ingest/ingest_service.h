// The core of ingest (validate, deduplicate, publish) and the gRPC IngestService on top of it.
//
// Deduplication and publishing, per response id (key <prefix>ingest:seen:<response id>):
//   1. SET key "pending" NX EX <pending ttl>: claims the id. If the key exists with "done"
//      the response is a DUPLICATE; with "pending" another request is publishing the same id
//      right now, and we wait (at most the publish timeout) for it to finish.
//   2. Publish ResponseReceived and wait for the broker's acknowledgement.
//   3. Acknowledged: SET key "done" EX <dedupe window>, answer ACCEPTED. Not acknowledged:
//      DEL key, answer UNAVAILABLE, so that the caller's retry is not taken for a duplicate.
// So an acknowledged response is never lost (we answer only after the broker has it) and
// never published twice within the window. A publish that timed out may still reach the
// broker later; the retry then publishes a second record with the same event id, which
// consumers deduplicate (they key on event_id).
#ifndef REBOUND_SERVICES_INGEST_INGEST_SERVICE_H_
#define REBOUND_SERVICES_INGEST_INGEST_SERVICE_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/ingest_service.grpc.pb.h"
#include "validation.h"

namespace rebound::ingest {

inline constexpr std::string_view kSourceGrpc = "grpc";
inline constexpr std::string_view kSourceWebhook = "webhook";
inline constexpr std::string_view kSourceImport = "import";
// gRPC metadata by which reboundctl marks its calls as an import.
inline constexpr std::string_view kSourceMetadata = "x-rebound-source";

inline constexpr std::string_view kEventType = "rebound.v1.ResponseReceived";
inline constexpr std::string_view kEventSource = "rebound/ingest";

// "rsp-" + the first 24 hex digits of SHA-256(response id): stable across retries.
std::string EventIdForResponse(std::string_view response_id);

// The Kafka record of an accepted response: ResponseReceived keyed by account id, with the
// CloudEvents headers.
kafka::OutRecord MakeResponseRecord(const std::string& topic, const v1::SurveyResponse& response);

// Prometheus series of ingest (names in README.md, "Metrics").
class IngestMetrics {
 public:
  explicit IngestMetrics(prometheus::Registry& registry);

  // `field` only for rejected responses; list indexes are dropped ("owner_chain[].name") to
  // keep the number of series small.
  void CountOutcome(std::string_view source, std::string_view outcome, std::string_view field);
  void ObservePublish(absl::Duration latency, bool acknowledged);
  void CountAuthFailure(std::string_view reason);

 private:
  prometheus::Family<prometheus::Counter>& responses_;
  prometheus::Family<prometheus::Histogram>& publish_seconds_;
  prometheus::Family<prometheus::Counter>& auth_failures_;
};

struct IngestorOptions {
  std::string topic = "survey.responses.v1";
  std::string redis_prefix = "rebound:";
  absl::Duration dedupe_window = absl::Hours(24 * 7);
  // Lifetime of a "pending" claim; must exceed the publish timeout so that a claim cannot
  // expire while its publish is still running.
  absl::Duration pending_ttl = absl::Seconds(60);
  absl::Duration publish_timeout = absl::Seconds(5);
  Limits limits;
};

// What happened to one response.
struct ItemResult {
  v1::SubmitOutcome outcome = v1::SUBMIT_OUTCOME_UNSPECIFIED;
  std::string response_id;
  FieldError error;  // REJECTED only
};

class Ingestor {
 public:
  using Clock = std::function<absl::Time()>;

  // `producer`, `redis` and `metrics` (may be null) must outlive the ingestor.
  Ingestor(
      IngestorOptions options, kafka::Producer& producer, redis::Client& redis,
      IngestMetrics* metrics, Clock clock = [] { return absl::Now(); });

  // Validates, deduplicates and publishes one response. A rejected response is a result, not
  // an error; UNAVAILABLE means Redis or Kafka did not answer in time and nothing is
  // remembered as seen, so the caller should retry.
  absl::StatusOr<ItemResult> Submit(v1::SurveyResponse response, std::string_view source);

  // The same for many responses, with one Redis round trip per step and one batch to Kafka.
  // Results are in input order; a response id repeated within the batch is a DUPLICATE after
  // its first occurrence. UNAVAILABLE when any publish failed: the acknowledged ones stay
  // published (and are DUPLICATE on a resend), the others are released.
  absl::StatusOr<std::vector<ItemResult>> SubmitBatch(std::vector<v1::SurveyResponse> responses,
                                                      std::string_view source);

  // OK when Redis answers PING and the last publish did not fail within the last 30 seconds.
  absl::Status Ready();

  std::string SeenKey(std::string_view response_id) const;

 private:
  struct Claim;

  // Waits for another request's claim on `key` to end: true when it ended with the response
  // published ("done"), false when we took the claim over; UNAVAILABLE on timeout.
  absl::StatusOr<bool> AwaitForeignClaim(const std::string& key);
  void Count(std::string_view source, const ItemResult& result);

  IngestorOptions options_;
  kafka::Producer& producer_;
  redis::Client& redis_;
  IngestMetrics* metrics_;
  Clock clock_;
  // Unix nanoseconds of the last failed publish, or 0; and of the last acknowledged one.
  std::atomic<int64_t> last_publish_failure_ns_{0};
  std::atomic<int64_t> last_publish_success_ns_{0};
};

// gRPC IngestService. Mutations require the bearer token when one is configured.
class IngestServiceImpl final : public v1::IngestService::Service {
 public:
  // Streamed items are handed to the ingestor in chunks of `chunk_size`, which bounds memory
  // and keeps Kafka batches large.
  IngestServiceImpl(Ingestor& ingestor, std::string api_token, size_t chunk_size = 500);

  grpc::Status SubmitResponse(grpc::ServerContext* context,
                              const v1::SubmitResponseRequest* request,
                              v1::SubmitResponseResponse* reply) override;
  grpc::Status SubmitResponses(grpc::ServerContext* context,
                               grpc::ServerReader<v1::SubmitResponsesRequest>* reader,
                               v1::SubmitResponsesResponse* reply) override;

 private:
  Ingestor& ingestor_;
  std::string api_token_;
  size_t chunk_size_;
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_INGEST_SERVICE_H_
