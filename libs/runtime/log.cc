#include "rebound/runtime/log.h"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "spdlog/details/log_msg.h"
#include "spdlog/formatter.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/base_sink.h"

namespace rebound::runtime {
namespace {

// ---- Redaction ---------------------------------------------------------------------------

bool IsWordChar(unsigned char c) { return std::isalnum(c) || c == '_'; }

bool IsEmailLocalChar(unsigned char c) {
  return std::isalnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || c == '*' ||
         c >= 0x80;
}

bool IsEmailDomainChar(unsigned char c) {
  return std::isalnum(c) || c == '.' || c == '-' || c >= 0x80;
}

bool IsPhoneSeparator(unsigned char c) {
  return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')';
}

// An ISO date ("2026-01-31") has eight digits with dashes; it is not a phone number.
bool LooksLikeDate(std::string_view run) {
  return run.size() >= 10 && run[4] == '-' && run[7] == '-' &&
         std::isdigit(static_cast<unsigned char>(run[0])) &&
         std::isdigit(static_cast<unsigned char>(run[5])) &&
         std::isdigit(static_cast<unsigned char>(run[8]));
}

// Replaces every e-mail address with "[email]".
std::string RedactEmails(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;  // text[0, copied) is already in `out`
  for (size_t at = text.find('@'); at != std::string_view::npos; at = text.find('@', at + 1)) {
    if (at < copied) {
      continue;
    }
    size_t begin = at;
    while (begin > copied && IsEmailLocalChar(text[begin - 1])) {
      --begin;
    }
    size_t end = at + 1;
    while (end < text.size() && IsEmailDomainChar(text[end])) {
      ++end;
    }
    // A sentence may end right after the address.
    while (end > at + 1 && (text[end - 1] == '.' || text[end - 1] == '-')) {
      --end;
    }
    std::string_view domain = text.substr(at + 1, end - at - 1);
    size_t last_dot = domain.rfind('.');
    if (begin == at || last_dot == std::string_view::npos || last_dot == 0 ||
        domain.size() - last_dot - 1 < 2) {
      continue;
    }
    out.append(text.substr(copied, begin - copied));
    out.append("[email]");
    copied = end;
  }
  out.append(text.substr(copied));
  return out;
}

// Replaces runs of 7 or more digits, possibly split by spaces, dashes, dots, parentheses and
// a leading "+", with "[phone]". Runs glued to a word (hex ids, UUID parts, "v1234567") stay.
std::string RedactPhones(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t copied = 0;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = text[i];
    bool starts = std::isdigit(c) || ((c == '+' || c == '(') && i + 1 < text.size() &&
                                      std::isdigit(static_cast<unsigned char>(text[i + 1])));
    if (!starts) {
      ++i;
      continue;
    }
    size_t begin = i;
    size_t last_digit = i;
    int digits = 0;
    size_t j = i;
    if (text[j] == '+') {
      ++j;
    }
    for (; j < text.size(); ++j) {
      unsigned char d = text[j];
      if (std::isdigit(d)) {
        ++digits;
        last_digit = j;
      } else if (!IsPhoneSeparator(d) || j - last_digit > 2) {
        break;
      }
    }
    size_t end = last_digit + 1;
    // Glued to a word on the left ("id1234567", "ab-1234567") or on the right.
    bool glued_left = begin > 0 && (IsWordChar(text[begin - 1]) ||
                                    ((text[begin - 1] == '-' || text[begin - 1] == '.') &&
                                     begin > 1 && IsWordChar(text[begin - 2])));
    bool glued_right = end < text.size() && (IsWordChar(text[end]) ||
                                             ((text[end] == '-' || text[end] == '.') &&
                                              end + 1 < text.size() && IsWordChar(text[end + 1])));
    std::string_view run = text.substr(begin, end - begin);
    if (digits >= 7 && !glued_left && !glued_right && !LooksLikeDate(run)) {
      out.append(text.substr(copied, begin - copied));
      out.append("[phone]");
      copied = end;
    }
    // Skip past the whole run so its tail is not examined again as a new run.
    i = end > begin ? end : begin + 1;
    while (i < text.size() && IsWordChar(text[i])) {
      ++i;
    }
  }
  out.append(text.substr(copied));
  return out;
}

// ---- Formatting --------------------------------------------------------------------------

std::string Rfc3339Millis(spdlog::log_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t t = seconds.count();
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis.count()));
  return buffer;
}

// Severity names as structured-logging back ends (Cloud Logging, Loki) understand them.
const char* Severity(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      return "DEBUG";
    case spdlog::level::info:
      return "INFO";
    case spdlog::level::warn:
      return "WARNING";
    case spdlog::level::err:
      return "ERROR";
    case spdlog::level::critical:
      return "CRITICAL";
    default:
      return "DEFAULT";
  }
}

class JsonFormatter : public spdlog::formatter {
 public:
  explicit JsonFormatter(std::string service) : service_(std::move(service)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json line = {
        {"time", Rfc3339Millis(msg.time)},
        {"severity", Severity(msg.level)},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"service", service_},
        {"message", Redact(std::string_view(msg.payload.data(), msg.payload.size()))},
    };
    // Replace invalid UTF-8 instead of throwing from inside a log call.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text.push_back('\n');
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>(service_);
  }

 private:
  std::string service_;
};

// Human-readable lines; the message is redacted before the pattern sees it.
class TextFormatter : public spdlog::formatter {
 public:
  TextFormatter()
      : pattern_(std::make_unique<spdlog::pattern_formatter>(
            "%Y-%m-%dT%H:%M:%S.%eZ %^%-5l%$ [%n] %v", spdlog::pattern_time_type::utc)) {}

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string redacted = Redact(std::string_view(msg.payload.data(), msg.payload.size()));
    spdlog::details::log_msg copy = msg;
    copy.payload = spdlog::string_view_t(redacted.data(), redacted.size());
    pattern_->format(copy, dest);
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<TextFormatter>();
  }

 private:
  std::unique_ptr<spdlog::formatter> pattern_;
};

// One sink shared by every logger of the process, writing whole lines to stderr. Loggers made
// before InitLogging() share it too, so a later format change reaches them.
class StderrSink : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::fwrite(formatted.data(), 1, formatted.size(), stderr);
  }
  void flush_() override { std::fflush(stderr); }
};

struct LogState {
  std::mutex mu;
  std::shared_ptr<StderrSink> sink;
  spdlog::level::level_enum level = spdlog::level::info;
};

LogState& State() {
  static LogState* state = [] {
    auto* s = new LogState;
    s->sink = std::make_shared<StderrSink>();
    s->sink->set_formatter(std::make_unique<TextFormatter>());
    return s;
  }();
  return *state;
}

std::shared_ptr<spdlog::logger> GetOrCreateLocked(LogState& state, const std::string& name) {
  if (auto existing = spdlog::get(name)) {
    return existing;
  }
  auto logger = std::make_shared<spdlog::logger>(name, state.sink);
  logger->set_level(state.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace

std::string Redact(std::string_view text) {
  // Cheap exit for the common case of a message with neither an '@' nor a digit.
  bool maybe = false;
  for (char c : text) {
    if (c == '@' || std::isdigit(static_cast<unsigned char>(c))) {
      maybe = true;
      break;
    }
  }
  if (!maybe) {
    return std::string(text);
  }
  return RedactPhones(RedactEmails(text));
}

absl::Status InitLogging(std::string_view service, std::string_view format,
                         std::string_view level) {
  spdlog::level::level_enum parsed_level;
  std::string level_name = absl::AsciiStrToLower(absl::string_view(level.data(), level.size()));
  if (level_name == "trace") {
    parsed_level = spdlog::level::trace;
  } else if (level_name == "debug") {
    parsed_level = spdlog::level::debug;
  } else if (level_name == "info") {
    parsed_level = spdlog::level::info;
  } else if (level_name == "warn" || level_name == "warning") {
    parsed_level = spdlog::level::warn;
  } else if (level_name == "error") {
    parsed_level = spdlog::level::err;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("log level '", level_name, "' is not one of trace, debug, info, warn, error"));
  }

  bool json;
  if (format == "json") {
    json = true;
  } else if (format == "text") {
    json = false;
  } else if (format == "auto") {
    json = !isatty(STDERR_FILENO);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("log format '", std::string(format), "' is not one of json, text, auto"));
  }

  LogState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  state.level = parsed_level;
  if (json) {
    state.sink->set_formatter(std::make_unique<JsonFormatter>(std::string(service)));
  } else {
    state.sink->set_formatter(std::make_unique<TextFormatter>());
  }
  spdlog::apply_all(
      [&](std::shared_ptr<spdlog::logger> logger) { logger->set_level(parsed_level); });
  // spdlog::info() and friends go to the service's logger.
  auto service_logger = GetOrCreateLocked(state, std::string(service));
  spdlog::set_default_logger(service_logger);
  return absl::OkStatus();
}

std::shared_ptr<spdlog::logger> Logger(std::string_view name) {
  LogState& state = State();
  std::lock_guard<std::mutex> lock(state.mu);
  return GetOrCreateLocked(state, std::string(name));
}

void FlushLogs() {
  spdlog::apply_all([](std::shared_ptr<spdlog::logger> logger) { logger->flush(); });
  std::fflush(stderr);
}

}  // namespace rebound::runtime
