// libs/redis against real servers: the stack's Redis for commands, pipelines and concurrency;
// redis-server processes of the test's own for what would disturb a shared server (a restart,
// SCRIPT FLUSH, a password).
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "rebound/redis/redis.h"
#include "rebound/testing/stack.h"

namespace rebound::redis {
namespace {

namespace rt = ::rebound::testing;

std::string FindInPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (absl::string_view dir : absl::StrSplit(path == nullptr ? "/usr/bin" : path, ':')) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return name;
}

RedisConfig Config(const std::string& address, const std::string& password = "") {
  RedisConfig config;
  config.address = address;
  config.password = password;
  config.timeout = absl::Seconds(2);
  return config;
}

// A redis-server of the test's own, on a fixed port so it can be restarted at the same address.
class OwnRedis {
 public:
  explicit OwnRedis(std::vector<std::string> extra_args = {})
      : port_(rt::FreePort()), extra_args_(std::move(extra_args)) {
    dir_ = std::filesystem::temp_directory_path() / rt::UniqueName("rebound-redis");
    std::filesystem::create_directories(dir_);
    Start();
  }
  ~OwnRedis() {
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  void Start() {
    std::vector<std::string> args = {
        "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save",
        "",       "--appendonly",        "no",     "--dir",     dir_.string()};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    process_ = std::make_unique<rt::ChildProcess>(FindInPath("redis-server"), args,
                                                  std::map<std::string, std::string>{},
                                                  (dir_ / "redis.log").string());
    WaitUntil(true);
  }

  void Kill() {
    process_->Signal(SIGKILL);
    ASSERT_TRUE(process_->Wait(absl::Seconds(10)).has_value());
    process_.reset();
    WaitUntil(false);
  }

 private:
  // Polls the port (a plain TCP connect) until the server accepts, or no longer does.
  void WaitUntil(bool accepting) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      RedisConfig config = Config(address());
      config.timeout = absl::Milliseconds(200);
      auto client = Client::Create(config);
      bool up = client.ok() || client.status().code() == absl::StatusCode::kPermissionDenied;
      if (up == accepting) {
        return;
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "redis-server on port " << port_ << " did not " << (accepting ? "start" : "stop")
           << "; log: " << (process_ ? process_->Log() : "");
  }

  int port_;
  std::vector<std::string> extra_args_;
  std::filesystem::path dir_;
  std::unique_ptr<rt::ChildProcess> process_;
};

class StackRedisTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string address = rt::StackValue("REBOUND_REDIS_ADDRESS");
    ASSERT_FALSE(address.empty()) << "REBOUND_REDIS_ADDRESS missing from the stack env";
    auto client = Client::Create(Config(address));
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
    prefix_ = rt::UniqueName("redis-it") + ":";
  }

  std::unique_ptr<Client> client_;
  std::string prefix_;
};

TEST_F(StackRedisTest, CommandsConvertReplies) {
  const std::string key = prefix_ + "bytes";
  const std::string value("a\0b\r\nc", 6);
  auto set = client_->Command({"SET", key, value, "EX", "60"});
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_EQ(set->type, Reply::Type::kStatus);
  EXPECT_EQ(set->str, "OK");

  auto get = client_->Command({"GET", key});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->AsString(), value);

  auto missing = client_->Command({"GET", prefix_ + "missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->IsNil());

  ASSERT_TRUE(client_->Command({"HSET", prefix_ + "h", "f1", "1", "f2", "2"}).ok());
  auto all = client_->Command({"HGETALL", prefix_ + "h"});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->type, Reply::Type::kArray);
  EXPECT_EQ(all->elements.size(), 4u);

  auto incr = client_->Command({"INCRBY", prefix_ + "n", "5"});
  ASSERT_TRUE(incr.ok());
  EXPECT_EQ(incr->AsInteger(), 5);

  auto wrong_type = client_->Command({"INCR", prefix_ + "h"});
  EXPECT_EQ(wrong_type.status().code(), absl::StatusCode::kInternal);
  EXPECT_TRUE(absl::StartsWith(wrong_type.status().message(), "WRONGTYPE"));

  ASSERT_TRUE(client_->Command({"DEL", key, prefix_ + "h", prefix_ + "n"}).ok());
}

TEST_F(StackRedisTest, PipelineKeepsOrderAndPerEntryErrors) {
  const std::string list = prefix_ + "list";
  auto replies = client_->Pipeline({{"RPUSH", list, "a", "b"},
                                    {"HGET", list, "x"},  // wrong type: fails alone
                                    {"LRANGE", list, "0", "-1"},
                                    {"DEL", list}});
  ASSERT_TRUE(replies.ok()) << replies.status();
  ASSERT_EQ(replies->size(), 4u);
  EXPECT_EQ((*replies)[0]->AsInteger(), 2);
  EXPECT_EQ((*replies)[1].status().code(), absl::StatusCode::kInternal);
  ASSERT_TRUE((*replies)[2].ok());
  ASSERT_EQ((*replies)[2]->elements.size(), 2u);
  EXPECT_EQ((*replies)[2]->elements[1].str, "b");
  EXPECT_EQ((*replies)[3]->AsInteger(), 1);
}

TEST_F(StackRedisTest, PoolServesConcurrentCallers) {
  const std::string key = prefix_ + "counter";
  constexpr int kThreads = 8;
  constexpr int kIncrements = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        if (!client_->Command({"INCR", key}).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(client_->Command({"GET", key})->AsInteger(), kThreads * kIncrements);
  client_->Command({"DEL", key}).IgnoreError();
}

TEST_F(StackRedisTest, ScriptRunsWithKeysAndArgs) {
  Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto first = script.Run(*client_, {prefix_ + "s"}, {"3"});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->AsInteger(), 3);
  EXPECT_EQ(script.Run(*client_, {prefix_ + "s"}, {"4"})->AsInteger(), 7);

  Script failing("return redis.error_reply('case is closed')");
  auto error = failing.Run(*client_, {}, {});
  EXPECT_EQ(error.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(error.status().message(), "case is closed");
  client_->Command({"DEL", prefix_ + "s"}).IgnoreError();
}

// SCRIPT FLUSH empties the script cache of the whole server, so it runs on a private one.
TEST(OwnRedisTest, ScriptSurvivesScriptFlush) {
  OwnRedis server;
  auto client = Client::Create(Config(server.address()));
  ASSERT_TRUE(client.ok()) << client.status();
  Script script("return tonumber(ARGV[1]) * 2");
  ASSERT_EQ(script.Run(**client, {}, {"21"})->AsInteger(), 42);

  ASSERT_TRUE((*client)->Command({"SCRIPT", "FLUSH"}).ok());
  auto exists = (*client)->Command({"SCRIPT", "EXISTS", script.sha1()});
  ASSERT_TRUE(exists.ok());
  ASSERT_EQ(exists->elements.at(0).integer, 0);

  auto again = script.Run(**client, {}, {"5"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->AsInteger(), 10);
}

TEST(OwnRedisTest, ReconnectsAfterServerRestart) {
  OwnRedis server;
  RedisConfig config = Config(server.address());
  config.pool_size = 1;  // the next call must reuse the connection the restart broke
  auto client = Client::Create(config);
  ASSERT_TRUE(client.ok()) << client.status();
  Script script("return redis.call('SET', KEYS[1], ARGV[1])");
  ASSERT_TRUE(script.Run(**client, {"k"}, {"before"}).ok());

  server.Kill();
  auto down = (*client)->Command({"GET", "k"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();

  server.Start();
  // The server is back (Start() waited for it): the old client's very next calls work, the
  // script is reloaded after the restart emptied the cache, and the data is gone (no
  // persistence), which proves this is the new process.
  auto get = (*client)->Command({"GET", "k"});
  ASSERT_TRUE(get.ok()) << get.status();
  EXPECT_TRUE(get->IsNil());
  ASSERT_TRUE(script.Run(**client, {"k"}, {"after"}).ok());
  EXPECT_EQ((*client)->Command({"GET", "k"})->AsString(), "after");

  // A restart while idle, without an intervening failed call: the stale connection is
  // replaced transparently on the first call.
  server.Kill();
  server.Start();
  auto ping = (*client)->Command({"PING"});
  ASSERT_TRUE(ping.ok()) << ping.status();
  EXPECT_EQ(ping->str, "PONG");
}

TEST(OwnRedisTest, PasswordAuthentication) {
  const std::string password = "pw-" + rt::UniqueName("redis");
  OwnRedis server({"--requirepass", password});

  auto good = Client::Create(Config(server.address(), password));
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_TRUE((*good)->Command({"SET", "k", "v"}).ok());
  EXPECT_EQ((*good)->Command({"GET", "k"})->AsString(), "v");

  auto wrong = Client::Create(Config(server.address(), "not-the-password"));
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kPermissionDenied) << wrong.status();
  EXPECT_EQ(std::string(wrong.status().message()).find("not-the-password"), std::string::npos);

  auto none = Client::Create(Config(server.address()));
  EXPECT_EQ(none.status().code(), absl::StatusCode::kPermissionDenied) << none.status();
}

}  // namespace
}  // namespace rebound::redis
