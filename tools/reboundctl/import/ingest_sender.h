// Sends mapped responses to rebound-ingest over gRPC (IngestService.SubmitResponses, one
// client stream per batch).
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_INGEST_SENDER_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_INGEST_SENDER_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "import/importer.h"
#include "rebound/v1/ingest_service.grpc.pb.h"

namespace rebound::reboundctl {

struct IngestSenderOptions {
  std::string address = "127.0.0.1:50051";
  std::string api_token;                            // sent as "authorization: Bearer ..." when set
  absl::Duration call_timeout = absl::Seconds(30);  // deadline of each batch call
  int max_attempts = 6;  // per batch, on UNAVAILABLE or a missed deadline
  absl::Duration first_backoff = absl::Milliseconds(250);
  absl::Duration max_backoff = absl::Seconds(4);
};

// Resends a whole batch after UNAVAILABLE or DEADLINE_EXCEEDED, with doubling backoff: items
// that ingest had already published come back as DUPLICATE, so a resend is safe. Other errors
// end the import at once. The error after the last attempt keeps the gRPC code (as an absl
// code) so that the caller can tell "unreachable" from the rest.
class IngestSender : public ResponseSender {
 public:
  explicit IngestSender(IngestSenderOptions options);
  absl::StatusOr<v1::SubmitResponsesResponse> Send(
      const std::vector<v1::SubmitResponsesRequest>& batch) override;
  // Attempts that failed and were retried, over the whole import.
  int retries() const { return retries_; }

 private:
  IngestSenderOptions options_;
  std::unique_ptr<v1::IngestService::Stub> stub_;
  int retries_ = 0;
};

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_INGEST_SENDER_H_
