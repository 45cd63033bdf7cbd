#include "rebound/runtime/http_server.h"

#include <httplib.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "prometheus/text_serializer.h"
#include "rebound/runtime/log.h"

namespace rebound::runtime {
namespace {

// Webhook bodies and form posts are small; anything larger is refused before it is read.
constexpr size_t kMaxBodyBytes = 4 << 20;

struct Route {
  std::string method;
  std::string path;  // without the trailing "*" for a prefix route
  bool prefix = false;
  HttpHandler handler;
};

HttpRequest ToRequest(const httplib::Request& in) {
  HttpRequest out;
  out.method = in.method;
  out.path = in.path;
  out.body = in.body;
  out.remote_addr = in.remote_addr;
  for (const auto& [name, value] : in.headers) {
    out.headers.emplace(absl::AsciiStrToLower(name), value);
  }
  // The first value wins when a parameter repeats.
  for (const auto& [name, value] : in.params) {
    out.query.emplace(name, value);
  }
  std::string content_type = absl::AsciiStrToLower(in.get_header_value("Content-Type"));
  if (in.method == "POST" && absl::StartsWith(content_type, "application/x-www-form-urlencoded")) {
    httplib::Params form;
    httplib::detail::parse_query_text(in.body, form);
    for (const auto& [name, value] : form) {
      out.query.emplace(name, value);
    }
  }
  return out;
}

HttpResponse TextResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

void WriteResponse(const HttpResponse& in, httplib::Response& out) {
  out.status = in.status;
  for (const auto& [name, value] : in.headers) {
    out.set_header(name, value);
  }
  out.set_content(in.body, in.content_type);
}

}  // namespace

struct HttpServer::Impl {
  std::shared_ptr<prometheus::Registry> registry;
  std::function<absl::Status()> ready;
  std::vector<Route> routes;
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::atomic<bool> loop_ended{false};
  std::mutex stop_mu;

  // Exact routes win over prefix routes; among prefixes the longest wins.
  const Route* Find(const std::string& method, const std::string& path, bool* path_known) const {
    const Route* best = nullptr;
    *path_known = false;
    for (const Route& route : routes) {
      bool matches = route.prefix ? absl::StartsWith(path, route.path) : path == route.path;
      if (!matches) {
        continue;
      }
      *path_known = true;
      if (route.method != method) {
        continue;
      }
      if (best == nullptr || (!route.prefix && best->prefix) ||
          (route.prefix && best->prefix && route.path.size() > best->path.size())) {
        best = &route;
      }
    }
    return best;
  }

  void Dispatch(const httplib::Request& req, httplib::Response& res) const {
    // HEAD is answered like GET without a body (httplib drops the body).
    std::string method = req.method == "HEAD" ? "GET" : req.method;
    bool path_known = false;
    const Route* route = Find(method, req.path, &path_known);
    if (route == nullptr) {
      res.status = path_known ? 405 : 404;
      res.set_content(path_known ? "method not allowed\n" : "not found\n",
                      "text/plain; charset=utf-8");
      return;
    }
    WriteResponse(route->handler(ToRequest(req)), res);
  }
};

HttpServer::HttpServer(std::shared_ptr<prometheus::Registry> registry,
                       std::function<absl::Status()> ready)
    : impl_(std::make_unique<Impl>()) {
  impl_->registry = std::move(registry);
  impl_->ready = std::move(ready);

  Handle("GET", "/healthz", [](const HttpRequest&) { return TextResponse(200, "ok\n"); });
  Handle("GET", "/readyz", [impl = impl_.get()](const HttpRequest&) {
    absl::Status status = impl->ready ? impl->ready() : absl::OkStatus();
    if (status.ok()) {
      return TextResponse(200, "ready\n");
    }
    return TextResponse(503, absl::StrCat("not ready: ", std::string(status.message()), "\n"));
  });
  Handle("GET", "/metrics", [impl = impl_.get()](const HttpRequest&) {
    HttpResponse response;
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    if (impl->registry) {
      prometheus::TextSerializer serializer;
      response.body = serializer.Serialize(impl->registry->Collect());
    }
    return response;
  });
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Handle(std::string method, std::string path, HttpHandler handler) {
  Route route;
  route.method = absl::AsciiStrToUpper(method);
  route.handler = std::move(handler);
  if (!path.empty() && path.back() == '*') {
    path.pop_back();
    route.prefix = true;
  }
  route.path = std::move(path);
  impl_->routes.push_back(std::move(route));
}

absl::Status HttpServer::Start(const std::string& address) {
  size_t colon = address.rfind(':');
  int port = -1;
  std::string host = colon == std::string::npos ? "" : address.substr(0, colon);
  if (colon != std::string::npos) {
    const char* begin = address.data() + colon + 1;
    const char* end = address.data() + address.size();
    auto [last, ec] = std::from_chars(begin, end, port);
    if (ec != std::errc() || last != end) {
      port = -1;
    }
  }
  if (host.empty() || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("HTTP address '", address, "' is not host:port"));
  }
  // httplib wants IPv6 hosts without brackets.
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }

  auto dispatch = [impl = impl_.get()](const httplib::Request& req, httplib::Response& res) {
    impl->Dispatch(req, res);
  };
  // Every path goes through our own table so exact and prefix routes behave the same for all
  // methods.
  const std::string any = ".*";
  impl_->server.Get(any, dispatch);
  impl_->server.Post(any, dispatch);
  impl_->server.Put(any, dispatch);
  impl_->server.Patch(any, dispatch);
  impl_->server.Delete(any, dispatch);
  impl_->server.Options(any, dispatch);
  impl_->server.set_payload_max_length(kMaxBodyBytes);
  impl_->server.set_read_timeout(10, 0);
  impl_->server.set_write_timeout(10, 0);
  impl_->server.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
        Logger("http")->error("handler for {} {} threw", req.method, req.path);
        res.status = 500;
        res.set_content("internal error\n", "text/plain; charset=utf-8");
      });

  if (port == 0) {
    port = impl_->server.bind_to_any_port(host);
    if (port < 0) {
      return absl::UnavailableError(absl::StrCat("cannot bind an HTTP port on ", host));
    }
  } else if (!impl_->server.bind_to_port(host, port)) {
    return absl::UnavailableError(absl::StrCat("cannot bind HTTP address ", address));
  }
  impl_->port = port;
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->server.listen_after_bind();
    impl->loop_ended = true;
  });
  return absl::OkStatus();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::Stop() {
  std::lock_guard<std::mutex> lock(impl_->stop_mu);
  if (!impl_->thread.joinable()) {
    return;
  }
  // stop() only works once the accept loop runs; wait for it so an early Stop() is not lost.
  while (!impl_->server.is_running() && !impl_->loop_ended) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  impl_->server.stop();
  impl_->thread.join();
}

}  // namespace rebound::runtime
