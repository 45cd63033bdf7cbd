// The classifier's decision per response: the full assessment, and theme detection alone on
// texts of different languages and lengths, with the committed lexicon and rules.
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "bench_paths.h"
#include "benchmark/benchmark.h"
#include "classify.h"
#include "samples.h"
#include "themes.h"

namespace rebound::classifier {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796033600);

template <typename T>
const T& OrDie(const absl::StatusOr<T>& loaded, const char* what) {
  if (!loaded.ok()) {
    std::fprintf(stderr, "cannot load %s: %s\n", what,
                 std::string(loaded.status().message()).c_str());
    std::exit(1);
  }
  return *loaded;
}

const Lexicon& TheLexicon() {
  static const Lexicon* lexicon = new Lexicon(OrDie(
      Lexicon::FromFile(bench::SourcePath("services/classifier/config/lexicon.json")), "lexicon"));
  return *lexicon;
}

const ClassifierRules& TheRules() {
  static const ClassifierRules* rules = new ClassifierRules(
      OrDie(LoadRulesFile(bench::SourcePath("services/classifier/config/rules.json")), "rules"));
  return *rules;
}

void BM_AssessDetractor(benchmark::State& state) {
  const v1::SurveyResponse response = bench::SampleResponse(0, bench::SampleOptions{}, kNow);
  const std::optional<PreviousScore> previous =
      state.range(0) == 0 ? std::nullopt
                          : std::optional<PreviousScore>({8, kNow - absl::Hours(24 * 30)});
  for (auto _ : state) {
    v1::Assessment a = Assess(response, previous, TheRules(), TheLexicon(), kNow);
    benchmark::DoNotOptimize(a);
  }
}
// 0: first response of the respondent; 1: with a previous score (score-drop rule fires).
BENCHMARK(BM_AssessDetractor)->Arg(0)->Arg(1);

void BM_AssessPromoter(benchmark::State& state) {
  const v1::SurveyResponse response = bench::SampleResponse(1, bench::SampleOptions{}, kNow);
  for (auto _ : state) {
    v1::Assessment a = Assess(response, std::nullopt, TheRules(), TheLexicon(), kNow);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_AssessPromoter);

const char* const kTexts[] = {
    "The recruiter stopped answering my emails after the first week, and the timesheets were "
    "wrong twice in a row.",
    "Le prix a augmenté sans explication et personne ne répond au téléphone.",
    "Las facturas llegan tarde y con errores, y el servicio es muy lento.",
    "ok",
};

void BM_DetectTheme(benchmark::State& state) {
  const std::string text = kTexts[state.range(0)];
  for (auto _ : state) {
    v1::Theme theme = TheLexicon().Detect(text);
    benchmark::DoNotOptimize(theme);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
// English, French, Spanish, a two-letter answer.
BENCHMARK(BM_DetectTheme)->DenseRange(0, 3);

// The longest reason validation lets through (5,000 characters).
void BM_DetectThemeLongText(benchmark::State& state) {
  std::string text;
  while (text.size() < 5000) {
    text += kTexts[0];
    text += ' ';
  }
  text.resize(5000);
  for (auto _ : state) {
    v1::Theme theme = TheLexicon().Detect(text);
    benchmark::DoNotOptimize(theme);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
}
BENCHMARK(BM_DetectThemeLongText);

void BM_FoldAndTokenize(benchmark::State& state) {
  const std::string text = kTexts[1];
  for (auto _ : state) {
    auto words = Tokenize(FoldText(text));
    benchmark::DoNotOptimize(words);
  }
}
BENCHMARK(BM_FoldAndTokenize);

}  // namespace
}  // namespace rebound::classifier

BENCHMARK_MAIN();
