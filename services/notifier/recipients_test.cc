#include "recipients.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::notifier {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;

constexpr char kDirectory[] = R"({
  "owners": [
    {"name": "Dana  Whitfield", "email": "dana@example.com", "director_email": "lee@example.com"},
    {"name": "Morgan Hale", "email": "morgan@example.com"}
  ],
  "routes": [
    {"tag": "portland", "email": "portland@example.com", "name": "Portland office"}
  ]
})";

v1::CaseEvent Event(std::string owner_email = "") {
  v1::CaseEvent e;
  e.set_event_id("case-1/1");
  e.set_type(v1::CASE_EVENT_TYPE_OPENED);
  v1::Case* c = e.mutable_case_();
  c->set_case_id("case-1");
  c->set_owner("Dana Whitfield");
  c->set_owner_index(1);
  v1::SurveyResponse* r = c->add_responses();
  v1::Owner* director = r->add_owner_chain();
  director->set_name("Morgan Hale");
  director->set_role("Director");
  v1::Owner* owner = r->add_owner_chain();
  owner->set_name("Dana Whitfield");
  owner->set_email(owner_email);
  r->add_tags("Portland");
  return e;
}

Directory Dir() {
  absl::StatusOr<Directory> d = Directory::Parse(kDirectory);
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

auto Email(const std::string& email) { return Field(&mail::Address::email, email); }

TEST(DirectoryTest, ParsesAndFindsCaseInsensitively) {
  const Directory d = Dir();
  EXPECT_EQ(d.size(), 2u);
  ASSERT_NE(d.Find("dana whitfield"), nullptr);
  EXPECT_EQ(d.Find("DANA WHITFIELD")->email, "dana@example.com");
  EXPECT_EQ(d.Find("Nobody"), nullptr);
}

TEST(DirectoryTest, RejectsBadEntries) {
  EXPECT_FALSE(Directory::Parse("[]").ok());
  EXPECT_FALSE(Directory::Parse("{").ok());
  EXPECT_FALSE(Directory::Parse(R"({"owners": [{"name": "A", "email": "nope"}]})").ok());
  EXPECT_FALSE(Directory::Parse(R"({"owners": [{"email": "a@example.com"}]})").ok());
  EXPECT_FALSE(Directory::Parse(R"({"routes": [{"tag": "x", "email": "a@b\r\nc"}]})").ok());
  EXPECT_TRUE(Directory::Load("").ok());
  EXPECT_EQ(Directory::Load("/nonexistent/directory.json").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ResolveRecipientsTest, ChainAddressWinsOverDirectory) {
  auto r = ResolveRecipients(MailKind::kAlert, Event("dana.chain@example.com"), Dir(), {});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->to, ElementsAre(Email("dana.chain@example.com")));
  EXPECT_THAT(r->cc, ElementsAre(Email("portland@example.com")));
  EXPECT_FALSE(r->used_fallback);
}

TEST(ResolveRecipientsTest, DirectoryAndDirectorCopy) {
  RecipientOptions options;
  options.cc_director = true;
  auto r = ResolveRecipients(MailKind::kAlert, Event(), Dir(), options);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->to, ElementsAre(Email("dana@example.com")));
  EXPECT_THAT(r->cc, ElementsAre(Email("lee@example.com"), Email("portland@example.com")));
  EXPECT_THAT(r->Envelope(),
              ElementsAre("dana@example.com", "lee@example.com", "portland@example.com"));
}

TEST(ResolveRecipientsTest, DirectorFromChainWhenDirectoryHasNone) {
  v1::CaseEvent e = Event("dana.chain@example.com");
  e.mutable_case_()->set_owner("Dana Whitfield");
  RecipientOptions options;
  options.cc_director = true;
  absl::StatusOr<Directory> d =
      Directory::Parse(R"({"owners": [{"name": "Morgan Hale", "email": "morgan@example.com"}]})");
  ASSERT_TRUE(d.ok());
  auto r = ResolveRecipients(MailKind::kAlert, e, *d, options);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->cc, ElementsAre(Email("morgan@example.com")));
}

TEST(ResolveRecipientsTest, FallbackWhenOwnerUnknown) {
  v1::CaseEvent e = Event();
  e.mutable_case_()->set_owner("Unknown Person");
  RecipientOptions options;
  EXPECT_EQ(ResolveRecipients(MailKind::kAlert, e, Directory(), options).status().code(),
            absl::StatusCode::kNotFound);
  options.fallback_recipient = "fallback@example.com";
  auto r = ResolveRecipients(MailKind::kAlert, e, Directory(), options);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->to, ElementsAre(Email("fallback@example.com")));
  EXPECT_TRUE(r->used_fallback);
}

TEST(ResolveRecipientsTest, EscalationMailsNewOwnerAndCopiesPrevious) {
  v1::CaseEvent e = Event();
  e.set_type(v1::CASE_EVENT_TYPE_ESCALATED);
  e.mutable_case_()->set_owner("Morgan Hale");
  e.mutable_case_()->set_owner_index(0);
  e.mutable_change()->set_from_owner("Dana Whitfield");
  e.mutable_change()->set_to_owner("Morgan Hale");
  auto r = ResolveRecipients(MailKind::kEscalation, e, Dir(), {});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->to, ElementsAre(Email("morgan@example.com")));
  EXPECT_THAT(r->cc, ElementsAre(Email("dana@example.com"), Email("portland@example.com")));
}

TEST(ResolveRecipientsTest, DuplicatesAndInvalidAddressesAreDropped) {
  v1::CaseEvent e = Event("PORTLAND@example.com");
  auto r = ResolveRecipients(MailKind::kAlert, e, Dir(), {});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->to, ElementsAre(Email("PORTLAND@example.com")));
  EXPECT_TRUE(r->cc.empty());
  // An address with a line break never reaches the headers; the directory's is used instead.
  r = ResolveRecipients(MailKind::kAlert, Event("x@example.com\r\nBcc: y@example.com"), Dir(), {});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->to, ElementsAre(Email("dana@example.com")));
}

}  // namespace
}  // namespace rebound::notifier
