// Redis on hiredis: a connection that reconnects with backoff, typed replies, and Lua scripts
// called by SHA with a reload after NOSCRIPT. Every call returns absl::Status; nothing throws.
//
//   auto redis = Client::Create({.address = "127.0.0.1:6379"});
//   auto reply = (*redis)->Command({"HGET", "case:1", "version"});
#ifndef REBOUND_REDIS_REDIS_H_
#define REBOUND_REDIS_REDIS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::redis {

struct RedisConfig {
  // "host:port".
  std::string address = "127.0.0.1:6379";
  // AUTH password; empty for none.
  std::string password;
  // Timeout of connecting and of each command.
  absl::Duration timeout = absl::Seconds(2);
  // Number of connections in the pool (calls from several threads use different ones).
  int pool_size = 4;
};

// A reply, converted from hiredis' redisReply.
struct Reply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string str;              // kString and kStatus
  int64_t integer = 0;          // kInteger
  std::vector<Reply> elements;  // kArray

  bool IsNil() const { return type == Type::kNil; }
  // The string of a kString/kStatus reply, the decimal of a kInteger, nullopt otherwise.
  std::optional<std::string> AsString() const;
  // The integer of a kInteger reply, or a kString that parses as one.
  std::optional<int64_t> AsInteger() const;
};

// Thread-safe client over a small pool of connections. A connection that fails with an I/O
// error is dropped and re-established on the next call, with exponential backoff (capped at
// one second) between attempts; the command timeout is set again on every new connection
// (hiredis 0.14 forgets it on reconnect).
class Client {
 public:
  // Connects once to check the address and password. UNAVAILABLE when Redis cannot be
  // reached, PERMISSION_DENIED when AUTH fails.
  static absl::StatusOr<std::unique_ptr<Client>> Create(const RedisConfig& config);
  virtual ~Client() = default;

  // Runs one command. A Redis error reply comes back as a non-OK status whose message is
  // Redis' text (FAILED_PRECONDITION for script errors, INTERNAL otherwise); a lost connection
  // as UNAVAILABLE after one reconnect attempt.
  virtual absl::StatusOr<Reply> Command(const std::vector<std::string>& args) = 0;

  // Sends several commands in one round trip and returns their replies in order. A failure of
  // the connection fails the whole call; an error reply fails only its own entry.
  virtual absl::StatusOr<std::vector<absl::StatusOr<Reply>>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) = 0;
};

// A Lua script run by EVALSHA, loaded on first use and reloaded after NOSCRIPT (for example
// after a Redis restart or SCRIPT FLUSH). Thread-safe.
class Script {
 public:
  explicit Script(std::string source);

  // Runs the script with `keys` and `args`.
  absl::StatusOr<Reply> Run(Client& client, const std::vector<std::string>& keys,
                            const std::vector<std::string>& args) const;

  const std::string& sha1() const { return sha1_; }

 private:
  std::string source_;
  std::string sha1_;  // hex SHA-1 of source_, computed once
};

}  // namespace rebound::redis

#endif  // REBOUND_REDIS_REDIS_H_
