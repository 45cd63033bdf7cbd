// CaseService over gRPC: reads and changes of cases, the change stream and the figures.
// Errors are absl::Status inside and become grpc::Status once, in each handler.
#ifndef REBOUND_SERVICES_CASES_CASE_SERVICE_H_
#define REBOUND_SERVICES_CASES_CASE_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/time/time.h"
#include "case_store.h"
#include "metrics.h"
#include "rebound/redis/redis.h"
#include "rebound/v1/case_service.grpc.pb.h"

namespace rebound::cases {

struct CaseServiceOptions {
  // Bearer token of mutations (and of reads with auth_reads); empty: no authentication.
  std::string api_token;
  bool auth_reads = false;
  // Each WatchCases stream reads the change stream on a connection of its own, so a blocking
  // read never holds a connection the other handlers need.
  redis::RedisConfig watch_redis;
  // How long one blocking read of the change stream waits; bounds how fast a stream notices
  // shutdown or a cancelled call.
  absl::Duration watch_block = absl::Milliseconds(500);
};

class CaseServiceImpl final : public v1::CaseService::Service {
 public:
  CaseServiceImpl(CaseStore& store, Metrics& metrics, CaseServiceOptions options);

  grpc::Status GetCase(grpc::ServerContext* context, const v1::GetCaseRequest* request,
                       v1::GetCaseResponse* response) override;
  grpc::Status ListCases(grpc::ServerContext* context, const v1::ListCasesRequest* request,
                         v1::ListCasesResponse* response) override;
  grpc::Status UpdateResolution(grpc::ServerContext* context,
                                const v1::UpdateResolutionRequest* request,
                                v1::UpdateResolutionResponse* response) override;
  grpc::Status AddNote(grpc::ServerContext* context, const v1::AddNoteRequest* request,
                       v1::AddNoteResponse* response) override;
  grpc::Status WatchCases(grpc::ServerContext* context, const v1::WatchCasesRequest* request,
                          grpc::ServerWriter<v1::WatchCasesResponse>* writer) override;
  grpc::Status GetStats(grpc::ServerContext* context, const v1::GetStatsRequest* request,
                        v1::GetStatsResponse* response) override;

  // Makes open WatchCases streams end with OK within one watch_block; call before the gRPC
  // server's Shutdown.
  void BeginShutdown() { shutting_down_ = true; }

 private:
  absl::Status Authorize(const grpc::ServerContext& context, bool mutation) const;
  absl::Status Watch(grpc::ServerContext& context, const v1::WatchCasesRequest& request,
                     grpc::ServerWriter<v1::WatchCasesResponse>& writer);
  grpc::Status Finish(const char* method, const absl::Status& status);

  CaseStore& store_;
  Metrics& metrics_;
  CaseServiceOptions options_;
  std::atomic<bool> shutting_down_{false};
};

// Stream ids ("<ms>-<seq>") as cursors: parsing and ordering.
bool ParseCursor(const std::string& text, uint64_t* ms, uint64_t* seq);
// True when cursor `a` is before `b` (both valid).
bool CursorBefore(const std::string& a, const std::string& b);

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_CASE_SERVICE_H_
