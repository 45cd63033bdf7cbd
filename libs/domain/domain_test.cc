#include "rebound/domain/domain.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::domain {
namespace {

TEST(DomainTest, CategorizeBandEdges) {
  EXPECT_EQ(Categorize(0), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(Categorize(6), v1::CATEGORY_DETRACTOR);
  EXPECT_EQ(Categorize(7), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(Categorize(8), v1::CATEGORY_PASSIVE);
  EXPECT_EQ(Categorize(9), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(Categorize(10), v1::CATEGORY_PROMOTER);
  EXPECT_EQ(Categorize(5, {.detractor_max = 4, .passive_max = 7}), v1::CATEGORY_PASSIVE);
}

TEST(DomainTest, NetPromoterScore) {
  EXPECT_DOUBLE_EQ(NetPromoterScore(0, 0, 0), 0.0);
  EXPECT_DOUBLE_EQ(NetPromoterScore(50, 30, 20), 30.0);
  EXPECT_DOUBLE_EQ(NetPromoterScore(0, 0, 4), -100.0);
}

TEST(DomainTest, CaseIdIsStableAndDistinct) {
  EXPECT_EQ(CaseIdForResponse("r-1"), CaseIdForResponse("r-1"));
  EXPECT_NE(CaseIdForResponse("r-1"), CaseIdForResponse("r-2"));
  EXPECT_THAT(CaseIdForResponse("r-1"), testing::MatchesRegex("case-[0-9a-f]{20}"));
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DomainTest, ResolutionNamesRoundTrip) {
  for (auto r : {v1::RESOLUTION_IN_PROGRESS, v1::RESOLUTION_CANT_RESOLVE,
                 v1::RESOLUTION_NOT_AN_ISSUE, v1::RESOLUTION_RESOLVED, v1::RESOLUTION_ESCALATE}) {
    EXPECT_EQ(*ParseResolution(ResolutionSlug(r)), r);
    EXPECT_EQ(*ParseResolution(ResolutionLabel(r)), r);
  }
  EXPECT_EQ(*ParseResolution("Can't Resolve"), v1::RESOLUTION_CANT_RESOLVE);
  EXPECT_EQ(*ParseResolution("not-an-issue"), v1::RESOLUTION_NOT_AN_ISSUE);
  EXPECT_FALSE(ParseResolution("open").ok());
  EXPECT_THAT(ParseResolution("done").status().message(), testing::HasSubstr("use one of"));
}

TEST(DomainTest, OwnerChainAndFirstName) {
  google::protobuf::RepeatedPtrField<v1::Owner> chain;
  auto* director = chain.Add();
  director->set_name("Ana Ruiz");
  director->set_role("Director");
  chain.Add()->set_name("Ben Cole");
  EXPECT_EQ(FormatOwnerChain(chain), "Director: Ana Ruiz \u203a Ben Cole");
  EXPECT_EQ(FirstName("  Zoë  Müller "), "Zoë");
  EXPECT_EQ(FirstName(""), "");
}

}  // namespace
}  // namespace rebound::domain
