#include "classify.h"

#include <fstream>
#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "previous_score.h"

namespace rebound::classifier {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kSubmitted = absl::FromUnixSeconds(1767225600);  // 2026-01-01T00:00:00Z
const absl::Time kNow = kSubmitted + absl::Minutes(5);

v1::SurveyResponse Response(int score, std::vector<std::string> tags = {}) {
  v1::SurveyResponse response;
  response.set_response_id("r-1");
  response.set_score(score);
  response.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kSubmitted));
  for (auto& tag : tags) {
    response.add_tags(tag);
  }
  return response;
}

TEST(ClassifyTest, BandEdges) {
  const ClassifierRules rules;
  EXPECT_EQ(domain::Categorize(6, rules.bands), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(domain::Categorize(7, rules.bands), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(domain::Categorize(8, rules.bands), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(domain::Categorize(9, rules.bands), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(domain::Categorize(0, rules.bands), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(domain::Categorize(10, rules.bands), v1::CATEGORY_PROMOTER);
}

TEST(ClassifyTest, ConfiguredBandsMoveTheEdges) {
  auto rules = ParseRules(R"({"bands": {"detractor_max": 5, "passive_max": 7}})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(domain::Categorize(6, rules->bands), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(domain::Categorize(8, rules->bands), v1::CATEGORY_PROMOTER);
}

TEST(ClassifyTest, NormalBandGetsNormalPriorityAndThreeDays) {
  const PriorityDecision d = DecidePriority(Response(5), std::nullopt, ClassifierRules{}, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_NORMAL);
  EXPECT_THAT(d.reasons, IsEmpty());
  EXPECT_EQ(d.due_at, kSubmitted + absl::Hours(72));
}

TEST(ClassifyTest, VeryLowScoreIsHighAtItsEdge) {
  const ClassifierRules rules;
  EXPECT_EQ(DecidePriority(Response(4), std::nullopt, rules, kNow).priority, v1::PRIORITY_NORMAL);
  const PriorityDecision d = DecidePriority(Response(3), std::nullopt, rules, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_HIGH);
  EXPECT_THAT(d.reasons, ElementsAre("very_low_score"));
  EXPECT_EQ(d.due_at, kSubmitted + absl::Hours(24));
}

TEST(ClassifyTest, KeyAccountTagIsUrgentWithItsOwnDueTime) {
  const PriorityDecision d = DecidePriority(Response(6, {"Portland", "  top 100 "}), std::nullopt,
                                            ClassifierRules{}, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_URGENT);
  EXPECT_THAT(d.reasons, ElementsAre("key_account"));
  EXPECT_EQ(d.due_at, kSubmitted + absl::Hours(2));
}

TEST(ClassifyTest, OtherTagsAreNotKeyAccounts) {
  const PriorityDecision d =
      DecidePriority(Response(6, {"Top 1000"}), std::nullopt, ClassifierRules{}, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_NORMAL);
}

TEST(ClassifyTest, DropFromPreviousScoreIsHigh) {
  const ClassifierRules rules;  // min_drop 3
  const PreviousScore previous{.score = 8, .at = kSubmitted - absl::Hours(24 * 200)};
  PriorityDecision d = DecidePriority(Response(5), previous, rules, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_HIGH);
  EXPECT_THAT(d.reasons, ElementsAre("score_drop"));
  // A drop of two points is below the threshold.
  d = DecidePriority(Response(6), previous, rules, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_NORMAL);
}

TEST(ClassifyTest, RepeatDetractorWithinWindowIsHigh) {
  const ClassifierRules rules;  // 90 days
  PreviousScore previous{.score = 5, .at = kSubmitted - absl::Hours(24 * 89)};
  PriorityDecision d = DecidePriority(Response(5), previous, rules, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_HIGH);
  EXPECT_THAT(d.reasons, ElementsAre("repeat_detractor"));

  previous.at = kSubmitted - absl::Hours(24 * 91);
  EXPECT_EQ(DecidePriority(Response(5), previous, rules, kNow).priority, v1::PRIORITY_NORMAL);

  // A passive before is no repeat.
  previous = {.score = 7, .at = kSubmitted - absl::Hours(1)};
  EXPECT_EQ(DecidePriority(Response(6), previous, rules, kNow).priority, v1::PRIORITY_NORMAL);
}

TEST(ClassifyTest, TwoRaisingRulesMakeItUrgent) {
  const ClassifierRules rules;
  const PreviousScore previous{.score = 9, .at = kSubmitted - absl::Hours(24)};
  const PriorityDecision d = DecidePriority(Response(2), previous, rules, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_URGENT);
  EXPECT_THAT(d.reasons, ElementsAre("very_low_score", "score_drop"));
  EXPECT_EQ(d.due_at, kSubmitted + absl::Hours(4));
}

TEST(ClassifyTest, CombinationCanBeTurnedOff) {
  auto rules = ParseRules(R"({"combine": {"urgent_when_raised_by": 0}})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  const PreviousScore previous{.score = 9, .at = kSubmitted - absl::Hours(24)};
  EXPECT_EQ(DecidePriority(Response(2), previous, *rules, kNow).priority, v1::PRIORITY_HIGH);
}

TEST(ClassifyTest, KeyAccountPlusLowScoreKeepsEarliestDue) {
  const PriorityDecision d =
      DecidePriority(Response(1, {"Top 100"}), std::nullopt, ClassifierRules{}, kNow);
  EXPECT_EQ(d.priority, v1::PRIORITY_URGENT);
  EXPECT_THAT(d.reasons, ElementsAre("key_account", "very_low_score"));
  EXPECT_EQ(d.due_at, kSubmitted + absl::Hours(2));
}

TEST(ClassifyTest, DueTimeFallsBackToReceivedAtThenNow) {
  v1::SurveyResponse response = Response(5);
  response.clear_submitted_at();
  response.mutable_received_at()->set_seconds(absl::ToUnixSeconds(kSubmitted) + 60);
  EXPECT_EQ(DecidePriority(response, std::nullopt, ClassifierRules{}, kNow).due_at,
            kSubmitted + absl::Seconds(60) + absl::Hours(72));
  response.clear_received_at();
  EXPECT_EQ(DecidePriority(response, std::nullopt, ClassifierRules{}, kNow).due_at,
            kNow + absl::Hours(72));
}

TEST(ClassifyTest, ConfiguredDueHoursApply) {
  auto rules = ParseRules(R"({"due_hours": {"urgent": 1, "high": 8, "normal": 48},
                              "rules": {"key_account": {"tags": ["Gold"], "due_hours": 0.5}}})");
  ASSERT_TRUE(rules.ok()) << rules.status();
  EXPECT_EQ(DecidePriority(Response(5), std::nullopt, *rules, kNow).due_at,
            kSubmitted + absl::Hours(48));
  EXPECT_EQ(DecidePriority(Response(2), std::nullopt, *rules, kNow).due_at,
            kSubmitted + absl::Hours(8));
  EXPECT_EQ(DecidePriority(Response(5, {"gold"}), std::nullopt, *rules, kNow).due_at,
            kSubmitted + absl::Minutes(30));
  EXPECT_EQ(DecidePriority(Response(5, {"Top 100"}), std::nullopt, *rules, kNow).priority,
            v1::PRIORITY_NORMAL);
}

TEST(ClassifyTest, DefaultRulesFileParsesToTheDefaults) {
  const char* dir = std::getenv("REBOUND_SOURCE_DIR");
  if (dir == nullptr) {
    GTEST_SKIP() << "REBOUND_SOURCE_DIR not set";
  }
  auto rules = LoadRulesFile(std::string(dir) + "/services/classifier/config/rules.json");
  ASSERT_TRUE(rules.ok()) << rules.status();
  const ClassifierRules defaults;
  EXPECT_EQ(rules->key_account_tags, defaults.key_account_tags);
  EXPECT_EQ(rules->very_low_score_max, defaults.very_low_score_max);
  EXPECT_EQ(rules->score_drop_min, defaults.score_drop_min);
  EXPECT_EQ(rules->repeat_window, defaults.repeat_window);
  EXPECT_EQ(rules->urgent_due, defaults.urgent_due);
  EXPECT_EQ(rules->normal_due, defaults.normal_due);
  EXPECT_EQ(rules->key_account.due, defaults.key_account.due);
}

TEST(ClassifyTest, BadRulesNameTheKey) {
  EXPECT_THAT(std::string(ParseRules("{").status().message()), HasSubstr("not valid JSON"));
  EXPECT_THAT(std::string(ParseRules(R"({"bandz": {}})").status().message()), HasSubstr("bandz"));
  EXPECT_THAT(
      std::string(ParseRules(R"({"rules": {"score_drop": {"min_drop": "3"}}})").status().message()),
      HasSubstr("rules.score_drop.min_drop"));
  EXPECT_THAT(
      std::string(
          ParseRules(R"({"rules": {"very_low_score": {"priority": "asap"}}})").status().message()),
      HasSubstr("rules.very_low_score.priority"));
  EXPECT_THAT(std::string(ParseRules(R"({"due_hours": {"urgent": 100}})").status().message()),
              HasSubstr("due_hours"));
  EXPECT_THAT(
      std::string(
          ParseRules(R"({"bands": {"detractor_max": 9, "passive_max": 8}})").status().message()),
      HasSubstr("passive_max"));
  EXPECT_EQ(LoadRulesFile("/nonexistent/rules.json").status().code(), absl::StatusCode::kNotFound);
}

TEST(ClassifyTest, AssessFillsEverything) {
  auto lexicon = Lexicon::FromJson(R"({"themes": [
      {"id": "pricing_billing", "label": "pricing and billing", "terms": {"en": ["pric*"]}}]})");
  ASSERT_TRUE(lexicon.ok()) << lexicon.status();
  v1::SurveyResponse response = Response(2);
  response.set_reason("Prices went up again");
  const PreviousScore previous{.score = 9, .at = kSubmitted - absl::Hours(5)};
  const v1::Assessment a = Assess(response, previous, ClassifierRules{}, *lexicon, kNow);
  EXPECT_EQ(a.category(), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(a.priority(), v1::PRIORITY_URGENT);
  EXPECT_EQ(a.due_at().seconds(), absl::ToUnixSeconds(kSubmitted + absl::Hours(4)));
  EXPECT_EQ(a.reason_theme().id(), "pricing_billing");
  EXPECT_THAT(a.reason_theme().matched_terms(), ElementsAre("pric*"));
  EXPECT_EQ(a.do_differently_theme().id(), "general");
  EXPECT_EQ(a.overall_theme().id(), "pricing_billing");
  ASSERT_TRUE(a.has_previous_score());
  EXPECT_EQ(a.previous_score(), 9);
  EXPECT_EQ(a.previous_submitted_at().seconds(), absl::ToUnixSeconds(previous.at));

  const v1::Assessment promoter =
      Assess(Response(10), std::nullopt, ClassifierRules{}, *lexicon, kNow);
  EXPECT_EQ(promoter.category(), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(promoter.priority(), v1::PRIORITY_UNSPECIFIED);
  EXPECT_FALSE(promoter.has_previous_score());
}

TEST(PreviousScoreTest, CounterFieldsAndDays) {
  EXPECT_EQ(CategoryField(v1::CATEGORY_PROMOTER), "promoters");
  EXPECT_EQ(CategoryField(v1::CATEGORY_PASSIVE), "passives");
  EXPECT_EQ(CategoryField(v1::CATEGORY_DETRACTOR), "detractors");
  EXPECT_EQ(UtcDay(kSubmitted - absl::Seconds(1)), "2025-12-31");
  EXPECT_EQ(UtcDay(kSubmitted), "2026-01-01");
}

}  // namespace
}  // namespace rebound::classifier
