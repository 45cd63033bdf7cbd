#include "rebound/runtime/http_server.h"

#include <httplib.h>

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"

namespace rebound::runtime {
namespace {

using ::testing::HasSubstr;

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_ = std::make_shared<prometheus::Registry>();
    prometheus::BuildCounter()
        .Name("rebound_test_events_total")
        .Help("Events seen by the test")
        .Register(*registry_)
        .Add({})
        .Increment(3);
    server_ = std::make_unique<HttpServer>(registry_, [this]() -> absl::Status {
      if (ready_) {
        return absl::OkStatus();
      }
      return absl::UnavailableError("kafka unreachable");
    });
  }

  httplib::Client Client() {
    httplib::Client client("127.0.0.1", server_->port());
    client.set_connection_timeout(5);
    client.set_read_timeout(5);
    return client;
  }

  std::shared_ptr<prometheus::Registry> registry_;
  std::atomic<bool> ready_{true};
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpServerTest, ServesHealthReadinessAndMetrics) {
  ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
  ASSERT_GT(server_->port(), 0);
  httplib::Client client = Client();

  auto health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");

  auto ready = client.Get("/readyz");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 200);
  ready_ = false;
  auto not_ready = client.Get("/readyz");
  ASSERT_TRUE(not_ready);
  EXPECT_EQ(not_ready->status, 503);
  EXPECT_THAT(not_ready->body, HasSubstr("kafka unreachable"));

  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_THAT(metrics->body, HasSubstr("rebound_test_events_total 3"));
  EXPECT_THAT(metrics->get_header_value("Content-Type"), HasSubstr("version=0.0.4"));

  auto missing = client.Get("/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  auto wrong_method = client.Post("/healthz", "", "text/plain");
  ASSERT_TRUE(wrong_method);
  EXPECT_EQ(wrong_method->status, 405);
}

TEST_F(HttpServerTest, PrefixRoutesQueryAndFormFields) {
  HttpRequest seen;
  server_->Handle("GET", "/r/*", [&](const HttpRequest& request) {
    seen = request;
    return HttpResponse{.status = 201,
                        .content_type = "text/html; charset=utf-8",
                        .body = "<p>done</p>",
                        .headers = {{"X-Rebound", "1"}}};
  });
  server_->Handle("POST", "/r/*", [&](const HttpRequest& request) {
    seen = request;
    HttpResponse response;
    response.body = "posted";
    return response;
  });
  server_->Handle("GET", "/r/exact", [](const HttpRequest&) {
    HttpResponse response;
    response.body = "exact";
    return response;
  });
  ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
  httplib::Client client = Client();

  auto get = client.Get("/r/abc.def?note=a%20b&x=1", {{"X-Custom", "v"}});
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 201);
  EXPECT_EQ(get->body, "<p>done</p>");
  EXPECT_EQ(get->get_header_value("X-Rebound"), "1");
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.path, "/r/abc.def");
  EXPECT_EQ(seen.query["note"], "a b");
  EXPECT_EQ(seen.query["x"], "1");
  EXPECT_EQ(seen.headers["x-custom"], "v");
  EXPECT_EQ(seen.remote_addr, "127.0.0.1");

  auto exact = client.Get("/r/exact");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->body, "exact");

  auto post = client.Post("/r/t?from=query", "resolution=2&note=fixed+it%21",
                          "application/x-www-form-urlencoded");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->body, "posted");
  EXPECT_EQ(seen.query["resolution"], "2");
  EXPECT_EQ(seen.query["note"], "fixed it!");
  EXPECT_EQ(seen.query["from"], "query");
  EXPECT_EQ(seen.body, "resolution=2&note=fixed+it%21");
}

TEST_F(HttpServerTest, StopEndsServingAndBadAddressFails) {
  ASSERT_TRUE(server_->Start("127.0.0.1:0").ok());
  int port = server_->port();
  server_->Stop();
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(1);
  EXPECT_FALSE(client.Get("/healthz"));

  HttpServer other(registry_, nullptr);
  EXPECT_EQ(other.Start("no-port").code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace rebound::runtime
