#include "import/ingest_sender.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace rebound::reboundctl {

IngestSender::IngestSender(IngestSenderOptions options) : options_(std::move(options)) {
  auto channel = grpc::CreateChannel(options_.address, grpc::InsecureChannelCredentials());
  stub_ = v1::IngestService::NewStub(channel);
}

absl::StatusOr<v1::SubmitResponsesResponse> IngestSender::Send(
    const std::vector<v1::SubmitResponsesRequest>& batch) {
  absl::Duration backoff = options_.first_backoff;
  grpc::Status status;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
    context.AddMetadata("x-rebound-source", "import");
    if (!options_.api_token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.api_token));
    }
    v1::SubmitResponsesResponse reply;
    auto writer = stub_->SubmitResponses(&context, &reply);
    for (const auto& item : batch) {
      // A failed write means the stream broke; Finish() then says why.
      if (!writer->Write(item)) {
        break;
      }
    }
    writer->WritesDone();
    status = writer->Finish();
    if (status.ok()) {
      return reply;
    }
    const bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                           status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
    if (!retryable || attempt == options_.max_attempts) {
      break;
    }
    ++retries_;
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(backoff));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      absl::StrCat("ingest at ", options_.address, ": ", status.error_message()));
}

}  // namespace rebound::reboundctl
