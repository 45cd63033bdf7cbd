// rebound-bench-load: the load side of bench/run.
//
//   rebound-bench-load payloads --count N --out FILE ...
//       Writes the N sample responses as ResponseReceived records for a reference producer
//       (kcat -P -K <key delimiter> -D <record delimiter>): "<account id><key delim><bytes>
//       <record delim>" each.
//   rebound-bench-load ingest --address HOST:PORT --count N [--rate R] ...
//       Client-streams the N sample responses into IngestService.SubmitResponses, --batch per
//       stream, --streams streams at once; with --rate, each response is written at its slot of
//       a fixed schedule (open loop: a late stream does not slow the schedule down). Prints a
//       JSON summary on stdout.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "nlohmann/json.hpp"
#include "rebound/v1/ingest_service.grpc.pb.h"
#include "samples.h"

namespace rebound::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct CommonFlags {
  int64_t count = 10000;
  int64_t first = 0;
  SampleOptions samples;
};

void AddCommon(CLI::App* app, CommonFlags* flags) {
  app->add_option("--count", flags->count, "number of responses")->check(CLI::Range(1, 100000000));
  app->add_option("--first", flags->first, "index of the first response (ids follow on)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--run-id", flags->samples.run_id, "prefix of response and respondent ids");
  app->add_option("--detractor-every", flags->samples.detractor_every,
                  "every n-th response is a detractor (0: none)")
      ->check(CLI::NonNegativeNumber);
  app->add_option("--accounts", flags->samples.accounts, "distinct accounts (Kafka keys)")
      ->check(CLI::PositiveNumber);
}

// Turns "\t", "\n" and "\xNN" escapes into bytes, as kcat reads its delimiters.
std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    const char c = text[++i];
    if (c == 't') {
      out += '\t';
    } else if (c == 'n') {
      out += '\n';
    } else if (c == 'x' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

int WritePayloads(const CommonFlags& flags, const std::string& out_path,
                  const std::string& key_delimiter, const std::string& record_delimiter) {
  const std::string key_delim = Unescape(key_delimiter);
  const std::string record_delim = Unescape(record_delimiter);
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) {
    std::cerr << "rebound-bench-load: cannot write " << out_path << "\n";
    return 1;
  }
  const absl::Time now = absl::Now();
  int64_t bytes = 0;
  for (int64_t i = flags.first; i < flags.first + flags.count; ++i) {
    const v1::SurveyResponse response = SampleResponse(i, flags.samples, now);
    const std::string value = SampleEvent(response, now).SerializeAsString();
    // A record delimiter inside a payload would split it in two at the producer.
    if (value.find(record_delim) != std::string::npos ||
        response.account().account_id().find(key_delim) != std::string::npos) {
      std::cerr << "rebound-bench-load: record " << i
                << " contains a delimiter; choose a longer --record-delimiter\n";
      return 1;
    }
    out << response.account().account_id() << key_delim << value << record_delim;
    bytes += static_cast<int64_t>(value.size());
  }
  out.close();
  nlohmann::json summary = {{"count", flags.count},
                            {"value_bytes", bytes},
                            {"mean_value_bytes", static_cast<double>(bytes) / flags.count}};
  std::cout << summary.dump() << "\n";
  return out ? 0 : 1;
}

struct IngestFlags {
  std::string address = "127.0.0.1:50051";
  int batch = 100;
  int streams = 4;
  double rate = 0;  // responses per second; 0: as fast as acknowledged
  double timeout_seconds = 30;
  std::string times_out;
  std::string token;
};

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(p * values.size()));
  return values[index];
}

int RunIngest(const CommonFlags& flags, const IngestFlags& ingest) {
  grpc::ChannelArguments args;
  // Separate connections per stream would measure the client's TCP; one HTTP/2 connection is
  // what a real importer opens.
  auto channel =
      grpc::CreateCustomChannel(ingest.address, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "rebound-bench-load: cannot connect to " << ingest.address << "\n";
    return 1;
  }
  auto stub = v1::IngestService::NewStub(channel);

  // Built before the clock starts, so the figure is the server's, not the generator's.
  const absl::Time submitted = absl::Now();
  std::vector<v1::SubmitResponsesRequest> requests(static_cast<size_t>(flags.count));
  for (int64_t k = 0; k < flags.count; ++k) {
    *requests[k].mutable_response() = SampleResponse(flags.first + k, flags.samples, submitted);
  }
  const int64_t batches = (flags.count + ingest.batch - 1) / ingest.batch;

  std::atomic<int64_t> next_batch{0};
  std::atomic<int64_t> accepted{0}, duplicates{0}, rejected{0}, failed_items{0};
  std::atomic<int64_t> failed_streams{0};
  std::atomic<int64_t> max_lag_us{0};
  std::mutex mu;
  std::string first_error;
  std::string first_rejection;
  std::vector<double> batch_ms;
  std::vector<std::string> times;  // "<response id>\t<write ns>\t<ack ns>" for detractors
  batch_ms.reserve(static_cast<size_t>(batches));

  const Clock::time_point t0 = Clock::now();
  const int64_t start_unix_ns = absl::ToUnixNanos(absl::Now());
  auto worker = [&] {
    for (int64_t b = next_batch++; b < batches; b = next_batch++) {
      const int64_t begin = b * ingest.batch;
      const int64_t end = std::min(flags.count, begin + ingest.batch);
      grpc::ClientContext context;
      context.set_deadline(
          std::chrono::system_clock::now() +
          std::chrono::milliseconds(static_cast<int64_t>(ingest.timeout_seconds * 1000)));
      if (!ingest.token.empty()) {
        context.AddMetadata("authorization", "Bearer " + ingest.token);
      }
      v1::SubmitResponsesResponse reply;
      std::unique_ptr<grpc::ClientWriter<v1::SubmitResponsesRequest>> writer =
          stub->SubmitResponses(&context, &reply);
      Clock::time_point batch_start;
      std::vector<int64_t> write_ns(static_cast<size_t>(end - begin));
      bool broken = false;
      for (int64_t k = begin; k < end; ++k) {
        if (ingest.rate > 0) {
          const auto slot = t0 + std::chrono::microseconds(static_cast<int64_t>(
                                     1e6 * static_cast<double>(k) / ingest.rate));
          std::this_thread::sleep_until(slot);
          const int64_t lag =
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - slot).count();
          int64_t seen = max_lag_us.load();
          while (lag > seen && !max_lag_us.compare_exchange_weak(seen, lag)) {
          }
        }
        if (k == begin) {
          batch_start = Clock::now();
        }
        requests[k].set_item(k - begin);
        write_ns[k - begin] = absl::ToUnixNanos(absl::Now());
        if (!writer->Write(requests[k])) {
          broken = true;
          break;
        }
      }
      if (!broken) {
        writer->WritesDone();
      }
      const grpc::Status status = writer->Finish();
      const int64_t ack_ns = absl::ToUnixNanos(absl::Now());
      const double ms =
          std::chrono::duration<double, std::milli>(Clock::now() - batch_start).count();
      std::lock_guard<std::mutex> lock(mu);
      if (!status.ok()) {
        ++failed_streams;
        failed_items += end - begin;
        if (first_error.empty()) {
          first_error =
              absl::StrCat(static_cast<int>(status.error_code()), ": ", status.error_message());
        }
        continue;
      }
      accepted += reply.accepted();
      duplicates += reply.duplicates();
      rejected += reply.rejected();
      if (reply.rejected() > 0 && first_rejection.empty()) {
        for (const v1::SubmitResult& r : reply.results()) {
          if (r.outcome() == v1::SUBMIT_OUTCOME_REJECTED) {
            first_rejection = absl::StrCat(r.error_field(), " ", r.error_message());
            break;
          }
        }
      }
      batch_ms.push_back(ms);
      if (!ingest.times_out.empty()) {
        for (int64_t k = begin; k < end; ++k) {
          if (IsDetractor(flags.first + k, flags.samples)) {
            times.push_back(absl::StrCat(requests[k].response().response_id(), "\t",
                                         write_ns[k - begin], "\t", ack_ns));
          }
        }
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < ingest.streams; ++t) {
    threads.emplace_back(worker);
  }
  for (std::thread& t : threads) {
    t.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();

  if (!ingest.times_out.empty()) {
    std::ofstream out(ingest.times_out, std::ios::trunc);
    for (const std::string& line : times) {
      out << line << "\n";
    }
  }
  nlohmann::json summary = {
      {"requested", flags.count},
      {"accepted", accepted.load()},
      {"duplicates", duplicates.load()},
      {"rejected", rejected.load()},
      {"failed_items", failed_items.load()},
      {"failed_streams", failed_streams.load()},
      {"first_error", first_error},
      {"first_rejection", first_rejection},
      {"seconds", seconds},
      {"start_unix_ns", start_unix_ns},
      {"acked_per_second", static_cast<double>(accepted + duplicates) / seconds},
      {"target_rate", ingest.rate},
      {"max_schedule_lag_ms", static_cast<double>(max_lag_us.load()) / 1000.0},
      {"batch", ingest.batch},
      {"streams", ingest.streams},
      {"stream_ms_p50", Percentile(batch_ms, 0.50)},
      {"stream_ms_p95", Percentile(batch_ms, 0.95)},
      {"stream_ms_p99", Percentile(batch_ms, 0.99)},
  };
  std::cout << summary.dump() << "\n";
  return failed_streams.load() == 0 ? 0 : 3;
}

}  // namespace
}  // namespace rebound::bench

int main(int argc, char** argv) {
  using namespace rebound::bench;
  CLI::App app(
      "Load client of bench/run: feeds sample survey responses to ingest or to a file "
      "for a reference Kafka producer.");
  app.require_subcommand(1);

  CommonFlags payload_flags;
  std::string out_path;
  std::string key_delimiter = "\\t";
  std::string record_delimiter = "\\n--rebound-bench-record--\\n";
  CLI::App* payloads = app.add_subcommand("payloads", "write ResponseReceived records to a file");
  AddCommon(payloads, &payload_flags);
  payloads->add_option("--out", out_path, "output file")->required();
  payloads->add_option("--key-delimiter", key_delimiter, "between key and value (\\t, \\xNN)");
  payloads->add_option("--record-delimiter", record_delimiter, "after each record");

  CommonFlags ingest_common;
  IngestFlags ingest_flags;
  CLI::App* ingest = app.add_subcommand("ingest", "client-stream responses into ingest");
  AddCommon(ingest, &ingest_common);
  ingest->add_option("--address", ingest_flags.address, "ingest gRPC address")
      ->envname("REBOUND_INGEST_ADDRESS");
  ingest->add_option("--batch", ingest_flags.batch, "responses per stream")
      ->check(CLI::Range(1, 100000));
  ingest->add_option("--streams", ingest_flags.streams, "streams open at once")
      ->check(CLI::Range(1, 256));
  ingest->add_option("--rate", ingest_flags.rate, "responses per second (0: unpaced)")
      ->check(CLI::NonNegativeNumber);
  ingest->add_option("--timeout", ingest_flags.timeout_seconds, "deadline of one stream, s")
      ->check(CLI::PositiveNumber);
  ingest->add_option("--times-out", ingest_flags.times_out,
                     "write '<response id> <write ns> <ack ns>' of detractors here");
  ingest->add_option("--token", ingest_flags.token, "bearer token, when ingest needs one")
      ->envname("REBOUND_API_TOKEN");

  CLI11_PARSE(app, argc, argv);
  if (payloads->parsed()) {
    return WritePayloads(payload_flags, out_path, key_delimiter, record_delimiter);
  }
  return RunIngest(ingest_common, ingest_flags);
}
