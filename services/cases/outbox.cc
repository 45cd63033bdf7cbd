#include "outbox.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "rebound/runtime/log.h"
#include "rebound/v1/events.pb.h"
#include "transitions.h"

namespace rebound::cases {
namespace {

struct Entry {
  std::string stream_id;
  std::string event_id;
  std::string payload;
};

// Appends the entries of a [[id, [field, value, ...]], ...] reply. Entries deleted meanwhile
// come back with nil fields; they get an empty payload and are only acknowledged.
void ParseEntries(const redis::Reply& list, std::vector<Entry>& out) {
  for (const redis::Reply& item : list.elements) {
    if (item.elements.size() < 2) {
      continue;
    }
    Entry entry;
    entry.stream_id = item.elements[0].AsString().value_or("");
    const redis::Reply& fields = item.elements[1];
    for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
      const std::string name = fields.elements[i].AsString().value_or("");
      if (name == "id") {
        entry.event_id = fields.elements[i + 1].AsString().value_or("");
      } else if (name == "ev") {
        entry.payload = fields.elements[i + 1].AsString().value_or("");
      }
    }
    out.push_back(std::move(entry));
  }
}

}  // namespace

OutboxPublisher::OutboxPublisher(redis::Client& redis, kafka::Producer& producer, Metrics& metrics,
                                 OutboxOptions options)
    : redis_(redis), producer_(producer), metrics_(metrics), options_(std::move(options)) {}

OutboxPublisher::~OutboxPublisher() {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
}

absl::Status OutboxPublisher::EnsureGroup() {
  if (group_ready_) {
    return absl::OkStatus();
  }
  auto created =
      redis_.Command({"XGROUP", "CREATE", options_.outbox_key, options_.group, "0", "MKSTREAM"});
  if (!created.ok() && !absl::StrContains(created.status().message(), "BUSYGROUP")) {
    return created.status();
  }
  group_ready_ = true;
  return absl::OkStatus();
}

std::string OutboxPublisher::ParkedKey() const { return options_.outbox_key + ":parked"; }

absl::StatusOr<int> OutboxPublisher::DrainOnce() {
  if (absl::Status s = EnsureGroup(); !s.ok()) {
    return s;
  }
  const std::string count = absl::StrCat(options_.batch);
  // First what this replica took before and could not publish, then what other replicas left
  // idle too long, then new entries.
  std::vector<Entry> entries;
  auto mine = redis_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                              count, "STREAMS", options_.outbox_key, "0"});
  if (!mine.ok()) {
    return mine.status();
  }
  for (const redis::Reply& stream : mine->elements) {
    if (stream.elements.size() == 2) {
      ParseEntries(stream.elements[1], entries);
    }
  }
  if (entries.empty()) {
    auto claimed = redis_.Command(
        {"XAUTOCLAIM", options_.outbox_key, options_.group, options_.consumer,
         absl::StrCat(absl::ToInt64Milliseconds(options_.claim_idle)), "0-0", "COUNT", count});
    if (!claimed.ok()) {
      return claimed.status();
    }
    if (claimed->elements.size() >= 2) {
      ParseEntries(claimed->elements[1], entries);
    }
  }
  if (entries.empty()) {
    auto fresh = redis_.Command({"XREADGROUP", "GROUP", options_.group, options_.consumer, "COUNT",
                                 count, "STREAMS", options_.outbox_key, ">"});
    if (!fresh.ok()) {
      return fresh.status();
    }
    for (const redis::Reply& stream : fresh->elements) {
      if (stream.elements.size() == 2) {
        ParseEntries(stream.elements[1], entries);
      }
    }
  }

  std::vector<kafka::OutRecord> records;
  std::vector<size_t> record_entry;  // index into entries of each record
  std::vector<std::string> done;     // stream ids to remove
  for (size_t i = 0; i < entries.size(); ++i) {
    v1::CaseEvent event;
    if (entries[i].payload.empty() || !event.ParseFromString(entries[i].payload)) {
      // Deleted meanwhile or unreadable: nothing to publish.
      done.push_back(entries[i].stream_id);
      continue;
    }
    kafka::CloudEvent ce{.id = event.event_id(),
                         .type = "rebound.v1.CaseEvent",
                         .source = "rebound/cases",
                         .time = FromProto(event.occurred_at())};
    records.push_back({.topic = options_.topic,
                       .key = event.case_().case_id(),
                       .value = std::move(entries[i].payload),
                       .headers = kafka::ToHeaders(ce)});
    record_entry.push_back(i);
  }

  int published = 0;
  if (!records.empty()) {
    std::vector<absl::Status> results = producer_.SendBatch(records);
    for (size_t r = 0; r < results.size() && r < record_entry.size(); ++r) {
      if (results[r].ok()) {
        done.push_back(entries[record_entry[r]].stream_id);
        ++published;
      } else if (absl::IsInvalidArgument(results[r])) {
        // The broker will never take this record (too large, say). Left pending it would come
        // back first in every round and hold up the whole outbox, so park it beside the outbox
        // for an operator and move on.
        metrics_.outbox_failures.Increment();
        const Entry& entry = entries[record_entry[r]];
        auto parked =
            redis_.Command({"XADD", ParkedKey(), "*", "id", entry.event_id, "ev", records[r].value,
                            "reason", std::string(results[r].message())});
        if (parked.ok()) {
          done.push_back(entry.stream_id);
        }
        runtime::Logger("cases")->error("outbox event {} can never be published ({}); {} {}",
                                        entry.event_id, std::string(results[r].message()),
                                        parked.ok() ? "parked in" : "could not park it in",
                                        ParkedKey());
      } else {
        metrics_.outbox_failures.Increment();
        runtime::Logger("cases")->warn("publishing {} failed, will retry: {}",
                                       entries[record_entry[r]].event_id,
                                       std::string(results[r].message()));
      }
    }
  }
  if (!done.empty()) {
    std::vector<std::string> ack = {"XACK", options_.outbox_key, options_.group};
    std::vector<std::string> del = {"XDEL", options_.outbox_key};
    ack.insert(ack.end(), done.begin(), done.end());
    del.insert(del.end(), done.begin(), done.end());
    auto removed = redis_.Pipeline({ack, del});
    if (!removed.ok()) {
      // Published but still in the outbox: it goes out again later, and consumers dedupe.
      return removed.status();
    }
  }
  metrics_.outbox_published.Increment(published);
  if (auto depth = redis_.Command({"XLEN", options_.outbox_key}); depth.ok()) {
    metrics_.outbox_depth.Set(static_cast<double>(depth->integer));
  }
  return published;
}

void OutboxPublisher::Start() {
  thread_ = std::thread([this] {
    auto log = runtime::Logger("cases");
    absl::Duration backoff = options_.interval;
    while (!stop_) {
      absl::StatusOr<int> published = DrainOnce();
      if (!published.ok()) {
        log->warn("outbox: {}", std::string(published.status().message()));
        backoff = std::min(backoff * 2, absl::Seconds(5));
      } else {
        backoff = options_.interval;
        if (*published >= options_.batch) {
          continue;  // more is waiting
        }
      }
      // Sleep in small steps so Stop() is noticed quickly.
      const absl::Time until = absl::Now() + backoff;
      while (!stop_ && absl::Now() < until) {
        absl::SleepFor(std::min(absl::Milliseconds(50), until - absl::Now()));
      }
    }
  });
}

void OutboxPublisher::Stop(absl::Duration deadline) {
  stop_ = true;
  if (thread_.joinable()) {
    thread_.join();
  }
  const absl::Time until = absl::Now() + deadline;
  while (absl::Now() < until) {
    absl::StatusOr<int> published = DrainOnce();
    if (!published.ok()) {
      runtime::Logger("cases")->warn("outbox: final drain failed: {}",
                                     std::string(published.status().message()));
      return;
    }
    if (*published == 0) {
      return;
    }
  }
}

}  // namespace rebound::cases
