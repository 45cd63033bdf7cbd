// Protobuf encode and decode of ResponseReceived: ingest encodes one per response, the
// classifier decodes each of them.
#include <string>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "rebound/v1/events.pb.h"
#include "samples.h"

namespace rebound::bench {
namespace {

v1::ResponseReceived Event(int64_t index) {
  const absl::Time now = absl::Now();
  return SampleEvent(SampleResponse(index, SampleOptions{}, now), now);
}

void BM_EncodeResponseReceived(benchmark::State& state) {
  const v1::ResponseReceived event = Event(state.range(0));
  std::string out;
  for (auto _ : state) {
    out.clear();
    event.SerializeToString(&out);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(out.size()));
  state.counters["bytes"] = static_cast<double>(out.size());
}
// 0 is a detractor with a long reason, 1 a promoter with a short one.
BENCHMARK(BM_EncodeResponseReceived)->Arg(0)->Arg(1);

void BM_DecodeResponseReceived(benchmark::State& state) {
  const std::string bytes = Event(state.range(0)).SerializeAsString();
  for (auto _ : state) {
    v1::ResponseReceived event;
    bool ok = event.ParseFromString(bytes);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(event);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeResponseReceived)->Arg(0)->Arg(1);

// The message reused across decodes, as a consumer loop can do it.
void BM_DecodeResponseReceivedReused(benchmark::State& state) {
  const std::string bytes = Event(0).SerializeAsString();
  v1::ResponseReceived event;
  for (auto _ : state) {
    bool ok = event.ParseFromString(bytes);
    benchmark::DoNotOptimize(ok);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes.size()));
}
BENCHMARK(BM_DecodeResponseReceivedReused);

}  // namespace
}  // namespace rebound::bench

BENCHMARK_MAIN();
