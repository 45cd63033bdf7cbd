// Helpers for tests that run against the local stack (Kafka, Redis, SMTP) started by the
// ctest fixture, and that start service binaries as child processes.
#ifndef REBOUND_TESTING_STACK_H_
#define REBOUND_TESTING_STACK_H_

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace rebound::testing {

// The key=value lines of the env file named by REBOUND_STACK_ENV (deploy/local/stack writes
// it): REBOUND_KAFKA_BROKERS, REBOUND_REDIS_ADDRESS, REBOUND_SMTP_URL,
// REBOUND_SMTP_CONTROL_URL, REBOUND_SMTP_MAILDIR. Fails the calling test (via ADD_FAILURE)
// and returns an empty map when the file is missing.
const std::map<std::string, std::string>& StackEnv();
// One value of StackEnv(); empty when absent.
std::string StackValue(const std::string& key);

// A name unique to this process and call: "<prefix>-<pid>-<counter>-<random>". Use it for
// topics, consumer groups, Redis key prefixes and mail recipients so tests never share data.
std::string UniqueName(const std::string& prefix);

// Path of a file in the source tree ($REBOUND_SOURCE_DIR/<relative>).
std::string SourcePath(const std::string& relative);
// Path of a built binary ($REBOUND_BINARY_DIR/<relative>), e.g. "services/ingest/rebound-ingest".
std::string BinaryPath(const std::string& relative);

// A child process started with extra environment variables; killed (SIGKILL) on destruction
// if still running. Its stdout and stderr go to `log_path` (appended).
class ChildProcess {
 public:
  ChildProcess(std::string binary, std::vector<std::string> args,
               std::map<std::string, std::string> env, std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool Running();
  // Sends `signal` (SIGTERM, SIGKILL, ...).
  void Signal(int signal);
  // Waits for exit at most `timeout`; returns the exit code (128+signal when killed) or
  // nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  const std::string& log_path() const { return log_path_; }
  // The whole log so far (for failure messages).
  std::string Log() const;

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
  std::string log_path_;
};

// Picks a free TCP port on 127.0.0.1.
int FreePort();

// Polls `url` (http://host:port/path) until it answers 200 or `timeout` passes.
bool WaitForHttpOk(const std::string& url, absl::Duration timeout);

// Simple HTTP client for tests: returns {status, body}; status 0 when unreachable.
struct HttpResult {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;
};
HttpResult HttpGet(const std::string& url);
HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::string& content_type,
                    const std::map<std::string, std::string>& headers = {});

// The SMTP catcher of the local stack.
struct CaughtMail {
  std::string path;  // the .eml file
  std::string raw;   // its bytes
};
// Queues reply codes for the next messages to `rcpt` (e.g. {451, 250}).
bool QueueSmtpFaults(const std::string& rcpt, const std::vector<int>& codes);
// Every stored message whose raw text contains `needle` (e.g. a unique recipient address).
std::vector<CaughtMail> FindMail(const std::string& needle);

}  // namespace rebound::testing

#endif  // REBOUND_TESTING_STACK_H_
