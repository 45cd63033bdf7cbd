#include "import/encoding.h"

#include <gtest/gtest.h>

namespace rebound::reboundctl {
namespace {

std::string DecodeAll(Decoder& decoder, std::string_view input) {
  std::string out;
  EXPECT_TRUE(decoder.Decode(input, true, out).ok());
  return out;
}

TEST(Encoding, Utf8NamesPassThrough) {
  EXPECT_TRUE(IsUtf8Name("utf-8"));
  EXPECT_TRUE(IsUtf8Name("UTF8"));
  EXPECT_TRUE(IsUtf8Name("utf-8-sig"));
  EXPECT_FALSE(IsUtf8Name("windows-1252"));
  auto decoder = Decoder::Create("UTF-8");
  ASSERT_TRUE(decoder.ok());
  EXPECT_EQ(DecodeAll(**decoder, "caf\xC3\xA9 \xFF"), "caf\xC3\xA9 \xFF");
}

TEST(Encoding, Windows1252DecodesDefinedBytes) {
  auto decoder = Decoder::Create("windows-1252");
  ASSERT_TRUE(decoder.ok());
  // e-acute, euro sign, right single quote, o-e ligature.
  EXPECT_EQ(DecodeAll(**decoder, "\xE9\x80\x92\x9C"), "\xC3\xA9\xE2\x82\xAC\xE2\x80\x99\xC5\x93");
  EXPECT_EQ((*decoder)->replacements(), 0);
}

TEST(Encoding, Windows1252UndefinedBytesBecomeReplacementCharacters) {
  auto decoder = Decoder::Create("windows-1252");
  ASSERT_TRUE(decoder.ok());
  const std::string out = DecodeAll(**decoder,
                                    "a\x81"
                                    "b\x8D\x8F\x90\x9D"
                                    "c");
  EXPECT_EQ(out,
            "a\xEF\xBF\xBD"
            "b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"
            "c");
  EXPECT_EQ((*decoder)->replacements(), 5);
}

TEST(Encoding, MultiByteCharacterSplitAcrossChunks) {
  auto decoder = Decoder::Create("utf-16le");
  ASSERT_TRUE(decoder.ok());
  std::string out;
  ASSERT_TRUE((*decoder)->Decode(std::string("A\0\xE9", 3), false, out).ok());
  ASSERT_TRUE((*decoder)->Decode(std::string("\0", 1), true, out).ok());
  EXPECT_EQ(out, "A\xC3\xA9");
  EXPECT_EQ((*decoder)->replacements(), 0);
}

TEST(Encoding, UnknownEncodingIsNamed) {
  auto decoder = Decoder::Create("klingon-8");
  ASSERT_FALSE(decoder.ok());
  EXPECT_NE(decoder.status().message().find("klingon-8"), std::string::npos);
}

TEST(Encoding, FindInvalidUtf8) {
  EXPECT_EQ(FindInvalidUtf8("plain"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("caf\xC3\xA9 \xE6\x97\xA5\xF0\x9F\x98\x80"), std::string_view::npos);
  EXPECT_EQ(FindInvalidUtf8("caf\xE9"), 3u);           // Latin-1 byte
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);            // truncated
  EXPECT_EQ(FindInvalidUtf8("\xC0\xAF"), 0u);          // overlong
  EXPECT_EQ(FindInvalidUtf8("x\xED\xA0\x80"), 1u);     // surrogate
  EXPECT_EQ(FindInvalidUtf8("\xF4\x90\x80\x80"), 0u);  // above U+10FFFF
}

}  // namespace
}  // namespace rebound::reboundctl
