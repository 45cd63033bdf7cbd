// Where the benchmarks read the committed configuration (lexicon, rules, templates):
// $REBOUND_SOURCE_DIR, else the source tree the benchmark was built from.
#ifndef REBOUND_BENCH_BENCH_PATHS_H_
#define REBOUND_BENCH_BENCH_PATHS_H_

#include <cstdlib>
#include <string>

namespace rebound::bench {

inline std::string SourcePath(const std::string& relative) {
  const char* dir = std::getenv("REBOUND_SOURCE_DIR");
  return std::string(dir != nullptr ? dir : REBOUND_BENCH_SOURCE_DIR) + "/" + relative;
}

}  // namespace rebound::bench

#endif  // REBOUND_BENCH_BENCH_PATHS_H_
