#include "rebound/runtime/grpc_server.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/impl/server_builder_option.h"
#include "grpcpp/impl/server_builder_plugin.h"
#include "grpcpp/impl/server_initializer.h"
#include "rebound/runtime/log.h"
#include "rebound/token/token.h"

namespace rebound::runtime {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read '", path, "'"));
  }
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

// grpc::Service does not expose its name, but a builder plugin sees the names of everything
// registered once the server has started. This one copies them out.
class ServiceNamesPlugin : public grpc::ServerBuilderPlugin {
 public:
  explicit ServiceNamesPlugin(std::vector<std::string>* names) : names_(names) {}
  std::string name() override { return "rebound_service_names"; }
  void InitServer(grpc::ServerInitializer*) override {}
  void Finish(grpc::ServerInitializer* initializer) override {
    if (const std::vector<std::string>* list = initializer->GetServiceList()) {
      *names_ = *list;
    }
  }
  void ChangeArguments(const std::string&, void*) override {}

 private:
  std::vector<std::string>* names_;
};

class ServiceNamesOption : public grpc::ServerBuilderOption {
 public:
  explicit ServiceNamesOption(std::vector<std::string>* names) : names_(names) {}
  void UpdateArguments(grpc::ChannelArguments*) override {}
  void UpdatePlugins(std::vector<std::unique_ptr<grpc::ServerBuilderPlugin>>* plugins) override {
    plugins->push_back(std::make_unique<ServiceNamesPlugin>(names_));
  }

 private:
  std::vector<std::string>* names_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcServer>> GrpcServer::Start(
    const GrpcServerOptions& options, const std::vector<grpc::Service*>& services) {
  // Both must happen before the builder exists: the builder picks them up when constructed.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  std::shared_ptr<grpc::ServerCredentials> credentials;
  if (!options.tls_cert_file.empty() && !options.tls_key_file.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file);
    if (!cert.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS certificate: ", std::string(cert.status().message())));
    }
    absl::StatusOr<std::string> key = ReadFile(options.tls_key_file);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TLS key: ", std::string(key.status().message())));
    }
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({*key, *cert});
    credentials = grpc::SslServerCredentials(ssl);
  } else {
    credentials = grpc::InsecureServerCredentials();
  }

  auto server = std::unique_ptr<GrpcServer>(new GrpcServer());
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.address, credentials, &server->port_);
  builder.SetOption(std::make_unique<ServiceNamesOption>(&server->service_names_));
  for (grpc::Service* service : services) {
    builder.RegisterService(service);
  }
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot start the gRPC server on ", options.address));
  }

  server->SetServing(false);
  Logger("grpc")->info("gRPC server listening on port {} ({})", server->port_,
                       options.tls_cert_file.empty() ? "plaintext" : "TLS");
  return server;
}

GrpcServer::~GrpcServer() {
  if (server_ != nullptr) {
    Shutdown(absl::ZeroDuration());
  }
}

void GrpcServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) {
    return;
  }
  health->SetServingStatus(serving);
  for (const std::string& name : service_names_) {
    health->SetServingStatus(name, serving);
  }
}

void GrpcServer::Shutdown(absl::Duration deadline) {
  if (server_ == nullptr) {
    return;
  }
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + deadline));
  server_->Wait();
  server_.reset();
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  // absl::StatusCode and grpc::StatusCode share their numbering.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

absl::Status CheckBearerToken(const grpc::ServerContext& context, const std::string& token) {
  if (token.empty()) {
    return absl::OkStatus();
  }
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing authorization metadata (Bearer token)");
  }
  std::string_view value(it->second.data(), it->second.size());
  constexpr std::string_view kScheme = "Bearer ";
  if (value.size() < kScheme.size() ||
      !absl::EqualsIgnoreCase(absl::string_view(value.data(), kScheme.size()),
                              absl::string_view(kScheme.data(), kScheme.size()))) {
    return absl::UnauthenticatedError("authorization metadata is not a Bearer token");
  }
  if (!token::ConstantTimeEquals(value.substr(kScheme.size()), token)) {
    return absl::UnauthenticatedError("invalid API token");
  }
  return absl::OkStatus();
}

}  // namespace rebound::runtime
