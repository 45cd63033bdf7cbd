// Conversion of hiredis replies and Redis error texts; internal to libs/redis, shared with its
// unit test.
#ifndef REBOUND_REDIS_REPLY_INTERNAL_H_
#define REBOUND_REDIS_REPLY_INTERNAL_H_

#include <hiredis/hiredis.h>

#include <string_view>

#include "absl/status/statusor.h"
#include "rebound/redis/redis.h"

namespace rebound::redis::internal {

// Converts a reply tree. An error reply, at the top or nested in an array, becomes the status
// of ErrorStatus(command, text).
absl::StatusOr<Reply> ConvertReply(const redisReply& reply, std::string_view command);

// The status for a Redis error reply `text` to `command`: PERMISSION_DENIED for
// authentication errors, UNAVAILABLE for a server that is loading or busy, FAILED_PRECONDITION
// for errors of scripts (EVAL, EVALSHA, NOSCRIPT), INTERNAL otherwise. The message is `text`.
absl::Status ErrorStatus(std::string_view command, std::string_view text);

}  // namespace rebound::redis::internal

#endif  // REBOUND_REDIS_REPLY_INTERNAL_H_
