// The respondent's previous score and the daily category counters, both kept in Redis and
// updated in one Lua script per response, so that each update is atomic and a redelivered
// response changes nothing twice.
//
// Keys (all under the configured prefix):
//   <prefix>respondent:<respondent_key>      hash last_score, last_at, last_response_id,
//                                            prev_score, prev_at, prev_response_id
//                                            (times in Unix milliseconds)
//   <prefix>stats:categories:<YYYY-MM-DD>    hash promoters, passives, detractors (UTC day of
//                                            the response's base time, see classify.h)
//   <prefix>classified:<response_id>         marker that the response was counted (35 days)
//
// Rules of the script:
//   - A response whose id is already last_response_id (a redelivery after an aborted
//     transaction) gets prev_* as its previous score and changes nothing.
//   - A response at or after last_at moves last_* to prev_* and becomes last_*; its previous
//     score is the old last_*.
//   - An older response arriving late does not replace the newer last score; its previous
//     score is prev_* when that is older than it (and not itself), else none.
//   - The category counter is incremented only when SET NX of the classified marker succeeds.
// NOTE: the hash keeps two scores only, so when two responses of one respondent sit in the same
// aborted batch, the earlier one's previous score is lost on redelivery (it is then reported as
// having none). Keeping a longer history per respondent would close this gap.
#ifndef REBOUND_SERVICES_CLASSIFIER_PREVIOUS_SCORE_H_
#define REBOUND_SERVICES_CLASSIFIER_PREVIOUS_SCORE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "classify.h"
#include "rebound/redis/redis.h"
#include "rebound/v1/survey.pb.h"

namespace rebound::classifier {

// What one response contributes to the respondent history and the counters.
struct ScoreUpdate {
  std::string response_id{};
  std::string respondent_key{};  // empty: no history, only the counter
  int score = 0;
  absl::Time at{};  // the response's base time
  v1::Category category = v1::CATEGORY_UNSPECIFIED;
};

// Records a response and returns the respondent's previous score (nullopt when unknown).
class ScoreStore {
 public:
  virtual ~ScoreStore() = default;
  virtual absl::StatusOr<std::optional<PreviousScore>> Record(const ScoreUpdate& update) = 0;
};

// The Redis implementation.
class RedisScoreStore : public ScoreStore {
 public:
  RedisScoreStore(redis::Client& client, std::string prefix,
                  absl::Duration counted_ttl = absl::Hours(24 * 35));

  absl::StatusOr<std::optional<PreviousScore>> Record(const ScoreUpdate& update) override;

  // The Lua source, exposed for the tests.
  static const char* LuaSource();

 private:
  redis::Client& client_;
  std::string prefix_;
  absl::Duration counted_ttl_;
  redis::Script script_;
};

}  // namespace rebound::classifier

#endif  // REBOUND_SERVICES_CLASSIFIER_PREVIOUS_SCORE_H_
