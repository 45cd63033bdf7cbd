// A gRPC server with what every Rebound server has: the standard health service, server
// reflection, optional TLS, and a bearer-token check for handlers. Status conversion from
// absl::Status happens once, at the handler, through ToGrpcStatus().
#ifndef REBOUND_RUNTIME_GRPC_SERVER_H_
#define REBOUND_RUNTIME_GRPC_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace rebound::runtime {

struct GrpcServerOptions {
  std::string address = "0.0.0.0:50051";  // port 0 picks a free one
  std::string tls_cert_file;              // PEM; TLS is on when both files are set
  std::string tls_key_file;
};

class GrpcServer {
 public:
  // Builds and starts the server with `services` (not owned; they must outlive the server),
  // plus health checking and reflection. Health starts NOT_SERVING until SetServing(true).
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const GrpcServerOptions& options, const std::vector<grpc::Service*>& services);
  ~GrpcServer();

  // The bound port (useful when the address asked for port 0).
  int port() const { return port_; }
  // Sets the overall health status and that of every registered service name.
  void SetServing(bool serving);
  // Stops taking new calls and waits at most `deadline` for calls in flight (and open
  // streams, which are cancelled at the deadline).
  void Shutdown(absl::Duration deadline);

 private:
  GrpcServer() = default;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> service_names_;
  int port_ = 0;
};

// Converts a status code and message to gRPC's.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Checks "authorization: Bearer <token>" on `context`. OK when `token` is empty (auth off).
// UNAUTHENTICATED when the header is missing or wrong. Compares in constant time.
absl::Status CheckBearerToken(const grpc::ServerContext& context, const std::string& token);

}  // namespace rebound::runtime

#endif  // REBOUND_RUNTIME_GRPC_SERVER_H_
