#include "link_pages.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::cases {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

v1::Case SampleCase() {
  v1::DetractorIdentified d;
  v1::SurveyResponse* r = d.mutable_response();
  r->set_response_id("r-1");
  r->set_score(2);
  r->set_reason("Secret complaint text");
  r->mutable_respondent()->set_full_name("Pat <script>alert(1)</script> O'Neil");
  r->mutable_account()->set_name("Acme & Sons");
  r->add_owner_chain()->set_name("Dana Director");
  r->add_owner_chain()->set_name("Alex Owner");
  r->add_tags("Portland");
  auto t = OpenCase(d, absl::FromUnixSeconds(1'800'000'000));
  EXPECT_TRUE(t.ok());
  return t->after;
}

TEST(LinkPagesTest, ConfirmPageEscapesAndOmitsComment) {
  const std::string page =
      RenderConfirmPage(SampleCase(), v1::RESOLUTION_ESCALATE, "/r/tok", /*notice=*/"");
  EXPECT_THAT(page, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(page, Not(HasSubstr("<script>")));
  EXPECT_THAT(page, HasSubstr("Acme &amp; Sons"));
  EXPECT_THAT(page, Not(HasSubstr("Secret complaint text")));
  EXPECT_THAT(page, HasSubstr("method=\"post\""));
  EXPECT_THAT(page, HasSubstr("action=\"/r/tok\""));
  EXPECT_THAT(page, HasSubstr("name=\"note\""));
  EXPECT_THAT(page, HasSubstr("Dana Director"));  // who the escalation goes to
  EXPECT_THAT(page, HasSubstr("name=\"viewport\""));
}

TEST(LinkPagesTest, NoticeReplacesTheForm) {
  const std::string page =
      RenderConfirmPage(SampleCase(), v1::RESOLUTION_RESOLVED, "/r/tok", "Already set");
  EXPECT_THAT(page, HasSubstr("Already set"));
  EXPECT_THAT(page, Not(HasSubstr("<form")));
}

TEST(LinkPagesTest, AlreadySetNamesResolutionAndActor) {
  auto t = ChangeResolution(SampleCase(), v1::RESOLUTION_RESOLVED, {.actor = "link:Alex Owner"},
                            absl::FromUnixSeconds(1'800'000'100));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(AlreadySetMessage(t->after), "Already set to Resolved by link:Alex Owner.");
}

TEST(LinkPagesTest, ErrorPageEscapes) {
  EXPECT_THAT(RenderErrorPage("Bad <b>", "x & y"), HasSubstr("Bad &lt;b&gt;"));
}

}  // namespace
}  // namespace rebound::cases
