#include "validation.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "webhook.h"

namespace rebound::ingest {
namespace {

using ::testing::ElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1796033600);  // 2026-11-30T10:13:20Z

nlohmann::json BaseJson() {
  return {
      {"response_id", "r-1"},
      {"submitted_at", "2026-11-30T10:00:00Z"},
      {"score", 4},
      {"respondent", {{"full_name", "Ana Li"}, {"email", "ana@example.com"}}},
  };
}

// Runs the whole path a webhook body takes: JSON mapping, then validation. Returns the field
// at fault ("" when valid) and the message.
FieldError Check(const std::string& body) {
  absl::StatusOr<v1::SurveyResponse> mapped = ResponseFromJson(body);
  if (!mapped.ok()) {
    return FieldErrorOf(mapped.status());
  }
  absl::StatusOr<v1::SurveyResponse> normalized = NormalizeResponse(*mapped, Limits{}, kNow);
  if (!normalized.ok()) {
    return FieldErrorOf(normalized.status());
  }
  return {};
}

struct Case {
  std::string name;
  std::string body;
  std::string field;  // expected field at fault; empty: valid
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string With(const std::string& key, const nlohmann::json& value) {
  nlohmann::json body = BaseJson();
  body[key] = value;
  return body.dump();
}

std::string Without(const std::string& key) {
  nlohmann::json body = BaseJson();
  body.erase(key);
  return body.dump();
}

std::vector<Case> Cases() {
  const std::string huge(5001, 'x');
  const std::string bad_utf8 = "caf\xC3";  // truncated two-byte sequence
  return {
      {"ScoreMinusOne", With("score", -1), "score"},
      {"ScoreZero", With("score", 0), ""},
      {"ScoreSix", With("score", 6), ""},
      {"ScoreSeven", With("score", 7), ""},
      {"ScoreTen", With("score", 10), ""},
      {"ScoreEleven", With("score", 11), "score"},
      {"ScoreFraction", With("score", 6.5), "score"},
      {"ScoreAsString", With("score", "6"), "score"},
      {"ScoreHuge", With("score", 18446744073709551615ull), "score"},
      {"ScoreHugeNegative", With("score", -9223372036854775807ll), "score"},
      {"ScoreHugeFloat", With("score", 1e30), "score"},
      {"ScoreWholeWithDecimalPoint",
       R"({"response_id":"r","submitted_at":"2026-11-30T10:00:00Z",)"
       R"("score":6.0})",
       ""},
      {"ScoreBoolean", With("score", true), "score"},
      {"ScoreMissing", Without("score"), "score"},
      {"ScoreNull", With("score", nullptr), "score"},
      {"ResponseIdEmpty", With("response_id", ""), "response_id"},
      {"ResponseIdBlank", With("response_id", "   "), "response_id"},
      {"ResponseIdMissing", Without("response_id"), "response_id"},
      {"ResponseIdMaxLength", With("response_id", std::string(128, 'a')), ""},
      {"ResponseIdTooLong", With("response_id", std::string(129, 'a')), "response_id"},
      {"ResponseIdControl", With("response_id", "a\x01b"), "response_id"},
      {"ResponseIdNumber", With("response_id", 17), "response_id"},
      {"SubmittedAtMissing", Without("submitted_at"), "submitted_at"},
      {"SubmittedAtNotRfc3339", With("submitted_at", "30/11/2026"), "submitted_at"},
      {"SubmittedAtWithinSkew", With("submitted_at", "2026-11-30T10:17:20+00:00"), ""},
      {"SubmittedAtBeyondSkew", With("submitted_at", "2026-11-30T10:20:00Z"), "submitted_at"},
      {"ReasonAtCap", With("reason", std::string(5000, 'x')), ""},
      {"ReasonHuge", With("reason", huge), "reason"},
      {"DoDifferentlyHuge", With("do_differently", huge), "do_differently"},
      {"ReasonWrongType", With("reason", nlohmann::json::array()), "reason"},
      {"ReasonNullIsAbsent", With("reason", nullptr), ""},
      {"UnknownFieldIgnored", With("nps_channel", "email"), ""},
      {"EmailInvalid", With("respondent", {{"email", "ana at example.com"}}), "respondent.email"},
      {"EmailNoDomainDot", With("respondent", {{"email", "ana@localhost"}}), "respondent.email"},
      {"NameTooLong", With("respondent", {{"full_name", std::string(201, 'n')}}),
       "respondent.full_name"},
      {"KindUnknown", With("respondent", {{"kind", "vendor"}}), "respondent.kind"},
      {"KindTalent", With("respondent", {{"kind", "Talent"}}), ""},
      {"RespondentWrongType", With("respondent", "Ana"), "respondent"},
      {"AccountNameWrongType", With("account", {{"name", 5}}), "account.name"},
      {"TagsTooMany",
       With("tags",
            [] {
              nlohmann::json tags = nlohmann::json::array();
              for (int i = 0; i < 51; ++i) {
                tags.push_back("t" + std::to_string(i));
              }
              return tags;
            }()),
       "tags"},
      {"TagsDuplicatesCountOnce",
       With("tags",
            [] {
              nlohmann::json tags = nlohmann::json::array();
              for (int i = 0; i < 60; ++i) {
                tags.push_back(i % 2 == 0 ? "Top" : "TOP");
              }
              return tags;
            }()),
       ""},
      {"TagTooLong", With("tags", {"ok", std::string(101, 't')}), "tags[1]"},
      {"TagWrongType", With("tags", {"ok", 3}), "tags[1]"},
      {"TagsNotAList", With("tags", "Portland"), "tags"},
      {"OwnerChainTooLong", With("owner_chain", "A>B>C>D>E>F>G>H>I>J>K"), "owner_chain"},
      {"OwnerChainTenLinks", With("owner_chain", "A>B>C>D>E>F>G>H>I>J"), ""},
      {"OwnerEmailInvalid", With("owner_chain", {{{"name", "Sam"}, {"email", "sam@"}}}),
       "owner_chain[0].email"},
      {"OwnerWithoutName", With("owner_chain", {{{"role", "Director"}}}), "owner_chain[0].name"},
      {"OwnerWrongType", With("owner_chain", {"Sam", 4}), "owner_chain[1]"},
      {"InvalidUtf8InName",
       R"({"response_id":"r","submitted_at":"2026-11-30T10:00:00Z",)"
       R"("score":3,"respondent":{"full_name":")" +
           bad_utf8 + R"("}})",
       "respondent.full_name"},
      {"InvalidUtf8InTag",
       R"({"response_id":"r","submitted_at":"2026-11-30T10:00:00Z",)"
       R"("score":3,"tags":["ok",")" +
           bad_utf8 + R"("]})",
       "tags[1]"},
      {"UnpairedSurrogateEscape",
       R"({"response_id":"r","submitted_at":"2026-11-30T10:00:00Z",)"
       R"("score":3,"reason":"a\ud800b"})",
       "reason"},
      {"NotJson", "{\"response_id\": ", "body"},
      {"NotAnObject", "[1, 2]", "body"},
  };
}

class ValidationTableTest : public ::testing::TestWithParam<Case> {};

TEST_P(ValidationTableTest, RejectsWithFieldOrAccepts) {
  const FieldError error = Check(GetParam().body);
  EXPECT_EQ(error.field, GetParam().field) << error.message;
  if (!GetParam().field.empty()) {
    EXPECT_FALSE(error.message.empty());
  }
}

INSTANTIATE_TEST_SUITE_P(Edges, ValidationTableTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return info.param.name; });

TEST(ValidationTest, InvalidUtf8InProtoIsRejectedWithField) {
  v1::SurveyResponse response;
  response.set_response_id("r-1");
  response.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kNow));
  response.set_reason("good \xFF bad");
  absl::StatusOr<v1::SurveyResponse> result = NormalizeResponse(response, Limits{}, kNow);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FieldErrorOf(result.status()).field, "reason");
  EXPECT_EQ(FieldErrorOf(result.status()).message, "must be valid UTF-8");
}

TEST(ValidationTest, Utf8Checks) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("Zoë › Kāne 日本 😀"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xE2\x80"));          // truncated
  EXPECT_EQ(CountChars("Zoë"), 3u);
}

TEST(ValidationTest, TrimAndCollapse) {
  EXPECT_EQ(Trim("  \t a b \n"), "a b");
  EXPECT_EQ(Trim("\u00A0x\u3000"), "x");
  EXPECT_EQ(CollapseWhitespace("  Ana \t\n  Li\u00A0 Smith "), "Ana Li Smith");
  EXPECT_EQ(CollapseWhitespace(""), "");
}

TEST(ValidationTest, EmailRule) {
  EXPECT_TRUE(IsValidEmail("ana@example.com"));
  EXPECT_TRUE(IsValidEmail("Ana.Li+nps@mail.example.co.uk"));
  EXPECT_TRUE(IsValidEmail("zoë@bücher.de"));
  EXPECT_FALSE(IsValidEmail("ana@@example.com"));
  EXPECT_FALSE(IsValidEmail("@example.com"));
  EXPECT_FALSE(IsValidEmail("ana@example"));
  EXPECT_FALSE(IsValidEmail("ana@-example.com"));
  EXPECT_FALSE(IsValidEmail("ana@example..com"));
  EXPECT_FALSE(IsValidEmail("a na@example.com"));
  EXPECT_FALSE(IsValidEmail(std::string(65, 'a') + "@example.com"));
}

std::vector<std::string> Render(const std::vector<v1::Owner>& chain) {
  std::vector<std::string> out;
  for (const v1::Owner& owner : chain) {
    out.push_back(owner.role() + "|" + owner.name());
  }
  return out;
}

TEST(OwnerChainTest, ParsesAngleQuotation) {
  EXPECT_THAT(Render(ParseOwnerChain("Director: Dana Whitfield \u203A Sam  Ortiz")),
              ElementsAre("Director|Dana Whitfield", "|Sam Ortiz"));
}

TEST(OwnerChainTest, ParsesGreaterThan) {
  EXPECT_THAT(Render(ParseOwnerChain("Dana > Account Owner: Sam>Lee")),
              ElementsAre("|Dana", "Account Owner|Sam", "|Lee"));
}

TEST(OwnerChainTest, SkipsEmptyLinksAndHandlesEmptyText) {
  EXPECT_THAT(Render(ParseOwnerChain(" > Dana \u203A\u203A Sam > ")), ElementsAre("|Dana", "|Sam"));
  EXPECT_TRUE(ParseOwnerChain("").empty());
  EXPECT_TRUE(ParseOwnerChain("   ").empty());
}

TEST(OwnerChainTest, ParsesLinkWithAndWithoutRole) {
  EXPECT_EQ(ParseOwnerLink("Director:Dana").role(), "Director");
  EXPECT_EQ(ParseOwnerLink("Director:Dana").name(), "Dana");
  EXPECT_EQ(ParseOwnerLink("  Dana  W ").name(), "Dana W");
  EXPECT_EQ(ParseOwnerLink("  Dana  W ").role(), "");
}

TEST(OwnerChainTest, JsonAcceptsStringListAndObjects) {
  for (const nlohmann::json& chain :
       {nlohmann::json("Director: Dana \u203A Sam"), nlohmann::json({"Director: Dana", "Sam"}),
        nlohmann::json({{{"name", "Dana"}, {"role", "Director"}}, {{"name", "Sam"}}})}) {
    absl::StatusOr<v1::SurveyResponse> mapped = ResponseFromJson(With("owner_chain", chain));
    ASSERT_TRUE(mapped.ok()) << mapped.status();
    absl::StatusOr<v1::SurveyResponse> response = NormalizeResponse(*mapped, Limits{}, kNow);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_THAT(Render({response->owner_chain().begin(), response->owner_chain().end()}),
                ElementsAre("Director|Dana", "|Sam"))
        << chain.dump();
  }
}

TEST(OwnerChainTest, ProtoLinkHoldingWholeChainIsSplit) {
  v1::SurveyResponse response;
  response.set_response_id("r");
  response.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kNow));
  response.add_owner_chain()->set_name("VP: Kim \u203A Director: Dana > Sam");
  absl::StatusOr<v1::SurveyResponse> result = NormalizeResponse(response, Limits{}, kNow);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Render({result->owner_chain().begin(), result->owner_chain().end()}),
              ElementsAre("VP|Kim", "Director|Dana", "|Sam"));
}

TEST(NormalizationTest, TrimsCollapsesAndDerives) {
  v1::SurveyResponse response;
  response.set_response_id("  r-9 ");
  response.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kNow) - 60);
  response.set_score(3);
  response.set_reason("  Slow replies.\n\nNobody called back.  ");
  response.mutable_respondent()->set_full_name("  Ana   María\tLi ");
  response.mutable_respondent()->set_email(" Ana.Li@Example.COM ");
  response.mutable_account()->set_name("  Acme   Staffing ");
  for (const char* tag : {" Portland ", "Top  100", "portland", "TOP 100", "", "Industrial"}) {
    response.add_tags(tag);
  }

  absl::StatusOr<v1::SurveyResponse> result = NormalizeResponse(response, Limits{}, kNow);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->response_id(), "r-9");
  EXPECT_EQ(result->reason(), "Slow replies.\n\nNobody called back.");
  EXPECT_EQ(result->respondent().full_name(), "Ana María Li");
  EXPECT_EQ(result->respondent().email(), "Ana.Li@Example.COM");
  EXPECT_EQ(result->respondent_key(), "ana.li@example.com");
  EXPECT_EQ(result->account().name(), "Acme Staffing");
  EXPECT_EQ(result->account().account_id(), "acme-staffing");
  EXPECT_THAT(result->tags(), ElementsAre("Portland", "Top 100", "Industrial"));
}

TEST(NormalizationTest, RespondentKeyPrefersId) {
  v1::Respondent respondent;
  respondent.set_email("Ana@Example.com");
  EXPECT_EQ(RespondentKey(respondent), "ana@example.com");
  respondent.set_respondent_id("crm-42");
  EXPECT_EQ(RespondentKey(respondent), "crm-42");
  EXPECT_EQ(RespondentKey(v1::Respondent()), "");
}

TEST(NormalizationTest, AccountIdGivenDerivedOrUnassigned) {
  EXPECT_EQ(DeriveAccountId("Müller  Bau GmbH"), "müller-bau-gmbh");
  EXPECT_EQ(DeriveAccountId("   "), "unassigned");

  v1::SurveyResponse response;
  response.set_response_id("r");
  response.mutable_submitted_at()->set_seconds(absl::ToUnixSeconds(kNow));
  response.mutable_account()->set_account_id(" ACC-7 ");
  response.mutable_account()->set_name("Acme");
  absl::StatusOr<v1::SurveyResponse> given = NormalizeResponse(response, Limits{}, kNow);
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->account().account_id(), "ACC-7");

  response.clear_account();
  absl::StatusOr<v1::SurveyResponse> none = NormalizeResponse(response, Limits{}, kNow);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->account().account_id(), "unassigned");
}

TEST(NormalizationTest, TagsKeepFirstSpelling) {
  EXPECT_THAT(DedupeTags({"Top 100", "top 100", "TOP 100", "Straße", "STRASSE"}),
              ElementsAre("Top 100", "Straße"));
}

TEST(FieldErrorTest, RoundTripsThroughStatus) {
  absl::Status status = InvalidField("respondent.email", "is not a valid email address");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "respondent.email: is not a valid email address");
  EXPECT_EQ(FieldErrorOf(status).field, "respondent.email");
  EXPECT_EQ(FieldErrorOf(status).message, "is not a valid email address");
  EXPECT_EQ(FieldErrorOf(absl::UnavailableError("down")).field, "");
  EXPECT_EQ(FieldErrorOf(absl::UnavailableError("down")).message, "down");
}

}  // namespace
}  // namespace rebound::ingest
