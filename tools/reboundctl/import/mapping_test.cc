#include "import/mapping.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "import/importer.h"

namespace rebound::reboundctl {
namespace {

using ::testing::HasSubstr;

std::string Error(const std::string& json) {
  auto mapping = ParseMapping(json);
  return mapping.ok() ? "ok" : std::string(mapping.status().message());
}

constexpr char kMinimal[] = R"({
  "response_id": {"column": "id", "prefix": "t-"},
  "submitted_at": {"column": "when", "format": "%Y-%m-%d %H:%M:%S", "time_zone": "-06:00"},
  "score": {"column": "score", "na": ["NA"]},
  "reason": {"column": "why", "na": ["NA"]},
  "respondent": {"kind": "client", "email": {"column": "mail"}},
  "account": {"id": "acct-1", "name": "Example Holdings"},
  "owner_chain": [{"role": "Director", "name": "Robin Example"}, {"name": "Kai Sample"}],
  "tags": {"constant": ["Portland"], "columns": ["office", {"column": "line", "na": ["-"]}]}
})";

CsvRecord Row(int64_t index, std::vector<std::string> fields) {
  CsvRecord record;
  record.index = index;
  record.line = index + 1;
  record.fields = std::move(fields);
  return record;
}

const std::vector<std::string> kHeader = {"id", "when", "score", "why", "mail", "office", "line"};

TEST(MappingLoader, ErrorsNameTheKey) {
  EXPECT_THAT(Error("{"), HasSubstr("not valid JSON"));
  EXPECT_THAT(Error("[]"), HasSubstr("must be a JSON object"));
  EXPECT_THAT(Error(R"({"score": "s", "submitted_at": "now"})"), HasSubstr("'response_id'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "submitted_at": "now"})"), HasSubstr("'score'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "score": "s", "submitted_at": "now", "scor": 1})"),
              HasSubstr("mapping key 'scor': unknown key"));
  EXPECT_THAT(Error(R"({"response_id": "id", "submitted_at": "now",
                        "score": {"column": "s", "labels": {"Probably": "eight"}}})"),
              HasSubstr("mapping key 'score.labels.Probably': must be an integer from 0 to 10"));
  EXPECT_THAT(Error(R"({"response_id": "id", "submitted_at": "now",
                        "score": {"column": "s", "labels": {"Probably": 11}}})"),
              HasSubstr("'score.labels.Probably'"));
  EXPECT_THAT(Error(R"({"response_id": {"derive": "row_number"}, "submitted_at": "now",
                        "score": "s"})"),
              HasSubstr("'response_id.prefix'"));
  EXPECT_THAT(Error(R"({"response_id": {"derive": "uuid", "prefix": "x-"},
                        "submitted_at": "now", "score": "s"})"),
              HasSubstr("'response_id.derive'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "score": "s",
                        "submitted_at": {"column": "d", "time_zone": "Mars/Olympus"}})"),
              HasSubstr("'submitted_at.time_zone'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "score": "s", "encoding": "klingon-8",
                        "submitted_at": "now"})"),
              HasSubstr("'encoding'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "score": "s", "submitted_at": "now",
                        "respondent": {"kind": "robot"}})"),
              HasSubstr("'respondent.kind'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "score": "s", "submitted_at": "now",
                        "owner_chain": [{"role": "Director"}]})"),
              HasSubstr("'owner_chain[0].name'"));
  EXPECT_THAT(Error(R"({"response_id": "id", "score": "s", "submitted_at": "now",
                        "routing": {"key": {"column": "t"}, "modulo": 0, "table": {}}})"),
              HasSubstr("'routing.modulo'"));
  EXPECT_EQ(Error(R"({"_comment": "ignored", "response_id": "id", "score": "s",
                      "submitted_at": "now"})"),
            "ok");
}

TEST(MappingLoader, BindNamesMissingColumn) {
  auto mapping = ParseMapping(kMinimal);
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  auto status = mapping->Bind({"id", "when", "score"});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("'reason.column': column 'why'"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("'id', 'when', 'score'"));
}

TEST(MapRow, FillsEveryField) {
  auto mapping = ParseMapping(kMinimal);
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ASSERT_TRUE(mapping->Bind(kHeader).ok());
  v1::SurveyResponse response;
  auto error = mapping->MapRow(
      Row(1, {"42", "2026-01-21 09:24:53", "4", "Slow answers", "a@example.com", "Nancy", "-"}),
      absl::Now(), response);
  ASSERT_FALSE(error.has_value()) << error->reason;
  EXPECT_EQ(response.response_id(), "t-42");
  EXPECT_EQ(response.score(), 4);
  EXPECT_EQ(response.reason(), "Slow answers");
  // 09:24:53 at UTC-6 is 15:24:53 UTC.
  EXPECT_EQ(response.submitted_at().seconds(),
            absl::ToUnixSeconds(
                absl::FromCivil(absl::CivilSecond(2026, 1, 21, 15, 24, 53), absl::UTCTimeZone())));
  EXPECT_EQ(response.respondent().email(), "a@example.com");
  EXPECT_EQ(response.respondent().kind(), v1::RESPONDENT_KIND_CLIENT);
  EXPECT_EQ(response.account().account_id(), "acct-1");
  ASSERT_EQ(response.owner_chain_size(), 2);
  EXPECT_EQ(response.owner_chain(0).role(), "Director");
  EXPECT_EQ(response.owner_chain(1).name(), "Kai Sample");
  EXPECT_THAT(response.tags(), ::testing::ElementsAre("Portland", "Nancy"));
}

TEST(MapRow, RejectionsNameFieldAndReason) {
  auto mapping = ParseMapping(kMinimal);
  ASSERT_TRUE(mapping.ok());
  ASSERT_TRUE(mapping->Bind(kHeader).ok());
  v1::SurveyResponse response;
  auto error = mapping->MapRow(Row(1, {"1", "2026-01-21 09:24:53", "NA", "", "", "", ""}),
                               absl::Now(), response);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "score");
  EXPECT_EQ(error->reason, "missing (NA)");

  error = mapping->MapRow(Row(1, {"1", "21/01/2026", "5", "", "", "", ""}), absl::Now(), response);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "submitted_at");
  EXPECT_EQ(error->detail, "'21/01/2026'");

  error = mapping->MapRow(Row(1, {"1", "2026-01-21 09:24:53", "5", "caf\xE9", "", "", ""}),
                          absl::Now(), response);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "column 'why'");
  EXPECT_EQ(error->reason, "invalid UTF-8");

  error = mapping->MapRow(Row(1, {"1", "2026-01-21 09:24:53", "5"}), absl::Now(), response);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->reason, "wrong number of fields");

  error = mapping->MapRow(Row(1, {"", "2026-01-21 09:24:53", "5", "", "", "", ""}), absl::Now(),
                          response);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->field, "response_id");
}

TEST(MapRow, DerivedIdsAreStable) {
  auto hashed = ParseMapping(R"({"response_id": {"derive": "content_hash", "prefix": "m-"},
                                 "submitted_at": "now", "score": "s"})");
  auto numbered = ParseMapping(R"({"response_id": {"derive": "row_number", "prefix": "m-"},
                                   "submitted_at": "now", "score": "s"})");
  ASSERT_TRUE(hashed.ok() && numbered.ok());
  ASSERT_TRUE(hashed->Bind({"user", "s"}).ok());
  ASSERT_TRUE(numbered->Bind({"user", "s"}).ok());
  v1::SurveyResponse a, b, c;
  ASSERT_FALSE(hashed->MapRow(Row(1, {"u1", "9"}), absl::Now(), a));
  ASSERT_FALSE(hashed->MapRow(Row(7, {"u1", "9"}), absl::Now(), b));
  ASSERT_FALSE(hashed->MapRow(Row(8, {"u1", "8"}), absl::Now(), c));
  EXPECT_EQ(a.response_id(), b.response_id());  // same content, same id, wherever it is
  EXPECT_NE(a.response_id(), c.response_id());
  EXPECT_EQ(a.response_id().rfind("m-", 0), 0u);
  // The exact value is part of the contract: a re-import must produce the same ids.
  EXPECT_EQ(a.response_id().size(), 2u + 24u);

  ASSERT_FALSE(numbered->MapRow(Row(7, {"u1", "9"}), absl::Now(), a));
  EXPECT_EQ(a.response_id(), "m-7");
}

TEST(MapRow, RoutingTableByModulo) {
  auto mapping = ParseMapping(R"({
    "response_id": "id", "submitted_at": "now", "score": "s",
    "account": {"id": "acct-default"},
    "tags": ["Retail"],
    "routing": {
      "key": {"column": "id"}, "modulo": 3,
      "table": {
        "0": {"account": {"id": "acct-a", "name": "A"}, "tags": ["Top 100"],
              "owner_chain": [{"name": "Dana Example"}]},
        "1": {"account": {"id": "acct-b"}}
      },
      "default": {"owner_chain": "Director: Robin Example > Sam Sample"}
    }})");
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ASSERT_TRUE(mapping->Bind({"id", "s"}).ok());
  v1::SurveyResponse response;
  ASSERT_FALSE(mapping->MapRow(Row(1, {"9", "3"}), absl::Now(), response));
  EXPECT_EQ(response.account().account_id(), "acct-a");
  EXPECT_THAT(response.tags(), ::testing::ElementsAre("Retail", "Top 100"));
  ASSERT_FALSE(mapping->MapRow(Row(1, {"10", "3"}), absl::Now(), response));
  EXPECT_EQ(response.account().account_id(), "acct-b");
  ASSERT_FALSE(mapping->MapRow(Row(1, {"11", "3"}), absl::Now(), response));
  EXPECT_EQ(response.account().account_id(), "acct-default");
  ASSERT_EQ(response.owner_chain_size(), 2);
  EXPECT_EQ(response.owner_chain(0).role(), "Director");
  EXPECT_EQ(response.owner_chain(1).name(), "Sam Sample");
}

TEST(MappedTime, Iso8601Variants) {
  const auto utc = absl::UTCTimeZone();
  const auto expected = absl::FromCivil(absl::CivilSecond(2021, 9, 9, 8, 41, 53), utc);
  auto parsed = ParseMappedTime("2021-09-09 08:41:53.757790+00:00", "iso8601", utc);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(absl::ToUnixSeconds(*parsed), absl::ToUnixSeconds(expected));
  EXPECT_EQ(ParseMappedTime("2021-09-09T08:41:53Z", "iso8601", utc), expected);
  EXPECT_EQ(ParseMappedTime("2021-09-09T10:41:53+02:00", "iso8601", utc), expected);
  EXPECT_FALSE(ParseMappedTime("09/09/2021", "iso8601", utc).has_value());
}

TEST(ScoreScale, VerbalColumnIsRefusedUpFront) {
  auto mapping = ParseMapping(R"({"response_id": {"derive": "row_number", "prefix": "c-"},
                                  "submitted_at": "now", "score": "recommend"})");
  ASSERT_TRUE(mapping.ok());
  auto reader =
      CsvReader::FromString("recommend,text\nYes absolutely,a\nProbably,b\nYes absolutely,c\n", {});
  ASSERT_TRUE(reader.ok());
  auto summary = RunImport(*mapping, **reader, nullptr, {});
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(std::string(summary.status().message()),
            "the score column 'recommend' holds words ('Yes absolutely', 'Probably'), not 0-10; "
            "map each label to a score in the mapping's score.labels");
}

TEST(ScoreScale, AStrayWordAmongNumbersIsARejectedRow) {
  auto mapping = ParseMapping(R"({"response_id": {"derive": "row_number", "prefix": "c-"},
                                  "submitted_at": "now", "score": "s"})");
  ASSERT_TRUE(mapping.ok());
  auto reader = CsvReader::FromString("s\n9\n10\nlots\n7\n", {});
  ASSERT_TRUE(reader.ok());
  auto summary = RunImport(*mapping, **reader, nullptr, {});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 3);
  EXPECT_EQ(summary->rejected, 1);
  ASSERT_EQ(summary->first_rejections.size(), 1u);
  EXPECT_EQ(summary->first_rejections[0].line, 4);
}

}  // namespace
}  // namespace rebound::reboundctl
