// libs/mail against the stack's SMTP catcher: a message built with BuildMime and sent with
// SmtpSender arrives byte-exact; injected 4xx and 5xx replies come back classified.
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/mail/mime.h"
#include "rebound/mail/smtp.h"
#include "rebound/testing/stack.h"

namespace rebound::mail {
namespace {

using ::rebound::testing::FindMail;
using ::rebound::testing::QueueSmtpFaults;
using ::rebound::testing::StackValue;
using ::rebound::testing::UniqueName;
using ::testing::HasSubstr;

std::vector<testing::CaughtMail> WaitForMail(const std::string& needle, size_t count) {
  std::vector<testing::CaughtMail> found;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    found = FindMail(needle);
    if (found.size() >= count) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return found;
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

MailMessage Message(const std::string& rcpt) {
  MailMessage m;
  m.from = {"Rebound Test", "rebound-test@example.com"};
  m.to = {{"Zo\u00eb \u00d1\u00fa\u00f1ez", rcpt}};
  m.subject = "Suivi n\u00e9cessaire \u2013 Caf\u00e9 M\u00fcller";
  m.message_id = UniqueName("msg") + "@rebound.local";
  m.date = absl::Now();
  m.text_body = "Bonjour Zo\u00eb,\n.leading dot line\n" + std::string(300, 'x') + "\n";
  m.html_body = "<p>Bonjour Zo\u00eb</p>\n";
  m.extra_headers = {{"X-Rebound-Kind", "test"}};
  return m;
}

std::unique_ptr<SmtpSender> Sender() {
  SmtpConfig config;
  config.url = StackValue("REBOUND_SMTP_URL");
  config.connect_timeout = absl::Seconds(5);
  config.timeout = absl::Seconds(20);
  auto sender = SmtpSender::Create(config);
  EXPECT_TRUE(sender.ok()) << sender.status();
  return sender.ok() ? std::move(*sender) : nullptr;
}

TEST(MailIntegrationTest, MessageArrivesIntact) {
  const std::string rcpt = UniqueName("mailtest") + "@example.com";
  const MailMessage m = Message(rcpt);
  absl::StatusOr<std::string> mime = BuildMime(m);
  ASSERT_TRUE(mime.ok()) << mime.status();
  auto sender = Sender();
  ASSERT_NE(sender, nullptr);
  const SendResult r = sender->Send({.from = m.from.email, .recipients = {rcpt}}, *mime);
  ASSERT_TRUE(r.accepted()) << r.error;
  EXPECT_EQ(r.reply_code, 250);

  const auto mails = WaitForMail(rcpt, 1);
  ASSERT_EQ(mails.size(), 1u);
  const std::string& raw = mails[0].raw;
  // The catcher stores what came after DATA, dot-unstuffed: exactly what was built.
  EXPECT_EQ(raw, *mime);
  EXPECT_THAT(raw, HasSubstr("Message-ID: <" + m.message_id + ">\r\n"));
  EXPECT_THAT(raw, HasSubstr("Subject: =?UTF-8?B?"));
  EXPECT_THAT(raw, HasSubstr("X-Rebound-Kind: test\r\n"));
  const size_t text_at = raw.find("Content-Type: text/plain; charset=UTF-8");
  ASSERT_NE(text_at, std::string::npos);
  const size_t body_at = raw.find("\r\n\r\n", text_at) + 4;
  const std::string text = DecodeQp(raw.substr(body_at, raw.find("\r\n--=_", body_at) - body_at));
  EXPECT_THAT(text, HasSubstr("Bonjour Zo\u00eb,\r\n.leading dot line\r\n"));
  for (absl::string_view line : absl::StrSplit(raw, "\r\n")) {
    EXPECT_LE(line.size(), 998u);
  }
}

TEST(MailIntegrationTest, OneSenderSendsManyMessages) {
  auto sender = Sender();
  ASSERT_NE(sender, nullptr);
  const std::string base = UniqueName("reuse");
  for (int i = 0; i < 5; ++i) {
    const std::string rcpt = base + "-" + std::to_string(i) + "@example.com";
    absl::StatusOr<std::string> mime = BuildMime(Message(rcpt));
    ASSERT_TRUE(mime.ok());
    const SendResult r =
        sender->Send({.from = "rebound-test@example.com", .recipients = {rcpt}}, *mime);
    ASSERT_TRUE(r.accepted()) << r.error;
  }
  EXPECT_EQ(WaitForMail(base, 5).size(), 5u);
}

TEST(MailIntegrationTest, TransientThenPermanentRepliesAreClassified) {
  const std::string rcpt = UniqueName("faults") + "@example.com";
  ASSERT_TRUE(QueueSmtpFaults(rcpt, {451, 550, 250}));
  auto sender = Sender();
  ASSERT_NE(sender, nullptr);
  absl::StatusOr<std::string> mime = BuildMime(Message(rcpt));
  ASSERT_TRUE(mime.ok());
  const Envelope envelope{.from = "rebound-test@example.com", .recipients = {rcpt}};

  SendResult r = sender->Send(envelope, *mime);
  EXPECT_EQ(r.outcome, SendResult::Outcome::kTransient) << r.error;
  EXPECT_EQ(r.reply_code, 451);
  r = sender->Send(envelope, *mime);
  EXPECT_EQ(r.outcome, SendResult::Outcome::kPermanent) << r.error;
  EXPECT_EQ(r.reply_code, 550);
  r = sender->Send(envelope, *mime);
  EXPECT_TRUE(r.accepted()) << r.error;
  EXPECT_EQ(WaitForMail(rcpt, 1).size(), 1u);
}

}  // namespace
}  // namespace rebound::mail
