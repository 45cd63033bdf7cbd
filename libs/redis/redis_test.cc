#include "rebound/redis/redis.h"

#include <cstring>

#include "gtest/gtest.h"
#include "reply_internal.h"

namespace rebound::redis {
namespace {

using internal::ConvertReply;
using internal::ErrorStatus;

redisReply Leaf(int type, const char* text = "", long long integer = 0) {
  redisReply reply{};
  reply.type = type;
  reply.str = const_cast<char*>(text);
  reply.len = std::strlen(text);
  reply.integer = integer;
  return reply;
}

TEST(ConvertReplyTest, Scalars) {
  redisReply string = Leaf(REDIS_REPLY_STRING, "v1");
  absl::StatusOr<Reply> reply = ConvertReply(string, "GET");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->type, Reply::Type::kString);
  EXPECT_EQ(reply->AsString(), "v1");
  EXPECT_EQ(reply->AsInteger(), std::nullopt);

  redisReply number = Leaf(REDIS_REPLY_INTEGER, "", -42);
  reply = ConvertReply(number, "INCR");
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->AsInteger(), -42);
  EXPECT_EQ(reply->AsString(), "-42");

  redisReply numeric_string = Leaf(REDIS_REPLY_STRING, "17");
  EXPECT_EQ(ConvertReply(numeric_string, "GET")->AsInteger(), 17);

  redisReply status = Leaf(REDIS_REPLY_STATUS, "OK");
  reply = ConvertReply(status, "SET");
  EXPECT_EQ(reply->type, Reply::Type::kStatus);
  EXPECT_EQ(reply->AsString(), "OK");

  redisReply nil = Leaf(REDIS_REPLY_NIL);
  reply = ConvertReply(nil, "GET");
  EXPECT_TRUE(reply->IsNil());
  EXPECT_EQ(reply->AsString(), std::nullopt);
}

TEST(ConvertReplyTest, BinarySafeStrings) {
  static const char kBytes[] = {'a', '\0', 'b'};
  redisReply string{};
  string.type = REDIS_REPLY_STRING;
  string.str = const_cast<char*>(kBytes);
  string.len = sizeof(kBytes);
  EXPECT_EQ(ConvertReply(string, "GET")->str, std::string(kBytes, sizeof(kBytes)));
}

TEST(ConvertReplyTest, NestedArrays) {
  redisReply a = Leaf(REDIS_REPLY_STRING, "a");
  redisReply n = Leaf(REDIS_REPLY_INTEGER, "", 3);
  redisReply nil = Leaf(REDIS_REPLY_NIL);
  redisReply* inner_elements[] = {&n, &nil};
  redisReply inner{};
  inner.type = REDIS_REPLY_ARRAY;
  inner.elements = 2;
  inner.element = inner_elements;
  redisReply* outer_elements[] = {&a, &inner};
  redisReply outer{};
  outer.type = REDIS_REPLY_ARRAY;
  outer.elements = 2;
  outer.element = outer_elements;

  absl::StatusOr<Reply> reply = ConvertReply(outer, "EVALSHA");
  ASSERT_TRUE(reply.ok());
  ASSERT_EQ(reply->type, Reply::Type::kArray);
  ASSERT_EQ(reply->elements.size(), 2u);
  EXPECT_EQ(reply->elements[0].str, "a");
  ASSERT_EQ(reply->elements[1].elements.size(), 2u);
  EXPECT_EQ(reply->elements[1].elements[0].integer, 3);
  EXPECT_TRUE(reply->elements[1].elements[1].IsNil());
  EXPECT_EQ(reply->AsString(), std::nullopt);
}

TEST(ConvertReplyTest, ErrorsBecomeStatuses) {
  redisReply wrong_type =
      Leaf(REDIS_REPLY_ERROR, "WRONGTYPE Operation against a key holding the wrong kind of value");
  absl::Status status = ConvertReply(wrong_type, "HGET").status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(status.message(), "WRONGTYPE Operation against a key holding the wrong kind of value");

  redisReply script = Leaf(REDIS_REPLY_ERROR, "ERR user_script:1: case is closed");
  EXPECT_EQ(ConvertReply(script, "evalsha").status().code(), absl::StatusCode::kFailedPrecondition);

  redisReply nested_error = Leaf(REDIS_REPLY_ERROR, "ERR inside");
  redisReply* elements[] = {&nested_error};
  redisReply array{};
  array.type = REDIS_REPLY_ARRAY;
  array.elements = 1;
  array.element = elements;
  EXPECT_EQ(ConvertReply(array, "EXEC").status().message(), "ERR inside");
}

TEST(ErrorStatusTest, Codes) {
  EXPECT_EQ(ErrorStatus("GET", "NOAUTH Authentication required.").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorStatus("AUTH", "WRONGPASS invalid username-password pair").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorStatus("GET", "LOADING Redis is loading the dataset in memory").code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ErrorStatus("EVALSHA", "NOSCRIPT No matching script.").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorStatus("SET", "ERR syntax error").code(), absl::StatusCode::kInternal);
}

TEST(ScriptTest, Sha1OfSource) {
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST(ClientTest, CreateFailsClearly) {
  RedisConfig bad;
  bad.address = "no-port";
  EXPECT_EQ(Client::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  // Port 1 on loopback is closed on any sane test machine.
  RedisConfig config;
  config.address = "127.0.0.1:1";
  config.timeout = absl::Milliseconds(500);
  EXPECT_EQ(Client::Create(config).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace rebound::redis
