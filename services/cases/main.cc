// rebound-cases: opens follow-up cases from detractors and serves them over gRPC and one-click
// links. See README.md.
#include <iostream>

#include "cases_server.h"
#include "config.h"
#include "rebound/runtime/log.h"
#include "rebound/runtime/shutdown.h"

int main(int argc, char** argv) {
  CLI::App app{"Rebound case service: follow-up cases of detractors"};
  rebound::cases::CasesConfig config;
  config.common.service_name = "cases";
  rebound::cases::AddCasesOptions(app, config);
  if (auto code = rebound::runtime::ParseOrExit(app, argc, argv)) {
    return *code;
  }
  if (absl::Status s = rebound::cases::ValidateCasesConfig(config); !s.ok()) {
    std::cerr << "rebound-cases: " << s.message() << "\n";
    return 2;
  }
  if (absl::Status s =
          rebound::runtime::InitLogging("cases", config.common.log_format, config.common.log_level);
      !s.ok()) {
    std::cerr << "rebound-cases: " << s.message() << "\n";
    return 2;
  }
  rebound::runtime::ShutdownSignal signal;
  auto server = rebound::cases::CasesServer::Start(config);
  if (!server.ok()) {
    rebound::runtime::Logger("cases")->critical("cannot start: {}",
                                                std::string(server.status().message()));
    rebound::runtime::FlushLogs();
    return 1;
  }
  return (*server)->Run(signal);
}
