// Publishes the Redis outbox to case.events.v1.
//
// The outbox is a Redis stream read through a consumer group, so two replicas never take the
// same entry at the same time. An entry is removed (XACK + XDEL) only after the broker
// acknowledged its record. Entries that a replica took but never acknowledged (it crashed, or
// the broker was away) are claimed by any replica once they sat idle for `claim_idle`. A slow
// but live replica can therefore lose an entry to another one and both publish it: consumers
// deduplicate by event id ("<case id>/<sequence>"), which the CaseEvent and its ce_id header
// carry. Two replicas may also publish consecutive events of one case out of order in that
// situation; the sequence in the event id tells consumers the true order.
#ifndef REBOUND_SERVICES_CASES_OUTBOX_H_
#define REBOUND_SERVICES_CASES_OUTBOX_H_

#include <atomic>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "metrics.h"
#include "rebound/kafka/kafka.h"
#include "rebound/redis/redis.h"

namespace rebound::cases {

struct OutboxOptions {
  std::string outbox_key;
  std::string topic = "case.events.v1";
  std::string group = "publishers";
  std::string consumer;  // unique per replica
  absl::Duration interval = absl::Milliseconds(200);
  absl::Duration claim_idle = absl::Seconds(30);
  int batch = 200;
};

class OutboxPublisher {
 public:
  OutboxPublisher(redis::Client& redis, kafka::Producer& producer, Metrics& metrics,
                  OutboxOptions options);
  ~OutboxPublisher();

  // Publishes what is waiting (one batch of at most options.batch entries). Returns how many
  // entries were published and removed. An entry the broker refuses for good (INVALID_ARGUMENT:
  // too large, malformed) moves to the stream ParkedKey() with the reason, so that it cannot
  // hold up the entries behind it.
  absl::StatusOr<int> DrainOnce();
  // "<outbox key>:parked": entries the broker refused for good, with field "reason".
  std::string ParkedKey() const;

  // Runs DrainOnce in a thread every `interval` (at once again while batches come back full).
  void Start();
  // Stops the thread, then drains until the outbox is empty or `deadline` passed.
  void Stop(absl::Duration deadline);

 private:
  absl::Status EnsureGroup();

  redis::Client& redis_;
  kafka::Producer& producer_;
  Metrics& metrics_;
  OutboxOptions options_;
  bool group_ready_ = false;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_OUTBOX_H_
