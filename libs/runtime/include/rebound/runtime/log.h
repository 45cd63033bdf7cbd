// Logging on spdlog: one named logger per component, JSON lines in production and readable
// text on a terminal. The rule: personal data (names, emails, phones, comments) is never
// logged; log ids instead. As a second line of defence every message passes through Redact(),
// which masks email addresses and phone-like digit runs.
#ifndef REBOUND_RUNTIME_LOG_H_
#define REBOUND_RUNTIME_LOG_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "spdlog/spdlog.h"

namespace rebound::runtime {

// Sets up the default sink for the process. `format` is json, text or auto; `level` one of
// trace, debug, info, warn, error. Call once, before anything logs. JSON lines carry
// "time", "severity", "logger", "service", "message".
absl::Status InitLogging(std::string_view service, std::string_view format, std::string_view level);

// Returns the logger named `name` ("kafka", "redis", "grpc", the service name), creating it on
// first use with the process sink and level.
std::shared_ptr<spdlog::logger> Logger(std::string_view name);

// Masks email addresses ("a***@example.com" becomes "[email]") and runs of 7 or more digits
// with separators ("[phone]") in `text`.
std::string Redact(std::string_view text);

// Flushes every logger; the last step of shutdown.
void FlushLogs();

}  // namespace rebound::runtime

#endif  // REBOUND_RUNTIME_LOG_H_
