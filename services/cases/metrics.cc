#include "metrics.h"

namespace rebound::cases {
namespace {

prometheus::Family<prometheus::Counter>& CounterFamily(prometheus::Registry& registry,
                                                       const std::string& name,
                                                       const std::string& help) {
  return prometheus::BuildCounter().Name(name).Help(help).Register(registry);
}

}  // namespace

Metrics::Metrics(prometheus::Registry& registry)
    : opened(CounterFamily(registry, "rebound_cases_opened_total", "Cases opened from detractors")
                 .Add({})),
      joined(CounterFamily(registry, "rebound_cases_joined_total",
                           "Detractors that joined the open case of the same respondent")
                 .Add({})),
      duplicates(CounterFamily(registry, "rebound_cases_duplicate_detractors_total",
                               "Redelivered detractors that changed nothing")
                     .Add({})),
      dead_letters(CounterFamily(registry, "rebound_cases_dead_letters_total",
                                 "Detractor records sent to the dead-letter topic")
                       .Add({})),
      overdue_events(CounterFamily(registry, "rebound_cases_overdue_events_total",
                                   "Overdue events emitted by this replica")
                         .Add({})),
      outbox_published(CounterFamily(registry, "rebound_cases_outbox_published_total",
                                     "Case events published from the outbox")
                           .Add({})),
      outbox_failures(CounterFamily(registry, "rebound_cases_outbox_publish_failures_total",
                                    "Case events the broker did not acknowledge (retried)")
                          .Add({})),
      outbox_depth(prometheus::BuildGauge()
                       .Name("rebound_cases_outbox_depth")
                       .Help("Case events waiting in the Redis outbox")
                       .Register(registry)
                       .Add({})),
      transitions_(CounterFamily(registry, "rebound_cases_transitions_total",
                                 "Resolution changes by resolution")),
      requests_(CounterFamily(registry, "rebound_cases_grpc_requests_total",
                              "CaseService requests by method and status code")),
      links_(CounterFamily(registry, "rebound_cases_link_requests_total",
                           "One-click link requests by method and HTTP status")) {}

void Metrics::CountTransition(const std::string& resolution) {
  transitions_.Add({{"resolution", resolution}}).Increment();
}

void Metrics::CountRequest(const std::string& method, const std::string& code) {
  requests_.Add({{"method", method}, {"code", code}}).Increment();
}

void Metrics::CountLink(const std::string& method, int status) {
  links_.Add({{"method", method}, {"status", std::to_string(status)}}).Increment();
}

}  // namespace rebound::cases
