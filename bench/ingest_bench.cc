// Ingest's per-response work before the producer: the webhook JSON decode and the validation
// and normalisation every door runs.
#include <string>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "nlohmann/json.hpp"
#include "samples.h"
#include "validation.h"
#include "webhook.h"

namespace rebound::ingest {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796033600);

// A webhook body as a survey platform would post it, for sample `index`.
std::string WebhookBody(int64_t index) {
  const v1::SurveyResponse r = bench::SampleResponse(index, bench::SampleOptions{}, kNow);
  nlohmann::json owners = nlohmann::json::array();
  for (const v1::Owner& o : r.owner_chain()) {
    owners.push_back({{"name", o.name()}, {"role", o.role()}, {"email", o.email()}});
  }
  nlohmann::json body = {
      {"response_id", r.response_id()},
      {"submitted_at", "2026-11-30T10:00:00Z"},
      {"survey_id", r.survey_id()},
      {"score", r.score()},
      {"reason", r.reason()},
      {"do_differently", r.do_differently()},
      {"respondent",
       {{"respondent_id", r.respondent().respondent_id()},
        {"full_name", r.respondent().full_name()},
        {"email", r.respondent().email()},
        {"phone", r.respondent().phone()}}},
      {"account", {{"account_id", r.account().account_id()}, {"name", r.account().name()}}},
      {"owner_chain", owners},
      {"tags", {"Portland", "Industrial"}},
  };
  return body.dump();
}

void BM_NormalizeResponse(benchmark::State& state) {
  const v1::SurveyResponse response =
      bench::SampleResponse(state.range(0), bench::SampleOptions{}, kNow - absl::Minutes(1));
  const Limits limits;
  for (auto _ : state) {
    auto normalized = NormalizeResponse(response, limits, kNow);
    benchmark::DoNotOptimize(normalized);
  }
}
// 0: detractor with a long reason; 1: promoter with a short one.
BENCHMARK(BM_NormalizeResponse)->Arg(0)->Arg(1);

// An owner chain written as one string, which validation splits.
void BM_NormalizeResponseChainInOneLink(benchmark::State& state) {
  v1::SurveyResponse response =
      bench::SampleResponse(0, bench::SampleOptions{}, kNow - absl::Minutes(1));
  response.clear_owner_chain();
  response.add_owner_chain()->set_name("Director: Lee  Director › Owner  Three");
  const Limits limits;
  for (auto _ : state) {
    auto normalized = NormalizeResponse(response, limits, kNow);
    benchmark::DoNotOptimize(normalized);
  }
}
BENCHMARK(BM_NormalizeResponseChainInOneLink);

void BM_ResponseFromJson(benchmark::State& state) {
  const std::string body = WebhookBody(state.range(0));
  for (auto _ : state) {
    auto response = ResponseFromJson(body);
    benchmark::DoNotOptimize(response);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
}
BENCHMARK(BM_ResponseFromJson)->Arg(0)->Arg(1);

// The webhook path end to end: decode, then validate.
void BM_WebhookDecodeAndValidate(benchmark::State& state) {
  const std::string body = WebhookBody(0);
  const Limits limits;
  for (auto _ : state) {
    auto response = ResponseFromJson(body);
    if (response.ok()) {
      auto normalized = NormalizeResponse(*std::move(response), limits, kNow);
      benchmark::DoNotOptimize(normalized);
    }
  }
}
BENCHMARK(BM_WebhookDecodeAndValidate);

void BM_IsValidEmail(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(IsValidEmail("jordan.ellis@staffing.example.com"));
  }
}
BENCHMARK(BM_IsValidEmail);

void BM_CaseFold(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(CaseFold("Jordan.Ellis@Staffing.Example.COM"));
  }
}
BENCHMARK(BM_CaseFold);

}  // namespace
}  // namespace rebound::ingest

BENCHMARK_MAIN();
