#include "cases/cases_command.h"

#include <gtest/gtest.h>

#include <sstream>

namespace rebound::reboundctl {
namespace {

v1::Case MakeCase(const std::string& id, const std::string& owner, const std::string& account) {
  v1::Case c;
  c.set_case_id(id);
  c.set_owner(owner);
  c.set_priority(v1::PRIORITY_URGENT);
  c.set_resolution(v1::RESOLUTION_IN_PROGRESS);
  c.set_overdue(true);
  auto* response = c.add_responses();
  response->set_score(3);
  response->mutable_account()->set_name(account);
  return c;
}

TEST(CaseTable, HasHeaderAndRows) {
  const std::string table =
      FormatCaseTable({MakeCase("case-0123456789abcdef0123", "Camille Fictif", "Nancy-Est")}, 0);
  EXPECT_NE(table.find("CASE"), std::string::npos);
  EXPECT_NE(table.find("case-0123456789abcdef0123"), std::string::npos);
  EXPECT_NE(table.find("Urgent"), std::string::npos);
  EXPECT_NE(table.find("Resolution in Progress"), std::string::npos);
  EXPECT_NE(table.find(" !"), std::string::npos);  // overdue marker
}

TEST(CaseTable, NarrowTerminalShortensOwnerAndAccount) {
  const std::string long_account(60, 'a');
  const std::string table = FormatCaseTable(
      {MakeCase("case-0123456789abcdef0123", "Théo Maquette de la Longue Lignée", long_account)},
      100);
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    EXPECT_LE(DisplayWidth(line), 100u) << line;
  }
  EXPECT_NE(table.find("\xE2\x80\xA6"), std::string::npos);  // an ellipsis marks the cut
  EXPECT_EQ(table.find(long_account), std::string::npos);
}

TEST(DisplayWidth, CountsCodePoints) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("Hélène"), 6u);
  EXPECT_EQ(DisplayWidth("\xE2\x80\xA6"), 1u);
}

}  // namespace
}  // namespace rebound::reboundctl
