// Every few seconds: emit the overdue event of cases whose due time passed without action, and
// drop closed-index entries of expired cases. Several replicas may run it at once; the store's
// version check lets exactly one of them record each overdue event.
#ifndef REBOUND_SERVICES_CASES_OVERDUE_H_
#define REBOUND_SERVICES_CASES_OVERDUE_H_

#include <atomic>
#include <thread>

#include "absl/time/time.h"
#include "case_store.h"
#include "metrics.h"

namespace rebound::cases {

class OverdueScheduler {
 public:
  OverdueScheduler(CaseStore& store, Metrics& metrics, absl::Duration interval);
  ~OverdueScheduler();

  // One round; returns the overdue events emitted.
  absl::StatusOr<int> RunOnce(absl::Time now);

  void Start();
  void Stop();

 private:
  CaseStore& store_;
  Metrics& metrics_;
  absl::Duration interval_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_OVERDUE_H_
