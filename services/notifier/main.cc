// rebound-notifier: mails case owners about detractor cases (see README.md).
#include <cstdio>
#include <exception>
#include <string>

#include "notifier_server.h"
#include "rebound/runtime/log.h"
#include "rebound/runtime/shutdown.h"

int main(int argc, char** argv) {
  CLI::App app{"Rebound notifier: mails case owners about detractor cases"};
  rebound::notifier::NotifierOptions options;
  rebound::notifier::AddNotifierOptions(app, options);
  if (std::optional<int> code = rebound::runtime::ParseOrExit(app, argc, argv)) {
    return *code;
  }
  if (absl::Status s = rebound::notifier::ValidateNotifierOptions(options); !s.ok()) {
    std::fprintf(stderr, "rebound-notifier: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  if (absl::Status s = rebound::runtime::InitLogging("notifier", options.common.log_format,
                                                     options.common.log_level);
      !s.ok()) {
    std::fprintf(stderr, "rebound-notifier: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  try {
    rebound::runtime::ShutdownSignal shutdown;
    auto server = rebound::notifier::NotifierServer::Create(options);
    if (!server.ok()) {
      rebound::runtime::Logger("notifier")
          ->error("cannot start: {}", std::string(server.status().message()));
      rebound::runtime::FlushLogs();
      return 1;
    }
    const int code = (*server)->Run(shutdown);
    rebound::runtime::FlushLogs();
    return code;
  } catch (const std::exception& e) {
    rebound::runtime::Logger("notifier")->critical("unexpected exception: {}", e.what());
    rebound::runtime::FlushLogs();
    return 1;
  }
}
