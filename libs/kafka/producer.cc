// The idempotent producer: Send waits for the delivery report of its own record, a dedicated
// thread serves those reports, and a fatal error replaces the librdkafka handle.
#include <librdkafka/rdkafka.h>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "internal.h"
#include "producer_testing.h"
#include "rebound/kafka/kafka.h"

namespace rebound::kafka {
namespace {

using internal::Log;

class ProducerImpl;

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  explicit DeliveryReports(ProducerImpl* owner) : owner_(owner) {}
  void dr_cb(RdKafka::Message& message) override;

 private:
  ProducerImpl* owner_;
};

class ProducerImpl final : public Producer {
 public:
  ProducerImpl(const KafkaConfig& config, std::string client_id, const ProducerOptions& options)
      : config_(config),
        client_id_(std::move(client_id)),
        options_(options),
        events_(client_id_),
        reports_(this) {}

  ~ProducerImpl() override {
    stop_ = true;
    if (poller_.joinable()) {
      poller_.join();
    }
    std::shared_ptr<RdKafka::Producer> handle = Current();
    if (handle) {
      handle->flush(internal::ToMillis(options_.close_timeout));
      FailGeneration(generation_, absl::UnavailableError("kafka producer closed before the "
                                                         "broker acknowledged the record"));
    }
  }

  absl::Status Start() {
    auto handle = Build();
    if (!handle.ok()) {
      return handle.status();
    }
    handle_ = *std::move(handle);
    poller_ = std::thread([this] { PollLoop(); });
    return absl::OkStatus();
  }

  absl::Status Send(const OutRecord& record, absl::Duration timeout) override {
    absl::Time deadline = absl::Now() + timeout;
    auto delivery = Enqueue(record, deadline);
    if (!delivery.ok()) {
      return delivery.status();
    }
    return Await(**delivery, deadline, timeout);
  }

  std::vector<absl::Status> SendBatch(const std::vector<OutRecord>& records,
                                      absl::Duration timeout) override {
    absl::Time deadline = absl::Now() + timeout;
    std::vector<absl::StatusOr<std::shared_ptr<Delivery>>> deliveries;
    deliveries.reserve(records.size());
    for (const OutRecord& record : records) {
      deliveries.push_back(Enqueue(record, deadline));
    }
    std::vector<absl::Status> results;
    results.reserve(records.size());
    for (auto& delivery : deliveries) {
      if (!delivery.ok()) {
        results.push_back(delivery.status());
      } else {
        results.push_back(Await(**delivery, deadline, timeout));
      }
    }
    return results;
  }

  int Flush(absl::Duration timeout) override {
    std::shared_ptr<RdKafka::Producer> handle = Current();
    handle->flush(internal::ToMillis(timeout));
    std::lock_guard<std::mutex> lock(pending_mu_);
    return static_cast<int>(pending_.size());
  }

  void OnDelivery(RdKafka::Message& message) {
    auto id = reinterpret_cast<uintptr_t>(message.msg_opaque());
    absl::Status status;
    if (message.err() != RdKafka::ERR_NO_ERROR) {
      status = absl::Status(
          internal::CodeFor(message.err()),
          absl::StrCat("kafka delivery to ", message.topic_name(), " failed: ", message.errstr()));
    }
    Complete(id, std::move(status));
  }

  absl::Status InjectFatalError(const std::string& reason) {
    std::shared_ptr<RdKafka::Producer> handle = Current();
    rd_kafka_resp_err_t err = rd_kafka_test_fatal_error(
        handle->c_ptr(), RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER, reason.c_str());
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return absl::InternalError(rd_kafka_err2str(err));
    }
    return absl::OkStatus();
  }

  uint64_t generation() {
    std::lock_guard<std::mutex> lock(handle_mu_);
    return generation_;
  }

 private:
  struct Delivery {
    absl::Notification done;
    absl::Status status;
    uint64_t generation = 0;
  };

  absl::StatusOr<std::shared_ptr<RdKafka::Producer>> Build() {
    auto conf = internal::BuildConf(
        config_, client_id_, &events_,
        {
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"linger.ms", absl::StrCat(internal::ToMillis(options_.linger))},
            {"batch.num.messages", absl::StrCat(options_.batch_num_messages)},
            {"message.timeout.ms", absl::StrCat(internal::ToMillis(options_.delivery_timeout))},
            // The same hash as the Java client, so records keyed alike land on the same
            // partition whichever client wrote them.
            {"partitioner", "murmur2_random"},
        });
    if (!conf.ok()) {
      return conf.status();
    }
    std::string error;
    if ((*conf)->set("dr_cb", &reports_, error) != RdKafka::Conf::CONF_OK) {
      return absl::InternalError(absl::StrCat("kafka delivery callback: ", error));
    }
    std::shared_ptr<RdKafka::Producer> handle(RdKafka::Producer::create(conf->get(), error));
    if (!handle) {
      return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", error));
    }
    return handle;
  }

  std::shared_ptr<RdKafka::Producer> Current() {
    std::lock_guard<std::mutex> lock(handle_mu_);
    return handle_;
  }

  absl::StatusOr<std::shared_ptr<Delivery>> Enqueue(const OutRecord& record, absl::Time deadline) {
    auto delivery = std::make_shared<Delivery>();
    for (;;) {
      std::shared_ptr<RdKafka::Producer> handle;
      uintptr_t id = 0;
      {
        // Registering under the handle lock ties the record to the generation it is produced
        // on, so a rebuild fails exactly the records the old handle held.
        std::lock_guard<std::mutex> lock(handle_mu_);
        handle = handle_;
        delivery->generation = generation_;
        std::lock_guard<std::mutex> pending_lock(pending_mu_);
        id = next_id_++;
        pending_[id] = delivery;
      }
      RdKafka::Headers* headers = internal::ToKafkaHeaders(record.headers);
      RdKafka::ErrorCode err =
          handle->produce(record.topic, RdKafka::Topic::PARTITION_UA,
                          RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(record.value.data()),
                          record.value.size(), record.key.empty() ? nullptr : record.key.data(),
                          record.key.size(), 0, headers, reinterpret_cast<void*>(id));
      if (err == RdKafka::ERR_NO_ERROR) {
        return delivery;
      }
      delete headers;
      {
        std::lock_guard<std::mutex> lock(pending_mu_);
        pending_.erase(id);
      }
      if (err == RdKafka::ERR__QUEUE_FULL && absl::Now() < deadline) {
        // The delivery thread drains the queue; give it a moment.
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      if (err == RdKafka::ERR__FATAL) {
        events_.MarkFatal();
      }
      return internal::ErrorStatus(err, absl::StrCat("kafka produce to ", record.topic));
    }
  }

  absl::Status Await(Delivery& delivery, absl::Time deadline, absl::Duration timeout) {
    if (!delivery.done.WaitForNotificationWithDeadline(deadline)) {
      return absl::UnavailableError(absl::StrCat("kafka did not acknowledge the record within ",
                                                 absl::FormatDuration(timeout)));
    }
    return delivery.status;
  }

  void Complete(uintptr_t id, absl::Status status) {
    std::shared_ptr<Delivery> delivery;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      auto it = pending_.find(id);
      if (it == pending_.end()) {
        // Already failed by a rebuild; a late report changes nothing.
        return;
      }
      delivery = std::move(it->second);
      pending_.erase(it);
    }
    delivery->status = std::move(status);
    delivery->done.Notify();
  }

  void FailGeneration(uint64_t generation, const absl::Status& status) {
    std::vector<std::shared_ptr<Delivery>> failed;
    {
      std::lock_guard<std::mutex> lock(pending_mu_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (it->second->generation == generation) {
          failed.push_back(std::move(it->second));
          it = pending_.erase(it);
        } else {
          ++it;
        }
      }
    }
    for (auto& delivery : failed) {
      delivery->status = status;
      delivery->done.Notify();
    }
    if (!failed.empty()) {
      Log()->warn("{}: {} records failed: {}", client_id_, failed.size(),
                  std::string(status.message()));
    }
  }

  void PollLoop() {
    while (!stop_) {
      std::shared_ptr<RdKafka::Producer> handle = Current();
      handle->poll(100);
      std::string reason;
      bool fatal = events_.TakeFatal();
      if (handle->fatal_error(reason) != RdKafka::ERR_NO_ERROR || fatal) {
        Rebuild(handle, reason);
      }
    }
  }

  // librdkafka 2.0.2 can turn an idempotent producer fatal after a broker restart ("out of
  // order sequence number"); the handle is unusable from then on, so it is replaced and the
  // records it still held are failed for their senders to retry.
  void Rebuild(const std::shared_ptr<RdKafka::Producer>& old, std::string reason) {
    if (reason.empty()) {
      old->fatal_error(reason);
    }
    Log()->error("{}: kafka producer failed fatally ({}); replacing it", client_id_, reason);
    auto fresh = Build();
    if (!fresh.ok()) {
      Log()->error("{}: could not rebuild the kafka producer: {}", client_id_,
                   std::string(fresh.status().message()));
      events_.MarkFatal();
      std::this_thread::sleep_for(std::chrono::seconds(1));
      return;
    }
    uint64_t old_generation;
    {
      std::lock_guard<std::mutex> lock(handle_mu_);
      handle_ = *std::move(fresh);
      old_generation = generation_++;
    }
    FailGeneration(
        old_generation,
        absl::InternalError(absl::StrCat(
            "kafka producer failed fatally before the record was acknowledged: ", reason)));
    old->purge(RdKafka::Producer::PURGE_QUEUE | RdKafka::Producer::PURGE_INFLIGHT |
               RdKafka::Producer::PURGE_NON_BLOCKING);
    old->poll(0);
    events_.TakeFatal();
  }

  KafkaConfig config_;
  std::string client_id_;
  ProducerOptions options_;
  internal::EventLogger events_;
  DeliveryReports reports_;

  std::mutex handle_mu_;
  std::shared_ptr<RdKafka::Producer> handle_;
  uint64_t generation_ = 0;

  std::mutex pending_mu_;
  std::unordered_map<uintptr_t, std::shared_ptr<Delivery>> pending_;
  uintptr_t next_id_ = 1;

  std::atomic<bool> stop_{false};
  std::thread poller_;
};

void DeliveryReports::dr_cb(RdKafka::Message& message) { owner_->OnDelivery(message); }

}  // namespace

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaConfig& config,
                                                           std::string client_id) {
  return Create(config, std::move(client_id), ProducerOptions{});
}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(const KafkaConfig& config,
                                                           std::string client_id,
                                                           const ProducerOptions& options) {
  auto producer = std::make_unique<ProducerImpl>(config, std::move(client_id), options);
  if (auto s = producer->Start(); !s.ok()) {
    return s;
  }
  return producer;
}

namespace testing {

absl::Status InjectFatalError(Producer& producer, const std::string& reason) {
  auto* impl = dynamic_cast<ProducerImpl*>(&producer);
  if (impl == nullptr) {
    return absl::InvalidArgumentError("not a librdkafka producer");
  }
  return impl->InjectFatalError(reason);
}

uint64_t Generation(Producer& producer) {
  auto* impl = dynamic_cast<ProducerImpl*>(&producer);
  return impl == nullptr ? 0 : impl->generation();
}

}  // namespace testing
}  // namespace rebound::kafka
