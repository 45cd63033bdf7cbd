#include "rebound/domain/utf8.h"

#include "gtest/gtest.h"

namespace rebound::domain {
namespace {

TEST(Utf8Test, AcceptsWellFormedText) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ASCII"));
  EXPECT_TRUE(IsValidUtf8("Zo\xc3\xab \xe2\x80\xba \xf0\x9f\x99\x82"));  // Zoë › 🙂
}

TEST(Utf8Test, RejectsIllFormedSequences) {
  EXPECT_FALSE(IsValidUtf8("\xff"));
  EXPECT_FALSE(IsValidUtf8("caf\xe9"));           // Latin-1 é
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // encoded surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xe2\x80"));          // truncated
}

TEST(Utf8Test, CountsCodePoints) {
  EXPECT_EQ(CountChars(""), 0u);
  EXPECT_EQ(CountChars("abc"), 3u);
  EXPECT_EQ(CountChars("Zo\xc3\xab"), 3u);
  EXPECT_EQ(CountChars("\xe6\x97\xa5\xe6\x9c\xac"), 2u);  // 日本
}

TEST(Utf8Test, DecodeNextAdvancesOnlyOnSuccess) {
  const std::string_view text = "\xc3\xab\xff";
  size_t pos = 0;
  EXPECT_EQ(DecodeNext(text, pos), std::optional<char32_t>(0xEB));
  EXPECT_EQ(pos, 2u);
  EXPECT_EQ(DecodeNext(text, pos), std::nullopt);
  EXPECT_EQ(pos, 2u);
}

}  // namespace
}  // namespace rebound::domain
