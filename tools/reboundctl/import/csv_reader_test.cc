#include "import/csv_reader.h"

#include <gtest/gtest.h>

#include <vector>

namespace rebound::reboundctl {
namespace {

std::vector<CsvRecord> ReadAll(std::string data, CsvOptions options = {}) {
  auto reader = CsvReader::FromString(std::move(data), options);
  EXPECT_TRUE(reader.ok()) << reader.status();
  std::vector<CsvRecord> records;
  CsvRecord record;
  while (true) {
    auto next = (*reader)->Next(record);
    EXPECT_TRUE(next.ok());
    if (!next.ok() || !*next) {
      break;
    }
    records.push_back(record);
  }
  return records;
}

using Fields = std::vector<std::string>;

TEST(CsvReader, QuotingAndEscapedQuotes) {
  auto records = ReadAll("id,text\n1,\"a, \"\"quoted\"\" b\"\n2,plain\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "a, \"quoted\" b"}));
  EXPECT_EQ(records[2].fields, (Fields{"2", "plain"}));
}

TEST(CsvReader, ByteOrderMarkIsDropped) {
  auto records = ReadAll("\xEF\xBB\xBFid,score\n7,9\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].fields, (Fields{"id", "score"}));
}

TEST(CsvReader, CrlfLineEndsAndLineNumbers) {
  auto records = ReadAll("a,b\r\n1,2\r\n\r\n3,4\r\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "2"}));
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[2].line, 4);  // the blank line is skipped but counted
  EXPECT_EQ(records[2].index, 2);
}

TEST(CsvReader, MultiLineFieldKeepsItsLineBreaksAndStartLine) {
  auto records = ReadAll("id,text\n1,\"first\nsecond\r\nthird\"\n2,after\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].fields[1], "first\nsecond\r\nthird");
  EXPECT_EQ(records[1].line, 2);
  EXPECT_EQ(records[2].line, 5);
}

TEST(CsvReader, SemicolonDelimiterIsSniffed) {
  auto reader = CsvReader::FromString("id;score;text\n1;8;\"a, b; c\"\n", {});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  ASSERT_TRUE(*(*reader)->Next(record));
  EXPECT_EQ((*reader)->delimiter(), ';');
  ASSERT_TRUE(*(*reader)->Next(record));
  EXPECT_EQ(record.fields, (Fields{"1", "8", "a, b; c"}));
}

TEST(CsvReader, SniffIgnoresDelimitersInsideQuotedHeaders) {
  EXPECT_EQ(SniffDelimiter("\"a;b;c;d\",\"e\"\n"), ',');
  EXPECT_EQ(SniffDelimiter("a\tb\tc\n1,2\n"), '\t');
  EXPECT_EQ(SniffDelimiter("single\n"), ',');
}

TEST(CsvReader, GivenDelimiterWins) {
  auto records = ReadAll("a|b,c\n1|2,3\n", {.encoding = "utf-8", .delimiter = '|'});
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "2,3"}));
}

TEST(CsvReader, Windows1252InputIsDecodedBeforeParsing) {
  auto reader = CsvReader::FromString("id,text\n1,\"caf\xE9 \x90 ok\"\n",
                                      {.encoding = "windows-1252", .delimiter = 0});
  ASSERT_TRUE(reader.ok());
  CsvRecord record;
  ASSERT_TRUE(*(*reader)->Next(record));
  ASSERT_TRUE(*(*reader)->Next(record));
  EXPECT_EQ(record.fields[1], "caf\xC3\xA9 \xEF\xBF\xBD ok");
  EXPECT_EQ((*reader)->replacements(), 1);
}

TEST(CsvReader, LastRecordWithoutNewline) {
  auto records = ReadAll("a,b\n1,\"x\"");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].fields, (Fields{"1", "x"}));
  EXPECT_FALSE(records[1].unterminated);
}

TEST(CsvReader, UnclosedQuoteAtEndIsFlagged) {
  auto records = ReadAll("a,b\n1,\"never closed\n2,3\n");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_TRUE(records[1].unterminated);
  EXPECT_EQ(records[1].line, 2);
}

TEST(CsvReader, EmptyFieldsAndTrailingDelimiter) {
  auto records = ReadAll("a,b,c\n,,\n1,,\n");
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[1].fields, (Fields{"", "", ""}));
  EXPECT_EQ(records[2].fields, (Fields{"1", "", ""}));
}

TEST(CsvReader, LargeInputSpanningChunks) {
  std::string data = "id,text\n";
  for (int i = 0; i < 20000; ++i) {
    data += std::to_string(i) + ",\"line one\nline two\"\n";
  }
  auto records = ReadAll(data);
  ASSERT_EQ(records.size(), 20001u);
  EXPECT_EQ(records.back().fields[0], "19999");
  EXPECT_EQ(records.back().line, 2 + 2 * 19999);
}

}  // namespace
}  // namespace rebound::reboundctl
