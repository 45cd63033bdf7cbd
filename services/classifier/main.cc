// rebound-classifier: turns survey responses into detractor events with priority, due time and
// themes, exactly once (see README.md).
#include <cstdio>
#include <exception>
#include <string>

#include "classifier_server.h"
#include "config.h"
#include "rebound/runtime/log.h"
#include "rebound/runtime/shutdown.h"

int main(int argc, char** argv) {
  CLI::App app{"Rebound classifier: classifies survey responses and publishes detractors"};
  rebound::classifier::ClassifierConfig config;
  rebound::classifier::AddClassifierOptions(app, config);
  if (auto code = rebound::runtime::ParseOrExit(app, argc, argv); code.has_value()) {
    return *code;
  }
  if (auto s = rebound::classifier::ValidateClassifierConfig(config); !s.ok()) {
    std::fprintf(stderr, "rebound-classifier: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (auto s = rebound::runtime::InitLogging("classifier", config.common.log_format,
                                             config.common.log_level);
      !s.ok()) {
    std::fprintf(stderr, "rebound-classifier: %s\n", std::string(s.message()).c_str());
    return 2;
  }

  try {
    rebound::runtime::ShutdownSignal signal;
    auto server = rebound::classifier::ClassifierServer::Start(config);
    if (!server.ok()) {
      // A rules or lexicon file that does not parse is a configuration error.
      const bool bad_config = server.status().code() == absl::StatusCode::kInvalidArgument;
      if (bad_config) {
        std::fprintf(stderr, "rebound-classifier: %s\n",
                     std::string(server.status().message()).c_str());
      }
      rebound::runtime::Logger("classifier")
          ->error("cannot start: {}", std::string(server.status().message()));
      rebound::runtime::FlushLogs();
      return bad_config ? 2 : 1;
    }
    signal.Wait();
    (*server)->Shutdown();
  } catch (const std::exception& e) {
    rebound::runtime::Logger("classifier")->critical("unexpected error: {}", e.what());
    rebound::runtime::FlushLogs();
    return 1;
  }
  rebound::runtime::FlushLogs();
  return 0;
}
