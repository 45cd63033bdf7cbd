// reboundctl: the operator's command line for Rebound.
#include "CLI/CLI.hpp"
#include "cases/cases_command.h"
#include "import_command.h"

int main(int argc, char** argv) {
  CLI::App app{"reboundctl: import survey exports into Rebound and work with follow-up cases"};
  app.require_subcommand(1);
  int exit_code = rebound::reboundctl::kExitOk;
  rebound::reboundctl::AddImportCommand(app, exit_code);
  rebound::reboundctl::AddCasesCommand(app, exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? rebound::reboundctl::kExitOk : rebound::reboundctl::kExitUsage;
  }
  return exit_code;
}
