// The HTTP webhook: POST /v1/responses with a JSON body signed by the survey platform.
//
// Signature header (see README.md, "Webhook"):
//   X-Rebound-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
// Several v1= entries are allowed, so a platform can sign with an old and a new secret while
// the secret rotates.
#ifndef REBOUND_SERVICES_INGEST_WEBHOOK_H_
#define REBOUND_SERVICES_INGEST_WEBHOOK_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "ingest_service.h"
#include "rebound/runtime/http_server.h"
#include "rebound/v1/survey.pb.h"

namespace rebound::ingest {

inline constexpr std::string_view kWebhookPath = "/v1/responses";
// Lower case, as runtime::HttpRequest stores header names.
inline constexpr std::string_view kSignatureHeader = "x-rebound-signature";

struct SignaturePolicy {
  std::string secret;
  // Signatures older than this are replays as far as we are concerned.
  absl::Duration max_age = absl::Minutes(5);
  // Signatures dated further ahead than this are refused too (a clock far off is a problem the
  // sender should see).
  absl::Duration max_future_skew = absl::Minutes(5);
};

// The header value a sender puts on `body` at time `at`.
std::string SignatureHeaderValue(std::string_view secret, std::string_view body, absl::Time at);

// UNAUTHENTICATED with a message for people when the header is missing, malformed, stale,
// dated in the future or does not match; OK otherwise.
absl::Status VerifySignature(const std::optional<std::string>& header, std::string_view body,
                             const SignaturePolicy& policy, absl::Time now);

// Maps the webhook JSON (README.md, "JSON shape") onto a SurveyResponse. Unknown fields are
// ignored; null counts as absent; a value of the wrong type is rejected naming its field
// (InvalidField). Range and length checks are left to NormalizeResponse.
absl::StatusOr<v1::SurveyResponse> ResponseFromJson(std::string_view body);

// {"error": {"code": ..., "field": ..., "message": ...}}; field omitted when empty.
std::string ErrorJson(std::string_view code, std::string_view field, std::string_view message);

// Serves POST /v1/responses. Answers 202 (accepted) or 200 (duplicate) only after the broker
// acknowledged; 400 invalid input; 401 bad signature; 413 body too large; 503 (with
// Retry-After) when Kafka or Redis cannot be reached or the same response id is being
// published by another request right now.
class WebhookHandler {
 public:
  WebhookHandler(Ingestor& ingestor, SignaturePolicy policy, size_t max_body_bytes,
                 IngestMetrics* metrics);

  runtime::HttpResponse Handle(const runtime::HttpRequest& request);

 private:
  Ingestor& ingestor_;
  SignaturePolicy policy_;
  size_t max_body_bytes_;
  IngestMetrics* metrics_;  // may be null
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_WEBHOOK_H_
