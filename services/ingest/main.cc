// rebound-ingest: the front door for survey responses (gRPC, webhook), see README.md.
#include <cstdio>
#include <exception>
#include <string>

#include "config.h"
#include "ingest_server.h"
#include "rebound/runtime/log.h"
#include "rebound/runtime/shutdown.h"

int main(int argc, char** argv) {
  CLI::App app{"Rebound ingest: validates survey responses and publishes them to Kafka"};
  rebound::ingest::IngestConfig config;
  rebound::ingest::AddIngestOptions(app, config);
  if (auto code = rebound::runtime::ParseOrExit(app, argc, argv); code.has_value()) {
    return *code;
  }
  if (auto s = rebound::ingest::ValidateIngestConfig(config); !s.ok()) {
    std::fprintf(stderr, "rebound-ingest: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (auto s = rebound::runtime::InitLogging("ingest", config.common.log_format,
                                             config.common.log_level);
      !s.ok()) {
    std::fprintf(stderr, "rebound-ingest: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  try {
    rebound::runtime::ShutdownSignal signal;
    auto server = rebound::ingest::IngestServer::Start(config);
    if (!server.ok()) {
      rebound::runtime::Logger("ingest")->error("cannot start: {}",
                                                std::string(server.status().message()));
      rebound::runtime::FlushLogs();
      return 1;
    }
    signal.Wait();
    (*server)->Shutdown();
  } catch (const std::exception& e) {
    rebound::runtime::Logger("ingest")->critical("unexpected error: {}", e.what());
    rebound::runtime::FlushLogs();
    return 1;
  }
  rebound::runtime::FlushLogs();
  return 0;
}
