#include "rebound/mail/mime.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::mail {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Decodes quoted-printable the way a mail reader does (soft breaks removed, CRLF kept as LF).
std::string DecodeQp(const std::string& encoded) {
  std::string out;
  for (size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c == '=' && i + 2 < encoded.size() + 1 && encoded.compare(i, 3, "=\r\n") == 0) {
      i += 2;
    } else if (c == '=') {
      out.push_back(static_cast<char>(std::stoi(encoded.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else if (c == '\r' && i + 1 < encoded.size() && encoded[i + 1] == '\n') {
      out.push_back('\n');
      ++i;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Decodes a header made of "=?UTF-8?B?...?=" words separated by folding whitespace.
std::string DecodeWords(const std::string& header) {
  std::string out;
  for (absl::string_view word : absl::StrSplit(header, "\r\n ")) {
    EXPECT_TRUE(absl::StartsWith(word, "=?UTF-8?B?")) << word;
    EXPECT_TRUE(absl::EndsWith(word, "?=")) << word;
    EXPECT_LE(word.size(), 75u);
    std::string decoded;
    EXPECT_TRUE(absl::Base64Unescape(word.substr(10, word.size() - 12), &decoded));
    out += decoded;
  }
  return out;
}

size_t LongestLine(const std::string& text) {
  size_t longest = 0;
  for (absl::string_view line : absl::StrSplit(text, "\r\n")) {
    longest = std::max(longest, line.size());
  }
  return longest;
}

MailMessage SampleMessage() {
  MailMessage m;
  m.from = {"Rebound Alerts", "alerts@example.com"};
  m.to = {{"Dana Whitfield", "dana@example.com"}};
  m.subject = "Follow-up needed";
  m.message_id = "abc123@rebound.local";
  m.date = absl::FromUnixSeconds(1796112000);
  m.text_body = "Hello\nWorld\n";
  m.html_body = "<p>Hello</p>\n";
  return m;
}

TEST(EncodeHeaderTextTest, KeepsShortAscii) {
  EXPECT_EQ(EncodeHeaderText("Follow-up needed: Acme"), "Follow-up needed: Acme");
}

TEST(EncodeHeaderTextTest, EncodesNonAsciiAsUtf8Words) {
  const std::string name = "Zo\u00eb \u00d1\u00fa\u00f1ez";
  const std::string encoded = EncodeHeaderText(name);
  EXPECT_THAT(encoded, HasSubstr("=?UTF-8?B?"));
  EXPECT_EQ(DecodeWords(encoded), name);
}

TEST(EncodeHeaderTextTest, SplitsLongTextBetweenCharacters) {
  std::string text;
  for (int i = 0; i < 60; ++i) {
    text += "\u00e9t\u00e9 \u2013 ";  // two- and three-byte characters
  }
  const std::string encoded = EncodeHeaderText(text);
  EXPECT_EQ(DecodeWords(encoded), text);
  // Every word decodes to valid UTF-8 on its own: no word starts with a continuation byte.
  for (absl::string_view word : absl::StrSplit(encoded, "\r\n ")) {
    std::string decoded;
    ASSERT_TRUE(absl::Base64Unescape(word.substr(10, word.size() - 12), &decoded));
    EXPECT_NE(static_cast<unsigned char>(decoded[0]) & 0xc0, 0x80);
  }
}

TEST(EncodeHeaderTextTest, EncodesTextThatLooksLikeAnEncodedWord) {
  EXPECT_THAT(EncodeHeaderText("=?UTF-8?B?abc?="), HasSubstr("=?UTF-8?B?PT9"));
}

TEST(FormatAddressTest, QuotesSpecialsAndEncodesUnicode) {
  EXPECT_EQ(FormatAddress({"", "a@example.com"}), "a@example.com");
  EXPECT_EQ(FormatAddress({"Dana Whitfield", "a@example.com"}), "Dana Whitfield <a@example.com>");
  EXPECT_EQ(FormatAddress({"Whitfield, \"Dana\"", "a@example.com"}),
            "\"Whitfield, \\\"Dana\\\"\" <a@example.com>");
  EXPECT_THAT(FormatAddress({"Zo\u00eb", "a@example.com"}),
              ::testing::MatchesRegex("=\\?UTF-8\\?B\\?.*\\?= <a@example.com>"));
}

TEST(QuotedPrintableTest, RoundTripsUtf8AndKeepsLinesShort) {
  std::string text = "Caf\u00e9 = good\tand tab \n";
  text += std::string(300, 'x') + "\n";
  for (int i = 0; i < 100; ++i) {
    text += "\u00d1\u00fa\u00f1ez \u2013 ";
  }
  text += "\ntrailing space \nend";
  const std::string qp = EncodeQuotedPrintable(text);
  EXPECT_LE(LongestLine(qp), 76u);
  EXPECT_EQ(DecodeQp(qp), text);
  EXPECT_THAT(qp, HasSubstr("=3D"));
  EXPECT_THAT(qp, HasSubstr("space=20\r\n"));
}

TEST(QuotedPrintableTest, NormalisesLineEndsToCrlf) {
  EXPECT_EQ(EncodeQuotedPrintable("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
  EXPECT_EQ(EncodeQuotedPrintable("lone\rcr\n"), "lone=0Dcr\r\n");
}

TEST(QuotedPrintableTest, HundredKilobyteLineStaysUnderLimit) {
  std::string text;
  while (text.size() < 100 * 1024) {
    text += "w\u00f6rds ";
  }
  const std::string qp = EncodeQuotedPrintable(text);
  EXPECT_LE(LongestLine(qp), 76u);
  EXPECT_EQ(DecodeQp(qp), text);
}

TEST(Base64LinesTest, WrapsAt76) {
  const std::string b64 = EncodeBase64Lines(std::string(1000, 'z'));
  EXPECT_LE(LongestLine(b64), 76u);
  std::string joined = b64;
  joined.erase(std::remove(joined.begin(), joined.end(), '\r'), joined.end());
  joined.erase(std::remove(joined.begin(), joined.end(), '\n'), joined.end());
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(joined, &decoded));
  EXPECT_EQ(decoded, std::string(1000, 'z'));
}

TEST(ValidateTest, RejectsLineBreaksInHeaders) {
  EXPECT_TRUE(ValidateHeaderValue("fine", "Subject").ok());
  EXPECT_EQ(ValidateHeaderValue("a\r\nBcc: x@example.com", "Subject").code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(ValidateHeaderValue("a\nb", "Subject").ok());
  EXPECT_FALSE(ValidateHeaderValue(std::string("a\0b", 3), "Subject").ok());
}

TEST(ValidateTest, RejectsMalformedEmails) {
  EXPECT_TRUE(ValidateEmail("a.b+c@example.com").ok());
  EXPECT_FALSE(ValidateEmail("").ok());
  EXPECT_FALSE(ValidateEmail("no-at").ok());
  EXPECT_FALSE(ValidateEmail("a@b\r\nBcc: c@d").ok());
  EXPECT_FALSE(ValidateEmail("a b@example.com").ok());
  EXPECT_FALSE(ValidateEmail("<a@example.com>").ok());
  EXPECT_FALSE(ValidateEmail("@example.com").ok());
}

TEST(BuildMimeTest, BuildsMultipartAlternative) {
  absl::StatusOr<std::string> mime = BuildMime(SampleMessage());
  ASSERT_TRUE(mime.ok()) << mime.status();
  EXPECT_THAT(*mime, HasSubstr("Date: Tue, 01 Dec 2026 08:00:00 +0000\r\n"));
  EXPECT_THAT(*mime, HasSubstr("From: Rebound Alerts <alerts@example.com>\r\n"));
  EXPECT_THAT(*mime, HasSubstr("To: Dana Whitfield <dana@example.com>\r\n"));
  EXPECT_THAT(*mime, HasSubstr("Message-ID: <abc123@rebound.local>\r\n"));
  EXPECT_THAT(*mime, HasSubstr("MIME-Version: 1.0\r\n"));
  EXPECT_THAT(*mime, HasSubstr("Content-Type: multipart/alternative; boundary=\"=_rebound_"));
  EXPECT_THAT(*mime, HasSubstr("Content-Type: text/plain; charset=UTF-8\r\n"
                               "Content-Transfer-Encoding: quoted-printable\r\n\r\nHello\r\n"));
  EXPECT_THAT(*mime, HasSubstr("Content-Type: text/html; charset=UTF-8\r\n"));
  EXPECT_LE(LongestLine(*mime), 998u);
  // Every line feed is part of a CRLF.
  for (size_t i = 0; i < mime->size(); ++i) {
    if ((*mime)[i] == '\n') {
      ASSERT_GT(i, 0u);
      ASSERT_EQ((*mime)[i - 1], '\r');
    }
  }
}

TEST(BuildMimeTest, RefusesHeaderInjection) {
  MailMessage m = SampleMessage();
  m.subject = "Hi\r\nBcc: victim@example.com";
  EXPECT_EQ(BuildMime(m).status().code(), absl::StatusCode::kInvalidArgument);
  m = SampleMessage();
  m.to[0].name = "Dana\nBcc: victim@example.com";
  EXPECT_EQ(BuildMime(m).status().code(), absl::StatusCode::kInvalidArgument);
  m = SampleMessage();
  m.to[0].email = "dana@example.com\r\nBcc: victim@example.com";
  EXPECT_EQ(BuildMime(m).status().code(), absl::StatusCode::kInvalidArgument);
  m = SampleMessage();
  m.extra_headers = {{"X-Case", "a\rb"}};
  EXPECT_EQ(BuildMime(m).status().code(), absl::StatusCode::kInvalidArgument);
  m = SampleMessage();
  m.to.clear();
  EXPECT_EQ(BuildMime(m).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(BuildMimeTest, LongUtf8BodiesStayUnderLineLimit) {
  MailMessage m = SampleMessage();
  m.subject = "Suivi n\u00e9cessaire : " + std::string(2000, 'a');
  m.text_body.clear();
  while (m.text_body.size() < 100 * 1024) {
    m.text_body += "tr\u00e8s ";
  }
  m.html_body = "<p>" + m.text_body + "</p>";
  for (BodyEncoding encoding : {BodyEncoding::kQuotedPrintable, BodyEncoding::kBase64}) {
    m.encoding = encoding;
    absl::StatusOr<std::string> mime = BuildMime(m);
    ASSERT_TRUE(mime.ok()) << mime.status();
    EXPECT_LE(LongestLine(*mime), 998u);
    EXPECT_THAT(*mime, Not(HasSubstr("\u00e8")));  // nothing raw outside ASCII
  }
}

TEST(BuildMimeTest, TextOnlyMessageHasNoMultipart) {
  MailMessage m = SampleMessage();
  m.html_body.clear();
  absl::StatusOr<std::string> mime = BuildMime(m);
  ASSERT_TRUE(mime.ok());
  EXPECT_THAT(*mime, Not(HasSubstr("multipart")));
  EXPECT_THAT(*mime, HasSubstr("Content-Type: text/plain; charset=UTF-8\r\n"));
}

}  // namespace
}  // namespace rebound::mail
