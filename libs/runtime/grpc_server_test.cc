#include "rebound/runtime/grpc_server.h"

#include <future>

#include "gmock/gmock.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "rebound/v1/ingest_service.grpc.pb.h"

namespace rebound::runtime {
namespace {

// Answers SubmitResponse only with the right bearer token; the streaming RPC stays
// unimplemented.
class TokenCheckingIngest : public rebound::v1::IngestService::Service {
 public:
  grpc::Status SubmitResponse(grpc::ServerContext* context,
                              const rebound::v1::SubmitResponseRequest*,
                              rebound::v1::SubmitResponseResponse*) override {
    return ToGrpcStatus(CheckBearerToken(*context, "s3cret-token"));
  }
};

GrpcServerOptions LocalOptions() {
  GrpcServerOptions options;
  options.address = "127.0.0.1:0";
  return options;
}

std::unique_ptr<grpc::ClientContext> Context() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  return context;
}

// grpc.health.v1.Health/Check through the generic stub, with hand-encoded protobuf: the request
// is field 1 (service name), the response field 1 (status enum: 1 SERVING, 2 NOT_SERVING).
int HealthStatus(const std::shared_ptr<grpc::Channel>& channel, const std::string& service) {
  std::string request_bytes;
  if (!service.empty()) {
    request_bytes.push_back(0x0a);
    request_bytes.push_back(static_cast<char>(service.size()));
    request_bytes += service;
  }
  grpc::Slice slice(request_bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  grpc::GenericStub stub(channel);
  auto context = Context();
  std::promise<grpc::Status> done;
  stub.UnaryCall(context.get(), "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                 &response, [&](grpc::Status status) { done.set_value(status); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return -static_cast<int>(status.error_code());
  }
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes.size() == 2 && bytes[0] == 0x08 ? bytes[1] : 0;
}

TEST(GrpcServerTest, HealthFollowsSetServingAndShutdownCompletes) {
  TokenCheckingIngest service;
  auto server = GrpcServer::Start(LocalOptions(), {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  ASSERT_TRUE(
      channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)));

  constexpr int kServing = 1;
  constexpr int kNotServing = 2;
  EXPECT_EQ(HealthStatus(channel, ""), kNotServing);
  EXPECT_EQ(HealthStatus(channel, "rebound.v1.IngestService"), kNotServing);
  (*server)->SetServing(true);
  EXPECT_EQ(HealthStatus(channel, ""), kServing);
  EXPECT_EQ(HealthStatus(channel, "rebound.v1.IngestService"), kServing);
  // Unknown services are NOT_FOUND, so the per-service names really came from registration.
  EXPECT_EQ(HealthStatus(channel, "rebound.v1.Nope"), -grpc::StatusCode::NOT_FOUND);

  auto start = absl::Now();
  (*server)->Shutdown(absl::Seconds(2));
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(GrpcServerTest, BearerTokenAndUnimplementedMethods) {
  TokenCheckingIngest service;
  auto server = GrpcServer::Start(LocalOptions(), {&service});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()),
                                     grpc::InsecureChannelCredentials());
  auto stub = rebound::v1::IngestService::NewStub(channel);
  rebound::v1::SubmitResponseRequest request;
  rebound::v1::SubmitResponseResponse response;

  auto missing = Context();
  EXPECT_EQ(stub->SubmitResponse(missing.get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  auto wrong = Context();
  wrong->AddMetadata("authorization", "Bearer s3cret-tokeX");
  EXPECT_EQ(stub->SubmitResponse(wrong.get(), request, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  auto right = Context();
  right->AddMetadata("authorization", "Bearer s3cret-token");
  EXPECT_TRUE(stub->SubmitResponse(right.get(), request, &response).ok());

  auto streaming = Context();
  rebound::v1::SubmitResponsesResponse summary;
  auto writer = stub->SubmitResponses(streaming.get(), &summary);
  writer->WritesDone();
  EXPECT_EQ(writer->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
}

TEST(GrpcServerTest, TlsNeedsReadableFiles) {
  auto server = GrpcServer::Start(
      {.address = "127.0.0.1:0", .tls_cert_file = "/nonexistent.pem", .tls_key_file = "/k.pem"},
      {});
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ToGrpcStatusTest, MapsCodeAndMessage) {
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status status = ToGrpcStatus(absl::FailedPreconditionError("case is closed"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(status.error_message(), "case is closed");
  EXPECT_EQ(ToGrpcStatus(absl::UnauthenticatedError("x")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ToGrpcStatus(absl::ResourceExhaustedError("x")).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

}  // namespace
}  // namespace rebound::runtime
