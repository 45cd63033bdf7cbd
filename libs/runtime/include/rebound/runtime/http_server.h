// The HTTP side port of every service: /healthz (process alive), /readyz (dependencies
// reachable, from a readiness callback) and Prometheus /metrics, plus routes a service adds
// (the ingest webhook, the one-click resolution pages). cpp-httplib stays behind this header:
// it is heavy to compile, so only http_server.cc includes it.
#ifndef REBOUND_RUNTIME_HTTP_SERVER_H_
#define REBOUND_RUNTIME_HTTP_SERVER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "prometheus/registry.h"

namespace rebound::runtime {

struct HttpRequest {
  std::string method;
  std::string path;
  std::string body;
  std::string remote_addr;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::map<std::string, std::string> query;    // also holds form fields of a url-encoded POST
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::map<std::string, std::string> headers;
};

using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

class HttpServer {
 public:
  // `registry` is exported on /metrics; it must outlive the server. `ready` answers /readyz
  // (OK: 200; otherwise 503 with the message).
  HttpServer(std::shared_ptr<prometheus::Registry> registry, std::function<absl::Status()> ready);
  ~HttpServer();

  // Adds a route before Start(). `path` is exact, or ends in "*" to match a prefix.
  void Handle(std::string method, std::string path, HttpHandler handler);

  // Binds `address` ("host:port", port 0 picks one) and serves on a background thread.
  absl::Status Start(const std::string& address);
  int port() const;
  // Stops serving and joins the thread.
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rebound::runtime

#endif  // REBOUND_RUNTIME_HTTP_SERVER_H_
