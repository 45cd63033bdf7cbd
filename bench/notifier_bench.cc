// The notifier's per-mail work: rendering the alert templates (text and HTML, five signed
// links) and building the MIME message handed to SMTP.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/time/time.h"
#include "bench_paths.h"
#include "benchmark/benchmark.h"
#include "rebound/domain/domain.h"
#include "rebound/mail/mime.h"
#include "rebound/token/token.h"
#include "render.h"
#include "samples.h"

namespace rebound::notifier {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1796112000);

const TemplateSet& Templates() {
  static const TemplateSet* set = [] {
    absl::StatusOr<TemplateSet> loaded =
        TemplateSet::Load(bench::SourcePath("services/notifier/templates"));
    if (!loaded.ok()) {
      std::fprintf(stderr, "cannot load the templates: %s\n",
                   std::string(loaded.status().message()).c_str());
      std::exit(1);
    }
    return new TemplateSet(std::move(*loaded));
  }();
  return *set;
}

RenderOptions Options() {
  static const token::LinkSigner* signer = new token::LinkSigner({"2026-12", std::string(48, 'k')});
  RenderOptions options;
  options.link_base_url = "https://rebound.example.com";
  options.sign = [](const std::string& case_id, v1::Resolution r, absl::Time expires) {
    return signer->Sign({case_id, static_cast<int>(r), expires});
  };
  return options;
}

v1::CaseEvent OpenedEvent() {
  const v1::SurveyResponse response =
      bench::SampleResponse(0, bench::SampleOptions{}, kNow - absl::Hours(1));
  v1::CaseEvent e;
  v1::Case* c = e.mutable_case_();
  c->set_case_id(domain::CaseIdForResponse(response.response_id()));
  e.set_event_id(c->case_id() + "/1");
  e.set_type(v1::CASE_EVENT_TYPE_OPENED);
  c->set_version(1);
  c->set_owner(response.owner_chain(1).name());
  c->set_owner_index(1);
  c->set_priority(v1::PRIORITY_HIGH);
  c->mutable_due_at()->set_seconds(absl::ToUnixSeconds(kNow + absl::Hours(24)));
  *c->add_responses() = response;
  v1::Assessment* a = c->mutable_assessment();
  a->set_category(v1::CATEGORY_DETRACTOR);
  a->set_priority(v1::PRIORITY_HIGH);
  a->add_priority_reasons("very_low_score");
  a->mutable_overall_theme()->set_id("responsiveness");
  a->mutable_overall_theme()->set_label("responsiveness");
  e.mutable_change()->set_sequence(1);
  e.mutable_change()->set_kind("opened");
  e.mutable_change()->set_actor("system");
  return e;
}

void BM_RenderAlert(benchmark::State& state) {
  const v1::CaseEvent event = OpenedEvent();
  const RenderOptions options = Options();
  for (auto _ : state) {
    auto mail = Templates().Render(MailKind::kAlert, event, options, kNow);
    benchmark::DoNotOptimize(mail);
  }
}
BENCHMARK(BM_RenderAlert);

void BM_MailSubject(benchmark::State& state) {
  const v1::CaseEvent event = OpenedEvent();
  for (auto _ : state) {
    benchmark::DoNotOptimize(MailSubject(MailKind::kAlert, event));
  }
}
BENCHMARK(BM_MailSubject);

// Render, compose and encode: everything between the Kafka record and the SMTP client.
void BM_RenderComposeBuildMime(benchmark::State& state) {
  const v1::CaseEvent event = OpenedEvent();
  const RenderOptions options = Options();
  ComposeOptions compose;
  compose.from = {"Rebound", "rebound@example.com"};
  for (auto _ : state) {
    auto mail = Templates().Render(MailKind::kAlert, event, options, kNow);
    if (!mail.ok()) {
      state.SkipWithError("render failed");
      break;
    }
    mail::MailMessage message = ComposeMessage(
        *mail, event, MailKind::kAlert, {{"Owner 0", "owner0@example.com"}}, {}, compose, kNow);
    auto mime = mail::BuildMime(message);
    benchmark::DoNotOptimize(mime);
  }
}
BENCHMARK(BM_RenderComposeBuildMime);

}  // namespace
}  // namespace rebound::notifier

BENCHMARK_MAIN();
