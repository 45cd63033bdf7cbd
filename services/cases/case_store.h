// Cases in Redis. Every change runs one Lua script that checks the case's version, writes the
// case, moves it between indexes and appends its event to the outbox and the change stream, so
// a change and its event are never separated.
//
// Keys (all under the configured prefix p):
//   p case:<id>            hash: v (version), pb (the Case proto, stored once), odue (due time
//                          in ms that already got its overdue event) and ix, the indexed values
//                          \x1e-joined (owner and tags lower case, tags \x1f-joined; account;
//                          priority and resolution slugs; closed 0/1; respondent key), which the
//                          script needs to take the case out of its old indexes
//   p idx:open:opened      zset of open cases by opening time (ms)
//   p idx:open:due         zset of open cases by due time (ms)
//   p idx:pending          zset of open cases awaiting a first action whose due time has no
//                          overdue event yet, by due time: what the overdue scheduler scans
//   p idx:owner:<owner>, p idx:account:<id>, p idx:tag:<tag>, p idx:priority:<slug>,
//   p idx:resolution:<slug>
//                          sets of open cases
//   p idx:closed:opened, p idx:closed:due, p idx:closed:at
//                          zsets of closed cases (by opening, due and closing time); entries of
//                          expired cases are removed lazily (on listing) and by Purge()
//   p resp:<respondent key> the open case of a respondent
//   p alias:<case id>       a response that joined another case -> that case (so a redelivery
//                           of the joining detractor opens nothing)
//   p outbox               stream of CaseEvent records waiting to be published
//   p changes              capped stream of CaseEventSummary records for WatchCases
//
// The keys a script touches are derived inside it, so this layout assumes a single Redis (or a
// Redis Cluster with one slot for the prefix, which it does not arrange today).
#ifndef REBOUND_SERVICES_CASES_CASE_STORE_H_
#define REBOUND_SERVICES_CASES_CASE_STORE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/redis/redis.h"
#include "rebound/v1/case.pb.h"
#include "rebound/v1/case_service.pb.h"
#include "rebound/v1/events.pb.h"
#include "transitions.h"

namespace rebound::cases {

struct StoreOptions {
  std::string prefix = "rebound:";
  // How long a closed case stays readable before Redis expires it.
  absl::Duration closed_retention = absl::Hours(24 * 30);
  // Approximate cap of the change stream (XADD MAXLEN ~).
  int64_t changes_max_len = 100000;
};

// A case as stored, with the store-only bookkeeping.
struct StoredCase {
  v1::Case value;
  // Due time (ms) that already got its overdue event; 0 for none.
  int64_t notified_due_ms = 0;
};

enum class IntakeResult { kOpened, kJoined, kDuplicate };

struct IntakeOutcome {
  IntakeResult result = IntakeResult::kDuplicate;
  std::string case_id;
};

// Computes a change from the case as currently stored.
using Mutation = std::function<absl::StatusOr<Transition>(const StoredCase&)>;

class CaseStore {
 public:
  CaseStore(redis::Client& client, StoreOptions options);

  // Opens a case for `detractor`, or joins the respondent's open case, or does nothing when the
  // detractor was seen before.
  absl::StatusOr<IntakeOutcome> Intake(const v1::DetractorIdentified& detractor, absl::Time now);

  // NOT_FOUND for an unknown (or expired) case.
  absl::StatusOr<StoredCase> Get(const std::string& case_id);

  // Applies `mutation` atomically. With `expected_version` non-zero the change applies only at
  // that version (FAILED_PRECONDITION otherwise); with zero a concurrent change is retried.
  absl::StatusOr<Transition> Mutate(const std::string& case_id, int64_t expected_version,
                                    const Mutation& mutation);

  // Emits the overdue event of up to `limit` cases whose due time passed without action. Safe
  // with several replicas: the version check lets one of them win. Returns events emitted.
  absl::StatusOr<int> EmitOverdue(absl::Time now, int limit);

  // Drops closed-index entries of cases that expired. Returns entries removed.
  absl::StatusOr<int> Purge(absl::Time now, int limit);

  absl::StatusOr<v1::ListCasesResponse> List(const v1::ListCasesRequest& request, absl::Time now);

  absl::StatusOr<v1::GetStatsResponse> Stats(const v1::GetStatsRequest& request, absl::Time now);

  std::string Key(std::string_view suffix) const;
  std::string OutboxKey() const { return Key("outbox"); }
  std::string ChangesKey() const { return Key("changes"); }
  redis::Client& client() { return client_; }

 private:
  struct WriteResult {
    enum class Kind { kOk, kVersion, kDuplicate, kJoin, kNoop } kind = Kind::kOk;
    std::string detail;  // stream id (kOk), current version (kVersion), case id (kJoin)
  };
  absl::StatusOr<WriteResult> Write(std::string_view mode, int64_t expected_version,
                                    int64_t notified_due_ms, const Transition& transition,
                                    const std::string& alias);
  absl::StatusOr<std::vector<std::optional<StoredCase>>> GetMany(
      const std::vector<std::string>& ids);

  redis::Client& client_;
  StoreOptions options_;
  redis::Script script_;
};

// Lower-cased, trimmed: how owners and tags are indexed and compared.
std::string IndexName(std::string_view text);

// Page tokens of ListCases: opaque, URL-safe text naming the last (score, id) returned.
std::string EncodePageToken(int order, double score, const std::string& id);
absl::Status DecodePageToken(const std::string& token, int order, double* score, std::string* id);

// Median of `values` (0 when empty); sorts a copy.
double Median(std::vector<double> values);

// "YYYY-MM-DD" (UTC) of every day touching [from, to), at most `max_days` of them, latest last.
std::vector<std::string> DaysInWindow(absl::Time from, absl::Time to, int max_days);

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_CASE_STORE_H_
