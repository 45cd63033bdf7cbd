#include "previous_score.h"

#include "absl/strings/str_cat.h"

namespace rebound::classifier {
namespace {

// KEYS[1] classified marker, KEYS[2] day counter hash, KEYS[3] respondent hash (optional).
// ARGV: response id, score, time in Unix ms, counter field, marker TTL in seconds.
// Returns {previous score, previous time ms} or nil.
constexpr char kLua[] = R"lua(
local id, score, at = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[5]) then
  redis.call('HINCRBY', KEYS[2], ARGV[4], 1)
end
if #KEYS < 3 then
  return nil
end
local h = redis.call('HMGET', KEYS[3], 'last_score', 'last_at', 'last_response_id',
                     'prev_score', 'prev_at', 'prev_response_id')
local last_score, last_at, last_id = h[1], h[2], h[3]
local prev_score, prev_at, prev_id = h[4], h[5], h[6]
if last_id == id then
  if prev_score then
    return {prev_score, prev_at}
  end
  return nil
end
if not last_at then
  redis.call('HSET', KEYS[3], 'last_score', score, 'last_at', ARGV[3], 'last_response_id', id)
  return nil
end
if at >= tonumber(last_at) then
  redis.call('HSET', KEYS[3], 'prev_score', last_score, 'prev_at', last_at,
             'prev_response_id', last_id, 'last_score', score, 'last_at', ARGV[3],
             'last_response_id', id)
  return {last_score, last_at}
end
if prev_at and prev_id ~= id and tonumber(prev_at) < at then
  return {prev_score, prev_at}
end
return nil
)lua";

}  // namespace

RedisScoreStore::RedisScoreStore(redis::Client& client, std::string prefix,
                                 absl::Duration counted_ttl)
    : client_(client), prefix_(std::move(prefix)), counted_ttl_(counted_ttl), script_(kLua) {}

const char* RedisScoreStore::LuaSource() { return kLua; }

absl::StatusOr<std::optional<PreviousScore>> RedisScoreStore::Record(const ScoreUpdate& update) {
  std::vector<std::string> keys = {
      absl::StrCat(prefix_, "classified:", update.response_id),
      absl::StrCat(prefix_, "stats:categories:", UtcDay(update.at)),
  };
  if (!update.respondent_key.empty()) {
    keys.push_back(absl::StrCat(prefix_, "respondent:", update.respondent_key));
  }
  const std::vector<std::string> args = {
      update.response_id,
      absl::StrCat(update.score),
      absl::StrCat(absl::ToUnixMillis(update.at)),
      CategoryField(update.category),
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(counted_ttl_))),
  };
  auto reply = script_.Run(client_, keys, args);
  if (!reply.ok()) {
    return reply.status();
  }
  if (reply->type != redis::Reply::Type::kArray || reply->elements.size() != 2) {
    return std::nullopt;
  }
  const auto score = reply->elements[0].AsInteger();
  const auto at_ms = reply->elements[1].AsInteger();
  if (!score.has_value() || !at_ms.has_value()) {
    return absl::InternalError("previous score script returned a malformed reply");
  }
  return PreviousScore{.score = static_cast<int>(*score), .at = absl::FromUnixMillis(*at_ms)};
}

}  // namespace rebound::classifier
