// Pure helpers of the store; the Redis behaviour is covered by the integration test.
#include "case_store.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::cases {
namespace {

TEST(PageTokenTest, RoundTripsAndRejectsOtherOrders) {
  const std::string token = EncodePageToken(2, 1700000000123.0, "case-abc");
  double score = 0;
  std::string id;
  ASSERT_TRUE(DecodePageToken(token, 2, &score, &id).ok());
  EXPECT_EQ(score, 1700000000123.0);
  EXPECT_EQ(id, "case-abc");
  EXPECT_FALSE(DecodePageToken(token, 1, &score, &id).ok());
  absl::Status bad = DecodePageToken("not a token!", 2, &score, &id);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.message()), ::testing::StartsWith("page_token:"));
}

TEST(MedianTest, OddEvenEmpty) {
  EXPECT_EQ(Median({}), 0);
  EXPECT_EQ(Median({5, 1, 3}), 3);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
}

TEST(DaysInWindowTest, CoversTouchedDaysOnly) {
  const absl::Time from =
      absl::FromCivil(absl::CivilSecond(2026, 3, 30, 22, 0, 0), absl::UTCTimeZone());
  const absl::Time to =
      absl::FromCivil(absl::CivilSecond(2026, 4, 2, 0, 0, 0), absl::UTCTimeZone());
  EXPECT_THAT(DaysInWindow(from, to, 10),
              ::testing::ElementsAre("2026-03-30", "2026-03-31", "2026-04-01"));
  EXPECT_THAT(DaysInWindow(from, to, 2), ::testing::ElementsAre("2026-03-31", "2026-04-01"));
  EXPECT_TRUE(DaysInWindow(to, from, 10).empty());
}

TEST(IndexNameTest, LowerCasedAndTrimmed) {
  EXPECT_EQ(IndexName("  Top 100 "), "top 100");
  EXPECT_EQ(IndexName("Dana Whitfield"), "dana whitfield");
}

}  // namespace
}  // namespace rebound::cases
