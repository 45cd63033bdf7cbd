// Wiring of rebound-cases: Redis, Kafka, the gRPC and HTTP servers and the background loops,
// and their start and ordered shutdown.
#ifndef REBOUND_SERVICES_CASES_CASES_SERVER_H_
#define REBOUND_SERVICES_CASES_CASES_SERVER_H_

#include <atomic>
#include <memory>
#include <optional>
#include <thread>

#include "absl/status/statusor.h"
#include "case_service.h"
#include "case_store.h"
#include "config.h"
#include "intake.h"
#include "link_pages.h"
#include "metrics.h"
#include "outbox.h"
#include "overdue.h"
#include "prometheus/registry.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/runtime/grpc_server.h"
#include "rebound/runtime/http_server.h"
#include "rebound/runtime/shutdown.h"
#include "rebound/token/token.h"

namespace rebound::cases {

class CasesServer {
 public:
  // Connects to Redis and Kafka and starts serving. The config must be validated.
  static absl::StatusOr<std::unique_ptr<CasesServer>> Start(const CasesConfig& config);
  ~CasesServer();

  // Blocks until `signal` fires, then shuts down in order. Returns the exit code.
  int Run(runtime::ShutdownSignal& signal);

 private:
  CasesServer() = default;
  void Shutdown();

  CasesConfig config_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<kafka::Consumer> consumer_;
  std::unique_ptr<CaseStore> store_;
  std::optional<token::LinkSigner> signer_;
  std::unique_ptr<CaseServiceImpl> service_;
  std::unique_ptr<LinkPages> links_;
  std::unique_ptr<OutboxPublisher> publisher_;
  std::unique_ptr<OverdueScheduler> overdue_;
  std::unique_ptr<DetractorIntake> intake_;
  std::unique_ptr<runtime::GrpcServer> grpc_;
  std::unique_ptr<runtime::HttpServer> http_;
  std::atomic<bool> stop_intake_{false};
  std::thread intake_thread_;
  bool stopped_ = false;
};

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_CASES_SERVER_H_
