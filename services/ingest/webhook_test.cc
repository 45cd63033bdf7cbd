#include "webhook.h"

#include <string>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "rebound/token/token.h"

namespace rebound::ingest {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796033600);
constexpr char kSecret[] = "a-webhook-secret-of-some-length";
constexpr char kBody[] = R"({"response_id":"r-1","score":3})";

SignaturePolicy Policy() {
  SignaturePolicy policy;
  policy.secret = kSecret;
  return policy;
}

TEST(WebhookSignatureTest, AcceptsGoodSignature) {
  const std::string header = SignatureHeaderValue(kSecret, kBody, kNow - absl::Seconds(3));
  EXPECT_TRUE(VerifySignature(header, kBody, Policy(), kNow).ok());
}

TEST(WebhookSignatureTest, HeaderMatchesDocumentedFormat) {
  // t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">, computed independently here.
  const std::string t = std::to_string(absl::ToUnixSeconds(kNow));
  const std::string mac = token::Hex(token::HmacSha256(kSecret, t + "." + kBody));
  EXPECT_EQ(SignatureHeaderValue(kSecret, kBody, kNow), "t=" + t + ",v1=" + mac);
  EXPECT_EQ(mac.size(), 64u);
}

TEST(WebhookSignatureTest, RejectsTamperedBody) {
  const std::string header = SignatureHeaderValue(kSecret, kBody, kNow);
  const std::string tampered = R"({"response_id":"r-1","score":9})";
  absl::Status status = VerifySignature(header, tampered, Policy(), kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("does not match"), absl::string_view::npos);
}

TEST(WebhookSignatureTest, RejectsWrongSecret) {
  const std::string header = SignatureHeaderValue("another-secret-entirely", kBody, kNow);
  EXPECT_EQ(VerifySignature(header, kBody, Policy(), kNow).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(WebhookSignatureTest, RejectsStaleTimestamp) {
  const std::string header = SignatureHeaderValue(kSecret, kBody, kNow - absl::Seconds(301));
  absl::Status status = VerifySignature(header, kBody, Policy(), kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("too old"), absl::string_view::npos) << status;
  // Just inside the window is fine.
  EXPECT_TRUE(VerifySignature(SignatureHeaderValue(kSecret, kBody, kNow - absl::Seconds(299)),
                              kBody, Policy(), kNow)
                  .ok());
}

TEST(WebhookSignatureTest, MaxAgeIsConfigurable) {
  SignaturePolicy policy = Policy();
  policy.max_age = absl::Seconds(10);
  const std::string header = SignatureHeaderValue(kSecret, kBody, kNow - absl::Seconds(11));
  EXPECT_EQ(VerifySignature(header, kBody, policy, kNow).code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(WebhookSignatureTest, RejectsFutureTimestamp) {
  const std::string header = SignatureHeaderValue(kSecret, kBody, kNow + absl::Minutes(6));
  absl::Status status = VerifySignature(header, kBody, Policy(), kNow);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(status.message().find("future"), absl::string_view::npos) << status;
  EXPECT_TRUE(VerifySignature(SignatureHeaderValue(kSecret, kBody, kNow + absl::Minutes(4)), kBody,
                              Policy(), kNow)
                  .ok());
}

TEST(WebhookSignatureTest, RejectsMissingOrMalformedHeader) {
  absl::Status missing = VerifySignature(std::nullopt, kBody, Policy(), kNow);
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(missing.message().find("missing"), absl::string_view::npos);
  for (const char* header : {"", "v1=abcd", "t=12", "t=abc,v1=00", "sha256=deadbeef"}) {
    absl::Status status = VerifySignature(std::string(header), kBody, Policy(), kNow);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << header;
  }
}

TEST(WebhookSignatureTest, AcceptsAnyOfSeveralSignatures) {
  // During a secret rotation the sender signs with the old and the new secret.
  const std::string good = SignatureHeaderValue(kSecret, kBody, kNow);
  const std::string t = std::to_string(absl::ToUnixSeconds(kNow));
  const std::string old_mac =
      token::Hex(token::HmacSha256("old-secret-0123456789", t + "." + kBody));
  const std::string header = "t=" + t + ",v1=" + old_mac + "," + good.substr(good.find("v1="));
  EXPECT_TRUE(VerifySignature(header, kBody, Policy(), kNow).ok());
}

TEST(WebhookJsonTest, MapsEveryField) {
  const std::string body = R"({
    "response_id": "sp-1001",
    "submitted_at": "2026-11-30T09:15:30.250+01:00",
    "survey_id": "2026-Q4 client pulse",
    "score": 3,
    "reason": "Slow to answer.",
    "do_differently": "Call back the same day.",
    "respondent": {"respondent_id": "crm-7", "full_name": "Ana Li", "email": "ana@example.com",
                   "phone": "+1 503 555 0100", "kind": "talent"},
    "account": {"account_id": "acc-9", "name": "Acme Staffing"},
    "owner_chain": [{"name": "Dana Whitfield", "role": "Director", "email": "dana@example.com"},
                    "Sam Ortiz"],
    "tags": ["Portland", "Top 100"],
    "extra": {"ignored": true}
  })";
  absl::StatusOr<v1::SurveyResponse> response = ResponseFromJson(body);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->response_id(), "sp-1001");
  EXPECT_EQ(response->submitted_at().seconds(), 1796026530);  // 08:15:30Z
  EXPECT_EQ(response->submitted_at().nanos(), 250000000);
  EXPECT_EQ(response->survey_id(), "2026-Q4 client pulse");
  EXPECT_EQ(response->score(), 3);
  EXPECT_EQ(response->reason(), "Slow to answer.");
  EXPECT_EQ(response->do_differently(), "Call back the same day.");
  EXPECT_EQ(response->respondent().respondent_id(), "crm-7");
  EXPECT_EQ(response->respondent().full_name(), "Ana Li");
  EXPECT_EQ(response->respondent().email(), "ana@example.com");
  EXPECT_EQ(response->respondent().phone(), "+1 503 555 0100");
  EXPECT_EQ(response->respondent().kind(), v1::RESPONDENT_KIND_TALENT);
  EXPECT_EQ(response->account().account_id(), "acc-9");
  EXPECT_EQ(response->account().name(), "Acme Staffing");
  ASSERT_EQ(response->owner_chain_size(), 2);
  EXPECT_EQ(response->owner_chain(0).role(), "Director");
  EXPECT_EQ(response->owner_chain(0).email(), "dana@example.com");
  EXPECT_EQ(response->owner_chain(1).name(), "Sam Ortiz");
  ASSERT_EQ(response->tags_size(), 2);
  EXPECT_EQ(response->tags(1), "Top 100");
}

TEST(WebhookJsonTest, ErrorJsonShape) {
  nlohmann::json error = nlohmann::json::parse(ErrorJson("invalid_argument", "score", "bad"));
  EXPECT_EQ(error["error"]["field"], "score");
  EXPECT_EQ(error["error"]["message"], "bad");
  EXPECT_EQ(error["error"]["code"], "invalid_argument");
  EXPECT_FALSE(nlohmann::json::parse(ErrorJson("unavailable", "", "x"))["error"].contains("field"));
}

}  // namespace
}  // namespace rebound::ingest
