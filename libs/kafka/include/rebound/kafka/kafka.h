// Kafka on librdkafka's C++ API: a producer whose Send completes only once the broker
// acknowledged the record, a group consumer with manual commits, and a transactional
// consume-transform-produce loop. Every call returns absl::Status; nothing throws.
//
//   KafkaConfig config{.brokers = "127.0.0.1:9092"};
//   auto producer = Producer::Create(config, "ingest");
//   absl::Status s = (*producer)->Send({.topic = "t", .key = "k", .value = bytes});
#ifndef REBOUND_KAFKA_KAFKA_H_
#define REBOUND_KAFKA_KAFKA_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::kafka {

// The records below give every field an initializer so that designated initializers may leave
// fields out without -Wmissing-field-initializers warnings.

// Connection settings shared by producers and consumers.
struct KafkaConfig {
  // Comma-separated bootstrap servers ("host:port,host:port").
  std::string brokers{};
  // Any librdkafka property, passed through as is (security.protocol, sasl.*, ssl.*, ...).
  // Applied after Rebound's own defaults, so an operator can override them.
  std::map<std::string, std::string> properties{};
};

// Parses "k1=v1;k2=v2" (also newline-separated) into properties. Fails on an entry without
// '=' and names it.
absl::StatusOr<std::map<std::string, std::string>> ParseProperties(std::string_view text);

struct Header {
  std::string key{};
  std::string value{};
};

// CloudEvents-style metadata carried as Kafka headers ce_id, ce_type, ce_source, ce_time and
// content-type (plus ce_specversion "1.0", which the CloudEvents Kafka binding requires).
struct CloudEvent {
  std::string id{};
  std::string type{};    // e.g. "rebound.v1.ResponseReceived"
  std::string source{};  // e.g. "rebound/ingest"
  absl::Time time = absl::UnixEpoch();
  std::string content_type = "application/x-protobuf";
};

std::vector<Header> ToHeaders(const CloudEvent& event);
// Reads the CloudEvent headers back; fields absent from the headers stay empty.
CloudEvent FromHeaders(const std::vector<Header>& headers);
// Returns the value of the first header named `key`, if any.
std::optional<std::string> FindHeader(const std::vector<Header>& headers, std::string_view key);

// A record to produce.
struct OutRecord {
  std::string topic{};
  std::string key{};
  std::string value{};
  std::vector<Header> headers{};
};

// A consumed record.
struct Message {
  std::string topic{};
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key{};
  std::string value{};
  std::vector<Header> headers{};
  absl::Time timestamp = absl::UnixEpoch();
};

// Producer tuning. The defaults favour latency: a record waits at most `linger` for others to
// share its batch.
struct ProducerOptions {
  // linger.ms: how long a record may wait so it can be batched with others.
  absl::Duration linger = absl::Milliseconds(5);
  // batch.num.messages: the most records in one batch.
  int batch_num_messages = 10000;
  // message.timeout.ms: after this long librdkafka gives up on a record and reports it failed,
  // so a record Send reported as UNAVAILABLE does not stay in doubt forever.
  absl::Duration delivery_timeout = absl::Seconds(10);
  // How long the destructor waits for records still in flight.
  absl::Duration close_timeout = absl::Seconds(5);
};

// Idempotent producer (enable.idempotence=true, acks=all). Thread-safe.
class Producer {
 public:
  // Creates the producer and starts a thread that serves delivery reports. `client_id` names
  // the service in broker logs.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const KafkaConfig& config,
                                                          std::string client_id);
  // The same with explicit tuning.
  static absl::StatusOr<std::unique_ptr<Producer>> Create(const KafkaConfig& config,
                                                          std::string client_id,
                                                          const ProducerOptions& options);
  virtual ~Producer() = default;

  // Produces one record and waits until the broker acknowledged it or `timeout` passed.
  // Returns OK once acknowledged; UNAVAILABLE when the broker cannot be reached in time (the
  // record may still be delivered later: callers rely on idempotency keys, never on this
  // outcome meaning "not written"); INTERNAL on a fatal producer error: every record not yet
  // acknowledged then fails with INTERNAL and the producer rebuilds itself in the background,
  // so the caller may simply send again.
  virtual absl::Status Send(const OutRecord& record,
                            absl::Duration timeout = absl::Seconds(10)) = 0;

  // Produces many records and waits for all acknowledgements. Returns one status per record,
  // in order.
  virtual std::vector<absl::Status> SendBatch(const std::vector<OutRecord>& records,
                                              absl::Duration timeout = absl::Seconds(30)) = 0;

  // Waits until everything queued is delivered or `timeout` passed; returns how many records
  // were still undelivered (0 on success).
  virtual int Flush(absl::Duration timeout) = 0;
};

// Group consumer with auto-commit off. Not thread-safe: one thread polls and commits.
// Offsets of the partitions being revoked are committed in the rebalance callback (what was
// handed to Commit() so far), so the next owner does not re-read processed records.
class Consumer {
 public:
  // Subscribes `group_id` to `topics`. isolation.level=read_committed, auto.offset.reset=earliest.
  static absl::StatusOr<std::unique_ptr<Consumer>> Create(const KafkaConfig& config,
                                                          std::string group_id,
                                                          std::vector<std::string> topics);
  virtual ~Consumer() = default;

  // Returns up to `max_messages` records, waiting at most `timeout` for the first one.
  // An empty vector means nothing arrived. Fatal consumer errors return a non-OK status.
  virtual absl::StatusOr<std::vector<Message>> Poll(absl::Duration timeout,
                                                    int max_messages = 500) = 0;

  // Marks `message` processed and commits offset+1 of its partition synchronously.
  virtual absl::Status Commit(const Message& message) = 0;
  // Commits the highest offset+1 per partition of all `messages` synchronously.
  virtual absl::Status Commit(const std::vector<Message>& messages) = 0;

  // Sends the commit of offset+1 of `message`'s partition without waiting for the broker.
  // Cheaper per record than Commit(), but a crash or rebalance right after it may leave the
  // record uncommitted, so the next owner reads it again: use it only where handling a record
  // twice is harmless (the notifier checks its Redis record first). Close() waits for commits
  // still in flight. The default implementation commits synchronously.
  virtual absl::Status CommitAsync(const Message& message) { return Commit(message); }

  // Leaves the group cleanly (commits what was marked, then closes).
  virtual void Close() = 0;

  // The (topic, partition) pairs this member currently owns; changes only inside Poll(). For
  // tests and diagnostics.
  virtual std::vector<std::pair<std::string, int32_t>> Assignment() { return {}; }
};

// A consume-transform-produce loop in Kafka transactions: for each polled batch, the records
// produced by `transform` and the batch's input offsets are committed in one transaction, so a
// crash at any point neither loses nor doubles an output record (for read_committed readers).
// On a failure the transaction is aborted and the consumer rewinds to the last committed
// offsets. `transactional_id` must be stable per instance (it fences a previous incarnation on
// restart).
class TransactionalProcessor {
 public:
  // What to do with a batch. Returning a non-OK status aborts the batch and retries it after a
  // backoff. A record that can never be processed must not fail the batch: emit it to a
  // dead-letter topic instead.
  using Transform =
      std::function<absl::StatusOr<std::vector<OutRecord>>(const std::vector<Message>& batch)>;

  static absl::StatusOr<std::unique_ptr<TransactionalProcessor>> Create(
      const KafkaConfig& config, std::string group_id, std::vector<std::string> input_topics,
      std::string transactional_id);
  virtual ~TransactionalProcessor() = default;

  // Polls one batch (waiting at most `timeout`), transforms it and commits it. Returns the
  // number of input records committed (0 when nothing arrived). Non-OK on a failure that was
  // rolled back; the caller may simply call again.
  virtual absl::StatusOr<int> RunOnce(const Transform& transform, absl::Duration timeout,
                                      int max_batch = 500) = 0;

  // Leaves the group; an open transaction is aborted.
  virtual void Close() = 0;
};

// Creates `topics` with `partitions` partitions if they do not exist (replication factor 1
// unless `replication_factor` is given). Used by tests and the local stack; in production the
// Helm chart's topic job does this.
absl::Status EnsureTopics(const KafkaConfig& config, const std::vector<std::string>& topics,
                          int partitions, int replication_factor = 1,
                          absl::Duration timeout = absl::Seconds(30));

}  // namespace rebound::kafka

#endif  // REBOUND_KAFKA_KAFKA_H_
