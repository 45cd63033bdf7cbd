// The group consumer: manual, synchronous commits of explicit offsets and read_committed reads.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "internal.h"
#include "rebound/kafka/kafka.h"

namespace rebound::kafka {
namespace internal {

absl::StatusOr<std::unique_ptr<ConsumerImpl>> ConsumerImpl::Make(const KafkaConfig& config,
                                                                 std::string group_id,
                                                                 std::vector<std::string> topics) {
  if (group_id.empty()) {
    return absl::InvalidArgumentError("kafka consumer group id is empty");
  }
  if (topics.empty()) {
    return absl::InvalidArgumentError("kafka consumer has no topics to subscribe to");
  }
  std::unique_ptr<ConsumerImpl> consumer(new ConsumerImpl(group_id));
  auto conf = BuildConf(config, group_id, &consumer->events_,
                        {
                            {"group.id", group_id},
                            {"enable.auto.commit", "false"},
                            {"enable.auto.offset.store", "false"},
                            {"isolation.level", "read_committed"},
                            {"auto.offset.reset", "earliest"},
                            // Eager range assignment. librdkafka 2.0.2's cooperative-sticky
                            // left partitions unassigned for a whole session timeout after a
                            // member left cleanly (seen in the classifier's rebalance test);
                            // an eager rebalance pauses the group briefly but always completes.
                            {"partition.assignment.strategy", "range,roundrobin"},
                            // A member that died (kill -9) is noticed within 10 s, not 45 s.
                            {"session.timeout.ms", "10000"},
                            {"heartbeat.interval.ms", "2000"},
                        });
  if (!conf.ok()) {
    return conf.status();
  }
  std::string error;
  if ((*conf)->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(consumer.get()), error) !=
      RdKafka::Conf::CONF_OK) {
    return absl::InternalError(absl::StrCat("kafka rebalance callback: ", error));
  }
  consumer->handle_.reset(RdKafka::KafkaConsumer::create(conf->get(), error));
  if (!consumer->handle_) {
    return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", error));
  }
  if (RdKafka::ErrorCode err = consumer->handle_->subscribe(topics); err != RdKafka::ERR_NO_ERROR) {
    return ErrorStatus(err, absl::StrCat("kafka subscribe to ", absl::StrJoin(topics, ",")));
  }
  Log()->info("{}: subscribed to {}", group_id, absl::StrJoin(topics, ","));
  return consumer;
}

ConsumerImpl::~ConsumerImpl() { Close(); }

void ConsumerImpl::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                std::vector<RdKafka::TopicPartition*>& partitions) {
  bool cooperative = consumer->rebalance_protocol() == "COOPERATIVE";
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    Log()->info("{}: assigned {}", group_id_, DescribePartitions(partitions));
    if (cooperative) {
      if (RdKafka::Error* error = consumer->incremental_assign(partitions)) {
        Log()->error("{}: incremental assign failed: {}", group_id_, error->str());
        delete error;
      }
    } else {
      consumer->assign(partitions);
    }
    return;
  }
  if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
    Log()->info("{}: {} {}", group_id_, consumer->assignment_lost() ? "lost" : "revoked",
                DescribePartitions(partitions));
  } else {
    Log()->error("{}: rebalance failed: {}", group_id_, RdKafka::err2str(err));
  }
  // Commit() is synchronous, so every offset committed that way is already stored here and the
  // next owner starts after it (CommitAsync() callers accept a re-read); the hook lets a
  // transaction in progress be abandoned.
  if (poll_batch_ != nullptr) {
    std::erase_if(*poll_batch_, [&partitions](const Message& m) {
      return std::any_of(partitions.begin(), partitions.end(),
                         [&m](const RdKafka::TopicPartition* tp) {
                           return tp->partition() == m.partition && tp->topic() == m.topic;
                         });
    });
  }
  if (revoke_hook_) {
    revoke_hook_(partitions);
  }
  if (cooperative) {
    if (RdKafka::Error* error = consumer->incremental_unassign(partitions)) {
      Log()->error("{}: incremental unassign failed: {}", group_id_, error->str());
      delete error;
    }
  } else {
    consumer->unassign();
  }
}

absl::StatusOr<std::vector<Message>> ConsumerImpl::Poll(absl::Duration timeout, int max_messages) {
  if (closed_) {
    return absl::FailedPreconditionError("kafka consumer is closed");
  }
  std::vector<Message> out;
  poll_batch_ = &out;
  // Every return below leaves Poll(): the batch must not be touched by a later rebalance.
  struct ClearBatch {
    std::vector<Message>** batch;
    ~ClearBatch() { *batch = nullptr; }
  } clear_batch{&poll_batch_};
  absl::Time deadline = absl::Now() + timeout;
  // Short waits keep the caller responsive to shutdown; once something arrived, only what is
  // already fetched is added to the batch.
  constexpr int kSliceMs = 100;
  while (static_cast<int>(out.size()) < max_messages) {
    int wait_ms = 0;
    if (out.empty()) {
      wait_ms = std::min(kSliceMs, ToMillis(deadline - absl::Now()));
    }
    std::unique_ptr<RdKafka::Message> message(handle_->consume(wait_ms));
    RdKafka::ErrorCode err = message->err();
    if (err == RdKafka::ERR_NO_ERROR) {
      out.push_back(ToMessage(*message));
      continue;
    }
    if (err == RdKafka::ERR__TIMED_OUT) {
      if (!out.empty() || absl::Now() >= deadline) {
        break;
      }
      continue;
    }
    if (err == RdKafka::ERR__PARTITION_EOF) {
      continue;
    }
    std::string reason;
    if (err == RdKafka::ERR__FATAL || handle_->fatal_error(reason) != RdKafka::ERR_NO_ERROR) {
      return absl::InternalError(absl::StrCat("kafka consumer failed fatally: ",
                                              reason.empty() ? message->errstr() : reason));
    }
    // Unknown topics, broker hiccups and the like are reported per message; they pass.
    Log()->warn("{}: consume: {}", group_id_, message->errstr());
    if (!out.empty() || absl::Now() >= deadline) {
      break;
    }
  }
  return out;
}

absl::Status ConsumerImpl::Commit(const Message& message) {
  return Commit(std::vector<Message>{message});
}

absl::Status ConsumerImpl::Commit(const std::vector<Message>& messages) {
  if (closed_) {
    return absl::FailedPreconditionError("kafka consumer is closed");
  }
  if (messages.empty()) {
    return absl::OkStatus();
  }
  PartitionList offsets;
  NextOffsets(messages, offsets);
  RdKafka::ErrorCode err = handle_->commitSync(offsets.list);
  if (err != RdKafka::ERR_NO_ERROR) {
    return ErrorStatus(err, "kafka commit");
  }
  for (const RdKafka::TopicPartition* tp : offsets.list) {
    if (tp->err() != RdKafka::ERR_NO_ERROR) {
      return ErrorStatus(tp->err(),
                         absl::StrCat("kafka commit of ", tp->topic(), "[", tp->partition(), "]"));
    }
  }
  return absl::OkStatus();
}

absl::Status ConsumerImpl::CommitAsync(const Message& message) {
  if (closed_) {
    return absl::FailedPreconditionError("kafka consumer is closed");
  }
  PartitionList offsets;
  NextOffsets({message}, offsets);
  // The result arrives later and is not waited for (see kafka.h); a failed asynchronous
  // commit only means the record may be read again.
  if (RdKafka::ErrorCode err = handle_->commitAsync(offsets.list); err != RdKafka::ERR_NO_ERROR) {
    return ErrorStatus(err, "kafka commit");
  }
  return absl::OkStatus();
}

std::vector<std::pair<std::string, int32_t>> ConsumerImpl::Assignment() {
  std::vector<std::pair<std::string, int32_t>> out;
  if (closed_) {
    return out;
  }
  PartitionList partitions;
  if (handle_->assignment(partitions.list) == RdKafka::ERR_NO_ERROR) {
    for (const RdKafka::TopicPartition* tp : partitions.list) {
      out.emplace_back(tp->topic(), tp->partition());
    }
  }
  return out;
}

void ConsumerImpl::Close() {
  if (closed_ || !handle_) {
    return;
  }
  closed_ = true;
  if (RdKafka::ErrorCode err = handle_->close(); err != RdKafka::ERR_NO_ERROR) {
    Log()->warn("{}: close: {}", group_id_, RdKafka::err2str(err));
  }
  Log()->info("{}: left the group", group_id_);
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Consumer>> Consumer::Create(const KafkaConfig& config,
                                                           std::string group_id,
                                                           std::vector<std::string> topics) {
  auto consumer = internal::ConsumerImpl::Make(config, std::move(group_id), std::move(topics));
  if (!consumer.ok()) {
    return consumer.status();
  }
  return std::unique_ptr<Consumer>(*std::move(consumer));
}

}  // namespace rebound::kafka
