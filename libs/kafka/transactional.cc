// Consume-transform-produce in Kafka transactions: a batch's outputs and its input offsets
// commit together or not at all.
#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "absl/strings/str_cat.h"
#include "internal.h"
#include "rebound/kafka/kafka.h"

namespace rebound::kafka {
namespace {

using internal::Log;

constexpr absl::Duration kTxnTimeout = absl::Seconds(30);
constexpr int kMinBackoffMs = 100;
constexpr int kMaxBackoffMs = 2000;

class TransactionalProcessorImpl final : public TransactionalProcessor {
 public:
  explicit TransactionalProcessorImpl(std::string transactional_id)
      : transactional_id_(std::move(transactional_id)), events_(transactional_id_) {}

  ~TransactionalProcessorImpl() override { Close(); }

  absl::Status Start(const KafkaConfig& config, std::string group_id,
                     std::vector<std::string> input_topics) {
    auto conf = internal::BuildConf(config, transactional_id_, &events_,
                                    {
                                        {"transactional.id", transactional_id_},
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        {"linger.ms", "5"},
                                        {"partitioner", "murmur2_random"},
                                    });
    if (!conf.ok()) {
      return conf.status();
    }
    std::string error;
    producer_.reset(RdKafka::Producer::create(conf->get(), error));
    if (!producer_) {
      return absl::InvalidArgumentError(absl::StrCat("kafka transactional producer: ", error));
    }
    // Registers the id with the transaction coordinator: a previous incarnation with the same
    // id is fenced off and its open transaction aborted.
    if (RdKafka::Error* e = producer_->init_transactions(internal::ToMillis(kTxnTimeout))) {
      absl::Status s = ToStatus(*e, "kafka init_transactions");
      delete e;
      return s;
    }
    auto consumer =
        internal::ConsumerImpl::Make(config, std::move(group_id), std::move(input_topics));
    if (!consumer.ok()) {
      return consumer.status();
    }
    consumer_ = *std::move(consumer);
    consumer_->SetRevokeHook([this](const std::vector<RdKafka::TopicPartition*>&) {
      // Partitions are only revoked inside consume(), which never overlaps an open
      // transaction here; this guards against that changing.
      if (in_transaction_) {
        Log()->warn("{}: partitions revoked during a transaction; aborting it", transactional_id_);
        Abort();
      }
    });
    return absl::OkStatus();
  }

  absl::StatusOr<int> RunOnce(const Transform& transform, absl::Duration timeout,
                              int max_batch) override {
    if (!fatal_.ok()) {
      return fatal_;
    }
    if (closed_) {
      return absl::FailedPreconditionError("transactional processor is closed");
    }
    producer_->poll(0);
    auto batch = consumer_->Poll(timeout, max_batch);
    if (!batch.ok()) {
      return batch.status();
    }
    if (batch->empty()) {
      return 0;
    }
    absl::Status s = Process(transform, *batch);
    if (s.ok()) {
      backoff_ms_ = kMinBackoffMs;
      return static_cast<int>(batch->size());
    }
    if (!fatal_.ok()) {
      return fatal_;
    }
    Abort();
    Rewind(*batch);
    // Backs off so a batch that keeps failing does not spin; doubled per consecutive failure.
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff_ms_));
    backoff_ms_ = std::min(backoff_ms_ * 2, kMaxBackoffMs);
    return s;
  }

  void Close() override {
    if (closed_) {
      return;
    }
    closed_ = true;
    if (in_transaction_ && fatal_.ok()) {
      Abort();
    }
    if (consumer_) {
      consumer_->Close();
    }
    if (producer_) {
      producer_->flush(1000);
    }
  }

 private:
  absl::Status Process(const Transform& transform, const std::vector<Message>& batch) {
    auto outputs = transform(batch);
    if (!outputs.ok()) {
      return outputs.status();
    }
    if (RdKafka::Error* e = producer_->begin_transaction()) {
      return Consume(e, "kafka begin_transaction");
    }
    in_transaction_ = true;

    for (const OutRecord& record : *outputs) {
      absl::Status s = Produce(record);
      if (!s.ok()) {
        return s;
      }
    }

    // The input offsets join the transaction, so they commit exactly when the outputs do.
    internal::PartitionList offsets;
    internal::NextOffsets(batch, offsets);
    std::unique_ptr<RdKafka::ConsumerGroupMetadata> group(consumer_->handle()->groupMetadata());
    if (RdKafka::Error* e = producer_->send_offsets_to_transaction(
            offsets.list, group.get(), internal::ToMillis(kTxnTimeout))) {
      return Consume(e, "kafka send_offsets_to_transaction");
    }
    // Commit flushes the produced records first and fails if any of them was not delivered.
    if (RdKafka::Error* e = producer_->commit_transaction(internal::ToMillis(kTxnTimeout))) {
      return Consume(e, "kafka commit_transaction");
    }
    in_transaction_ = false;
    return absl::OkStatus();
  }

  absl::Status Produce(const OutRecord& record) {
    absl::Time deadline = absl::Now() + kTxnTimeout;
    for (;;) {
      RdKafka::Headers* headers = internal::ToKafkaHeaders(record.headers);
      RdKafka::ErrorCode err = producer_->produce(
          record.topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
          const_cast<char*>(record.value.data()), record.value.size(),
          record.key.empty() ? nullptr : record.key.data(), record.key.size(), 0, headers, nullptr);
      if (err == RdKafka::ERR_NO_ERROR) {
        return absl::OkStatus();
      }
      delete headers;
      if (err == RdKafka::ERR__QUEUE_FULL && absl::Now() < deadline) {
        producer_->poll(10);
        continue;
      }
      std::string reason;
      if (err == RdKafka::ERR__FATAL && producer_->fatal_error(reason) != RdKafka::ERR_NO_ERROR) {
        fatal_ = absl::FailedPreconditionError(
            absl::StrCat("kafka transactional producer fenced or failed fatally: ", reason));
        return fatal_;
      }
      return internal::ErrorStatus(err, absl::StrCat("kafka produce to ", record.topic));
    }
  }

  // Turns a transactional API error into a status, remembering fatal ones (the producer is
  // unusable afterwards, typically because a newer incarnation fenced it).
  absl::Status Consume(RdKafka::Error* e, const std::string& context) {
    absl::Status s = ToStatus(*e, context);
    if (e->is_fatal()) {
      fatal_ = s;
      in_transaction_ = false;
      Log()->error("{}: {}", transactional_id_, std::string(s.message()));
    }
    delete e;
    return s;
  }

  absl::Status ToStatus(const RdKafka::Error& e, const std::string& context) {
    if (e.is_fatal()) {
      return absl::FailedPreconditionError(
          absl::StrCat(context, ": fenced or failed fatally: ", e.str()));
    }
    return absl::Status(internal::CodeFor(e.code()) == absl::StatusCode::kOk
                            ? absl::StatusCode::kUnavailable
                            : internal::CodeFor(e.code()),
                        absl::StrCat(context, ": ", e.str()));
  }

  void Abort() {
    if (!in_transaction_) {
      return;
    }
    if (!fatal_.ok()) {
      // A fenced or failed producer cannot abort; the coordinator aborts the transaction when
      // it times out or when the newer incarnation initialises.
      in_transaction_ = false;
      return;
    }
    if (RdKafka::Error* e = producer_->abort_transaction(internal::ToMillis(kTxnTimeout))) {
      Log()->error("{}: abort_transaction: {}", transactional_id_, e->str());
      if (e->is_fatal()) {
        fatal_ = ToStatus(*e, "kafka abort_transaction");
      }
      delete e;
      // A timed-out abort may be retried; leaving in_transaction_ set makes the next Abort()
      // try again.
      if (fatal_.ok()) {
        return;
      }
    }
    in_transaction_ = false;
  }

  // Moves the consumer back to the first record of the batch in every partition, so the
  // aborted batch is read again. A partition revoked meanwhile is skipped: its next owner
  // starts from the committed offset, which is the same place.
  void Rewind(const std::vector<Message>& batch) {
    std::map<std::pair<std::string, int32_t>, int64_t> first;
    for (const Message& m : batch) {
      auto [it, inserted] = first.try_emplace({m.topic, m.partition}, m.offset);
      if (!inserted) {
        it->second = std::min(it->second, m.offset);
      }
    }
    for (const auto& [tp, offset] : first) {
      std::unique_ptr<RdKafka::TopicPartition> partition(
          RdKafka::TopicPartition::create(tp.first, tp.second, offset));
      RdKafka::ErrorCode err = consumer_->handle()->seek(*partition, 5000);
      if (err != RdKafka::ERR_NO_ERROR) {
        Log()->warn("{}: rewinding {}[{}] to {}: {}", transactional_id_, tp.first, tp.second,
                    offset, RdKafka::err2str(err));
      }
    }
  }

  std::string transactional_id_;
  internal::EventLogger events_;
  std::unique_ptr<RdKafka::Producer> producer_;
  std::unique_ptr<internal::ConsumerImpl> consumer_;
  bool in_transaction_ = false;
  bool closed_ = false;
  int backoff_ms_ = kMinBackoffMs;
  absl::Status fatal_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TransactionalProcessor>> TransactionalProcessor::Create(
    const KafkaConfig& config, std::string group_id, std::vector<std::string> input_topics,
    std::string transactional_id) {
  if (transactional_id.empty()) {
    return absl::InvalidArgumentError("kafka transactional id is empty");
  }
  auto processor = std::make_unique<TransactionalProcessorImpl>(std::move(transactional_id));
  if (auto s = processor->Start(config, std::move(group_id), std::move(input_topics)); !s.ok()) {
    return s;
  }
  return processor;
}

}  // namespace rebound::kafka
