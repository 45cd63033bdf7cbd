#include "rebound/mail/smtp.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace rebound::mail {
namespace {

SmtpConfig Config(std::string url) {
  SmtpConfig config;
  config.url = std::move(url);
  return config;
}

TEST(ParseStartTlsTest, AcceptsTheThreeModes) {
  EXPECT_EQ(*ParseStartTls("none"), StartTls::kNone);
  EXPECT_EQ(*ParseStartTls("TRY"), StartTls::kTry);
  EXPECT_EQ(*ParseStartTls("required"), StartTls::kRequired);
  EXPECT_EQ(ParseStartTls("maybe").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateSmtpConfigTest, ChecksSchemeAndCombinations) {
  EXPECT_TRUE(ValidateSmtpConfig(Config("smtp://127.0.0.1:2525")).ok());
  EXPECT_TRUE(ValidateSmtpConfig(Config("smtps://mail.example.com")).ok());
  EXPECT_FALSE(ValidateSmtpConfig(Config("http://mail.example.com")).ok());
  EXPECT_FALSE(ValidateSmtpConfig(Config("smtp://")).ok());
  SmtpConfig tls = Config("smtps://mail.example.com");
  tls.starttls = StartTls::kRequired;
  EXPECT_FALSE(ValidateSmtpConfig(tls).ok());
  SmtpConfig half_auth = Config("smtp://h");
  half_auth.username = "u";
  EXPECT_FALSE(ValidateSmtpConfig(half_auth).ok());
}

TEST(SmtpSenderTest, RefusesUnsafeEnvelopeWithoutConnecting) {
  auto sender = SmtpSender::Create(Config("smtp://127.0.0.1:1"));
  ASSERT_TRUE(sender.ok());
  SendResult r = (*sender)->Send({.from = "a@example.com", .recipients = {"b@x\r\nRSET"}}, "x");
  EXPECT_EQ(r.outcome, SendResult::Outcome::kPermanent);
  r = (*sender)->Send({.from = "a@example.com", .recipients = {}}, "x");
  EXPECT_EQ(r.outcome, SendResult::Outcome::kPermanent);
}

TEST(SmtpSenderTest, RefusedConnectionIsTransient) {
  // A port that was free a moment ago: nothing listens there.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  SmtpConfig config = Config("smtp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)));
  config.connect_timeout = absl::Seconds(2);
  config.timeout = absl::Seconds(5);
  auto sender = SmtpSender::Create(config);
  ASSERT_TRUE(sender.ok());
  const SendResult r =
      (*sender)->Send({.from = "a@example.com", .recipients = {"b@example.com"}}, "x\r\n");
  EXPECT_EQ(r.outcome, SendResult::Outcome::kTransient);
  EXPECT_EQ(r.reply_code, 0);
  EXPECT_FALSE(r.error.empty());
}

}  // namespace
}  // namespace rebound::mail
