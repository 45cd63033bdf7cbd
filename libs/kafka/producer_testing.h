// Test hooks into the producer; only tests include this.
#ifndef REBOUND_KAFKA_PRODUCER_TESTING_H_
#define REBOUND_KAFKA_PRODUCER_TESTING_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "rebound/kafka/kafka.h"

namespace rebound::kafka::testing {

// Raises a fatal idempotence error in the producer's current librdkafka handle, the way a
// broker restart can with librdkafka 2.0.2.
absl::Status InjectFatalError(Producer& producer, const std::string& reason);

// How many times the producer has replaced its librdkafka handle.
uint64_t Generation(Producer& producer);

}  // namespace rebound::kafka::testing

#endif  // REBOUND_KAFKA_PRODUCER_TESTING_H_
