// Survey responses for benchmarks and load runs: deterministic, realistic in size, every one
// with its own respondent (so each detractor opens its own case) and an owner chain with
// addresses (so each alert has somebody to go to).
#ifndef REBOUND_BENCH_SAMPLES_H_
#define REBOUND_BENCH_SAMPLES_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "rebound/v1/events.pb.h"
#include "rebound/v1/survey.pb.h"

namespace rebound::bench {

struct SampleOptions {
  // Distinguishes runs: part of every response id and respondent id.
  std::string run_id = "bench";
  // Every n-th response (n >= 1) is a detractor (score 0-6); the others are passives and
  // promoters. 10 gives the ~10% detractors of a typical wave.
  int detractor_every = 10;
  // Number of distinct accounts the responses spread over (the Kafka key).
  int accounts = 50;
};

// True when response `index` of a run is a detractor.
bool IsDetractor(int64_t index, const SampleOptions& options);

// The response id of response `index`: "<run id>-<index>".
std::string SampleResponseId(int64_t index, const SampleOptions& options);

// Response `index` of a run, as a survey platform would send it (no received_at or source).
v1::SurveyResponse SampleResponse(int64_t index, const SampleOptions& options,
                                  absl::Time submitted_at);

// The event ingest publishes for `response`: the response normalised and stamped, wrapped with
// an event id. Used as the reference producer's payload and for encode/decode benchmarks.
v1::ResponseReceived SampleEvent(const v1::SurveyResponse& response, absl::Time received_at);

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_SAMPLES_H_
