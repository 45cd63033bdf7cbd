#include "rebound/token/token.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace rebound::token {
namespace {

const SigningKey kOld{"2026-01", "old-secret-old-secret-old-secret-0"};
const SigningKey kNew{"2026-02", "new-secret-new-secret-new-secret-1"};
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

LinkClaims Claims() {
  return LinkClaims{.case_id = "case-7f3a", .resolution = 2, .expires_at = kNow + absl::Hours(72)};
}

// Flips one character of `text` at `index` to another character of the base64url alphabet.
std::string Flip(std::string text, size_t index) {
  text[index] = text[index] == 'A' ? 'B' : 'A';
  return text;
}

TEST(LinkSignerTest, RoundTrip) {
  LinkSigner signer(kNew);
  std::string token = signer.Sign(Claims());
  EXPECT_EQ(token.find_first_of("+/=|"), std::string::npos) << token;

  absl::StatusOr<LinkClaims> claims = signer.Verify(token, kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->case_id, "case-7f3a");
  EXPECT_EQ(claims->resolution, 2);
  EXPECT_EQ(claims->expires_at, kNow + absl::Hours(72));
}

TEST(LinkSignerTest, RejectsTamperedPayload) {
  LinkSigner signer(kNew);
  std::string token = signer.Sign(Claims());
  // Re-sign nothing: change the case id and keep the old MAC.
  LinkClaims other = Claims();
  other.case_id = "case-7f3b";
  std::string forged = signer.Sign(other);
  std::string mixed = forged.substr(0, forged.find('.')) + token.substr(token.find('.'));
  EXPECT_EQ(signer.Verify(mixed, kNow).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(LinkSignerTest, RejectsTamperedMac) {
  LinkSigner signer(kNew);
  std::string token = signer.Sign(Claims());
  std::string tampered = Flip(token, token.find('.') + 3);
  EXPECT_EQ(signer.Verify(tampered, kNow).status().code(), absl::StatusCode::kPermissionDenied);
}

TEST(LinkSignerTest, RejectsExpired) {
  LinkSigner signer(kNew);
  std::string token = signer.Sign(Claims());
  EXPECT_TRUE(signer.Verify(token, kNow + absl::Hours(71)).ok());
  EXPECT_EQ(signer.Verify(token, kNow + absl::Hours(72)).status().code(),
            absl::StatusCode::kDeadlineExceeded);
}

TEST(LinkSignerTest, AcceptsPreviousKeyAfterRotation) {
  std::string token = LinkSigner(kOld).Sign(Claims());
  LinkSigner rotated(kNew, {kOld});
  absl::StatusOr<LinkClaims> claims = rotated.Verify(token, kNow);
  ASSERT_TRUE(claims.ok()) << claims.status();
  EXPECT_EQ(claims->case_id, "case-7f3a");

  // Once the old key is dropped from config, its links stop working.
  EXPECT_EQ(LinkSigner(kNew).Verify(token, kNow).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(LinkSignerTest, RejectsUnknownKeyId) {
  SigningKey impostor{"2026-99", kNew.secret};
  std::string token = LinkSigner(impostor).Sign(Claims());
  absl::Status status = LinkSigner(kNew, {kOld}).Verify(token, kNow).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
}

TEST(LinkSignerTest, RejectsMalformed) {
  LinkSigner signer(kNew);
  for (std::string bad : {"", ".", "abc", "a.b.c", "!!!.abc", "djE.abc"}) {
    EXPECT_EQ(signer.Verify(bad, kNow).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(LinkSignerTest, FromConfigParsesCurrentAndPrevious) {
  absl::StatusOr<LinkSigner> signer =
      LinkSigner::FromConfig(kNew.id + ":" + kNew.secret + "," + kOld.id + ":" + kOld.secret);
  ASSERT_TRUE(signer.ok()) << signer.status();
  std::string old_token = LinkSigner(kOld).Sign(Claims());
  EXPECT_TRUE(signer->Verify(old_token, kNow).ok());
  // The first key signs.
  EXPECT_TRUE(LinkSigner(kNew).Verify(signer->Sign(Claims()), kNow).ok());
}

TEST(LinkSignerTest, FromConfigRejectsBadKeys) {
  auto short_secret = LinkSigner::FromConfig("k1:too-short");
  EXPECT_EQ(short_secret.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(short_secret.status().message()),
              ::testing::AllOf(::testing::HasSubstr("k1"), ::testing::HasSubstr("32")));
  EXPECT_FALSE(LinkSigner::FromConfig("").ok());
  EXPECT_FALSE(LinkSigner::FromConfig("no-colon-here-no-colon-here-no-colon-here").ok());
  EXPECT_FALSE(LinkSigner::FromConfig(":" + kNew.secret).ok());
  EXPECT_FALSE(LinkSigner::FromConfig("a:" + kNew.secret + ",a:" + kOld.secret).ok());
}

TEST(HmacTest, MatchesKnownVector) {
  // RFC 4231 test case 2.
  EXPECT_EQ(Hex(HmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abcd"));
}

}  // namespace
}  // namespace rebound::token
