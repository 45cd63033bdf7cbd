#include "render.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/mail/mime.h"
#include "rebound/testing/real_data.h"

namespace rebound::notifier {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

const absl::Time kNow = absl::FromUnixSeconds(1796112000);  // 2026-12-01 08:00 UTC

std::string SourceDir() {
  const char* dir = std::getenv("REBOUND_SOURCE_DIR");
  return dir == nullptr ? "." : dir;
}

const TemplateSet& Templates() {
  static const TemplateSet* set = [] {
    absl::StatusOr<TemplateSet> loaded =
        TemplateSet::Load(SourceDir() + "/services/notifier/templates");
    EXPECT_TRUE(loaded.ok()) << loaded.status();
    return new TemplateSet(std::move(*loaded));
  }();
  return *set;
}

RenderOptions Options() {
  RenderOptions options;
  options.link_base_url = "https://rebound.example.com";
  options.sign = [](const std::string& case_id, v1::Resolution r, absl::Time expires) {
    return absl::StrCat("tok.", case_id, ".", static_cast<int>(r), ".",
                        absl::ToUnixSeconds(expires));
  };
  return options;
}

v1::CaseEvent TypicalEvent() {
  v1::CaseEvent e;
  e.set_event_id("case-0123456789abcdef0123/1");
  e.set_type(v1::CASE_EVENT_TYPE_OPENED);
  v1::Case* c = e.mutable_case_();
  c->set_case_id("case-0123456789abcdef0123");
  c->set_version(1);
  c->set_owner("Dana Whitfield");
  c->set_owner_index(1);
  c->set_priority(v1::PRIORITY_HIGH);
  c->mutable_due_at()->set_seconds(1796112000 + 24 * 3600);
  v1::SurveyResponse* r = c->add_responses();
  r->set_response_id("resp-1001");
  r->mutable_submitted_at()->set_seconds(1796108400);
  r->set_score(3);
  r->set_reason(
      "The recruiter stopped answering my emails after the first week, and the timesheets were "
      "wrong twice.");
  r->set_do_differently("Return calls within a day.");
  r->mutable_respondent()->set_full_name("Jordan Ellis");
  r->mutable_respondent()->set_email("jordan.ellis@example.com");
  r->mutable_respondent()->set_phone("+1 503 555 0142");
  r->mutable_respondent()->set_kind(v1::RESPONDENT_KIND_CLIENT);
  r->mutable_account()->set_account_id("acct-42");
  r->mutable_account()->set_name("Northwind Logistics");
  v1::Owner* director = r->add_owner_chain();
  director->set_name("Morgan Hale");
  director->set_role("Director");
  v1::Owner* owner = r->add_owner_chain();
  owner->set_name("Dana Whitfield");
  r->add_tags("Portland");
  r->add_tags("Industrial");
  v1::Assessment* a = c->mutable_assessment();
  a->set_category(v1::CATEGORY_DETRACTOR);
  a->set_priority(v1::PRIORITY_HIGH);
  a->add_priority_reasons("very_low_score");
  a->mutable_overall_theme()->set_id("responsiveness");
  a->mutable_overall_theme()->set_label("responsiveness");
  a->set_previous_score(8);
  e.mutable_change()->set_sequence(1);
  e.mutable_change()->set_kind("opened");
  e.mutable_change()->set_actor("system");
  return e;
}

// Compares `actual` with testdata/<name>; REBOUND_UPDATE_GOLDEN=1 rewrites the file instead.
void ExpectGolden(const std::string& name, const std::string& actual) {
  const std::string path = SourceDir() + "/services/notifier/testdata/" + name;
  if (std::getenv("REBOUND_UPDATE_GOLDEN") != nullptr) {
    std::ofstream(path, std::ios::binary) << actual;
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing; run with "
                                             << "REBOUND_UPDATE_GOLDEN=1 to create it";
  EXPECT_EQ(testing::ReadFileBytes(path), actual) << "differs from " << path;
}

RenderedMail RenderAlert(const v1::CaseEvent& e) {
  absl::StatusOr<RenderedMail> mail = Templates().Render(MailKind::kAlert, e, Options(), kNow);
  EXPECT_TRUE(mail.ok()) << mail.status();
  return mail.ok() ? *mail : RenderedMail{};
}

std::string Section(const std::string& text, const std::string& begin, const std::string& end) {
  const size_t b = text.find(begin);
  if (b == std::string::npos) {
    return "";
  }
  const size_t e = text.find(end, b);
  return text.substr(b, e == std::string::npos ? std::string::npos : e - b);
}

TEST(RenderTest, TypicalAlertMatchesGolden) {
  const RenderedMail mail = RenderAlert(TypicalEvent());
  EXPECT_EQ(mail.subject,
            "[High priority] Follow-up needed: Northwind Logistics \u2013 detractor feedback");
  ExpectGolden("alert_typical.txt", mail.text);
  ExpectGolden("alert_typical.html", mail.html);
  EXPECT_THAT(mail.text, HasSubstr("Owner chain:  Director: Morgan Hale \u203a Dana Whitfield"));
  EXPECT_THAT(mail.text, HasSubstr("Hi Jordan, this is Dana.\n"));
  EXPECT_THAT(mail.text, HasSubstr("how quickly we got back to you"));
  EXPECT_THAT(mail.text, HasSubstr("Score: 3 out of 10 (previously 8)"));
  for (const char* label :
       {"Resolution in Progress", "Can't Resolve", "Not an Issue", "Resolved", "Escalate"}) {
    EXPECT_THAT(mail.text,
                HasSubstr(absl::StrCat("  ", label, ": https://rebound.example.com/r/")));
    EXPECT_THAT(
        mail.html,
        HasSubstr(absl::StrCat(
            ">", label == std::string("Can't Resolve") ? "Can&apos;t Resolve" : label, "</a>")));
  }
  EXPECT_THAT(mail.html, HasSubstr("href=\"https://rebound.example.com/r/tok.case-"));
}

TEST(RenderTest, BlankOneThingSaysNoResponseProvided) {
  v1::CaseEvent e = TypicalEvent();
  e.mutable_case_()->mutable_responses(0)->set_do_differently("   ");
  e.mutable_case_()->set_priority(v1::PRIORITY_URGENT);
  e.mutable_case_()->mutable_assessment()->add_priority_reasons("key_account");
  const RenderedMail mail = RenderAlert(e);
  EXPECT_EQ(mail.subject,
            "[Urgent] Follow-up needed: Northwind Logistics \u2013 detractor feedback");
  ExpectGolden("alert_blank_one_thing.txt", mail.text);
  ExpectGolden("alert_blank_one_thing.html", mail.html);
  EXPECT_THAT(mail.text, HasSubstr("The one thing we could do differently:\nNo Response Provided"));
  EXPECT_THAT(mail.html, HasSubstr("<em>No Response Provided</em>"));
  EXPECT_THAT(mail.text, HasSubstr("key relationship: call today"));
}

TEST(RenderTest, NonAsciiRespondentSurvives) {
  v1::CaseEvent e = TypicalEvent();
  v1::SurveyResponse* r = e.mutable_case_()->mutable_responses(0);
  r->mutable_respondent()->set_full_name("Zo\u00eb \u00d1\u00fa\u00f1ez");
  r->mutable_account()->set_name("Caf\u00e9 M\u00fcller & S\u00f6hne");
  r->set_reason("La r\u00e9ponse est arriv\u00e9e trop tard \u2013 d\u00e9\u00e7u.");
  r->set_do_differently("R\u00e9pondre plus vite \U0001F64F");
  e.mutable_case_()->mutable_assessment()->mutable_overall_theme()->set_id("timeliness");
  const RenderedMail mail = RenderAlert(e);
  ExpectGolden("alert_non_ascii.txt", mail.text);
  ExpectGolden("alert_non_ascii.html", mail.html);
  EXPECT_THAT(mail.text, HasSubstr("Hi Zo\u00eb, this is Dana.\n"));
  EXPECT_THAT(mail.html, HasSubstr("Caf\u00e9 M\u00fcller &amp; S\u00f6hne"));

  ComposeOptions compose;
  compose.from = {"Rebound", "rebound@example.com"};
  absl::StatusOr<std::string> mime = mail::BuildMime(ComposeMessage(
      mail, e, MailKind::kAlert, {{"Dana Whitfield", "dana@example.com"}}, {}, compose, kNow));
  ASSERT_TRUE(mime.ok()) << mime.status();
  EXPECT_THAT(*mime, HasSubstr("Subject: =?UTF-8?B?"));
  EXPECT_THAT(*mime, Not(HasSubstr("\u00eb")));  // 7-bit on the wire
}

TEST(RenderTest, HostileInputIsEscapedAndCannotInjectHeaders) {
  v1::CaseEvent e = TypicalEvent();
  v1::SurveyResponse* r = e.mutable_case_()->mutable_responses(0);
  r->mutable_respondent()->set_full_name("<script>alert('x')</script>\r\nBcc: victim@example.com");
  r->mutable_respondent()->set_email("\"><img src=x onerror=alert(1)>@example.com");
  r->mutable_account()->set_name("Evil & Co\r\nBcc: victim@example.com\r\n\r\n<b>body</b>");
  std::string big = "{{#resolutions}}{{url}}{{/resolutions}} <iframe src=\"https://evil\"> ";
  while (big.size() < 100 * 1024) {
    big += "This is a very long complaint that goes on and on. ";
  }
  r->set_reason(big);
  r->set_do_differently("</div><a href=\"javascript:alert(1)\">click</a>");
  const RenderedMail mail = RenderAlert(e);
  ExpectGolden("alert_hostile.txt", mail.text);
  ExpectGolden("alert_hostile.html", mail.html);

  EXPECT_THAT(mail.html, Not(HasSubstr("<script")));
  EXPECT_THAT(mail.html, Not(HasSubstr("<iframe")));
  EXPECT_THAT(mail.html, Not(HasSubstr("<img")));
  EXPECT_THAT(mail.html, Not(HasSubstr("<b>body")));
  EXPECT_THAT(mail.html, Not(HasSubstr("href=\"javascript")));
  EXPECT_THAT(mail.html, HasSubstr("&lt;script&gt;"));
  // Values are never parsed as template text.
  EXPECT_THAT(mail.text, HasSubstr("{{#resolutions}}{{url}}{{/resolutions}}"));
  // The 100 KB comment is shortened for reading on a phone.
  EXPECT_LT(mail.text.size(), 20u * 1024);
  EXPECT_THAT(mail.text, HasSubstr("[Shortened here; the full answer is kept with the case.]"));
  EXPECT_THAT(mail.subject, Not(HasSubstr("\r")));
  EXPECT_THAT(mail.subject, Not(HasSubstr("\n")));

  ComposeOptions compose;
  compose.from = {"Rebound", "rebound@example.com"};
  absl::StatusOr<std::string> mime = mail::BuildMime(ComposeMessage(
      mail, e, MailKind::kAlert, {{"Dana Whitfield", "dana@example.com"}}, {}, compose, kNow));
  ASSERT_TRUE(mime.ok()) << mime.status();
  const std::string headers = mime->substr(0, mime->find("\r\n\r\n"));
  EXPECT_THAT(headers, Not(HasSubstr("\r\nBcc:")));
  EXPECT_THAT(*mime, Not(HasSubstr("\r\nBcc:")));
  // The subject is one header whose decoded text keeps the attempt as harmless words.
  const size_t subject_at = headers.find("\r\nSubject: ");
  ASSERT_NE(subject_at, std::string::npos);
  std::string subject;
  for (absl::string_view line : absl::StrSplit(headers.substr(subject_at + 2), "\r\n")) {
    if (!subject.empty() && !absl::StartsWith(line, " ")) {
      break;
    }
    for (absl::string_view word : absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      if (absl::StartsWith(word, "=?UTF-8?B?")) {
        std::string decoded;
        ASSERT_TRUE(absl::Base64Unescape(word.substr(10, word.size() - 12), &decoded));
        subject += decoded;
      }
    }
  }
  EXPECT_EQ(subject, mail.subject);
  EXPECT_THAT(subject, HasSubstr("Follow-up needed: Evil & Co Bcc: victim@example.com <b>"));
  for (absl::string_view line : absl::StrSplit(*mime, "\r\n")) {
    ASSERT_LE(line.size(), 998u);
  }
}

TEST(RenderTest, OtherKindsRender) {
  v1::CaseEvent e = TypicalEvent();
  v1::SurveyResponse* second = e.mutable_case_()->add_responses();
  *second = e.case_().responses(0);
  second->set_response_id("resp-2002");
  second->set_score(2);
  second->set_reason("Still waiting.");
  second->clear_do_differently();
  e.set_event_id("case-0123456789abcdef0123/2");
  e.set_type(v1::CASE_EVENT_TYPE_RESPONSE_JOINED);
  e.mutable_change()->set_response_id("resp-2002");
  absl::StatusOr<RenderedMail> update = Templates().Render(MailKind::kUpdate, e, Options(), kNow);
  ASSERT_TRUE(update.ok()) << update.status();
  EXPECT_EQ(update->subject, "[High priority] New feedback on an open case: Northwind Logistics");
  EXPECT_THAT(update->text, HasSubstr("Score: 2 out of 10"));
  EXPECT_THAT(update->text, HasSubstr("Still waiting."));
  ExpectGolden("update_typical.txt", update->text);

  e = TypicalEvent();
  e.set_event_id("case-0123456789abcdef0123/3");
  e.set_type(v1::CASE_EVENT_TYPE_ESCALATED);
  e.mutable_case_()->set_owner("Morgan Hale");
  e.mutable_case_()->set_owner_index(0);
  e.mutable_change()->set_from_owner("Dana Whitfield");
  e.mutable_change()->set_to_owner("Morgan Hale");
  e.mutable_change()->set_note("They want someone senior.");
  absl::StatusOr<RenderedMail> escalation =
      Templates().Render(MailKind::kEscalation, e, Options(), kNow);
  ASSERT_TRUE(escalation.ok()) << escalation.status();
  EXPECT_THAT(escalation->text, HasSubstr("Dana Whitfield escalated the follow-up"));
  EXPECT_THAT(escalation->text, HasSubstr("this is Morgan."));
  ExpectGolden("escalation_typical.txt", escalation->text);

  e = TypicalEvent();
  e.set_event_id("case-0123456789abcdef0123/4");
  e.set_type(v1::CASE_EVENT_TYPE_OVERDUE);
  absl::StatusOr<RenderedMail> reminder =
      Templates().Render(MailKind::kReminder, e, Options(), kNow);
  ASSERT_TRUE(reminder.ok()) << reminder.status();
  EXPECT_EQ(reminder->subject,
            "[High priority] Reminder: follow-up overdue for Northwind Logistics");
  ExpectGolden("reminder_typical.txt", reminder->text);

  ComposeOptions compose;
  compose.from = {"Rebound", "rebound@example.com"};
  const mail::MailMessage m = ComposeMessage(*reminder, e, MailKind::kReminder,
                                             {{"", "dana@example.com"}}, {}, compose, kNow);
  EXPECT_EQ(m.message_id, MessageIdFor("case-0123456789abcdef0123/4", "rebound.local"));
  ASSERT_FALSE(m.extra_headers.empty());
  EXPECT_EQ(m.extra_headers[0].first, "In-Reply-To");
  EXPECT_EQ(m.extra_headers[0].second,
            "<" + MessageIdFor("case-0123456789abcdef0123/1", "rebound.local") + ">");
}

TEST(RenderTest, MessageIdIsStablePerEvent) {
  EXPECT_EQ(MessageIdFor("a/1", "rebound.local"), MessageIdFor("a/1", "rebound.local"));
  EXPECT_NE(MessageIdFor("a/1", "rebound.local"), MessageIdFor("a/2", "rebound.local"));
  EXPECT_TRUE(absl::EndsWith(MessageIdFor("a/1", "example.org"), "@example.org"));
  EXPECT_EQ(MessageIdFor("a/1", "x").size(), 34u);
}

TEST(RenderTest, BrokenTemplateIsRefusedAtLoad) {
  std::map<std::string, std::string> sources;
  for (const char* kind : {"alert", "update", "escalation", "reminder"}) {
    sources[absl::StrCat(kind, ".txt.mustache")] = "ok";
    sources[absl::StrCat(kind, ".html.mustache")] = "ok";
  }
  EXPECT_TRUE(TemplateSet::FromSources(sources).ok());
  sources["alert.html.mustache"] = "{{#open}} never closed";
  EXPECT_FALSE(TemplateSet::FromSources(sources).ok());
  sources.erase("alert.html.mustache");
  EXPECT_EQ(TemplateSet::FromSources(sources).status().code(), absl::StatusCode::kNotFound);
}

// --- The call opener never repeats the respondent's words or score -----------------------

std::vector<std::string> Column(const std::string& path, const std::string& name,
                                bool windows1252) {
  std::string data = testing::ReadFileBytes(path);
  if (windows1252) {
    data = testing::Windows1252ToUtf8(data);
  }
  const auto rows = testing::ParseCsv(data);
  std::vector<std::string> values;
  if (rows.empty()) {
    return values;
  }
  size_t col = rows[0].size();
  for (size_t i = 0; i < rows[0].size(); ++i) {
    if (rows[0][i] == name) {
      col = i;
    }
  }
  EXPECT_LT(col, rows[0].size()) << "no column " << name << " in " << path;
  for (size_t r = 1; r < rows.size(); ++r) {
    if (col < rows[r].size() && !rows[r][col].empty() && rows[r][col] != "NA") {
      values.push_back(rows[r][col]);
    }
  }
  return values;
}

// Words as runs of letters (ASCII letters and any non-ASCII UTF-8 character), lower-cased.
std::set<std::string> Words(const std::string& text, size_t min_letters) {
  std::set<std::string> words;
  std::string word;
  size_t letters = 0;
  auto flush = [&] {
    if (letters >= min_letters) {
      words.insert(word);
    }
    word.clear();
    letters = 0;
  };
  for (unsigned char c : text) {
    if (std::isalpha(c) || c >= 0x80) {
      word.push_back(static_cast<char>(std::tolower(c)));
      if ((c & 0xc0) != 0x80) {
        ++letters;
      }
    } else {
      flush();
    }
  }
  flush();
  return words;
}

std::string StripTags(const std::string& html) {
  std::string out;
  bool in_tag = false;
  for (char c : html) {
    if (c == '<') {
      in_tag = true;
    } else if (c == '>') {
      in_tag = false;
      out.push_back(' ');
    } else if (!in_tag) {
      out.push_back(c);
    }
  }
  return out;
}

TEST(CallOpenerTest, NeverRepeatsCommentWordsOrScoreForAnyRealComment) {
  const std::string real = testing::RealDataDir();
  if (!std::filesystem::exists(real)) {
    GTEST_SKIP() << "real survey data not found at " << real;
  }
  std::vector<std::string> comments =
      Column(real + "/bbva-mx-senda-nps/nps_thermal_senda_mx_sample.csv", "Comment", false);
  const auto botanic = Column(real + "/botanic-garden-centre-nps/nps.csv", "explication", true);
  const auto miro = Column(real + "/miro-nps/nps.csv", "text", false);
  comments.insert(comments.end(), botanic.begin(), botanic.end());
  comments.insert(comments.end(), miro.begin(), miro.end());
  ASSERT_GT(comments.size(), 2000u);
  // Identical comments render identically; each distinct one is checked once.
  std::sort(comments.begin(), comments.end());
  comments.erase(std::unique(comments.begin(), comments.end()), comments.end());

  // Words the opener may contain anyway: its fixed template text, the theme phrases and the
  // names it greets with.
  const std::string tmpl =
      testing::ReadFileBytes(SourceDir() + "/services/notifier/templates/alert.txt.mustache");
  std::set<std::string> allowed = Words(Section(tmpl, "A WAY TO OPEN THE CALL", "\n--\n"), 1);
  const std::string html_tmpl =
      testing::ReadFileBytes(SourceDir() + "/services/notifier/templates/alert.html.mustache");
  for (const std::string& w :
       Words(StripTags(Section(html_tmpl, "<!-- opener -->", "<!-- /opener -->")), 1)) {
    allowed.insert(w);
  }
  const std::vector<std::string> themes = {
      "responsiveness", "communication",   "quality",           "fit",     "pricing_billing",
      "timeliness",     "professionalism", "process_paperwork", "general", ""};
  for (const std::string& t : themes) {
    for (const std::string& w : Words(ThemePhrase(t), 1)) {
      allowed.insert(w);
    }
  }
  for (const std::string& w : Words("Jordan Dana", 1)) {
    allowed.insert(w);
  }

  v1::CaseEvent e = TypicalEvent();
  v1::SurveyResponse* r = e.mutable_case_()->mutable_responses(0);
  size_t checked = 0;
  for (size_t i = 0; i < comments.size(); ++i) {
    const std::string& comment = comments[i];
    r->set_reason(comment);
    r->set_do_differently(comment);
    r->set_score(static_cast<int>(i % 7));
    e.mutable_case_()->mutable_assessment()->mutable_overall_theme()->set_id(
        themes[i % themes.size()]);
    const RenderedMail mail = RenderAlert(e);
    const std::string text_opener = Section(mail.text, "A WAY TO OPEN THE CALL", "\n--\n");
    const std::string html_opener =
        StripTags(Section(mail.html, "<!-- opener -->", "<!-- /opener -->"));
    ASSERT_FALSE(text_opener.empty());
    ASSERT_FALSE(html_opener.empty());
    for (const std::string* opener : {&text_opener, &html_opener}) {
      ASSERT_EQ(opener->find_first_of("0123456789"), std::string::npos)
          << "a digit in the opener:\n"
          << *opener;
      const std::set<std::string> opener_words = Words(*opener, 4);
      for (const std::string& w : Words(comment, 4)) {
        if (allowed.count(w) == 0) {
          ASSERT_EQ(opener_words.count(w), 0u)
              << "the opener repeats \"" << w << "\" from a comment:\n"
              << *opener;
        }
      }
    }
    ++checked;
  }
  EXPECT_GT(checked, 2000u);
}

}  // namespace
}  // namespace rebound::notifier
