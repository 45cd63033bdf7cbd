#include "ingest_service.h"

#include <algorithm>
#include <map>
#include <optional>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"
#include "rebound/domain/domain.h"
#include "rebound/runtime/grpc_server.h"
#include "rebound/runtime/log.h"

namespace rebound::ingest {
namespace {

constexpr char kPending[] = "pending";
constexpr char kDone[] = "done";
// How long a failed publish keeps /readyz failing: long enough for a load balancer to notice,
// short enough that an idle instance becomes ready again without traffic.
constexpr absl::Duration kUnhealthyAfterFailure = absl::Seconds(30);
constexpr absl::Duration kClaimPollInterval = absl::Milliseconds(50);

std::shared_ptr<spdlog::logger> Log() { return runtime::Logger("ingest"); }

std::string OutcomeName(v1::SubmitOutcome outcome) {
  switch (outcome) {
    case v1::SUBMIT_OUTCOME_ACCEPTED:
      return "accepted";
    case v1::SUBMIT_OUTCOME_DUPLICATE:
      return "duplicate";
    case v1::SUBMIT_OUTCOME_REJECTED:
      return "rejected";
    default:
      return "unspecified";
  }
}

// "owner_chain[3].name" -> "owner_chain[].name".
std::string FieldLabel(std::string_view field) {
  std::string out;
  bool in_index = false;
  for (char c : field) {
    if (c == '[') {
      in_index = true;
      out.push_back(c);
    } else if (c == ']') {
      in_index = false;
      out.push_back(c);
    } else if (!in_index) {
      out.push_back(c);
    }
  }
  return out;
}

std::string SourceOf(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(std::string(kSourceMetadata));
  if (it != metadata.end() &&
      std::string_view(it->second.data(), it->second.size()) == kSourceImport) {
    return std::string(kSourceImport);
  }
  return std::string(kSourceGrpc);
}

}  // namespace

std::string EventIdForResponse(std::string_view response_id) {
  return "rsp-" + domain::Sha256Hex(response_id).substr(0, 24);
}

kafka::OutRecord MakeResponseRecord(const std::string& topic, const v1::SurveyResponse& response) {
  v1::ResponseReceived event;
  event.set_event_id(EventIdForResponse(response.response_id()));
  *event.mutable_response() = response;

  kafka::CloudEvent cloud_event;
  cloud_event.id = event.event_id();
  cloud_event.type = std::string(kEventType);
  cloud_event.source = std::string(kEventSource);
  cloud_event.time = absl::FromUnixSeconds(response.received_at().seconds()) +
                     absl::Nanoseconds(response.received_at().nanos());

  kafka::OutRecord record;
  record.topic = topic;
  record.key = response.account().account_id();
  record.value = event.SerializeAsString();
  record.headers = kafka::ToHeaders(cloud_event);
  return record;
}

IngestMetrics::IngestMetrics(prometheus::Registry& registry)
    : responses_(prometheus::BuildCounter()
                     .Name("rebound_ingest_responses_total")
                     .Help("Submitted responses by source, outcome and (for rejected ones) field")
                     .Register(registry)),
      publish_seconds_(prometheus::BuildHistogram()
                           .Name("rebound_ingest_publish_seconds")
                           .Help("Time from handing a batch to Kafka until it was acknowledged")
                           .Register(registry)),
      auth_failures_(prometheus::BuildCounter()
                         .Name("rebound_ingest_webhook_auth_failures_total")
                         .Help("Webhook requests refused for their signature, by reason")
                         .Register(registry)) {}

void IngestMetrics::CountOutcome(std::string_view source, std::string_view outcome,
                                 std::string_view field) {
  responses_
      .Add({{"source", std::string(source)},
            {"outcome", std::string(outcome)},
            {"field", FieldLabel(field)}})
      .Increment();
}

void IngestMetrics::ObservePublish(absl::Duration latency, bool acknowledged) {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  publish_seconds_.Add({{"result", acknowledged ? "acknowledged" : "failed"}}, kBuckets)
      .Observe(absl::ToDoubleSeconds(latency));
}

void IngestMetrics::CountAuthFailure(std::string_view reason) {
  auth_failures_.Add({{"reason", std::string(reason)}}).Increment();
}

Ingestor::Ingestor(IngestorOptions options, kafka::Producer& producer, redis::Client& redis,
                   IngestMetrics* metrics, Clock clock)
    : options_(std::move(options)),
      producer_(producer),
      redis_(redis),
      metrics_(metrics),
      clock_(std::move(clock)) {}

std::string Ingestor::SeenKey(std::string_view response_id) const {
  return absl::StrCat(options_.redis_prefix, "ingest:seen:", std::string(response_id));
}

void Ingestor::Count(std::string_view source, const ItemResult& result) {
  if (metrics_ != nullptr) {
    metrics_->CountOutcome(source, OutcomeName(result.outcome), result.error.field);
  }
}

absl::StatusOr<ItemResult> Ingestor::Submit(v1::SurveyResponse response, std::string_view source) {
  std::vector<v1::SurveyResponse> one;
  one.push_back(std::move(response));
  absl::StatusOr<std::vector<ItemResult>> results = SubmitBatch(std::move(one), source);
  if (!results.ok()) {
    return results.status();
  }
  return std::move(results->front());
}

absl::StatusOr<bool> Ingestor::AwaitForeignClaim(const std::string& key) {
  // The other request holds the claim for at most its publish timeout; give it that long.
  const absl::Time deadline = absl::Now() + options_.publish_timeout + absl::Seconds(1);
  while (absl::Now() < deadline) {
    absl::StatusOr<redis::Reply> value = redis_.Command({"GET", key});
    if (!value.ok()) {
      return absl::UnavailableError(absl::StrCat("redis: ", value.status().message()));
    }
    if (value->type == redis::Reply::Type::kString && value->str == kDone) {
      return true;
    }
    if (value->IsNil()) {
      // The other publish failed and released the id: try to take it over.
      absl::StatusOr<redis::Reply> set =
          redis_.Command({"SET", key, kPending, "NX", "PX",
                          absl::StrCat(absl::ToInt64Milliseconds(options_.pending_ttl))});
      if (!set.ok()) {
        return absl::UnavailableError(absl::StrCat("redis: ", set.status().message()));
      }
      if (!set->IsNil()) {
        return false;
      }
      continue;
    }
    std::this_thread::sleep_for(absl::ToChronoMilliseconds(kClaimPollInterval));
  }
  return absl::UnavailableError(
      "the same response id is being submitted by another request right now; retry shortly");
}

absl::StatusOr<std::vector<ItemResult>> Ingestor::SubmitBatch(
    std::vector<v1::SurveyResponse> responses, std::string_view source) {
  const absl::Time now = clock_();
  const size_t n = responses.size();
  std::vector<ItemResult> results(n);
  std::vector<v1::SurveyResponse> valid(n);

  // Step 1: validate. Later occurrences of an id within the batch follow the first one.
  std::map<std::string, size_t> first_of_id;
  std::vector<size_t> leaders;
  std::vector<size_t> followers;
  for (size_t i = 0; i < n; ++i) {
    results[i].response_id = responses[i].response_id();
    absl::StatusOr<v1::SurveyResponse> normalized =
        NormalizeResponse(std::move(responses[i]), options_.limits, now);
    if (!normalized.ok()) {
      results[i].outcome = v1::SUBMIT_OUTCOME_REJECTED;
      results[i].error = FieldErrorOf(normalized.status());
      continue;
    }
    *normalized->mutable_received_at() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(now));
    normalized->set_source(std::string(source));
    results[i].response_id = normalized->response_id();
    if (first_of_id.emplace(normalized->response_id(), i).second) {
      leaders.push_back(i);
    } else {
      followers.push_back(i);
    }
    valid[i] = std::move(*normalized);
  }

  std::vector<size_t> claimed;
  // Releases our claims when we give up before publishing.
  auto release_claims = [&]() {
    std::vector<std::vector<std::string>> deletes;
    for (size_t i : claimed) {
      deletes.push_back({"DEL", SeenKey(valid[i].response_id())});
    }
    if (!deletes.empty()) {
      (void)redis_.Pipeline(deletes);
    }
  };

  // Step 2: claim every id with SET NX in one round trip.
  if (!leaders.empty()) {
    const std::string pending_ms = absl::StrCat(absl::ToInt64Milliseconds(options_.pending_ttl));
    std::vector<std::vector<std::string>> sets;
    for (size_t i : leaders) {
      sets.push_back({"SET", SeenKey(valid[i].response_id()), kPending, "NX", "PX", pending_ms});
    }
    absl::StatusOr<std::vector<absl::StatusOr<redis::Reply>>> replies = redis_.Pipeline(sets);
    if (!replies.ok()) {
      return absl::UnavailableError(absl::StrCat("redis: ", replies.status().message()));
    }
    std::vector<size_t> contended;
    for (size_t k = 0; k < leaders.size(); ++k) {
      const absl::StatusOr<redis::Reply>& reply = (*replies)[k];
      if (!reply.ok()) {
        release_claims();
        return absl::UnavailableError(absl::StrCat("redis: ", reply.status().message()));
      }
      (reply->IsNil() ? contended : claimed).push_back(leaders[k]);
    }

    // Ids already known: "done" is a duplicate; "pending" is being published elsewhere.
    for (size_t i : contended) {
      absl::StatusOr<bool> published = AwaitForeignClaim(SeenKey(valid[i].response_id()));
      if (!published.ok()) {
        release_claims();
        return published.status();
      }
      if (*published) {
        results[i].outcome = v1::SUBMIT_OUTCOME_DUPLICATE;
      } else {
        claimed.push_back(i);
      }
    }
    std::sort(claimed.begin(), claimed.end());
  }

  // Step 3: publish what we claimed and wait for the acknowledgements.
  absl::Status batch_status;
  if (!claimed.empty()) {
    std::vector<kafka::OutRecord> records;
    records.reserve(claimed.size());
    for (size_t i : claimed) {
      records.push_back(MakeResponseRecord(options_.topic, valid[i]));
    }
    const absl::Time start = absl::Now();
    std::vector<absl::Status> sent = producer_.SendBatch(records, options_.publish_timeout);
    const absl::Duration latency = absl::Now() - start;
    sent.resize(records.size(), absl::InternalError("kafka: no delivery result"));

    // Step 4: remember the acknowledged ids for the whole window, release the others.
    const std::string window_s = absl::StrCat(absl::ToInt64Seconds(options_.dedupe_window));
    std::vector<std::vector<std::string>> updates;
    size_t failed = 0;
    absl::Status first_failure;
    for (size_t k = 0; k < claimed.size(); ++k) {
      const size_t i = claimed[k];
      const std::string key = SeenKey(valid[i].response_id());
      if (sent[k].ok()) {
        results[i].outcome = v1::SUBMIT_OUTCOME_ACCEPTED;
        updates.push_back({"SET", key, kDone, "EX", window_s});
      } else {
        ++failed;
        if (first_failure.ok()) {
          first_failure = sent[k];
        }
        updates.push_back({"DEL", key});
      }
    }
    if (metrics_ != nullptr) {
      metrics_->ObservePublish(latency, failed == 0);
    }
    (failed == 0 ? last_publish_success_ns_ : last_publish_failure_ns_)
        .store(absl::ToUnixNanos(absl::Now()));

    absl::StatusOr<std::vector<absl::StatusOr<redis::Reply>>> updated = redis_.Pipeline(updates);
    if (!updated.ok()) {
      // The records are acknowledged, so the answer stays ACCEPTED; the "pending" claims expire
      // after their TTL, after which a resend would be published again (consumers dedupe by
      // event id).
      Log()->warn("could not mark {} published responses as seen: {}", claimed.size() - failed,
                  std::string(updated.status().message()));
    }
    if (failed > 0) {
      Log()->warn("kafka did not acknowledge {} of {} responses: {}", failed, claimed.size(),
                  std::string(first_failure.message()));
      batch_status = absl::UnavailableError(absl::StrCat(
          "kafka: ", failed, " of ", claimed.size(), " responses were not acknowledged in time (",
          first_failure.message(), "); nothing of those was kept, retry later"));
    }
  }

  for (size_t i : followers) {
    results[i].outcome = v1::SUBMIT_OUTCOME_DUPLICATE;
  }
  for (size_t i = 0; i < n; ++i) {
    if (results[i].outcome != v1::SUBMIT_OUTCOME_UNSPECIFIED) {
      Count(source, results[i]);
    } else if (metrics_ != nullptr) {
      metrics_->CountOutcome(source, "unavailable", "");
    }
  }
  if (!batch_status.ok()) {
    return batch_status;
  }
  return results;
}

absl::Status Ingestor::Ready() {
  absl::StatusOr<redis::Reply> pong = redis_.Command({"PING"});
  if (!pong.ok()) {
    return absl::UnavailableError(absl::StrCat("redis: ", pong.status().message()));
  }
  const int64_t failure = last_publish_failure_ns_.load();
  const int64_t success = last_publish_success_ns_.load();
  if (failure > success && absl::FromUnixNanos(failure) + kUnhealthyAfterFailure > absl::Now()) {
    return absl::UnavailableError("kafka: the last publish was not acknowledged");
  }
  return absl::OkStatus();
}

IngestServiceImpl::IngestServiceImpl(Ingestor& ingestor, std::string api_token, size_t chunk_size)
    : ingestor_(ingestor), api_token_(std::move(api_token)), chunk_size_(chunk_size) {}

grpc::Status IngestServiceImpl::SubmitResponse(grpc::ServerContext* context,
                                               const v1::SubmitResponseRequest* request,
                                               v1::SubmitResponseResponse* reply) {
  if (auto auth = runtime::CheckBearerToken(*context, api_token_); !auth.ok()) {
    return runtime::ToGrpcStatus(auth);
  }
  absl::StatusOr<ItemResult> result = ingestor_.Submit(request->response(), SourceOf(*context));
  if (!result.ok()) {
    return runtime::ToGrpcStatus(result.status());
  }
  if (result->outcome == v1::SUBMIT_OUTCOME_REJECTED) {
    return runtime::ToGrpcStatus(InvalidField(result->error.field, result->error.message));
  }
  reply->set_response_id(result->response_id);
  reply->set_outcome(result->outcome);
  return grpc::Status::OK;
}

grpc::Status IngestServiceImpl::SubmitResponses(
    grpc::ServerContext* context, grpc::ServerReader<v1::SubmitResponsesRequest>* reader,
    v1::SubmitResponsesResponse* reply) {
  if (auto auth = runtime::CheckBearerToken(*context, api_token_); !auth.ok()) {
    return runtime::ToGrpcStatus(auth);
  }
  const std::string source = SourceOf(*context);
  std::vector<v1::SurveyResponse> chunk;
  std::vector<int64_t> items;

  auto flush = [&]() -> absl::Status {
    if (chunk.empty()) {
      return absl::OkStatus();
    }
    absl::StatusOr<std::vector<ItemResult>> results =
        ingestor_.SubmitBatch(std::move(chunk), source);
    chunk.clear();
    if (!results.ok()) {
      return results.status();
    }
    for (size_t k = 0; k < results->size(); ++k) {
      const ItemResult& result = (*results)[k];
      v1::SubmitResult* out = reply->add_results();
      out->set_item(items[k]);
      out->set_response_id(result.response_id);
      out->set_outcome(result.outcome);
      out->set_error_field(result.error.field);
      out->set_error_message(result.error.message);
      switch (result.outcome) {
        case v1::SUBMIT_OUTCOME_ACCEPTED:
          reply->set_accepted(reply->accepted() + 1);
          break;
        case v1::SUBMIT_OUTCOME_DUPLICATE:
          reply->set_duplicates(reply->duplicates() + 1);
          break;
        default:
          reply->set_rejected(reply->rejected() + 1);
          break;
      }
    }
    items.clear();
    return absl::OkStatus();
  };

  v1::SubmitResponsesRequest request;
  while (reader->Read(&request)) {
    chunk.push_back(std::move(*request.mutable_response()));
    items.push_back(request.item());
    if (chunk.size() >= chunk_size_) {
      if (auto s = flush(); !s.ok()) {
        return runtime::ToGrpcStatus(s);
      }
    }
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "the client cancelled the stream");
  }
  if (auto s = flush(); !s.ok()) {
    return runtime::ToGrpcStatus(s);
  }
  return grpc::Status::OK;
}

}  // namespace rebound::ingest
