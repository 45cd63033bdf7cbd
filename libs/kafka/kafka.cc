// Shared helpers: configuration, error mapping, headers, CloudEvents and property parsing.
#include "rebound/kafka/kafka.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "internal.h"
#include "rebound/runtime/log.h"

namespace rebound::kafka {
namespace internal {

std::shared_ptr<spdlog::logger> Log() {
  static const std::shared_ptr<spdlog::logger> logger = rebound::runtime::Logger("kafka");
  return logger;
}

void EventLogger::event_cb(RdKafka::Event& event) {
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR: {
      if (event.fatal()) {
        fatal_ = true;
        Log()->error("{}: fatal kafka error {}: {}", client_, RdKafka::err2str(event.err()),
                     event.str());
        return;
      }
      // Broker connection errors repeat on every reconnect attempt while a broker is down;
      // they are expected during restarts, so they stay at warning level.
      auto level =
          (event.err() == RdKafka::ERR__TRANSPORT ||
           event.err() == RdKafka::ERR__ALL_BROKERS_DOWN || event.err() == RdKafka::ERR__RESOLVE)
              ? spdlog::level::warn
              : spdlog::level::err;
      Log()->log(level, "{}: kafka error {}: {}", client_, RdKafka::err2str(event.err()),
                 event.str());
      return;
    }
    case RdKafka::Event::EVENT_LOG: {
      spdlog::level::level_enum level = spdlog::level::debug;
      switch (event.severity()) {
        case RdKafka::Event::EVENT_SEVERITY_EMERG:
        case RdKafka::Event::EVENT_SEVERITY_ALERT:
        case RdKafka::Event::EVENT_SEVERITY_CRITICAL:
          level = spdlog::level::critical;
          break;
        case RdKafka::Event::EVENT_SEVERITY_ERROR:
          level = spdlog::level::err;
          break;
        case RdKafka::Event::EVENT_SEVERITY_WARNING:
          level = spdlog::level::warn;
          break;
        case RdKafka::Event::EVENT_SEVERITY_NOTICE:
        case RdKafka::Event::EVENT_SEVERITY_INFO:
          level = spdlog::level::info;
          break;
        default:
          level = spdlog::level::debug;
          break;
      }
      // Connection failures also arrive as error events (logged above); the log line would
      // only say the same thing twice.
      if (event.fac() == "FAIL" && level == spdlog::level::err) {
        level = spdlog::level::debug;
      }
      Log()->log(level, "{}: [{}] {}", client_, event.fac(), event.str());
      return;
    }
    case RdKafka::Event::EVENT_THROTTLE:
      Log()->debug("{}: throttled {} ms by broker {}", client_, event.throttle_time(),
                   event.broker_name());
      return;
    default:
      return;
  }
}

absl::Status Set(RdKafka::Conf& conf, const std::string& key, const std::string& value) {
  std::string error;
  if (conf.set(key, value, error) != RdKafka::Conf::CONF_OK) {
    return absl::InvalidArgumentError(absl::StrCat("kafka property ", key, ": ", error));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<RdKafka::Conf>> BuildConf(
    const KafkaConfig& config, const std::string& client_id, RdKafka::EventCb* events,
    const std::vector<std::pair<std::string, std::string>>& defaults) {
  bool has_bootstrap = !config.brokers.empty() || config.properties.count("bootstrap.servers") ||
                       config.properties.count("test.mock.num.brokers");
  if (!has_bootstrap) {
    return absl::InvalidArgumentError("kafka brokers are not set");
  }
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string error;
  if (conf->set("event_cb", events, error) != RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka event callback: ", error));
  }
  if (!config.brokers.empty()) {
    if (auto s = Set(*conf, "bootstrap.servers", config.brokers); !s.ok()) {
      return s;
    }
  }
  if (auto s = Set(*conf, "client.id", client_id); !s.ok()) {
    return s;
  }
  for (const auto& [key, value] : defaults) {
    if (auto s = Set(*conf, key, value); !s.ok()) {
      return s;
    }
  }
  for (const auto& [key, value] : config.properties) {
    if (auto s = Set(*conf, key, value); !s.ok()) {
      return s;
    }
  }
  return conf;
}

absl::StatusCode CodeFor(RdKafka::ErrorCode code) {
  switch (code) {
    case RdKafka::ERR_NO_ERROR:
      return absl::StatusCode::kOk;
    case RdKafka::ERR__FATAL:
      return absl::StatusCode::kInternal;
    case RdKafka::ERR_MSG_SIZE_TOO_LARGE:
    case RdKafka::ERR_INVALID_MSG_SIZE:
    case RdKafka::ERR_INVALID_MSG:
    case RdKafka::ERR_TOPIC_EXCEPTION:
    case RdKafka::ERR__INVALID_ARG:
      return absl::StatusCode::kInvalidArgument;
    case RdKafka::ERR__UNKNOWN_TOPIC:
    case RdKafka::ERR_UNKNOWN_TOPIC_OR_PART:
    case RdKafka::ERR__UNKNOWN_PARTITION:
      return absl::StatusCode::kNotFound;
    case RdKafka::ERR_TOPIC_AUTHORIZATION_FAILED:
    case RdKafka::ERR_GROUP_AUTHORIZATION_FAILED:
    case RdKafka::ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RdKafka::ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
      return absl::StatusCode::kPermissionDenied;
    case RdKafka::ERR__AUTHENTICATION:
    case RdKafka::ERR_SASL_AUTHENTICATION_FAILED:
      return absl::StatusCode::kUnauthenticated;
    case RdKafka::ERR_PRODUCER_FENCED:
    case RdKafka::ERR_INVALID_PRODUCER_EPOCH:
    case RdKafka::ERR__FENCED:
      return absl::StatusCode::kFailedPrecondition;
    default:
      // Timeouts, transport errors, purges and everything else the broker may stop reporting
      // after a while: worth retrying.
      return absl::StatusCode::kUnavailable;
  }
}

absl::Status ErrorStatus(RdKafka::ErrorCode code, const std::string& context) {
  if (code == RdKafka::ERR_NO_ERROR) {
    return absl::OkStatus();
  }
  return absl::Status(CodeFor(code), absl::StrCat(context, ": ", RdKafka::err2str(code)));
}

int ToMillis(absl::Duration d) {
  int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(std::clamp<int64_t>(ms, 0, 24LL * 3600 * 1000));
}

RdKafka::Headers* ToKafkaHeaders(const std::vector<Header>& headers) {
  RdKafka::Headers* out = RdKafka::Headers::create();
  for (const Header& h : headers) {
    out->add(h.key, h.value.data(), h.value.size());
  }
  return out;
}

Message ToMessage(const RdKafka::Message& message) {
  Message out;
  out.topic = message.topic_name();
  out.partition = message.partition();
  out.offset = message.offset();
  if (message.key_pointer() != nullptr) {
    out.key.assign(static_cast<const char*>(message.key_pointer()), message.key_len());
  }
  if (message.payload() != nullptr) {
    out.value.assign(static_cast<const char*>(message.payload()), message.len());
  }
  // headers() is not const in the C++ API although it only reads.
  auto* headers = const_cast<RdKafka::Message&>(message).headers();
  if (headers != nullptr) {
    for (const RdKafka::Headers::Header& h : headers->get_all()) {
      Header header{.key = h.key(), .value = {}};
      if (h.value() != nullptr) {
        header.value.assign(static_cast<const char*>(h.value()), h.value_size());
      }
      out.headers.push_back(std::move(header));
    }
  }
  RdKafka::MessageTimestamp ts = message.timestamp();
  if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_NOT_AVAILABLE) {
    out.timestamp = absl::FromUnixMillis(ts.timestamp);
  }
  return out;
}

std::string DescribePartitions(const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::map<std::string, std::vector<int32_t>> by_topic;
  for (const RdKafka::TopicPartition* tp : partitions) {
    by_topic[tp->topic()].push_back(tp->partition());
  }
  std::vector<std::string> parts;
  for (auto& [topic, ids] : by_topic) {
    std::sort(ids.begin(), ids.end());
    parts.push_back(absl::StrCat(topic, "[", absl::StrJoin(ids, ","), "]"));
  }
  return parts.empty() ? "(none)" : absl::StrJoin(parts, " ");
}

void NextOffsets(const std::vector<Message>& messages, PartitionList& out) {
  std::map<std::pair<std::string, int32_t>, int64_t> next;
  for (const Message& m : messages) {
    int64_t& offset = next[{m.topic, m.partition}];
    offset = std::max(offset, m.offset + 1);
  }
  for (const auto& [tp, offset] : next) {
    out.list.push_back(RdKafka::TopicPartition::create(tp.first, tp.second, offset));
  }
}

}  // namespace internal

absl::StatusOr<std::map<std::string, std::string>> ParseProperties(std::string_view text) {
  std::map<std::string, std::string> out;
  for (absl::string_view entry :
       absl::StrSplit(absl::string_view(text.data(), text.size()), absl::ByAnyChar(";\n"))) {
    entry = absl::StripAsciiWhitespace(entry);
    if (entry.empty() || entry.front() == '#') {
      continue;
    }
    size_t eq = entry.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property \"", entry, "\" has no '=' (expected key=value)"));
    }
    absl::string_view key = absl::StripAsciiWhitespace(entry.substr(0, eq));
    absl::string_view value = absl::StripAsciiWhitespace(entry.substr(eq + 1));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("kafka property \"", entry, "\" has an empty key"));
    }
    out[std::string(key)] = std::string(value);
  }
  return out;
}

namespace {
constexpr char kId[] = "ce_id";
constexpr char kType[] = "ce_type";
constexpr char kSource[] = "ce_source";
constexpr char kTime[] = "ce_time";
constexpr char kSpecVersion[] = "ce_specversion";
constexpr char kContentType[] = "content-type";
}  // namespace

std::vector<Header> ToHeaders(const CloudEvent& event) {
  return {
      {kSpecVersion, "1.0"},
      {kId, event.id},
      {kType, event.type},
      {kSource, event.source},
      {kTime, absl::FormatTime(absl::RFC3339_full, event.time, absl::UTCTimeZone())},
      {kContentType, event.content_type},
  };
}

CloudEvent FromHeaders(const std::vector<Header>& headers) {
  CloudEvent event;
  event.id = FindHeader(headers, kId).value_or("");
  event.type = FindHeader(headers, kType).value_or("");
  event.source = FindHeader(headers, kSource).value_or("");
  event.content_type = FindHeader(headers, kContentType).value_or("");
  if (auto time = FindHeader(headers, kTime)) {
    absl::Time parsed;
    std::string error;
    if (absl::ParseTime(absl::RFC3339_full, *time, &parsed, &error)) {
      event.time = parsed;
    }
  }
  return event;
}

std::optional<std::string> FindHeader(const std::vector<Header>& headers, std::string_view key) {
  for (const Header& h : headers) {
    if (h.key == key) {
      return h.value;
    }
  }
  return std::nullopt;
}

}  // namespace rebound::kafka
