#include "rebound/testing/stack.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "nlohmann/json.hpp"

namespace rebound::testing {
namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr ? std::string(value) : fallback;
}

// Splits "http://host:port/path" into a client base ("http://host:port") and a path.
std::pair<std::string, std::string> SplitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return {url, "/"};
  return {url.substr(0, slash), url.substr(slash)};
}

HttpResult ToResult(const httplib::Result& result) {
  HttpResult out;
  if (!result) return out;
  out.status = result->status;
  out.body = result->body;
  for (const auto& [key, value] : result->headers) out.headers[key] = value;
  return out;
}

}  // namespace

const std::map<std::string, std::string>& StackEnv() {
  static const std::map<std::string, std::string>* env = [] {
    auto* values = new std::map<std::string, std::string>();
    const std::string path = EnvOr("REBOUND_STACK_ENV", "");
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      const size_t eq = line.find('=');
      if (line.empty() || line[0] == '#' || eq == std::string::npos) continue;
      std::string value(absl::StripAsciiWhitespace(line.substr(eq + 1)));
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'')) {
        value = value.substr(1, value.size() - 2);
      }
      (*values)[std::string(absl::StripAsciiWhitespace(line.substr(0, eq)))] = value;
    }
    return values;
  }();
  if (env->empty()) {
    ADD_FAILURE() << "no stack environment: REBOUND_STACK_ENV='" << EnvOr("REBOUND_STACK_ENV", "")
                  << "' (run through ctest so the stack fixture starts Kafka, Redis and SMTP)";
  }
  return *env;
}

std::string StackValue(const std::string& key) {
  const auto& env = StackEnv();
  auto it = env.find(key);
  return it == env.end() ? "" : it->second;
}

std::string UniqueName(const std::string& prefix) {
  static std::atomic<int> counter{0};
  static const uint32_t salt = std::random_device{}();
  return absl::StrCat(prefix, "-", getpid(), "-", counter.fetch_add(1), "-", salt % 100000);
}

std::string SourcePath(const std::string& relative) {
  return absl::StrCat(EnvOr("REBOUND_SOURCE_DIR", "."), "/", relative);
}

std::string BinaryPath(const std::string& relative) {
  return absl::StrCat(EnvOr("REBOUND_BINARY_DIR", "."), "/", relative);
}

ChildProcess::ChildProcess(std::string binary, std::vector<std::string> args,
                           std::map<std::string, std::string> env, std::string log_path)
    : log_path_(std::move(log_path)) {
  // Build argv and envp before fork: only async-signal-safe calls are allowed in the child.
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::map<std::string, std::string> merged;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string entry(*e);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : env) merged[key] = value;
  std::vector<std::string> env_storage;
  for (const auto& [key, value] : merged) env_storage.push_back(absl::StrCat(key, "=", value));
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_ = fork();
  if (pid_ == 0) {
    if (log_fd >= 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
    }
    const int null_fd = open("/dev/null", O_RDONLY);
    if (null_fd >= 0) dup2(null_fd, STDIN_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  if (log_fd >= 0) close(log_fd);
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    Signal(SIGKILL);
    Wait(absl::Seconds(10));
  }
}

bool ChildProcess::Running() {
  if (pid_ <= 0 || exit_code_.has_value()) return false;
  int status = 0;
  const pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) {
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  return false;
}

void ChildProcess::Signal(int signal) {
  if (pid_ > 0 && !exit_code_.has_value()) kill(pid_, signal);
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (Running()) {
    if (absl::Now() > deadline) return std::nullopt;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return exit_code_;
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool WaitForHttpOk(const std::string& url, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (HttpGet(url).status == 200) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

HttpResult HttpGet(const std::string& url) {
  auto [base, path] = SplitUrl(url);
  httplib::Client client(base);
  client.set_connection_timeout(2);
  client.set_read_timeout(10);
  return ToResult(client.Get(path));
}

HttpResult HttpPost(const std::string& url, const std::string& body,
                    const std::string& content_type,
                    const std::map<std::string, std::string>& headers) {
  auto [base, path] = SplitUrl(url);
  httplib::Client client(base);
  client.set_connection_timeout(2);
  client.set_read_timeout(30);
  httplib::Headers h;
  for (const auto& [key, value] : headers) h.emplace(key, value);
  return ToResult(client.Post(path, h, body, content_type));
}

bool QueueSmtpFaults(const std::string& rcpt, const std::vector<int>& codes) {
  nlohmann::json body = {{"rcpt", rcpt}, {"codes", codes}};
  const HttpResult r =
      HttpPost(StackValue("REBOUND_SMTP_CONTROL_URL") + "/faults", body.dump(), "application/json");
  return r.status >= 200 && r.status < 300;
}

std::vector<CaughtMail> FindMail(const std::string& needle) {
  std::vector<CaughtMail> found;
  const std::string dir = StackValue("REBOUND_SMTP_MAILDIR");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".eml") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string raw = ss.str();
    if (raw.find(needle) != std::string::npos) {
      found.push_back({entry.path().string(), std::move(raw)});
    }
  }
  return found;
}

}  // namespace rebound::testing
