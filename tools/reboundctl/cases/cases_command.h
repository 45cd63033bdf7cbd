// `reboundctl cases list|show|resolve|note`: CaseService over gRPC, for people (tables) and
// scripts (--json). Exit codes: 0 ok, 1 not found or precondition failed, 2 usage, 3 the case
// service is unreachable, 4 the token was refused.
#ifndef REBOUND_TOOLS_REBOUNDCTL_CASES_CASES_COMMAND_H_
#define REBOUND_TOOLS_REBOUNDCTL_CASES_CASES_COMMAND_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "rebound/v1/case.pb.h"

namespace rebound::reboundctl {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;
inline constexpr int kExitAuth = 4;

// Registers the "cases" subcommand tree on `app`; the chosen command stores its exit code in
// `exit_code` when it runs.
void AddCasesCommand(CLI::App& app, int& exit_code);

// The case table as `reboundctl cases list` prints it, fitted to `width` columns (0: no limit).
std::string FormatCaseTable(const std::vector<v1::Case>& cases, size_t width);

// Display width of UTF-8 text, counting one column per code point.
size_t DisplayWidth(std::string_view text);

}  // namespace rebound::reboundctl

#endif  // REBOUND_TOOLS_REBOUNDCTL_CASES_CASES_COMMAND_H_
