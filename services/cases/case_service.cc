#include "case_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "rebound/domain/domain.h"
#include "rebound/runtime/grpc_server.h"
#include "rebound/runtime/log.h"
#include "transitions.h"

namespace rebound::cases {
namespace {

absl::Status RequireCaseId(const std::string& case_id) {
  if (case_id.empty()) {
    return absl::InvalidArgumentError("case_id: required");
  }
  if (case_id.size() > 64) {
    return absl::InvalidArgumentError("case_id: longer than 64 characters");
  }
  return absl::OkStatus();
}

absl::Status RequireVersion(int64_t expected_version) {
  if (expected_version < 0) {
    return absl::InvalidArgumentError("expected_version: must be 0 (no check) or a version");
  }
  return absl::OkStatus();
}

}  // namespace

bool ParseCursor(const std::string& text, uint64_t* ms, uint64_t* seq) {
  const size_t dash = text.find('-');
  if (dash == std::string::npos) {
    return false;
  }
  return absl::SimpleAtoi(absl::string_view(text.data(), dash), ms) &&
         absl::SimpleAtoi(absl::string_view(text.data() + dash + 1, text.size() - dash - 1), seq);
}

bool CursorBefore(const std::string& a, const std::string& b) {
  uint64_t a_ms = 0, a_seq = 0, b_ms = 0, b_seq = 0;
  ParseCursor(a, &a_ms, &a_seq);
  ParseCursor(b, &b_ms, &b_seq);
  return a_ms < b_ms || (a_ms == b_ms && a_seq < b_seq);
}

CaseServiceImpl::CaseServiceImpl(CaseStore& store, Metrics& metrics, CaseServiceOptions options)
    : store_(store), metrics_(metrics), options_(std::move(options)) {}

absl::Status CaseServiceImpl::Authorize(const grpc::ServerContext& context, bool mutation) const {
  if (!mutation && !options_.auth_reads) {
    return absl::OkStatus();
  }
  return runtime::CheckBearerToken(context, options_.api_token);
}

grpc::Status CaseServiceImpl::Finish(const char* method, const absl::Status& status) {
  metrics_.CountRequest(method, absl::StatusCodeToString(status.code()));
  if (!status.ok() && status.code() != absl::StatusCode::kNotFound &&
      status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kFailedPrecondition &&
      status.code() != absl::StatusCode::kUnauthenticated) {
    runtime::Logger("grpc")->warn("{}: {}", method, std::string(status.message()));
  }
  return runtime::ToGrpcStatus(status);
}

grpc::Status CaseServiceImpl::GetCase(grpc::ServerContext* context,
                                      const v1::GetCaseRequest* request,
                                      v1::GetCaseResponse* response) {
  absl::Status status = Authorize(*context, false);
  if (status.ok()) {
    status = RequireCaseId(request->case_id());
  }
  if (status.ok()) {
    absl::StatusOr<StoredCase> stored = store_.Get(request->case_id());
    status = stored.status();
    if (stored.ok()) {
      *response->mutable_case_() = std::move(stored->value);
    }
  }
  return Finish("GetCase", status);
}

grpc::Status CaseServiceImpl::ListCases(grpc::ServerContext* context,
                                        const v1::ListCasesRequest* request,
                                        v1::ListCasesResponse* response) {
  absl::Status status = Authorize(*context, false);
  if (status.ok()) {
    absl::StatusOr<v1::ListCasesResponse> listed = store_.List(*request, absl::Now());
    status = listed.status();
    if (listed.ok()) {
      *response = std::move(*listed);
    }
  }
  return Finish("ListCases", status);
}

grpc::Status CaseServiceImpl::UpdateResolution(grpc::ServerContext* context,
                                               const v1::UpdateResolutionRequest* request,
                                               v1::UpdateResolutionResponse* response) {
  absl::Status status = Authorize(*context, true);
  if (status.ok()) {
    status = RequireCaseId(request->case_id());
  }
  if (status.ok()) {
    status = RequireVersion(request->expected_version());
  }
  if (status.ok()) {
    const ChangeRequest change{
        .actor = request->actor(), .note = request->note(), .reopen = request->reopen()};
    absl::StatusOr<Transition> done = store_.Mutate(
        request->case_id(), request->expected_version(), [&](const StoredCase& current) {
          return ChangeResolution(current.value, request->resolution(), change, absl::Now());
        });
    status = done.status();
    if (done.ok()) {
      metrics_.CountTransition(std::string(domain::ResolutionSlug(request->resolution())));
      runtime::Logger("cases")->info("case {} set to {} (version {})", request->case_id(),
                                     std::string(domain::ResolutionSlug(request->resolution())),
                                     done->after.version());
      *response->mutable_case_() = std::move(done->after);
    }
  }
  return Finish("UpdateResolution", status);
}

grpc::Status CaseServiceImpl::AddNote(grpc::ServerContext* context,
                                      const v1::AddNoteRequest* request,
                                      v1::AddNoteResponse* response) {
  absl::Status status = Authorize(*context, true);
  if (status.ok()) {
    status = RequireCaseId(request->case_id());
  }
  if (status.ok()) {
    status = RequireVersion(request->expected_version());
  }
  if (status.ok()) {
    const ChangeRequest change{.actor = request->actor(), .note = request->note()};
    absl::StatusOr<Transition> done = store_.Mutate(
        request->case_id(), request->expected_version(), [&](const StoredCase& current) {
          return cases::AddNote(current.value, change, absl::Now());
        });
    status = done.status();
    if (done.ok()) {
      *response->mutable_case_() = std::move(done->after);
    }
  }
  return Finish("AddNote", status);
}

grpc::Status CaseServiceImpl::GetStats(grpc::ServerContext* context,
                                       const v1::GetStatsRequest* request,
                                       v1::GetStatsResponse* response) {
  absl::Status status = Authorize(*context, false);
  if (status.ok()) {
    absl::StatusOr<v1::GetStatsResponse> stats = store_.Stats(*request, absl::Now());
    status = stats.status();
    if (stats.ok()) {
      *response = std::move(*stats);
    }
  }
  return Finish("GetStats", status);
}

grpc::Status CaseServiceImpl::WatchCases(grpc::ServerContext* context,
                                         const v1::WatchCasesRequest* request,
                                         grpc::ServerWriter<v1::WatchCasesResponse>* writer) {
  absl::Status status = Authorize(*context, false);
  if (status.ok()) {
    status = Watch(*context, *request, *writer);
  }
  return Finish("WatchCases", status);
}

absl::Status CaseServiceImpl::Watch(grpc::ServerContext& context,
                                    const v1::WatchCasesRequest& request,
                                    grpc::ServerWriter<v1::WatchCasesResponse>& writer) {
  uint64_t ms = 0, seq = 0;
  if (!request.after_cursor().empty() && !ParseCursor(request.after_cursor(), &ms, &seq)) {
    return absl::InvalidArgumentError("after_cursor: not a cursor from WatchCases");
  }
  redis::RedisConfig config = options_.watch_redis;
  config.pool_size = 1;
  config.timeout = std::max(config.timeout, options_.watch_block + absl::Seconds(2));
  absl::StatusOr<std::unique_ptr<redis::Client>> redis = redis::Client::Create(config);
  if (!redis.ok()) {
    return redis.status();
  }
  const std::string key = store_.ChangesKey();

  std::string cursor = request.after_cursor();
  if (cursor.empty()) {
    // "From now on": the newest entry now, so nothing written after this call is skipped.
    auto last = (*redis)->Command({"XREVRANGE", key, "+", "-", "COUNT", "1"});
    if (!last.ok()) {
      return last.status();
    }
    cursor = "0-0";
    if (!last->elements.empty() && !last->elements[0].elements.empty()) {
      cursor = last->elements[0].elements[0].AsString().value_or("0-0");
    }
  } else {
    // A cursor older than what the capped stream still holds cannot resume without gaps.
    auto info = (*redis)->Command({"XINFO", "STREAM", key});
    if (info.ok()) {
      for (size_t i = 0; i + 1 < info->elements.size(); i += 2) {
        if (info->elements[i].AsString().value_or("") != "max-deleted-entry-id") {
          continue;
        }
        const std::string deleted = info->elements[i + 1].AsString().value_or("0-0");
        if (CursorBefore(cursor, deleted)) {
          return absl::OutOfRangeError(
              "after_cursor: changes after it were already dropped; list the cases again and "
              "watch from now on");
        }
      }
    }
  }

  const std::string owner = IndexName(request.owner());
  const std::string block = absl::StrCat(absl::ToInt64Milliseconds(options_.watch_block));
  while (!shutting_down_ && !context.IsCancelled()) {
    auto read =
        (*redis)->Command({"XREAD", "COUNT", "100", "BLOCK", block, "STREAMS", key, cursor});
    if (!read.ok()) {
      return read.status();
    }
    for (const redis::Reply& stream : read->elements) {
      if (stream.elements.size() < 2) {
        continue;
      }
      for (const redis::Reply& entry : stream.elements[1].elements) {
        if (entry.elements.size() < 2) {
          continue;
        }
        cursor = entry.elements[0].AsString().value_or(cursor);
        std::string entry_owner, payload;
        const redis::Reply& fields = entry.elements[1];
        for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
          const std::string name = fields.elements[i].AsString().value_or("");
          if (name == "owner") {
            entry_owner = fields.elements[i + 1].AsString().value_or("");
          } else if (name == "ev") {
            payload = fields.elements[i + 1].AsString().value_or("");
          }
        }
        if (!owner.empty() && entry_owner != owner) {
          continue;
        }
        v1::WatchCasesResponse response;
        response.set_cursor(cursor);
        if (!response.mutable_event()->ParseFromString(payload)) {
          continue;
        }
        if (!writer.Write(response)) {
          return absl::OkStatus();  // the client went away
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace rebound::cases
