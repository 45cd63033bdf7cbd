#include "cases_server.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "rebound/runtime/log.h"

namespace rebound::cases {
namespace {

std::string DefaultInstanceId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  return absl::StrCat(host[0] != '\0' ? host : "cases", "-", getpid());
}

}  // namespace

absl::StatusOr<std::unique_ptr<CasesServer>> CasesServer::Start(const CasesConfig& config) {
  auto log = runtime::Logger("cases");
  std::unique_ptr<CasesServer> server(new CasesServer());
  server->config_ = config;
  server->registry_ = std::make_shared<prometheus::Registry>();
  server->metrics_ = std::make_unique<Metrics>(*server->registry_);

  // Dependencies first: Redis, then Kafka.
  auto redis = redis::Client::Create(config.common.Redis());
  if (!redis.ok()) {
    return absl::Status(redis.status().code(),
                        absl::StrCat("redis: ", std::string(redis.status().message())));
  }
  server->redis_ = std::move(*redis);
  auto producer = kafka::Producer::Create(config.common.Kafka(), "rebound-cases");
  if (!producer.ok()) {
    return producer.status();
  }
  server->producer_ = std::move(*producer);
  auto consumer = kafka::Consumer::Create(config.common.Kafka(), config.consumer_group,
                                          {config.detractors_topic});
  if (!consumer.ok()) {
    return consumer.status();
  }
  server->consumer_ = std::move(*consumer);

  server->store_ = std::make_unique<CaseStore>(
      *server->redis_, StoreOptions{.prefix = config.common.redis_prefix,
                                    .closed_retention = absl::Hours(config.closed_retention_hours),
                                    .changes_max_len = config.changes_max_len});
  if (!config.link_keys.empty()) {
    auto signer = token::LinkSigner::FromConfig(config.link_keys);
    if (!signer.ok()) {
      return signer.status();
    }
    server->signer_.emplace(std::move(*signer));
  } else {
    log->warn("no --link-keys: one-click links answer 503");
  }

  // Serving: gRPC, then the HTTP port with the link pages.
  server->service_ =
      std::make_unique<CaseServiceImpl>(*server->store_, *server->metrics_,
                                        CaseServiceOptions{.api_token = config.common.api_token,
                                                           .auth_reads = config.common.auth_reads,
                                                           .watch_redis = config.common.Redis()});
  auto grpc = runtime::GrpcServer::Start({.address = config.common.grpc_address,
                                          .tls_cert_file = config.common.tls_cert_file,
                                          .tls_key_file = config.common.tls_key_file},
                                         {server->service_.get()});
  if (!grpc.ok()) {
    return grpc.status();
  }
  server->grpc_ = std::move(*grpc);

  server->links_ = std::make_unique<LinkPages>(
      *server->store_, server->signer_ ? &*server->signer_ : nullptr, *server->metrics_);
  redis::Client* ready_redis = server->redis_.get();
  server->http_ = std::make_unique<runtime::HttpServer>(server->registry_, [ready_redis] {
    auto pong = ready_redis->Command({"PING"});
    return pong.ok() ? absl::OkStatus() : pong.status();
  });
  LinkPages* links = server->links_.get();
  const std::string route = absl::StrCat(kLinkPathPrefix, "*");
  server->http_->Handle("GET", route,
                        [links](const runtime::HttpRequest& r) { return links->Get(r); });
  server->http_->Handle("POST", route,
                        [links](const runtime::HttpRequest& r) { return links->Post(r); });
  if (absl::Status s = server->http_->Start(config.common.http_address); !s.ok()) {
    return s;
  }

  // Background work: publishing, overdue scans, and the detractor intake.
  server->publisher_ = std::make_unique<OutboxPublisher>(
      *server->redis_, *server->producer_, *server->metrics_,
      OutboxOptions{
          .outbox_key = server->store_->OutboxKey(),
          .topic = config.case_events_topic,
          .consumer = config.instance_id.empty() ? DefaultInstanceId() : config.instance_id,
          .interval = absl::Milliseconds(config.outbox_interval_ms),
          .claim_idle = absl::Seconds(config.outbox_claim_idle_seconds)});
  server->publisher_->Start();
  server->overdue_ = std::make_unique<OverdueScheduler>(
      *server->store_, *server->metrics_, absl::Seconds(config.overdue_interval_seconds));
  server->overdue_->Start();
  server->intake_ =
      std::make_unique<DetractorIntake>(*server->consumer_, *server->producer_, *server->store_,
                                        *server->metrics_, config.detractors_topic + ".dlq");
  CasesServer* self = server.get();
  server->intake_thread_ =
      std::thread([self] { self->intake_->Run([self] { return self->stop_intake_.load(); }); });

  server->grpc_->SetServing(true);
  log->info("serving gRPC on port {} and HTTP on port {}; consuming {}", server->grpc_->port(),
            server->http_->port(), config.detractors_topic);
  return server;
}

CasesServer::~CasesServer() { Shutdown(); }

int CasesServer::Run(runtime::ShutdownSignal& signal) {
  signal.Wait();
  runtime::Logger("cases")->info("shutting down");
  Shutdown();
  runtime::Logger("cases")->info("exiting");
  runtime::FlushLogs();
  return 0;
}

void CasesServer::Shutdown() {
  if (stopped_) {
    return;
  }
  stopped_ = true;
  const absl::Duration grace = absl::Seconds(config_.common.shutdown_grace_seconds);
  // 1. Tell load balancers, end watch streams, stop taking calls.
  if (grpc_) {
    grpc_->SetServing(false);
  }
  if (service_) {
    service_->BeginShutdown();
  }
  if (grpc_) {
    grpc_->Shutdown(grace / 4);
  }
  // 2. Stop the intake: the batch in hand finishes and is committed; then leave the group.
  stop_intake_ = true;
  if (intake_thread_.joinable()) {
    intake_thread_.join();
  }
  if (consumer_) {
    consumer_->Close();
  }
  // 3. No more changes can happen: stop the scheduler, publish what the outbox still holds.
  if (overdue_) {
    overdue_->Stop();
  }
  if (publisher_) {
    publisher_->Stop(grace / 4);
  }
  if (producer_) {
    if (int left = producer_->Flush(grace / 4); left > 0) {
      runtime::Logger("cases")->warn("{} records not delivered at shutdown", left);
    }
  }
  // 4. The HTTP port (health, metrics) goes last.
  if (http_) {
    http_->Stop();
  }
}

}  // namespace rebound::cases
