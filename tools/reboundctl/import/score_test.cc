#include "import/score.h"

#include <gtest/gtest.h>

namespace rebound::reboundctl {
namespace {

std::string Reason(std::string_view raw, const ScoreRules& rules = {}) {
  auto score = ParseScore(raw, rules);
  return score.ok() ? "ok" : std::string(score.status().message());
}

TEST(ParseScore, PlainIntegers) {
  for (int i = 0; i <= 10; ++i) {
    auto score = ParseScore(std::to_string(i), {});
    ASSERT_TRUE(score.ok()) << i;
    EXPECT_EQ(*score, i);
  }
  EXPECT_EQ(*ParseScore(" 7 ", {}), 7);
  EXPECT_EQ(*ParseScore("10.0", {}), 10);
  EXPECT_EQ(*ParseScore("08", {}), 8);
}

TEST(ParseScore, LeadingIntegerWithLabel) {
  EXPECT_EQ(*ParseScore("10 - Extremely likely", {}), 10);
  EXPECT_EQ(*ParseScore("0 (Not at all likely)", {}), 0);
  EXPECT_EQ(*ParseScore("5: Neutral", {}), 5);
  EXPECT_EQ(*ParseScore("9 \xE2\x80\x93 Very likely", {}), 9);
  EXPECT_EQ(*ParseScore("8/10", {}), 8);
}

TEST(ParseScore, MissingValues) {
  EXPECT_EQ(Reason("NA"), "missing (NA)");
  EXPECT_EQ(Reason(" na "), "missing (NA)");
  EXPECT_EQ(Reason(""), "missing (empty)");
  EXPECT_EQ(Reason("   "), "missing (empty)");
  ScoreRules rules;
  rules.na_tokens = {"N/A", "-"};
  EXPECT_EQ(Reason("n/a", rules), "missing (NA)");
  EXPECT_EQ(Reason("-", rules), "missing (NA)");
}

TEST(ParseScore, InvalidValues) {
  EXPECT_EQ(Reason("6.5"), "not a whole number");
  EXPECT_EQ(Reason("11"), "out of range 0-10");
  EXPECT_EQ(Reason("-1"), "out of range 0-10");
  EXPECT_EQ(Reason("100 - best"), "out of range 0-10");
  EXPECT_EQ(Reason("99999999999999999999"), "out of range 0-10");
  EXPECT_EQ(Reason("7x"), "not a number from 0 to 10");
  EXPECT_EQ(Reason("5 3"), "not a number from 0 to 10");
  EXPECT_EQ(Reason("Probably"), "not a number from 0 to 10");
}

TEST(ParseScore, ExplicitLabels) {
  ScoreRules rules;
  rules.labels = {{"Yes absolutely", 10}, {"Probably", 8}, {"Not sure", 5}};
  EXPECT_EQ(*ParseScore("Yes absolutely", rules), 10);
  EXPECT_EQ(*ParseScore("  yes   ABSOLUTELY ", rules), 10);
  EXPECT_EQ(*ParseScore("Probably", rules), 8);
  EXPECT_EQ(*ParseScore("7", rules), 7);  // numbers still work beside labels
  EXPECT_EQ(Reason("Maybe", rules), "not a number from 0 to 10");
}

TEST(IsVerbalScore, TellsWordsFromNumbers) {
  EXPECT_TRUE(IsVerbalScore("Yes absolutely", {}));
  EXPECT_FALSE(IsVerbalScore("10 - Extremely likely", {}));
  EXPECT_FALSE(IsVerbalScore("-1", {}));
  EXPECT_FALSE(IsVerbalScore("NA", {}));
  EXPECT_FALSE(IsVerbalScore("", {}));
}

}  // namespace
}  // namespace rebound::reboundctl
