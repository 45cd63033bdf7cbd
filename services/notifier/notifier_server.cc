#include "notifier_server.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "rebound/kafka/kafka.h"
#include "rebound/mail/mime.h"
#include "rebound/mail/smtp.h"
#include "rebound/redis/redis.h"
#include "rebound/runtime/http_server.h"
#include "rebound/runtime/log.h"
#include "rebound/token/token.h"
#include "rebound/v1/events.pb.h"
#include "recipients.h"
#include "render.h"

namespace rebound::notifier {
namespace {}  // namespace

void AddNotifierOptions(CLI::App& app, NotifierOptions& o) {
  runtime::AddCommonOptions(app, o.common, {.grpc_port = 0, .http_port = 8084});
  app.add_option("--case-events-topic", o.events_topic, "Topic of CaseEvents to consume")
      ->envname("REBOUND_CASE_EVENTS_TOPIC")
      ->capture_default_str();
  app.add_option("--dead-letter-topic", o.dlq_topic,
                 "Dead-letter topic for events that cannot be mailed (default <events-topic>.dlq)")
      ->envname("REBOUND_DEAD_LETTER_TOPIC");
  app.add_option("--consumer-group", o.group_id, "Kafka consumer group")
      ->envname("REBOUND_CONSUMER_GROUP")
      ->capture_default_str();
  app.add_option("--smtp-url", o.smtp_url, "SMTP server: smtp://host:port or smtps://host:port")
      ->envname("REBOUND_SMTP_URL")
      ->capture_default_str();
  app.add_option("--smtp-username", o.smtp_username, "SMTP user name (empty: no AUTH)")
      ->envname("REBOUND_SMTP_USERNAME");
  app.add_option("--smtp-password", o.smtp_password, "SMTP password")
      ->envname("REBOUND_SMTP_PASSWORD");
  app.add_option("--smtp-starttls", o.smtp_starttls,
                 "STARTTLS on smtp://: none, try (when offered) or required")
      ->envname("REBOUND_SMTP_STARTTLS")
      ->capture_default_str();
  app.add_option("--smtp-connect-timeout-seconds", o.smtp_connect_timeout_seconds,
                 "Limit for connecting to the SMTP server")
      ->envname("REBOUND_SMTP_CONNECT_TIMEOUT_SECONDS")
      ->capture_default_str();
  app.add_option("--smtp-timeout-seconds", o.smtp_timeout_seconds, "Limit for sending one message")
      ->envname("REBOUND_SMTP_TIMEOUT_SECONDS")
      ->capture_default_str();
  app.add_option("--mail-from", o.mail_from, "Sender address of every mail")
      ->envname("REBOUND_MAIL_FROM")
      ->capture_default_str();
  app.add_option("--mail-from-name", o.mail_from_name, "Sender display name")
      ->envname("REBOUND_MAIL_FROM_NAME")
      ->capture_default_str();
  app.add_option("--message-id-domain", o.message_id_domain,
                 "Domain part of the Message-IDs derived from event ids")
      ->envname("REBOUND_MESSAGE_ID_DOMAIN")
      ->capture_default_str();
  app.add_option("--templates-dir", o.templates_dir,
                 "Directory of the mail templates (default: templates/ beside the binary)")
      ->envname("REBOUND_TEMPLATES_DIR");
  app.add_option("--time-zone", o.time_zone, "Time zone of times shown in mails")
      ->envname("REBOUND_TIME_ZONE")
      ->capture_default_str();
  app.add_option("--link-base-url", o.link_base_url,
                 "Base URL of the one-click resolution links (the case service's HTTP address)")
      ->envname("REBOUND_LINK_BASE_URL")
      ->capture_default_str();
  app.add_option("--link-keys", o.link_keys,
                 "Link signing keys 'id:secret[,id:secret]', the same as the case service's")
      ->envname("REBOUND_LINK_KEYS");
  app.add_option("--link-expiry-days", o.link_expiry_days, "How long resolution links work")
      ->envname("REBOUND_LINK_EXPIRY_DAYS")
      ->capture_default_str();
  app.add_option("--directory-file", o.directory_file,
                 "JSON file of owner addresses, directors and routing rules by tag")
      ->envname("REBOUND_DIRECTORY_FILE");
  app.add_flag("--cc-director", o.cc_director, "Copy the owner's director on every mail")
      ->envname("REBOUND_CC_DIRECTOR");
  app.add_option("--fallback-recipient", o.fallback_recipient,
                 "Address used when the owner has none (empty: such events are dead-lettered)")
      ->envname("REBOUND_FALLBACK_RECIPIENT");
  app.add_option("--retry-initial-ms", o.retry_initial_ms,
                 "First wait after a transient SMTP failure; doubles each time, with jitter")
      ->envname("REBOUND_RETRY_INITIAL_MS")
      ->capture_default_str();
  app.add_option("--retry-max-ms", o.retry_max_ms, "Longest wait between attempts")
      ->envname("REBOUND_RETRY_MAX_MS")
      ->capture_default_str();
  app.add_option("--retry-max-attempts", o.retry_max_attempts,
                 "Attempts per mail before it goes to the dead-letter topic")
      ->envname("REBOUND_RETRY_MAX_ATTEMPTS")
      ->capture_default_str();
  app.add_option("--retry-max-seconds", o.retry_max_seconds,
                 "Time per mail before it goes to the dead-letter topic")
      ->envname("REBOUND_RETRY_MAX_SECONDS")
      ->capture_default_str();
  app.add_option("--sent-ttl-days", o.sent_ttl_days,
                 "How long Redis remembers that an event was mailed")
      ->envname("REBOUND_SENT_TTL_DAYS")
      ->capture_default_str();
}

absl::Status ValidateNotifierOptions(NotifierOptions& o) {
  if (absl::Status s = runtime::ValidateCommonOptions(o.common); !s.ok()) {
    return s;
  }
  if (o.events_topic.empty()) {
    return runtime::InvalidSetting("--case-events-topic", "REBOUND_CASE_EVENTS_TOPIC",
                                   "must not be empty");
  }
  if (o.dlq_topic.empty()) {
    o.dlq_topic = o.events_topic + ".dlq";
  }
  if (o.dlq_topic == o.events_topic) {
    return runtime::InvalidSetting("--dead-letter-topic", "REBOUND_DEAD_LETTER_TOPIC",
                                   "must differ from --case-events-topic");
  }
  if (o.group_id.empty()) {
    return runtime::InvalidSetting("--consumer-group", "REBOUND_CONSUMER_GROUP",
                                   "must not be empty");
  }
  absl::StatusOr<mail::StartTls> starttls = mail::ParseStartTls(o.smtp_starttls);
  if (!starttls.ok()) {
    return runtime::InvalidSetting("--smtp-starttls", "REBOUND_SMTP_STARTTLS",
                                   starttls.status().message());
  }
  mail::SmtpConfig smtp{.url = o.smtp_url,
                        .username = o.smtp_username,
                        .password = o.smtp_password,
                        .starttls = *starttls,
                        .connect_timeout = absl::Seconds(o.smtp_connect_timeout_seconds),
                        .timeout = absl::Seconds(o.smtp_timeout_seconds),
                        .ca_file = ""};
  if (absl::Status s = mail::ValidateSmtpConfig(smtp); !s.ok()) {
    return runtime::InvalidSetting("--smtp-url", "REBOUND_SMTP_URL", s.message());
  }
  if (absl::Status s = mail::ValidateEmail(o.mail_from); !s.ok()) {
    return runtime::InvalidSetting("--mail-from", "REBOUND_MAIL_FROM", s.message());
  }
  if (absl::Status s = mail::ValidateHeaderValue(o.mail_from_name, "name"); !s.ok()) {
    return runtime::InvalidSetting("--mail-from-name", "REBOUND_MAIL_FROM_NAME", s.message());
  }
  if (o.message_id_domain.empty() ||
      !mail::ValidateEmail(absl::StrCat("x@", o.message_id_domain)).ok() ||
      o.message_id_domain.find('@') != std::string::npos) {
    return runtime::InvalidSetting("--message-id-domain", "REBOUND_MESSAGE_ID_DOMAIN",
                                   "must be a domain name such as rebound.example.com");
  }
  if (!o.fallback_recipient.empty()) {
    if (absl::Status s = mail::ValidateEmail(o.fallback_recipient); !s.ok()) {
      return runtime::InvalidSetting("--fallback-recipient", "REBOUND_FALLBACK_RECIPIENT",
                                     s.message());
    }
  }
  if (!absl::StartsWith(o.link_base_url, "http://") &&
      !absl::StartsWith(o.link_base_url, "https://")) {
    return runtime::InvalidSetting("--link-base-url", "REBOUND_LINK_BASE_URL",
                                   "must start with http:// or https://");
  }
  while (absl::EndsWith(o.link_base_url, "/")) {
    o.link_base_url.pop_back();
  }
  if (o.link_keys.empty()) {
    return runtime::InvalidSetting("--link-keys", "REBOUND_LINK_KEYS",
                                   "required: the resolution links are signed with these keys");
  }
  if (absl::StatusOr<token::LinkSigner> signer = token::LinkSigner::FromConfig(o.link_keys);
      !signer.ok()) {
    return runtime::InvalidSetting("--link-keys", "REBOUND_LINK_KEYS", signer.status().message());
  }
  struct Bound {
    const char* flag;
    const char* env;
    int value;
  };
  for (const Bound& b :
       {Bound{"--link-expiry-days", "REBOUND_LINK_EXPIRY_DAYS", o.link_expiry_days},
        Bound{"--smtp-connect-timeout-seconds", "REBOUND_SMTP_CONNECT_TIMEOUT_SECONDS",
              o.smtp_connect_timeout_seconds},
        Bound{"--smtp-timeout-seconds", "REBOUND_SMTP_TIMEOUT_SECONDS", o.smtp_timeout_seconds},
        Bound{"--retry-initial-ms", "REBOUND_RETRY_INITIAL_MS", o.retry_initial_ms},
        Bound{"--retry-max-ms", "REBOUND_RETRY_MAX_MS", o.retry_max_ms},
        Bound{"--retry-max-attempts", "REBOUND_RETRY_MAX_ATTEMPTS", o.retry_max_attempts},
        Bound{"--retry-max-seconds", "REBOUND_RETRY_MAX_SECONDS", o.retry_max_seconds},
        Bound{"--sent-ttl-days", "REBOUND_SENT_TTL_DAYS", o.sent_ttl_days}}) {
    if (b.value <= 0) {
      return runtime::InvalidSetting(b.flag, b.env,
                                     absl::StrCat(b.value, " is not a positive number"));
    }
  }
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(o.time_zone, &tz)) {
    return runtime::InvalidSetting("--time-zone", "REBOUND_TIME_ZONE",
                                   absl::StrCat("unknown time zone '", o.time_zone, "'"));
  }
  if (o.templates_dir.empty()) {
    o.templates_dir = runtime::BinaryDirectory() + "/templates";
  }
  if (absl::StatusOr<TemplateSet> t = TemplateSet::Load(o.templates_dir); !t.ok()) {
    return runtime::InvalidSetting("--templates-dir", "REBOUND_TEMPLATES_DIR",
                                   t.status().message());
  }
  if (absl::StatusOr<Directory> d = Directory::Load(o.directory_file); !d.ok()) {
    return runtime::InvalidSetting("--directory-file", "REBOUND_DIRECTORY_FILE",
                                   d.status().message());
  }
  return absl::OkStatus();
}

struct NotifierServer::Impl {
  enum class Outcome { kDone, kAborted };

  NotifierOptions options;
  std::shared_ptr<spdlog::logger> log = runtime::Logger("notifier");
  std::unique_ptr<token::LinkSigner> signer;
  std::optional<TemplateSet> templates;
  Directory directory;
  RenderOptions render;
  ComposeOptions compose;
  RecipientOptions recipient_options;
  std::unique_ptr<mail::SmtpSender> smtp;
  std::unique_ptr<redis::Client> redis;
  std::unique_ptr<kafka::Consumer> consumer;
  std::unique_ptr<kafka::Producer> producer;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<runtime::HttpServer> http;
  std::atomic<bool> ready{false};
  std::mt19937_64 rng{std::random_device{}()};

  prometheus::Family<prometheus::Counter>* sent = nullptr;
  prometheus::Family<prometheus::Counter>* dead_letters = nullptr;
  prometheus::Counter* retries = nullptr;
  prometheus::Counter* fallbacks = nullptr;
  prometheus::Counter* duplicates = nullptr;
  prometheus::Counter* skipped = nullptr;
  prometheus::Histogram* send_seconds = nullptr;

  void RegisterMetrics() {
    sent = &prometheus::BuildCounter()
                .Name("rebound_notifier_mails_sent_total")
                .Help("Mails the SMTP server accepted, by kind")
                .Register(*registry);
    for (const char* kind : {"alert", "update", "escalation", "reminder"}) {
      sent->Add({{"kind", kind}});
    }
    dead_letters = &prometheus::BuildCounter()
                        .Name("rebound_notifier_dead_letters_total")
                        .Help("Events sent to the dead-letter topic, by reason")
                        .Register(*registry);
    retries = &prometheus::BuildCounter()
                   .Name("rebound_notifier_send_retries_total")
                   .Help("SMTP attempts repeated after a transient failure")
                   .Register(*registry)
                   .Add({});
    fallbacks = &prometheus::BuildCounter()
                     .Name("rebound_notifier_fallback_recipients_total")
                     .Help("Mails sent to the fallback recipient because the owner had no address")
                     .Register(*registry)
                     .Add({});
    duplicates = &prometheus::BuildCounter()
                      .Name("rebound_notifier_duplicates_skipped_total")
                      .Help("Redelivered events whose mail had already been sent")
                      .Register(*registry)
                      .Add({});
    skipped = &prometheus::BuildCounter()
                   .Name("rebound_notifier_events_skipped_total")
                   .Help("Case events that call for no mail")
                   .Register(*registry)
                   .Add({});
    send_seconds = &prometheus::BuildHistogram()
                        .Name("rebound_notifier_send_seconds")
                        .Help("Duration of one SMTP send attempt")
                        .Register(*registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5,
                                                                         1, 2.5, 5, 10, 30, 60});
  }

  std::string SentKey(const std::string& event_id) const {
    return absl::StrCat(options.common.redis_prefix, "notifier:sent:", event_id);
  }

  absl::Duration Backoff(int attempt) {
    const double base = std::min<double>(options.retry_max_ms,
                                         options.retry_initial_ms * std::pow(2.0, attempt - 1));
    // Full jitter over the upper half: spreads retries of many instances, never waits ~0.
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    return absl::Milliseconds(base * jitter(rng));
  }

  // Publishes the original record to the dead-letter topic with the reason; retries until the
  // broker took it or shutdown was requested.
  Outcome DeadLetter(const kafka::Message& message, const std::string& reason_label,
                     const std::string& reason, const std::string& event_id,
                     runtime::ShutdownSignal& shutdown) {
    kafka::OutRecord record{.topic = options.dlq_topic,
                            .key = message.key,
                            .value = message.value,
                            .headers = message.headers};
    record.headers.push_back({"rebound-dlq-reason", reason});
    record.headers.push_back(
        {"rebound-dlq-source",
         absl::StrCat(message.topic, "/", message.partition, "/", message.offset)});
    for (int attempt = 1;; ++attempt) {
      absl::Status s = producer->Send(record);
      if (s.ok()) {
        break;
      }
      log->warn("dead-letter publish of event {} failed: {}", event_id, std::string(s.message()));
      if (shutdown.WaitFor(Backoff(std::min(attempt, 6)))) {
        return Outcome::kAborted;
      }
    }
    dead_letters->Add({{"reason", reason_label}}).Increment();
    log->error("event {} dead-lettered to {}: {}", event_id, options.dlq_topic, reason);
    return Outcome::kDone;
  }

  Outcome Process(const kafka::Message& message, runtime::ShutdownSignal& shutdown) {
    v1::CaseEvent event;
    if (!event.ParseFromString(message.value) || event.event_id().empty()) {
      return DeadLetter(message, "invalid_event", "not a CaseEvent with an event_id",
                        absl::StrCat(message.partition, "@", message.offset), shutdown);
    }
    const std::string& event_id = event.event_id();
    const std::optional<MailKind> kind = KindForEvent(event.type());
    if (!kind.has_value()) {
      skipped->Increment();
      log->debug("event {} of type {} needs no mail", event_id, static_cast<int>(event.type()));
      return Outcome::kDone;
    }
    const std::string key = SentKey(event_id);
    for (int attempt = 1;; ++attempt) {
      absl::StatusOr<redis::Reply> seen = redis->Command({"EXISTS", key});
      if (seen.ok()) {
        if (seen->AsInteger().value_or(0) > 0) {
          duplicates->Increment();
          log->info("event {} was already mailed; skipping", event_id);
          return Outcome::kDone;
        }
        break;
      }
      // Without the check a redelivery could mail twice: wait for Redis rather than guess.
      log->warn("redis check for event {} failed: {}", event_id,
                std::string(seen.status().message()));
      if (shutdown.WaitFor(Backoff(std::min(attempt, 6)))) {
        return Outcome::kAborted;
      }
    }

    const absl::Time now = absl::Now();
    absl::StatusOr<RenderedMail> rendered = templates->Render(*kind, event, render, now);
    if (!rendered.ok()) {
      return DeadLetter(message, "render",
                        absl::StrCat("cannot render: ", rendered.status().message()), event_id,
                        shutdown);
    }
    absl::StatusOr<Recipients> recipients =
        ResolveRecipients(*kind, event, directory, recipient_options);
    if (!recipients.ok()) {
      return DeadLetter(message, "no_recipient", std::string(recipients.status().message()),
                        event_id, shutdown);
    }
    if (recipients->used_fallback) {
      fallbacks->Increment();
      log->warn("case {} owner has no address; event {} goes to the fallback recipient",
                event.case_().case_id(), event_id);
    }
    absl::StatusOr<std::string> mime = mail::BuildMime(
        ComposeMessage(*rendered, event, *kind, recipients->to, recipients->cc, compose, now));
    if (!mime.ok()) {
      return DeadLetter(message, "invalid_message",
                        absl::StrCat("cannot build the message: ", mime.status().message()),
                        event_id, shutdown);
    }

    const mail::Envelope envelope{.from = options.mail_from, .recipients = recipients->Envelope()};
    const absl::Time first_attempt = absl::Now();
    for (int attempt = 1;; ++attempt) {
      const absl::Time start = absl::Now();
      const mail::SendResult result = smtp->Send(envelope, *mime);
      send_seconds->Observe(absl::ToDoubleSeconds(absl::Now() - start));
      if (result.accepted()) {
        break;
      }
      if (result.outcome == mail::SendResult::Outcome::kPermanent) {
        return DeadLetter(message, "smtp_permanent",
                          absl::StrCat("SMTP refused the message permanently (reply ",
                                       result.reply_code, "): ", result.error),
                          event_id, shutdown);
      }
      if (attempt >= options.retry_max_attempts ||
          absl::Now() - first_attempt >= absl::Seconds(options.retry_max_seconds)) {
        return DeadLetter(
            message, "retries_exhausted",
            absl::StrCat("SMTP kept failing transiently after ", attempt, " attempts (last reply ",
                         result.reply_code, "): ", result.error),
            event_id, shutdown);
      }
      retries->Increment();
      const absl::Duration wait = Backoff(attempt);
      log->warn("event {}: transient SMTP failure (reply {}), attempt {}; retrying in {}", event_id,
                result.reply_code, attempt, absl::FormatDuration(wait));
      if (shutdown.WaitFor(wait)) {
        // Not sent and not committed: the event is consumed again after the restart.
        return Outcome::kAborted;
      }
    }
    sent->Add({{"kind", std::string(MailKindName(*kind))}}).Increment();
    log->info("event {} of case {}: {} mail accepted for {} recipient(s)", event_id,
              event.case_().case_id(), MailKindName(*kind), envelope.recipients.size());

    // Recorded before the offset is committed: a redelivery after a crash finds it.
    const std::string ttl = std::to_string(int64_t{options.sent_ttl_days} * 86400);
    for (int attempt = 1; attempt <= 5; ++attempt) {
      absl::StatusOr<redis::Reply> set = redis->Command({"SET", key, "1", "EX", ttl});
      if (set.ok()) {
        break;
      }
      log->error("cannot record event {} as mailed (attempt {}): {}", event_id, attempt,
                 std::string(set.status().message()));
      absl::SleepFor(absl::Milliseconds(200 * attempt));
    }
    return Outcome::kDone;
  }
};

NotifierServer::NotifierServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NotifierServer::~NotifierServer() = default;

absl::StatusOr<std::unique_ptr<NotifierServer>> NotifierServer::Create(
    const NotifierOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  Impl& s = *impl;

  absl::StatusOr<token::LinkSigner> signer = token::LinkSigner::FromConfig(options.link_keys);
  if (!signer.ok()) {
    return signer.status();
  }
  s.signer = std::make_unique<token::LinkSigner>(std::move(*signer));
  absl::StatusOr<TemplateSet> templates = TemplateSet::Load(options.templates_dir);
  if (!templates.ok()) {
    return templates.status();
  }
  s.templates = std::move(*templates);
  absl::StatusOr<Directory> directory = Directory::Load(options.directory_file);
  if (!directory.ok()) {
    return directory.status();
  }
  s.directory = std::move(*directory);

  s.render.link_base_url = options.link_base_url;
  s.render.link_expiry = absl::Hours(24) * options.link_expiry_days;
  absl::LoadTimeZone(options.time_zone, &s.render.time_zone);
  token::LinkSigner* signer_ptr = s.signer.get();
  s.render.sign = [signer_ptr](const std::string& case_id, v1::Resolution resolution,
                               absl::Time expires_at) {
    return signer_ptr->Sign(
        {.case_id = case_id, .resolution = static_cast<int>(resolution), .expires_at = expires_at});
  };
  s.compose.from = {options.mail_from_name, options.mail_from};
  s.compose.message_id_domain = options.message_id_domain;
  s.recipient_options.cc_director = options.cc_director;
  s.recipient_options.fallback_recipient = options.fallback_recipient;

  mail::SmtpConfig smtp_config;
  smtp_config.url = options.smtp_url;
  smtp_config.username = options.smtp_username;
  smtp_config.password = options.smtp_password;
  smtp_config.starttls = *mail::ParseStartTls(options.smtp_starttls);
  smtp_config.connect_timeout = absl::Seconds(options.smtp_connect_timeout_seconds);
  smtp_config.timeout = absl::Seconds(options.smtp_timeout_seconds);
  absl::StatusOr<std::unique_ptr<mail::SmtpSender>> smtp = mail::SmtpSender::Create(smtp_config);
  if (!smtp.ok()) {
    return smtp.status();
  }
  s.smtp = std::move(*smtp);

  absl::StatusOr<std::unique_ptr<redis::Client>> redis =
      redis::Client::Create(options.common.Redis());
  if (!redis.ok()) {
    return redis.status();
  }
  s.redis = std::move(*redis);
  const kafka::KafkaConfig kafka_config = options.common.Kafka();
  absl::StatusOr<std::unique_ptr<kafka::Producer>> producer =
      kafka::Producer::Create(kafka_config, "rebound-notifier");
  if (!producer.ok()) {
    return producer.status();
  }
  s.producer = std::move(*producer);
  // One event may take retry_max_seconds of SMTP retries plus a last attempt. Had the group
  // not heard a poll for longer than max.poll.interval.ms (librdkafka: 5 minutes), it would
  // hand the partition to another replica mid-send, and both would mail the event. Events are
  // therefore polled one at a time (see Run) and the interval covers one event's worst case.
  kafka::KafkaConfig consumer_config = kafka_config;
  if (consumer_config.properties.count("max.poll.interval.ms") == 0) {
    // librdkafka accepts at most one day.
    const int64_t worst_case_seconds = int64_t{options.retry_max_seconds} +
                                       options.smtp_timeout_seconds +
                                       options.smtp_connect_timeout_seconds + 60;
    consumer_config.properties["max.poll.interval.ms"] =
        absl::StrCat(std::clamp<int64_t>(worst_case_seconds, 300, 86400) * 1000);
  }
  absl::StatusOr<std::unique_ptr<kafka::Consumer>> consumer =
      kafka::Consumer::Create(consumer_config, options.group_id, {options.events_topic});
  if (!consumer.ok()) {
    return consumer.status();
  }
  s.consumer = std::move(*consumer);

  s.RegisterMetrics();
  Impl* raw = impl.get();
  s.http = std::make_unique<runtime::HttpServer>(s.registry, [raw]() -> absl::Status {
    if (!raw->ready.load()) {
      return absl::UnavailableError("starting or stopping");
    }
    absl::StatusOr<redis::Reply> pong = raw->redis->Command({"PING"});
    return pong.ok() ? absl::OkStatus() : pong.status();
  });
  if (absl::Status st = s.http->Start(options.common.http_address); !st.ok()) {
    return st;
  }
  s.log->info(
      "notifier listening on HTTP port {}; topic {} (dead letters {}), group {}, SMTP {}, "
      "templates {}, {} directory entries, {} routing rules",
      s.http->port(), options.events_topic, options.dlq_topic, options.group_id, options.smtp_url,
      options.templates_dir, s.directory.size(), s.directory.routes().size());
  return std::unique_ptr<NotifierServer>(new NotifierServer(std::move(impl)));
}

int NotifierServer::Run(runtime::ShutdownSignal& shutdown) {
  // One at a time: the time between polls must stay within max.poll.interval.ms (see Create);
  // librdkafka prefetches, so this costs no round trips.
  constexpr int kEventsPerPoll = 1;
  Impl& s = *impl_;
  s.ready = true;
  while (!shutdown.Requested()) {
    absl::StatusOr<std::vector<kafka::Message>> batch =
        s.consumer->Poll(absl::Milliseconds(500), kEventsPerPoll);
    if (!batch.ok()) {
      s.log->error("consumer poll failed: {}", std::string(batch.status().message()));
      shutdown.WaitFor(absl::Seconds(1));
      continue;
    }
    for (const kafka::Message& message : *batch) {
      // A record not yet started stays uncommitted and is consumed again after a restart.
      if (shutdown.Requested()) {
        break;
      }
      if (s.Process(message, shutdown) == Impl::Outcome::kAborted) {
        break;
      }
      // Asynchronous: the Redis record written before this keeps a record that is read again
      // (a commit lost to a crash or rebalance) from mailing again, so the notifier need not
      // wait a broker round trip per mail.
      if (absl::Status st = s.consumer->CommitAsync(message); !st.ok()) {
        s.log->warn("commit of {}/{}@{} failed: {}", message.topic, message.partition,
                    message.offset, std::string(st.message()));
      }
    }
  }
  // Shutdown, in order: not ready, leave the group (committing what was handled), flush the
  // producer's dead letters, stop the HTTP port.
  s.log->info("shutting down");
  s.ready = false;
  s.consumer->Close();
  const int undelivered = s.producer->Flush(absl::Seconds(10));
  if (undelivered > 0) {
    s.log->error("{} dead-letter records were not delivered before exit", undelivered);
  }
  s.http->Stop();
  s.log->info("exiting");
  return 0;
}

}  // namespace rebound::notifier
