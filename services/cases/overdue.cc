#include "overdue.h"

#include "rebound/runtime/log.h"

namespace rebound::cases {
namespace {

constexpr int kBatch = 200;

}  // namespace

OverdueScheduler::OverdueScheduler(CaseStore& store, Metrics& metrics, absl::Duration interval)
    : store_(store), metrics_(metrics), interval_(interval) {}

OverdueScheduler::~OverdueScheduler() { Stop(); }

absl::StatusOr<int> OverdueScheduler::RunOnce(absl::Time now) {
  absl::StatusOr<int> emitted = store_.EmitOverdue(now, kBatch);
  if (!emitted.ok()) {
    return emitted.status();
  }
  metrics_.overdue_events.Increment(*emitted);
  if (*emitted > 0) {
    runtime::Logger("cases")->info("{} overdue events emitted", *emitted);
  }
  absl::StatusOr<int> purged = store_.Purge(now, kBatch);
  if (!purged.ok()) {
    return purged.status();
  }
  return emitted;
}

void OverdueScheduler::Start() {
  thread_ = std::thread([this] {
    while (!stop_) {
      if (absl::StatusOr<int> done = RunOnce(absl::Now()); !done.ok()) {
        runtime::Logger("cases")->warn("overdue scan: {}", std::string(done.status().message()));
      }
      const absl::Time until = absl::Now() + interval_;
      while (!stop_ && absl::Now() < until) {
        absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
      }
    }
  });
}

void OverdueScheduler::Stop() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace rebound::cases
