// Dry-run imports of the real survey exports with the example mappings. Every expected count is
// also computed here from the raw file, independently of the importer.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "import/importer.h"
#include "nlohmann/json.hpp"

namespace rebound::reboundctl {
namespace {

namespace fs = std::filesystem;

std::string SourceDir() {
  const char* env = std::getenv("REBOUND_SOURCE_DIR");
  return env != nullptr && *env != '\0' ? env : REBOUND_SOURCE_DIR_DEFAULT;
}

fs::path DataDir() { return fs::path(SourceDir()) / ".." / "shared" / "data" / "real"; }
fs::path MappingPath(const std::string& name) {
  return fs::path(SourceDir()) / "examples" / "mappings" / name;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// Lines of `text` matching `pattern` (lines split on '\n', a trailing '\r' kept out).
std::vector<std::smatch> MatchingLines(const std::string& text, const std::regex& pattern,
                                       std::vector<std::string>& storage) {
  std::vector<std::smatch> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    storage.push_back(line);
  }
  for (const auto& stored : storage) {
    std::smatch match;
    if (std::regex_search(stored, match, pattern)) {
      out.push_back(match);
    }
  }
  return out;
}

absl::StatusOr<ImportSummary> DryRun(const fs::path& data, const Mapping& mapping,
                                     const std::string& rejects = "") {
  auto reader = CsvReader::Open(data.string(),
                                {.encoding = mapping.encoding, .delimiter = mapping.delimiter});
  if (!reader.ok()) {
    return reader.status();
  }
  ImportOptions options;
  options.dry_run = true;
  options.rejects_file = rejects;
  return RunImport(mapping, **reader, nullptr, options);
}

class RealDatasets : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::is_directory(DataDir())) {
      GTEST_SKIP() << "no shared data folder at " << DataDir();
    }
  }
};

TEST_F(RealDatasets, BotanicGardenCentre) {
  const fs::path data = DataDir() / "botanic-garden-centre-nps" / "nps.csv";
  const std::string raw = ReadFile(data);
  // Records start with the quoted R row number, the id and the score.
  std::vector<std::string> lines;
  const auto records = MatchingLines(raw, std::regex(R"(^"\d+",\d+,(NA|\d+),)"), lines);
  int64_t na = 0;
  for (const auto& match : records) {
    na += match[1] == "NA" ? 1 : 0;
  }
  int64_t undefined_bytes = 0;
  for (unsigned char c : raw) {
    undefined_bytes += (c == 0x81 || c == 0x8D || c == 0x8F || c == 0x90 || c == 0x9D) ? 1 : 0;
  }
  ASSERT_EQ(records.size(), 13954u);
  ASSERT_EQ(na, 342);

  auto mapping = LoadMapping(MappingPath("botanic-garden-centre-nps.json").string());
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  const fs::path rejects = fs::path(::testing::TempDir()) / "botanic_rejects.csv";
  auto summary = DryRun(data, *mapping, rejects.string());
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(summary->status.ok()) << summary->status;
  EXPECT_EQ(summary->rows_read, static_cast<int64_t>(records.size()));
  EXPECT_EQ(summary->accepted, static_cast<int64_t>(records.size()) - na);
  EXPECT_EQ(summary->rejected, na);
  EXPECT_EQ(summary->rejected_by_reason["score: missing (NA)"], na);
  EXPECT_EQ(summary->replacement_characters, undefined_bytes);
  EXPECT_GT(undefined_bytes, 0);

  // The rejects file lists every NA row with its line number.
  std::vector<std::string> reject_lines;
  const auto listed = MatchingLines(
      ReadFile(rejects), std::regex(R"re(^\d+,"score","missing \(NA\)"$)re"), reject_lines);
  EXPECT_EQ(static_cast<int64_t>(listed.size()), na);
  ASSERT_FALSE(summary->first_rejections.empty());
  // The line number points at a line that really holds an NA score.
  const int64_t first_line = summary->first_rejections[0].line;
  ASSERT_LT(first_line - 1, static_cast<int64_t>(lines.size()));
  EXPECT_TRUE(std::regex_search(lines[first_line - 1], std::regex(R"(^"\d+",\d+,NA,)")))
      << lines[first_line - 1];
}

TEST_F(RealDatasets, BbvaSendaSample) {
  const fs::path data = DataDir() / "bbva-mx-senda-nps" / "nps_thermal_senda_mx_sample.csv";
  std::vector<std::string> lines;
  const auto records =
      MatchingLines(ReadFile(data),
                    std::regex(R"(^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+,[A-Z]+,([0-9]|10),)"), lines);
  ASSERT_EQ(records.size(), 5000u);

  auto mapping = LoadMapping(MappingPath("bbva-mx-senda-nps.json").string());
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  auto summary = DryRun(data, *mapping);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows_read, 5000);
  EXPECT_EQ(summary->accepted, static_cast<int64_t>(records.size()));
  EXPECT_EQ(summary->rejected, 0) << (summary->first_rejections.empty()
                                          ? ""
                                          : summary->first_rejections[0].reason);
  EXPECT_EQ(summary->duplicate_ids_in_file, 0);
}

TEST_F(RealDatasets, MiroExport) {
  const fs::path data = DataDir() / "miro-nps" / "nps.csv";
  const std::string raw = ReadFile(data);
  // Records end at a line break outside quotes; blank lines hold none.
  int64_t records = 0;
  bool quoted = false;
  bool empty_line = true;
  for (char c : raw) {
    if (c == '"') {
      quoted = !quoted;
    }
    if (c == '\n' && !quoted) {
      records += empty_line ? 0 : 1;
      empty_line = true;
    } else {
      empty_line = false;
    }
  }
  records -= 1;  // header
  ASSERT_EQ(records, 441);

  auto mapping = LoadMapping(MappingPath("miro-nps.json").string());
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  auto summary = DryRun(data, *mapping);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->rows_read, records);
  EXPECT_EQ(summary->accepted, records);  // every score is 0-10
  EXPECT_EQ(summary->rejected, 0);
  EXPECT_EQ(summary->duplicate_ids_in_file, 15);  // the exact repeats named in NOTE.md
}

TEST_F(RealDatasets, CodeRefineryNeedsItsLabels) {
  const fs::path data =
      DataDir() / "coderefinery-post-workshop" / "post_workshop_survey_2019-2021.csv";
  std::vector<std::string> lines;
  const auto records = MatchingLines(
      ReadFile(data), std::regex(R"(^,,\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00,)"), lines);
  ASSERT_EQ(records.size(), 107u);

  const std::string text = ReadFile(MappingPath("coderefinery-post-workshop.json"));
  auto mapping = ParseMapping(text);
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  auto summary = DryRun(data, *mapping);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->accepted, 107);
  EXPECT_EQ(summary->rejected, 0);
  EXPECT_EQ(summary->duplicate_ids_in_file, 0);

  // The same mapping without labels is refused before anything is sent.
  auto json = nlohmann::json::parse(text);
  json["score"].erase("labels");
  auto bare = ParseMapping(json.dump());
  ASSERT_TRUE(bare.ok()) << bare.status();
  auto refused = DryRun(data, *bare);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find(
                "holds words ('Yes absolutely', 'Probably'), not 0-10; map each label to a score "
                "in the mapping's score.labels"),
            std::string::npos)
      << refused.status();
}

}  // namespace
}  // namespace rebound::reboundctl
