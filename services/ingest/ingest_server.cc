#include "ingest_server.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "rebound/runtime/log.h"

namespace rebound::ingest {
namespace {

std::shared_ptr<spdlog::logger> Log() { return runtime::Logger("ingest"); }

runtime::HttpResponse WebhookOff(const runtime::HttpRequest&) {
  runtime::HttpResponse response;
  response.status = 404;
  response.content_type = "application/json";
  response.body = ErrorJson("not_found", "",
                            "the webhook is turned off: no REBOUND_WEBHOOK_SECRET is configured");
  return response;
}

runtime::HttpResponse Draining(const runtime::HttpRequest&) {
  runtime::HttpResponse response;
  response.status = 503;
  response.content_type = "application/json";
  response.headers["Retry-After"] = "1";
  response.body = ErrorJson("unavailable", "", "the service is shutting down; retry shortly");
  return response;
}

}  // namespace

IngestServer::IngestServer(const IngestConfig& config) : config_(config) {}

IngestServer::~IngestServer() {
  if (http_ != nullptr) {
    http_->Stop();
  }
  if (grpc_ != nullptr) {
    grpc_->Shutdown(absl::Seconds(1));
  }
}

int IngestServer::grpc_port() const { return grpc_->port(); }
int IngestServer::http_port() const { return http_->port(); }

absl::Status IngestServer::Ready() {
  if (draining_.load()) {
    return absl::UnavailableError("shutting down");
  }
  return ingestor_->Ready();
}

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(const IngestConfig& config) {
  std::unique_ptr<IngestServer> server(new IngestServer(config));
  server->registry_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<IngestMetrics>(*server->registry_);

  // Dependencies first: without Redis there is no deduplication, so refuse to start.
  redis::RedisConfig redis_config = config.common.Redis();
  auto redis = redis::Client::Create(redis_config);
  if (!redis.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot reach Redis at ", redis_config.address, ": ",
                                               redis.status().message()));
  }
  server->redis_ = std::move(*redis);

  // Records that we gave up waiting for should fail for good soon after, so that the outcome
  // of a timed-out publish is settled before a resend is likely.
  kafka::ProducerOptions producer_options;
  producer_options.delivery_timeout = absl::Seconds(config.publish_timeout_seconds);
  auto producer =
      kafka::Producer::Create(config.common.Kafka(), "rebound-ingest", producer_options);
  if (!producer.ok()) {
    return producer.status();
  }
  server->producer_ = std::move(*producer);

  server->ingestor_ = std::make_unique<Ingestor>(config.Ingestor(), *server->producer_,
                                                 *server->redis_, server->metrics_.get());
  server->service_ = std::make_unique<IngestServiceImpl>(
      *server->ingestor_, config.common.api_token, static_cast<size_t>(config.batch_chunk_size));

  // HTTP: probes, metrics and the webhook.
  IngestServer* self = server.get();
  server->http_ =
      std::make_unique<runtime::HttpServer>(server->registry_, [self] { return self->Ready(); });
  if (config.webhook_secret.empty()) {
    server->http_->Handle("POST", std::string(kWebhookPath), WebhookOff);
  } else {
    server->webhook_ = std::make_unique<WebhookHandler>(
        *server->ingestor_, config.Signature(), static_cast<size_t>(config.webhook_max_body_bytes),
        server->metrics_.get());
    server->http_->Handle("POST", std::string(kWebhookPath),
                          [self](const runtime::HttpRequest& request) {
                            if (self->draining_.load()) {
                              return Draining(request);
                            }
                            return self->webhook_->Handle(request);
                          });
  }
  if (auto s = server->http_->Start(config.common.http_address); !s.ok()) {
    return s;
  }

  runtime::GrpcServerOptions grpc_options;
  grpc_options.address = config.common.grpc_address;
  grpc_options.tls_cert_file = config.common.tls_cert_file;
  grpc_options.tls_key_file = config.common.tls_key_file;
  auto grpc = runtime::GrpcServer::Start(grpc_options, {server->service_.get()});
  if (!grpc.ok()) {
    return grpc.status();
  }
  server->grpc_ = std::move(*grpc);
  server->grpc_->SetServing(true);

  Log()->info("serving gRPC on port {} and HTTP on port {}; publishing to {}; webhook {}",
              server->grpc_->port(), server->http_->port(), config.responses_topic,
              config.webhook_secret.empty() ? "off" : "on");
  return server;
}

int IngestServer::Shutdown() {
  const absl::Duration grace = absl::Seconds(config_.common.shutdown_grace_seconds);
  // 1. Tell load balancers and health checks to stop sending work.
  Log()->info("draining");
  draining_.store(true);
  grpc_->SetServing(false);
  // 2. Stop taking calls; calls and streams in flight get the grace period to finish.
  grpc_->Shutdown(grace);
  Log()->debug("gRPC server stopped");
  // 3. The webhook: stopping the HTTP server waits for requests being handled.
  http_->Stop();
  Log()->debug("HTTP server stopped");
  // 4. Everything acknowledged was answered already; flush what librdkafka still holds (only
  //    records whose callers gave up waiting).
  const int undelivered = producer_->Flush(grace);
  Log()->debug("producer flushed");
  if (undelivered > 0) {
    Log()->warn("{} records were still undelivered when the flush gave up", undelivered);
  }
  Log()->info("exiting");
  return undelivered;
}

}  // namespace rebound::ingest
