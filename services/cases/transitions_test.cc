#include "transitions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rebound/domain/domain.h"

namespace rebound::cases {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

v1::DetractorIdentified Detractor(const std::string& response_id, int chain_length = 3) {
  v1::DetractorIdentified d;
  d.set_event_id("det-" + response_id);
  v1::SurveyResponse* r = d.mutable_response();
  r->set_response_id(response_id);
  r->set_score(3);
  r->set_respondent_key("resp-1");
  r->mutable_account()->set_account_id("acme");
  const char* names[] = {"Dana Director", "Morgan Manager", "Alex Owner", "Sam Extra"};
  for (int i = 0; i < chain_length; ++i) {
    r->add_owner_chain()->set_name(names[i]);
  }
  r->add_tags("Portland");
  d.mutable_assessment()->set_priority(v1::PRIORITY_HIGH);
  *d.mutable_assessment()->mutable_due_at() = ToProto(kNow + absl::Hours(4));
  return d;
}

v1::Case Opened(int chain_length = 3) {
  auto t = OpenCase(Detractor("r-1", chain_length), kNow);
  EXPECT_TRUE(t.ok()) << t.status();
  return t->after;
}

TEST(OpenCaseTest, OwnerIsLastLinkAndHistoryStarts) {
  auto t = OpenCase(Detractor("r-1"), kNow);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->after.case_id(), domain::CaseIdForResponse("r-1"));
  EXPECT_EQ(t->after.owner(), "Alex Owner");
  EXPECT_EQ(t->after.owner_index(), 2);
  EXPECT_EQ(t->after.version(), 1);
  EXPECT_EQ(t->after.priority(), v1::PRIORITY_HIGH);
  EXPECT_FALSE(t->after.closed());
  ASSERT_EQ(t->after.history_size(), 1);
  EXPECT_EQ(t->change.kind(), "opened");
  EXPECT_EQ(t->change.sequence(), 1);
  EXPECT_EQ(t->type, v1::CASE_EVENT_TYPE_OPENED);
  EXPECT_EQ(MakeEvent(*t).event_id(), t->after.case_id() + "/1");
}

TEST(OpenCaseTest, RejectsMissingResponseId) {
  EXPECT_EQ(OpenCase(Detractor(""), kNow).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JoinResponseTest, AppendsResponseRaisesPriorityKeepsEarlierDue) {
  v1::Case c = Opened();
  v1::DetractorIdentified second = Detractor("r-2");
  second.mutable_assessment()->set_priority(v1::PRIORITY_URGENT);
  *second.mutable_assessment()->mutable_due_at() = ToProto(kNow + absl::Hours(1));
  auto t = JoinResponse(c, second, kNow + absl::Minutes(5));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->after.responses_size(), 2);
  EXPECT_EQ(t->after.priority(), v1::PRIORITY_URGENT);
  EXPECT_EQ(FromProto(t->after.due_at()), kNow + absl::Hours(1));
  EXPECT_EQ(t->change.kind(), "response_joined");
  EXPECT_EQ(t->change.response_id(), "r-2");
  EXPECT_EQ(t->type, v1::CASE_EVENT_TYPE_RESPONSE_JOINED);
  EXPECT_EQ(t->after.version(), 2);
  EXPECT_EQ(t->after.case_id(), c.case_id());
}

TEST(JoinResponseTest, ClosedCaseCannotBeJoined) {
  auto closed = ChangeResolution(Opened(), v1::RESOLUTION_RESOLVED, {.actor = "a"}, kNow);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(JoinResponse(closed->after, Detractor("r-2"), kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

// The transition table: from each state, which resolutions are accepted with and without reopen.
struct TableRow {
  v1::Resolution from;
  v1::Resolution to;
  bool reopen;
  bool accepted;
};

class TransitionTableTest : public ::testing::TestWithParam<TableRow> {};

TEST_P(TransitionTableTest, FollowsTable) {
  const TableRow& row = GetParam();
  v1::Case c = Opened();
  if (row.from != v1::RESOLUTION_UNSPECIFIED) {
    auto first = ChangeResolution(c, row.from, {.actor = "setup"}, kNow);
    ASSERT_TRUE(first.ok()) << first.status();
    c = first->after;
  }
  auto t = ChangeResolution(c, row.to, {.actor = "someone", .reopen = row.reopen}, kNow);
  EXPECT_EQ(t.ok(), row.accepted) << t.status();
  if (!t.ok()) {
    EXPECT_EQ(t.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(std::string(t.status().message()), ::testing::HasSubstr("reopen"));
    return;
  }
  EXPECT_EQ(t->after.resolution(), row.to);
  EXPECT_EQ(t->after.closed(), domain::IsClosing(row.to));
  EXPECT_EQ(t->after.has_closed_at(), domain::IsClosing(row.to));
  EXPECT_EQ(t->change.from_resolution(), row.from);
  EXPECT_EQ(t->change.to_resolution(), row.to);
  EXPECT_EQ(t->after.version(), c.version() + 1);
  EXPECT_TRUE(t->after.has_first_action_at());
}

std::vector<TableRow> AllRows() {
  const v1::Resolution all[] = {v1::RESOLUTION_IN_PROGRESS, v1::RESOLUTION_CANT_RESOLVE,
                                v1::RESOLUTION_NOT_AN_ISSUE, v1::RESOLUTION_RESOLVED,
                                v1::RESOLUTION_ESCALATE};
  std::vector<TableRow> rows;
  for (v1::Resolution to : all) {
    rows.push_back({v1::RESOLUTION_UNSPECIFIED, to, false, true});
    for (v1::Resolution from : all) {
      const bool closed = domain::IsClosing(from);
      rows.push_back({from, to, false, !closed});
      rows.push_back({from, to, true, true});
    }
  }
  return rows;
}

INSTANTIATE_TEST_SUITE_P(AllPairs, TransitionTableTest, ::testing::ValuesIn(AllRows()));

TEST(ChangeResolutionTest, RejectsUnspecifiedAndBadActor) {
  v1::Case c = Opened();
  auto none = ChangeResolution(c, v1::RESOLUTION_UNSPECIFIED, {.actor = "a"}, kNow);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(none.status().message()), ::testing::StartsWith("resolution:"));
  auto no_actor = ChangeResolution(c, v1::RESOLUTION_RESOLVED, {}, kNow);
  EXPECT_THAT(std::string(no_actor.status().message()), ::testing::StartsWith("actor:"));
  auto long_note = ChangeResolution(c, v1::RESOLUTION_RESOLVED,
                                    {.actor = "a", .note = std::string(2001, 'x')}, kNow);
  EXPECT_THAT(std::string(long_note.status().message()), ::testing::StartsWith("note:"));
}

TEST(ChangeResolutionTest, NoteMustBeUtf8AndIsCountedInCharacters) {
  v1::Case c = Opened();
  // A form post can carry any bytes; stored, they would make the case record unparseable.
  auto latin1 = ChangeResolution(c, v1::RESOLUTION_RESOLVED,
                                 {.actor = "a", .note = "called M\xfcller back"}, kNow);
  EXPECT_EQ(latin1.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(std::string(latin1.status().message()), "note: must be valid UTF-8");
  auto bad_actor = AddNote(c, {.actor = "\xc0\xaf", .note = "n"}, kNow);
  EXPECT_THAT(std::string(bad_actor.status().message()), ::testing::StartsWith("actor:"));

  // 2000 characters of two bytes each fit; 2001 do not.
  std::string umlauts;
  for (int i = 0; i < 2000; ++i) {
    umlauts += "\u00fc";
  }
  EXPECT_TRUE(AddNote(c, {.actor = "a", .note = umlauts}, kNow).ok());
  EXPECT_FALSE(AddNote(c, {.actor = "a", .note = umlauts + "x"}, kNow).ok());

  EXPECT_TRUE(IsValidUtf8("gr\u00fc\u00df \U0001F600"));
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));  // a surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));      // cut short
  EXPECT_EQ(CountChars("gr\u00fc\u00df"), 4u);
}

TEST(ChangeResolutionTest, ReopenWithInProgressOpensAgain) {
  auto closed = ChangeResolution(Opened(), v1::RESOLUTION_NOT_AN_ISSUE, {.actor = "a"}, kNow);
  ASSERT_TRUE(closed.ok());
  auto reopened = ChangeResolution(closed->after, v1::RESOLUTION_IN_PROGRESS,
                                   {.actor = "b", .reopen = true}, kNow + absl::Minutes(1));
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(reopened->after.closed());
  EXPECT_FALSE(reopened->after.has_closed_at());
  // The first action stays the first one.
  EXPECT_EQ(FromProto(reopened->after.first_action_at()), kNow);
  EXPECT_EQ(LastResolutionActor(reopened->after), "b");
}

TEST(EscalateTest, MovesOneLinkUpFromTheMiddle) {
  auto once = ChangeResolution(Opened(), v1::RESOLUTION_ESCALATE, {.actor = "Alex"}, kNow);
  ASSERT_TRUE(once.ok());
  EXPECT_EQ(once->after.owner(), "Morgan Manager");
  EXPECT_EQ(once->after.owner_index(), 1);
  EXPECT_TRUE(once->after.escalated());
  EXPECT_EQ(once->change.kind(), "escalated");
  EXPECT_EQ(once->change.from_owner(), "Alex Owner");
  EXPECT_EQ(once->change.to_owner(), "Morgan Manager");
  EXPECT_EQ(once->type, v1::CASE_EVENT_TYPE_ESCALATED);

  auto twice = ChangeResolution(once->after, v1::RESOLUTION_ESCALATE, {.actor = "Morgan"}, kNow);
  ASSERT_TRUE(twice.ok());
  EXPECT_EQ(twice->after.owner(), "Dana Director");
  EXPECT_EQ(twice->after.owner_index(), 0);
}

TEST(EscalateTest, StaysAtTheTopMarkedEscalated) {
  v1::Case top = Opened(1);
  ASSERT_EQ(top.owner_index(), 0);
  auto t = ChangeResolution(top, v1::RESOLUTION_ESCALATE, {.actor = "Dana"}, kNow);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->after.owner(), "Dana Director");
  EXPECT_EQ(t->after.owner_index(), 0);
  EXPECT_TRUE(t->after.escalated());
  EXPECT_FALSE(t->after.closed());
  EXPECT_EQ(t->change.from_owner(), t->change.to_owner());
}

TEST(EscalateTest, EmptyChainKeepsNoOwner) {
  v1::Case c = Opened(0);
  EXPECT_EQ(c.owner(), "");
  auto t = ChangeResolution(c, v1::RESOLUTION_ESCALATE, {.actor = "ops"}, kNow);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->after.owner(), "");
  EXPECT_TRUE(t->after.escalated());
}

TEST(AddNoteTest, NeedsTextAndCountsAsAction) {
  v1::Case c = Opened();
  EXPECT_EQ(AddNote(c, {.actor = "a"}, kNow).status().code(), absl::StatusCode::kInvalidArgument);
  auto t = AddNote(c, {.actor = "a", .note = "called, left a message"}, kNow);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->change.kind(), "note");
  EXPECT_TRUE(t->after.has_first_action_at());
  EXPECT_EQ(t->type, v1::CASE_EVENT_TYPE_NOTE_ADDED);
}

TEST(OverdueTest, OnlyOpenUnactedPastDue) {
  v1::Case c = Opened();
  const absl::Time due = FromProto(c.due_at());
  const int64_t due_ms = ToUnixMillis(c.due_at());
  EXPECT_FALSE(IsOverdue(c, due - absl::Seconds(1)));
  EXPECT_TRUE(IsOverdue(c, due));
  EXPECT_TRUE(NeedsOverdueEvent(c, 0, due + absl::Minutes(1)));
  EXPECT_FALSE(NeedsOverdueEvent(c, due_ms, due + absl::Minutes(1)));

  auto marked = MarkOverdue(c, due + absl::Minutes(1));
  ASSERT_TRUE(marked.ok());
  EXPECT_TRUE(marked->after.overdue());
  EXPECT_EQ(marked->change.kind(), "overdue");
  EXPECT_EQ(marked->change.actor(), "system");
  EXPECT_EQ(marked->type, v1::CASE_EVENT_TYPE_OVERDUE);

  auto noted = AddNote(c, {.actor = "a", .note = "n"}, kNow);
  ASSERT_TRUE(noted.ok());
  EXPECT_FALSE(IsOverdue(noted->after, due + absl::Hours(1)));
  EXPECT_FALSE(MarkOverdue(noted->after, due + absl::Hours(1)).ok());
}

TEST(SummaryTest, CarriesChangeAndState) {
  auto t = ChangeResolution(Opened(), v1::RESOLUTION_ESCALATE, {.actor = "Alex"}, kNow);
  ASSERT_TRUE(t.ok());
  v1::CaseEventSummary s = MakeSummary(*t);
  EXPECT_EQ(s.event_id(), t->after.case_id() + "/2");
  EXPECT_EQ(s.version(), 2);
  EXPECT_EQ(s.owner(), "Morgan Manager");
  EXPECT_EQ(s.resolution(), v1::RESOLUTION_ESCALATE);
}

}  // namespace
}  // namespace rebound::cases
