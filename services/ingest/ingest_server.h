// Wiring of rebound-ingest: Kafka producer, Redis, the gRPC IngestService, the HTTP port with
// the webhook, /healthz, /readyz and /metrics, and the ordered shutdown.
#ifndef REBOUND_SERVICES_INGEST_INGEST_SERVER_H_
#define REBOUND_SERVICES_INGEST_INGEST_SERVER_H_

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "config.h"
#include "ingest_service.h"
#include "prometheus/registry.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/runtime/grpc_server.h"
#include "rebound/runtime/http_server.h"
#include "webhook.h"

namespace rebound::ingest {

class IngestServer {
 public:
  // Connects to Redis (failing when it cannot be reached), creates the producer and starts
  // both servers. The configuration must have passed ValidateIngestConfig.
  static absl::StatusOr<std::unique_ptr<IngestServer>> Start(const IngestConfig& config);
  ~IngestServer();

  int grpc_port() const;
  int http_port() const;

  // Stops taking requests, lets the ones in flight finish (at most the grace period), flushes
  // the producer and reports how many records it could not deliver.
  int Shutdown();

 private:
  explicit IngestServer(const IngestConfig& config);
  absl::Status Ready();

  IngestConfig config_;
  std::atomic<bool> draining_{false};
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<IngestMetrics> metrics_;
  std::unique_ptr<redis::Client> redis_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<Ingestor> ingestor_;
  std::unique_ptr<IngestServiceImpl> service_;
  std::unique_ptr<WebhookHandler> webhook_;
  std::unique_ptr<runtime::GrpcServer> grpc_;
  std::unique_ptr<runtime::HttpServer> http_;
};

}  // namespace rebound::ingest

#endif  // REBOUND_SERVICES_INGEST_INGEST_SERVER_H_
