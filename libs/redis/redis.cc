#include "rebound/redis/redis.h"

#include <hiredis/hiredis.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "rebound/runtime/log.h"
#include "reply_internal.h"

namespace rebound::redis {
namespace internal {
namespace {

bool StartsWithWord(std::string_view text, std::string_view word) {
  return text.size() >= word.size() && text.substr(0, word.size()) == word &&
         (text.size() == word.size() || text[word.size()] == ' ');
}

}  // namespace

absl::Status ErrorStatus(std::string_view command, std::string_view text) {
  std::string message(text);
  if (StartsWithWord(text, "NOAUTH") || StartsWithWord(text, "WRONGPASS") ||
      StartsWithWord(text, "NOPERM") || absl::StrContains(message, "invalid password") ||
      absl::StrContains(message, "invalid username-password")) {
    return absl::PermissionDeniedError(message);
  }
  if (StartsWithWord(text, "LOADING") || StartsWithWord(text, "BUSY") ||
      StartsWithWord(text, "MASTERDOWN") || StartsWithWord(text, "TRYAGAIN")) {
    return absl::UnavailableError(message);
  }
  std::string upper = absl::AsciiStrToUpper(absl::string_view(command.data(), command.size()));
  if (StartsWithWord(text, "NOSCRIPT") || upper == "EVAL" || upper == "EVALSHA" ||
      upper == "EVAL_RO" || upper == "EVALSHA_RO" || upper == "FCALL") {
    return absl::FailedPreconditionError(message);
  }
  return absl::InternalError(message);
}

absl::StatusOr<Reply> ConvertReply(const redisReply& reply, std::string_view command) {
  Reply out;
  switch (reply.type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(reply.str, reply.len);
      return out;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(reply.str, reply.len);
      return out;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = reply.integer;
      return out;
    case REDIS_REPLY_NIL:
      return out;
    case REDIS_REPLY_ERROR:
      return ErrorStatus(command, std::string_view(reply.str, reply.len));
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(reply.elements);
      for (size_t i = 0; i < reply.elements; ++i) {
        absl::StatusOr<Reply> element = ConvertReply(*reply.element[i], command);
        if (!element.ok()) {
          return element.status();
        }
        out.elements.push_back(*std::move(element));
      }
      return out;
    default:
      return absl::InternalError(absl::StrCat("unknown Redis reply type ", reply.type));
  }
}

}  // namespace internal

std::optional<std::string> Reply::AsString() const {
  switch (type) {
    case Type::kString:
    case Type::kStatus:
      return str;
    case Type::kInteger:
      return std::to_string(integer);
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> Reply::AsInteger() const {
  if (type == Type::kInteger) {
    return integer;
  }
  if (type == Type::kString) {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(str.data(), str.data() + str.size(), value);
    if (!str.empty() && ec == std::errc() && end == str.data() + str.size()) {
      return value;
    }
  }
  return std::nullopt;
}

namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);

struct ContextDeleter {
  void operator()(redisContext* context) const { redisFree(context); }
};
using ContextPtr = std::unique_ptr<redisContext, ContextDeleter>;

struct ReplyDeleter {
  void operator()(redisReply* reply) const { freeReplyObject(reply); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyDeleter>;

timeval Timeval(absl::Duration d) { return absl::ToTimeval(d); }

// The connection died under us (closed or reset), as opposed to a timeout: the server most
// likely never saw the command, so sending it again on a fresh connection is reasonable.
bool ConnectionLost(const redisContext& context) {
  if (context.err == REDIS_ERR_EOF) {
    return true;
  }
  return context.err == REDIS_ERR_IO && (std::strcmp(context.errstr, strerror(ECONNRESET)) == 0 ||
                                         std::strcmp(context.errstr, strerror(EPIPE)) == 0);
}

class PooledClient : public Client {
 public:
  PooledClient(RedisConfig config, std::string host, int port)
      : config_(std::move(config)), host_(std::move(host)), port_(port) {}

  // Opens the first connection; its result is the result of Create().
  absl::Status Prime() {
    ContextPtr context;
    if (absl::Status s = Connect(context); !s.ok()) {
      return s;
    }
    // AUTH alone passes on a server without a password; PING proves the connection is usable.
    ReplyPtr ping(static_cast<redisReply*>(redisCommand(context.get(), "PING")));
    if (ping == nullptr) {
      return absl::UnavailableError(
          absl::StrCat("Redis at ", config_.address, ": ", context->errstr));
    }
    if (absl::StatusOr<Reply> reply = internal::ConvertReply(*ping, "PING"); !reply.ok()) {
      return reply.status();
    }
    absl::MutexLock lock(&mu_);
    ++open_;
    idle_.push_back(std::move(context));
    return absl::OkStatus();
  }

  absl::StatusOr<Reply> Command(const std::vector<std::string>& args) override {
    if (args.empty()) {
      return absl::InvalidArgumentError("empty Redis command");
    }
    std::vector<const char*> argv;
    std::vector<size_t> argvlen;
    argv.reserve(args.size());
    argvlen.reserve(args.size());
    for (const std::string& arg : args) {
      argv.push_back(arg.data());
      argvlen.push_back(arg.size());
    }

    Lease lease(this);
    for (int attempt = 0;; ++attempt) {
      if (absl::Status s = lease.EnsureConnected(); !s.ok()) {
        return s;
      }
      ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(
          lease.context(), static_cast<int>(argv.size()), argv.data(), argvlen.data())));
      if (reply != nullptr) {
        return internal::ConvertReply(*reply, args.front());
      }
      bool lost = ConnectionLost(*lease.context());
      absl::Status error = lease.Drop();
      if (!lost || attempt > 0) {
        return error;
      }
    }
  }

  absl::StatusOr<std::vector<absl::StatusOr<Reply>>> Pipeline(
      const std::vector<std::vector<std::string>>& commands) override {
    std::vector<absl::StatusOr<Reply>> results;
    if (commands.empty()) {
      return results;
    }
    Lease lease(this);
    for (int attempt = 0;; ++attempt) {
      if (absl::Status s = lease.EnsureConnected(); !s.ok()) {
        return s;
      }
      for (const std::vector<std::string>& args : commands) {
        std::vector<const char*> argv;
        std::vector<size_t> argvlen;
        for (const std::string& arg : args) {
          argv.push_back(arg.data());
          argvlen.push_back(arg.size());
        }
        if (args.empty() || redisAppendCommandArgv(lease.context(), static_cast<int>(argv.size()),
                                                   argv.data(), argvlen.data()) != REDIS_OK) {
          // The buffer now holds a partial batch; the connection cannot be reused.
          lease.Drop().IgnoreError();
          return absl::InvalidArgumentError("cannot encode a pipelined Redis command");
        }
      }
      results.clear();
      bool failed = false;
      for (const std::vector<std::string>& args : commands) {
        void* raw = nullptr;
        if (redisGetReply(lease.context(), &raw) != REDIS_OK || raw == nullptr) {
          failed = true;
          break;
        }
        ReplyPtr reply(static_cast<redisReply*>(raw));
        results.push_back(internal::ConvertReply(*reply, args.front()));
      }
      if (!failed) {
        return results;
      }
      // Retry only when nothing was answered yet, for the same reason as Command().
      bool lost = ConnectionLost(*lease.context()) && results.empty();
      absl::Status error = lease.Drop();
      if (!lost || attempt > 0) {
        return error;
      }
    }
  }

 private:
  // A connection taken from the pool for one call and given back (or dropped) afterwards.
  class Lease {
   public:
    explicit Lease(PooledClient* client) : client_(client), context_(client->Acquire()) {}
    ~Lease() { client_->Release(std::move(context_)); }

    redisContext* context() { return context_.get(); }

    absl::Status EnsureConnected() {
      if (context_ != nullptr) {
        return absl::OkStatus();
      }
      return client_->Connect(context_);
    }

    // Closes a broken connection; returns the status describing why.
    absl::Status Drop() {
      absl::Status status = absl::UnavailableError(
          absl::StrCat("Redis at ", client_->config_.address, ": ", context_->errstr));
      runtime::Logger("redis")->warn("dropping Redis connection to {}: {}",
                                     client_->config_.address, context_->errstr);
      context_.reset();
      client_->RecordFailure();
      return status;
    }

   private:
    PooledClient* client_;
    ContextPtr context_;
  };

  // Waits for an idle connection, or for room to open a new one (returned as null).
  ContextPtr Acquire() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](PooledClient* c) { return !c->idle_.empty() || c->open_ < c->PoolSize(); }, this));
    if (!idle_.empty()) {
      ContextPtr context = std::move(idle_.back());
      idle_.pop_back();
      return context;
    }
    ++open_;
    return nullptr;
  }

  void Release(ContextPtr context) {
    absl::MutexLock lock(&mu_);
    if (context != nullptr) {
      idle_.push_back(std::move(context));
    } else {
      --open_;
    }
  }

  int PoolSize() const { return std::max(1, config_.pool_size); }

  void RecordFailure() {
    absl::MutexLock lock(&backoff_mu_);
    backoff_ =
        backoff_ == absl::ZeroDuration() ? kFirstBackoff : std::min(backoff_ * 2, kMaxBackoff);
    next_attempt_ = absl::Now() + backoff_;
  }

  void RecordSuccess() {
    absl::MutexLock lock(&backoff_mu_);
    backoff_ = absl::ZeroDuration();
    next_attempt_ = absl::InfinitePast();
  }

  // Opens a connection: waits out the backoff after recent failures, connects, sets the
  // command timeout (hiredis 0.14 forgets it on reconnect) and authenticates.
  absl::Status Connect(ContextPtr& out) {
    absl::Time next_attempt;
    {
      absl::MutexLock lock(&backoff_mu_);
      next_attempt = next_attempt_;
    }
    if (absl::Duration wait = next_attempt - absl::Now(); wait > absl::ZeroDuration()) {
      absl::SleepFor(std::min(wait, kMaxBackoff));
    }

    ContextPtr context(redisConnectWithTimeout(host_.c_str(), port_, Timeval(config_.timeout)));
    if (context == nullptr || context->err != 0) {
      std::string reason = context == nullptr ? "out of memory" : context->errstr;
      RecordFailure();
      return absl::UnavailableError(
          absl::StrCat("cannot connect to Redis at ", config_.address, ": ", reason));
    }
    if (redisSetTimeout(context.get(), Timeval(config_.timeout)) != REDIS_OK) {
      RecordFailure();
      return absl::UnavailableError(
          absl::StrCat("cannot set the timeout of Redis at ", config_.address));
    }
    if (!config_.password.empty()) {
      const char* argv[] = {"AUTH", config_.password.data()};
      const size_t argvlen[] = {4, config_.password.size()};
      ReplyPtr reply(static_cast<redisReply*>(redisCommandArgv(context.get(), 2, argv, argvlen)));
      if (reply == nullptr) {
        RecordFailure();
        return absl::UnavailableError(
            absl::StrCat("Redis at ", config_.address, ": ", context->errstr));
      }
      if (reply->type == REDIS_REPLY_ERROR) {
        // Never echo the password; Redis' own text does not contain it.
        return absl::PermissionDeniedError(
            absl::StrCat("Redis at ", config_.address,
                         " refused the password: ", std::string(reply->str, reply->len)));
      }
    }
    RecordSuccess();
    out = std::move(context);
    return absl::OkStatus();
  }

  const RedisConfig config_;
  const std::string host_;
  const int port_;

  absl::Mutex mu_;
  std::vector<ContextPtr> idle_ ABSL_GUARDED_BY(mu_);
  int open_ ABSL_GUARDED_BY(mu_) = 0;  // connections idle, leased, or being opened

  absl::Mutex backoff_mu_;
  absl::Duration backoff_ ABSL_GUARDED_BY(backoff_mu_) = absl::ZeroDuration();
  absl::Time next_attempt_ ABSL_GUARDED_BY(backoff_mu_) = absl::InfinitePast();
};

std::string Sha1Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 15]);
  }
  return hex;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const RedisConfig& config) {
  size_t colon = config.address.rfind(':');
  int port = 0;
  std::string host;
  if (colon != std::string::npos) {
    host = config.address.substr(0, colon);
    const char* begin = config.address.data() + colon + 1;
    const char* end = config.address.data() + config.address.size();
    auto [last, ec] = std::from_chars(begin, end, port);
    if (ec != std::errc() || last != end) {
      port = 0;
    }
  }
  if (host.empty() || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("Redis address '", config.address, "' is not host:port"));
  }
  auto client = std::make_unique<PooledClient>(config, host, port);
  if (absl::Status s = client->Prime(); !s.ok()) {
    return s;
  }
  return client;
}

Script::Script(std::string source) : source_(std::move(source)), sha1_(Sha1Hex(source_)) {}

absl::StatusOr<Reply> Script::Run(Client& client, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& args) const {
  std::vector<std::string> command;
  command.reserve(3 + keys.size() + args.size());
  command.push_back("EVALSHA");
  command.push_back(sha1_);
  command.push_back(std::to_string(keys.size()));
  command.insert(command.end(), keys.begin(), keys.end());
  command.insert(command.end(), args.begin(), args.end());

  absl::StatusOr<Reply> reply = client.Command(command);
  if (reply.ok() || !absl::StartsWith(reply.status().message(), "NOSCRIPT")) {
    return reply;
  }
  // The server lost its script cache (restart, SCRIPT FLUSH, failover): load and run again.
  absl::StatusOr<Reply> loaded = client.Command({"SCRIPT", "LOAD", source_});
  if (!loaded.ok()) {
    return loaded.status();
  }
  if (loaded->AsString() != sha1_) {
    return absl::InternalError("Redis returned an unexpected SHA-1 for a loaded script");
  }
  return client.Command(command);
}

}  // namespace rebound::redis
