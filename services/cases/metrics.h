// Prometheus metrics of the case service.
#ifndef REBOUND_SERVICES_CASES_METRICS_H_
#define REBOUND_SERVICES_CASES_METRICS_H_

#include <memory>
#include <string>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace rebound::cases {

class Metrics {
 public:
  explicit Metrics(prometheus::Registry& registry);

  prometheus::Counter& opened;
  prometheus::Counter& joined;
  prometheus::Counter& duplicates;
  prometheus::Counter& dead_letters;
  prometheus::Counter& overdue_events;
  prometheus::Counter& outbox_published;
  prometheus::Counter& outbox_failures;
  prometheus::Gauge& outbox_depth;

  // Resolution changes by resolution slug.
  void CountTransition(const std::string& resolution);
  // gRPC requests by method and status code name.
  void CountRequest(const std::string& method, const std::string& code);
  // Link page requests by method and HTTP status.
  void CountLink(const std::string& method, int status);

 private:
  prometheus::Family<prometheus::Counter>& transitions_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& links_;
};

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_METRICS_H_
