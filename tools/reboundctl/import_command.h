// `reboundctl import`: a CSV export into rebound-ingest. Exit codes: 0 every row accepted or a
// duplicate, 1 rows were rejected (unless --allow-rejects), 2 usage or mapping errors, 3 ingest
// unreachable, 4 the token was refused.
#ifndef REBOUND_TOOLS_REBOUNDCTL_IMPORT_COMMAND_H_
#define REBOUND_TOOLS_REBOUNDCTL_IMPORT_COMMAND_H_

#include "CLI/CLI.hpp"

namespace rebound::reboundctl {

void AddImportCommand(CLI::App& app, int& exit_code);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_IMPORT_COMMAND_H_
