#include "intake.h"

#include <algorithm>
#include <thread>

#include "rebound/runtime/log.h"
#include "rebound/v1/events.pb.h"

namespace rebound::cases {
namespace {

constexpr absl::Duration kPollTimeout = absl::Milliseconds(500);

}  // namespace

DetractorIntake::DetractorIntake(kafka::Consumer& consumer, kafka::Producer& producer,
                                 CaseStore& store, Metrics& metrics, std::string dead_letter_topic)
    : consumer_(consumer),
      producer_(producer),
      store_(store),
      metrics_(metrics),
      dead_letter_topic_(std::move(dead_letter_topic)) {}

absl::Status DetractorIntake::DeadLetter(const kafka::Message& message, const std::string& reason) {
  kafka::OutRecord record{.topic = dead_letter_topic_, .key = message.key, .value = message.value};
  record.headers = message.headers;
  record.headers.push_back({"rebound-dlq-reason", reason});
  absl::Status sent = producer_.Send(record);
  if (sent.ok()) {
    metrics_.dead_letters.Increment();
    runtime::Logger("cases")->warn("detractor at {}/{}@{} sent to {}: {}", message.topic,
                                   message.partition, message.offset, dead_letter_topic_, reason);
  }
  return sent;
}

absl::Status DetractorIntake::Handle(const std::vector<kafka::Message>& batch) {
  auto log = runtime::Logger("cases");
  for (const kafka::Message& message : batch) {
    v1::DetractorIdentified detractor;
    if (!detractor.ParseFromString(message.value)) {
      if (absl::Status s = DeadLetter(message, "payload is not a rebound.v1.DetractorIdentified");
          !s.ok()) {
        return s;
      }
      continue;
    }
    absl::StatusOr<IntakeOutcome> outcome = store_.Intake(detractor, absl::Now());
    if (absl::IsInvalidArgument(outcome.status())) {
      if (absl::Status s = DeadLetter(message, std::string(outcome.status().message())); !s.ok()) {
        return s;
      }
      continue;
    }
    if (!outcome.ok()) {
      return outcome.status();
    }
    switch (outcome->result) {
      case IntakeResult::kOpened:
        metrics_.opened.Increment();
        log->info("case {} opened for event {}", outcome->case_id, detractor.event_id());
        break;
      case IntakeResult::kJoined:
        metrics_.joined.Increment();
        log->info("event {} joined case {}", detractor.event_id(), outcome->case_id);
        break;
      case IntakeResult::kDuplicate:
        metrics_.duplicates.Increment();
        log->debug("event {} seen before (case {})", detractor.event_id(), outcome->case_id);
        break;
    }
  }
  return absl::OkStatus();
}

void DetractorIntake::Run(const std::function<bool()>& stop) {
  auto log = runtime::Logger("cases");
  absl::Duration backoff = absl::Milliseconds(100);
  while (!stop()) {
    absl::StatusOr<std::vector<kafka::Message>> batch = consumer_.Poll(kPollTimeout);
    if (!batch.ok()) {
      log->error("polling detractors failed: {}", std::string(batch.status().message()));
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
      continue;
    }
    if (batch->empty()) {
      continue;
    }
    // Retry the same batch until Redis takes it; handling is idempotent, so a partly handled
    // batch is safe to run again.
    while (true) {
      absl::Status handled = Handle(*batch);
      if (handled.ok()) {
        backoff = absl::Milliseconds(100);
        break;
      }
      log->warn("handling {} detractors failed, retrying: {}", batch->size(),
                std::string(handled.message()));
      if (stop()) {
        return;  // not committed: the next owner of the partitions handles them again
      }
      std::this_thread::sleep_for(absl::ToChronoMilliseconds(backoff));
      backoff = std::min(backoff * 2, absl::Seconds(5));
    }
    if (absl::Status committed = consumer_.Commit(*batch); !committed.ok()) {
      log->warn("committing {} detractors failed (they may be seen again): {}", batch->size(),
                std::string(committed.message()));
    }
  }
}

}  // namespace rebound::cases
