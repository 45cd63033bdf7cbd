// Consumes survey.detractors.v1 and turns each detractor into a case (or joins it to the
// respondent's open case). Offsets are committed only after Redis has the change, so a crash
// redelivers, and the case id derived from the response id makes a redelivery a no-op.
#ifndef REBOUND_SERVICES_CASES_INTAKE_H_
#define REBOUND_SERVICES_CASES_INTAKE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "case_store.h"
#include "metrics.h"
#include "rebound/kafka/kafka.h"

namespace rebound::cases {

class DetractorIntake {
 public:
  // Records that can never become a case go to `dead_letter_topic`.
  DetractorIntake(kafka::Consumer& consumer, kafka::Producer& producer, CaseStore& store,
                  Metrics& metrics, std::string dead_letter_topic);

  // Polls and handles batches until `stop()` returns true; a batch that fails (Redis away) is
  // retried with backoff and not committed until it succeeds.
  void Run(const std::function<bool()>& stop);

  // Handles one batch without committing it.
  absl::Status Handle(const std::vector<kafka::Message>& batch);

 private:
  absl::Status DeadLetter(const kafka::Message& message, const std::string& reason);

  kafka::Consumer& consumer_;
  kafka::Producer& producer_;
  CaseStore& store_;
  Metrics& metrics_;
  std::string dead_letter_topic_;
};

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_INTAKE_H_
