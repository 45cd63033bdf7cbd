// Signing and verifying one-click link tokens: the notifier signs five per alert, the case
// service verifies one per click.
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "rebound/token/token.h"

namespace rebound::token {
namespace {

LinkSigner Signer() {
  return LinkSigner({"2026-12", std::string(48, 'k')}, {{"2026-11", std::string(48, 'p')}});
}

LinkClaims Claims() { return {"case-0123456789abcdef0123", 4, absl::Now() + absl::Hours(24 * 30)}; }

void BM_Sign(benchmark::State& state) {
  const LinkSigner signer = Signer();
  const LinkClaims claims = Claims();
  for (auto _ : state) {
    benchmark::DoNotOptimize(signer.Sign(claims));
  }
}
BENCHMARK(BM_Sign);

void BM_Verify(benchmark::State& state) {
  const LinkSigner signer = Signer();
  const std::string token = signer.Sign(Claims());
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    auto claims = signer.Verify(token, now);
    benchmark::DoNotOptimize(claims);
  }
}
BENCHMARK(BM_Verify);

// A token of the previous key: the verifier tries the current key first.
void BM_VerifyPreviousKey(benchmark::State& state) {
  const LinkSigner old_signer({"2026-11", std::string(48, 'p')});
  const std::string token = old_signer.Sign(Claims());
  const LinkSigner signer = Signer();
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    auto claims = signer.Verify(token, now);
    benchmark::DoNotOptimize(claims);
  }
}
BENCHMARK(BM_VerifyPreviousKey);

// A forged token: rejecting it must cost no more than accepting a good one.
void BM_VerifyForged(benchmark::State& state) {
  const LinkSigner signer = Signer();
  std::string token = signer.Sign(Claims());
  token.back() = token.back() == 'A' ? 'B' : 'A';
  const absl::Time now = absl::Now();
  for (auto _ : state) {
    auto claims = signer.Verify(token, now);
    benchmark::DoNotOptimize(claims);
  }
}
BENCHMARK(BM_VerifyForged);

void BM_HmacSha256(benchmark::State& state) {
  const std::string key(32, 'k');
  const std::string body(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    benchmark::DoNotOptimize(HmacSha256(key, body));
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
// A webhook body is a few hundred bytes to a few kilobytes.
BENCHMARK(BM_HmacSha256)->Arg(512)->Arg(4096);

}  // namespace
}  // namespace rebound::token

BENCHMARK_MAIN();
