// Pieces shared by the producer, the consumer and the transactional processor. Not part of the
// library's interface.
#ifndef REBOUND_KAFKA_INTERNAL_H_
#define REBOUND_KAFKA_INTERNAL_H_

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/kafka/kafka.h"
#include "spdlog/spdlog.h"

namespace rebound::kafka::internal {

std::shared_ptr<spdlog::logger> Log();

// Routes librdkafka's log lines and error events to the "kafka" logger and remembers whether a
// fatal error was raised, so the owner can rebuild or stop.
class EventLogger : public RdKafka::EventCb {
 public:
  explicit EventLogger(std::string client) : client_(std::move(client)) {}
  void event_cb(RdKafka::Event& event) override;

  // True once since the last call if a fatal error event arrived.
  bool TakeFatal() { return fatal_.exchange(false); }
  void MarkFatal() { fatal_ = true; }

 private:
  std::string client_;
  std::atomic<bool> fatal_{false};
};

// Sets one property, turning librdkafka's complaint into INVALID_ARGUMENT naming the key.
absl::Status Set(RdKafka::Conf& conf, const std::string& key, const std::string& value);

// A global configuration with the brokers, client.id and logging routed through `events`;
// `defaults` are applied next and the operator's KafkaConfig::properties last.
absl::StatusOr<std::unique_ptr<RdKafka::Conf>> BuildConf(
    const KafkaConfig& config, const std::string& client_id, RdKafka::EventCb* events,
    const std::vector<std::pair<std::string, std::string>>& defaults);

// The status code that best describes a librdkafka error for callers deciding whether to retry.
absl::StatusCode CodeFor(RdKafka::ErrorCode code);
absl::Status ErrorStatus(RdKafka::ErrorCode code, const std::string& context);
int ToMillis(absl::Duration d);

// Copies of the record's headers in librdkafka's form; ownership passes to the caller.
RdKafka::Headers* ToKafkaHeaders(const std::vector<Header>& headers);
Message ToMessage(const RdKafka::Message& message);

// "topic[0,1] other[3]" for log lines.
std::string DescribePartitions(const std::vector<RdKafka::TopicPartition*>& partitions);

// Deletes the TopicPartition objects librdkafka hands out as raw pointers.
struct PartitionList {
  std::vector<RdKafka::TopicPartition*> list;
  PartitionList() = default;
  PartitionList(const PartitionList&) = delete;
  PartitionList& operator=(const PartitionList&) = delete;
  ~PartitionList() { RdKafka::TopicPartition::destroy(list); }
};

// Highest offset+1 per partition of `messages`, i.e. the offsets to commit after them.
void NextOffsets(const std::vector<Message>& messages, PartitionList& out);

// The group consumer behind Consumer, also used by the transactional processor, which needs
// the raw handle (group metadata, seek) and a say in revocation.
class ConsumerImpl final : public Consumer, public RdKafka::RebalanceCb {
 public:
  using RevokeHook = std::function<void(const std::vector<RdKafka::TopicPartition*>&)>;

  static absl::StatusOr<std::unique_ptr<ConsumerImpl>> Make(const KafkaConfig& config,
                                                            std::string group_id,
                                                            std::vector<std::string> topics);
  ~ConsumerImpl() override;

  absl::StatusOr<std::vector<Message>> Poll(absl::Duration timeout, int max_messages) override;
  absl::Status Commit(const Message& message) override;
  absl::Status Commit(const std::vector<Message>& messages) override;
  absl::Status CommitAsync(const Message& message) override;
  void Close() override;
  std::vector<std::pair<std::string, int32_t>> Assignment() override;

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

  // Called in the rebalance callback before partitions are given up.
  void SetRevokeHook(RevokeHook hook) { revoke_hook_ = std::move(hook); }
  RdKafka::KafkaConsumer* handle() { return handle_.get(); }
  const std::string& group_id() const { return group_id_; }

 private:
  explicit ConsumerImpl(std::string group_id) : group_id_(group_id), events_(group_id) {}

  std::string group_id_;
  EventLogger events_;
  RevokeHook revoke_hook_;
  // The batch a Poll() is collecting, or null outside Poll(). When partitions are revoked
  // meanwhile, their records collected so far are dropped at once: the next owner (perhaps
  // this consumer again, after an eager rebalance) reads them again from the committed offset.
  // Records fetched after a new assignment are kept, since the position has moved past them.
  std::vector<Message>* poll_batch_ = nullptr;
  std::unique_ptr<RdKafka::KafkaConsumer> handle_;
  bool closed_ = false;
};

}  // namespace rebound::kafka::internal

#endif  // REBOUND_KAFKA_INTERNAL_H_
