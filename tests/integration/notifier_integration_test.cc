// rebound-notifier as a child process against the stack: CaseEvents in, mails out through the
// SMTP catcher. Checks headers, recipients, parts and signed links; exactly-once mail across a
// kill -9 and restart; a 451 retried into one delivery; a 550 dead-lettered without a mail.
#include <signal.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/domain/domain.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"
#include "rebound/testing/stack.h"
#include "rebound/token/token.h"
#include "rebound/v1/events.pb.h"

namespace rebound {
namespace {

using ::rebound::testing::ChildProcess;
using ::rebound::testing::FindMail;
using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;
using ::testing::HasSubstr;

constexpr char kLinkKeys[] = "it-1:notifier-integration-secret-0123456789abcdef";
constexpr char kLinkBase[] = "https://cases.example.test";

// --- reading a caught mail -------------------------------------------------------------------

// The unfolded value of header `name` (first occurrence in the header block), or "".
std::string Header(const std::string& raw, const std::string& name) {
  const std::string head = "\r\n" + raw.substr(0, raw.find("\r\n\r\n") + 2);
  const size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) {
    return "";
  }
  std::string value;
  size_t i = at + name.size() + 4;
  while (i < head.size()) {
    const size_t end = head.find("\r\n", i);
    value += head.substr(i, end - i);
    if (end + 2 >= head.size() || (head[end + 2] != ' ' && head[end + 2] != '\t')) {
      break;
    }
    i = end + 2;
  }
  return value;
}

// Decodes a header value made of "=?UTF-8?B?...?=" words (or plain text).
std::string DecodeHeader(const std::string& value) {
  std::string out;
  for (absl::string_view word : absl::StrSplit(value, ' ', absl::SkipEmpty())) {
    if (absl::StartsWith(word, "=?UTF-8?B?") && absl::EndsWith(word, "?=")) {
      std::string decoded;
      absl::Base64Unescape(word.substr(10, word.size() - 12), &decoded);
      out += decoded;
    } else {
      out += (out.empty() ? "" : " ") + std::string(word);
    }
  }
  return out;
}

std::string DecodeQp(const std::string& encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    if (encoded.compare(i, 3, "=\r\n") == 0) {
      i += 2;
    } else if (encoded[i] == '=' && i + 2 < encoded.size()) {
      out.push_back(static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(encoded[i]);
    }
  }
  return out;
}

// The decoded body of the part with `content_type`, or "".
std::string Part(const std::string& raw, const std::string& content_type) {
  const size_t at = raw.find("Content-Type: " + content_type);
  if (at == std::string::npos) {
    return "";
  }
  const size_t body = raw.find("\r\n\r\n", at) + 4;
  const size_t end = raw.find("\r\n--=_", body);
  return DecodeQp(raw.substr(body, end == std::string::npos ? std::string::npos : end - body));
}

std::vector<std::string> LinkTokens(const std::string& text) {
  std::vector<std::string> tokens;
  const std::string prefix = std::string(kLinkBase) + "/r/";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    const size_t start = at + prefix.size();
    size_t end = start;
    while (end < text.size() && (absl::ascii_isalnum(text[end]) || text[end] == '-' ||
                                 text[end] == '_' || text[end] == '.' || text[end] == '=')) {
      ++end;
    }
    tokens.push_back(text.substr(start, end - start));
  }
  return tokens;
}

std::vector<testing::CaughtMail> WaitForMail(const std::string& needle, size_t count,
                                             absl::Duration timeout = absl::Seconds(30)) {
  std::vector<testing::CaughtMail> found;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    found = FindMail(needle);
    if (found.size() >= count) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  return found;
}

// --- events ----------------------------------------------------------------------------------

v1::CaseEvent Event(const std::string& case_id, int sequence, v1::CaseEventType type,
                    const std::string& owner_email) {
  v1::CaseEvent e;
  e.set_event_id(absl::StrCat(case_id, "/", sequence));
  e.set_type(type);
  v1::Case* c = e.mutable_case_();
  c->set_case_id(case_id);
  c->set_owner("Dana Whitfield");
  c->set_owner_index(1);
  c->set_priority(v1::PRIORITY_URGENT);
  v1::SurveyResponse* r = c->add_responses();
  r->set_response_id("resp-" + case_id);
  r->set_score(2);
  r->set_reason("Nobody called me back about the invoice.");
  r->mutable_respondent()->set_full_name("Zo\u00eb \u00d1\u00fa\u00f1ez");
  r->mutable_respondent()->set_email("zoe@example.org");
  r->mutable_respondent()->set_phone("+1 503 555 0100");
  r->mutable_account()->set_name("Caf\u00e9 Northwind");
  v1::Owner* director = r->add_owner_chain();
  director->set_name("Morgan Hale");
  director->set_role("Director");
  director->set_email("morgan-" + owner_email);
  v1::Owner* owner = r->add_owner_chain();
  owner->set_name("Dana Whitfield");
  owner->set_email(owner_email);
  r->add_tags("Top 100");
  c->mutable_assessment()->mutable_overall_theme()->set_id("responsiveness");
  e.mutable_change()->set_sequence(sequence);
  return e;
}

class NotifierIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_topic_ = UniqueName("it-case-events");
    dlq_topic_ = events_topic_ + ".dlq";
    kafka_.brokers = StackValue("REBOUND_KAFKA_BROKERS");
    ASSERT_TRUE(kafka::EnsureTopics(kafka_, {events_topic_, dlq_topic_}, 1).ok());
    auto producer = kafka::Producer::Create(kafka_, "notifier-it");
    ASSERT_TRUE(producer.ok()) << producer.status();
    producer_ = std::move(*producer);
    group_ = UniqueName("it-notifier");
    prefix_ = UniqueName("it-notifier") + ":";
    fallback_ = UniqueName("fallback") + "@example.com";
  }

  void StartNotifier(const std::map<std::string, std::string>& overrides = {}) {
    http_port_ = testing::FreePort();
    std::map<std::string, std::string> env{
        {"REBOUND_KAFKA_BROKERS", kafka_.brokers},
        {"REBOUND_REDIS_ADDRESS", StackValue("REBOUND_REDIS_ADDRESS")},
        {"REBOUND_REDIS_PREFIX", prefix_},
        {"REBOUND_SMTP_URL", StackValue("REBOUND_SMTP_URL")},
        {"REBOUND_SMTP_STARTTLS", "none"},
        {"REBOUND_CASE_EVENTS_TOPIC", events_topic_},
        {"REBOUND_CONSUMER_GROUP", group_},
        {"REBOUND_HTTP_ADDRESS", absl::StrCat("127.0.0.1:", http_port_)},
        {"REBOUND_LINK_KEYS", kLinkKeys},
        {"REBOUND_LINK_BASE_URL", kLinkBase},
        {"REBOUND_MAIL_FROM", "alerts@rebound.example.test"},
        {"REBOUND_FALLBACK_RECIPIENT", fallback_},
        {"REBOUND_TEMPLATES_DIR", testing::SourcePath("services/notifier/templates")},
        {"REBOUND_RETRY_INITIAL_MS", "100"},
        {"REBOUND_RETRY_MAX_MS", "500"},
        {"REBOUND_LOG_FORMAT", "text"},
        {"REBOUND_LOG_LEVEL", "debug"},
        // After a kill -9 the group waits for the dead member's session to time out
        // before the restarted one gets the partition: keep that short.
        {"REBOUND_KAFKA_PROPERTIES", "session.timeout.ms=6000;heartbeat.interval.ms=1000"}};
    for (const auto& [key, value] : overrides) {
      env[key] = value;
    }
    notifier_ = std::make_unique<ChildProcess>(
        testing::BinaryPath("services/notifier/rebound-notifier"), std::vector<std::string>{}, env,
        UniqueName("/tmp/rebound-notifier-it") + ".log");
    ASSERT_TRUE(testing::WaitForHttpOk(absl::StrCat("http://127.0.0.1:", http_port_, "/readyz"),
                                       absl::Seconds(30)))
        << notifier_->Log();
  }

  void Produce(const v1::CaseEvent& e) {
    kafka::CloudEvent ce{.id = e.event_id(),
                         .type = "rebound.v1.CaseEvent",
                         .source = "rebound/cases",
                         .time = absl::Now()};
    absl::Status s = producer_->Send({.topic = events_topic_,
                                      .key = e.case_().case_id(),
                                      .value = e.SerializeAsString(),
                                      .headers = kafka::ToHeaders(ce)});
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string Metrics() {
    return testing::HttpGet(absl::StrCat("http://127.0.0.1:", http_port_, "/metrics")).body;
  }

  void TearDown() override {
    if (notifier_ != nullptr && notifier_->Running()) {
      notifier_->Signal(SIGTERM);
      EXPECT_EQ(notifier_->Wait(absl::Seconds(30)), 0) << notifier_->Log();
    }
  }

  kafka::KafkaConfig kafka_;
  std::unique_ptr<kafka::Producer> producer_;
  std::unique_ptr<ChildProcess> notifier_;
  std::string events_topic_, dlq_topic_, group_, prefix_, fallback_;
  int http_port_ = 0;
};

TEST_F(NotifierIntegrationTest, AlertArrivesWithHeadersPartsAndVerifiableLinks) {
  StartNotifier();
  const std::string owner = UniqueName("owner") + "@example.com";
  const std::string case_id = "case-" + UniqueName("alert");
  const v1::CaseEvent opened = Event(case_id, 1, v1::CASE_EVENT_TYPE_OPENED, owner);
  Produce(opened);

  const auto mails = WaitForMail(owner, 1);
  ASSERT_EQ(mails.size(), 1u) << notifier_->Log();
  const std::string& raw = mails[0].raw;
  EXPECT_EQ(Header(raw, "To"), "Dana Whitfield <" + owner + ">");
  EXPECT_EQ(Header(raw, "From"), "Rebound <alerts@rebound.example.test>");
  EXPECT_EQ(Header(raw, "Message-ID"),
            "<" + domain::Sha256Hex(opened.event_id()).substr(0, 32) + "@rebound.local>");
  EXPECT_EQ(DecodeHeader(Header(raw, "Subject")),
            "[Urgent] Follow-up needed: Caf\u00e9 Northwind \u2013 detractor feedback");
  EXPECT_EQ(Header(raw, "X-Rebound-Case-Id"), case_id);
  EXPECT_THAT(Header(raw, "Content-Type"), HasSubstr("multipart/alternative"));

  const std::string text = Part(raw, "text/plain");
  const std::string html = Part(raw, "text/html");
  EXPECT_THAT(text, HasSubstr("Zo\u00eb \u00d1\u00fa\u00f1ez"));
  EXPECT_THAT(text, HasSubstr("Director: Morgan Hale \u203a Dana Whitfield"));
  EXPECT_THAT(text, HasSubstr("Hi Zo\u00eb, this is Dana."));
  EXPECT_THAT(html, HasSubstr("Choose a resolution after following up"));

  absl::StatusOr<token::LinkSigner> signer = token::LinkSigner::FromConfig(kLinkKeys);
  ASSERT_TRUE(signer.ok());
  for (const std::string* part : {&text, &html}) {
    const std::vector<std::string> tokens = LinkTokens(*part);
    ASSERT_EQ(tokens.size(), 5u) << *part;
    std::set<int> resolutions;
    for (const std::string& t : tokens) {
      absl::StatusOr<token::LinkClaims> claims = signer->Verify(t, absl::Now());
      ASSERT_TRUE(claims.ok()) << claims.status() << " for " << t;
      EXPECT_EQ(claims->case_id, case_id);
      EXPECT_GT(claims->expires_at, absl::Now() + absl::Hours(24 * 29));
      resolutions.insert(claims->resolution);
    }
    EXPECT_EQ(resolutions, (std::set<int>{1, 2, 3, 4, 5}));
  }

  // An escalation mails the new owner with a copy to the previous one; a note mails nobody;
  // an owner without any address reaches the fallback recipient.
  v1::CaseEvent escalated = Event(case_id, 2, v1::CASE_EVENT_TYPE_ESCALATED, owner);
  escalated.mutable_case_()->set_owner("Morgan Hale");
  escalated.mutable_case_()->set_owner_index(0);
  escalated.mutable_change()->set_from_owner("Dana Whitfield");
  escalated.mutable_change()->set_to_owner("Morgan Hale");
  Produce(Event(case_id, 3, v1::CASE_EVENT_TYPE_NOTE_ADDED, owner));
  Produce(escalated);
  v1::CaseEvent orphan = Event("case-" + UniqueName("orphan"), 1, v1::CASE_EVENT_TYPE_OVERDUE, "");
  orphan.mutable_case_()->set_owner("Nobody Known");
  Produce(orphan);

  const auto escalation = WaitForMail("morgan-" + owner, 1);
  ASSERT_EQ(escalation.size(), 1u) << notifier_->Log();
  EXPECT_EQ(Header(escalation[0].raw, "To"), "Morgan Hale <morgan-" + owner + ">");
  EXPECT_EQ(Header(escalation[0].raw, "Cc"), "Dana Whitfield <" + owner + ">");
  EXPECT_EQ(Header(escalation[0].raw, "In-Reply-To"), Header(raw, "Message-ID"));
  ASSERT_EQ(WaitForMail(fallback_, 1).size(), 1u) << notifier_->Log();
  // The note produced nothing: the owner got the alert and the escalation copy only.
  EXPECT_EQ(FindMail(owner).size(), 2u);
  EXPECT_THAT(Metrics(), HasSubstr("rebound_notifier_fallback_recipients_total 1"));
  EXPECT_THAT(Metrics(), HasSubstr("rebound_notifier_mails_sent_total{kind=\"alert\"} 1"));
}

// NOTE: a crash between the SMTP server's acceptance and the Redis record (well under a
// millisecond) still mails twice after a restart; nothing on the client side can close that
// window. This test therefore kills at a moment that is not inside it (while the notifier waits
// to retry a mail) and simulates the crash after the Redis record by writing some records
// before the start.
TEST_F(NotifierIntegrationTest, KillNineAndRestartMailsEveryEventExactlyOnce) {
  constexpr int kEvents = 30;
  constexpr int kStuck = 12;     // this event's first attempt gets a 451
  constexpr int kPremarked = 3;  // events 0..2 count as mailed before a crash
  const std::string base = UniqueName("kill");
  auto rcpt = [&](int i) { return absl::StrCat(base, "-", i, "@example.com"); };
  auto case_id = [&](int i) { return absl::StrCat("case-", base, "-", i); };

  redis::RedisConfig redis_config;
  redis_config.address = StackValue("REBOUND_REDIS_ADDRESS");
  auto redis = redis::Client::Create(redis_config);
  ASSERT_TRUE(redis.ok()) << redis.status();
  for (int i = 0; i < kPremarked; ++i) {
    ASSERT_TRUE((*redis)
                    ->Command({"SET", absl::StrCat(prefix_, "notifier:sent:", case_id(i), "/1"),
                               "1", "EX", "600"})
                    .ok());
  }
  ASSERT_TRUE(testing::QueueSmtpFaults(rcpt(kStuck), {451}));
  for (int i = 0; i < kEvents; ++i) {
    Produce(Event(case_id(i), 1, v1::CASE_EVENT_TYPE_OPENED, rcpt(i)));
  }
  StartNotifier({{"REBOUND_RETRY_INITIAL_MS", "20000"}, {"REBOUND_RETRY_MAX_MS", "20000"}});
  // Kill it while it waits to retry event kStuck: the events before it are mailed and
  // committed, the rest are not started.
  const std::string waiting = absl::StrCat("event ", case_id(kStuck), "/1: transient");
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!absl::StrContains(notifier_->Log(), waiting) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(absl::StrContains(notifier_->Log(), waiting)) << notifier_->Log();
  notifier_->Signal(SIGKILL);
  ASSERT_EQ(notifier_->Wait(absl::Seconds(10)), 128 + SIGKILL);
  EXPECT_EQ(FindMail(base).size(), static_cast<size_t>(kStuck - kPremarked));

  StartNotifier();
  // A last event behind all others on the single partition: once it is mailed, every earlier
  // one has been handled.
  const std::string sentinel = base + "-sentinel@example.com";
  Produce(Event("case-" + base + "-sentinel", 1, v1::CASE_EVENT_TYPE_OPENED, sentinel));
  ASSERT_EQ(WaitForMail(sentinel, 1, absl::Seconds(60)).size(), 1u) << notifier_->Log();
  for (int i = 0; i < kEvents; ++i) {
    EXPECT_EQ(FindMail(rcpt(i)).size(), i < kPremarked ? 0u : 1u) << "event " << i;
  }
  // Offsets are committed asynchronously, so events mailed just before the kill may be read
  // again after the restart; the Redis record makes the new process skip them (counted here),
  // which the exactly-once checks above confirm. Nothing after the stuck event was mailed
  // before the kill, so at most the events before it can be skipped.
  const std::string metrics = Metrics();
  const std::string name = "rebound_notifier_duplicates_skipped_total ";
  const size_t at = metrics.find(name);
  ASSERT_NE(at, std::string::npos) << metrics;
  const int skipped = std::atoi(metrics.c_str() + at + name.size());
  EXPECT_LE(skipped, kStuck);
}

TEST_F(NotifierIntegrationTest, TransientReplyIsRetriedIntoOneMail) {
  StartNotifier();
  const std::string owner = UniqueName("retry") + "@example.com";
  ASSERT_TRUE(testing::QueueSmtpFaults(owner, {451}));
  Produce(Event("case-" + UniqueName("retry"), 1, v1::CASE_EVENT_TYPE_OPENED, owner));
  ASSERT_EQ(WaitForMail(owner, 1).size(), 1u) << notifier_->Log();
  EXPECT_THAT(Metrics(), HasSubstr("rebound_notifier_send_retries_total 1"));
  // Nothing else is on its way: one more event behind it arrives, and still one mail for owner.
  const std::string next = UniqueName("after-retry") + "@example.com";
  Produce(Event("case-" + UniqueName("after"), 1, v1::CASE_EVENT_TYPE_OPENED, next));
  ASSERT_EQ(WaitForMail(next, 1).size(), 1u);
  EXPECT_EQ(FindMail(owner).size(), 1u);
}

TEST_F(NotifierIntegrationTest, PermanentReplyGoesToDeadLetterTopic) {
  StartNotifier();
  const std::string owner = UniqueName("reject") + "@example.com";
  ASSERT_TRUE(testing::QueueSmtpFaults(owner, {550}));
  const v1::CaseEvent e =
      Event("case-" + UniqueName("reject"), 1, v1::CASE_EVENT_TYPE_OPENED, owner);
  Produce(e);

  auto consumer = kafka::Consumer::Create(kafka_, UniqueName("it-dlq-reader"), {dlq_topic_});
  ASSERT_TRUE(consumer.ok()) << consumer.status();
  std::optional<kafka::Message> dead;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (!dead.has_value() && absl::Now() < deadline) {
    auto batch = (*consumer)->Poll(absl::Milliseconds(500));
    ASSERT_TRUE(batch.ok()) << batch.status();
    if (!batch->empty()) {
      dead = batch->front();
    }
  }
  (*consumer)->Close();
  ASSERT_TRUE(dead.has_value()) << notifier_->Log();
  EXPECT_EQ(dead->value, e.SerializeAsString());
  EXPECT_EQ(dead->key, e.case_().case_id());
  const std::optional<std::string> reason = kafka::FindHeader(dead->headers, "rebound-dlq-reason");
  ASSERT_TRUE(reason.has_value());
  EXPECT_THAT(*reason, HasSubstr("550"));
  EXPECT_EQ(kafka::FindHeader(dead->headers, "ce_id").value_or(""), e.event_id());
  EXPECT_TRUE(FindMail(owner).empty());
  EXPECT_THAT(Metrics(),
              HasSubstr("rebound_notifier_dead_letters_total{reason=\"smtp_permanent\"} 1"));
}

}  // namespace
}  // namespace rebound
