#include "samples.h"

#include <array>

#include "absl/strings/str_cat.h"

namespace rebound::bench {
namespace {

// Reason texts of realistic length, in the languages the classifier's lexicon covers.
constexpr std::array<std::string_view, 6> kDetractorReasons = {
    "The recruiter stopped answering my emails after the first week, and the timesheets were "
    "wrong twice in a row.",
    "Nobody called back when the assignment ended early; I found out from the site manager.",
    "The candidates sent to us did not have the forklift certification we asked for.",
    "Le prix a augmenté sans explication et personne ne répond au téléphone.",
    "Las facturas llegan tarde y con errores, y el servicio es muy lento.",
    "Communication was poor: we heard about the schedule change two days late.",
};
constexpr std::array<std::string_view, 3> kOtherReasons = {
    "Quick placement and a friendly team.",
    "Good candidates overall, onboarding could be smoother.",
    "",
};

void SetTime(google::protobuf::Timestamp* ts, absl::Time t) {
  const int64_t nanos = absl::ToUnixNanos(t);
  ts->set_seconds(nanos / 1000000000);
  ts->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

}  // namespace

bool IsDetractor(int64_t index, const SampleOptions& options) {
  return options.detractor_every > 0 && index % options.detractor_every == 0;
}

std::string SampleResponseId(int64_t index, const SampleOptions& options) {
  return absl::StrCat(options.run_id, "-", index);
}

v1::SurveyResponse SampleResponse(int64_t index, const SampleOptions& options,
                                  absl::Time submitted_at) {
  v1::SurveyResponse r;
  r.set_response_id(SampleResponseId(index, options));
  SetTime(r.mutable_submitted_at(), submitted_at);
  r.set_survey_id("bench-wave");
  const bool detractor = IsDetractor(index, options);
  r.set_score(detractor ? static_cast<int32_t>(index / options.detractor_every % 7)
                        : static_cast<int32_t>(7 + index % 4));
  if (detractor) {
    r.set_reason(std::string(kDetractorReasons[index % kDetractorReasons.size()]));
    r.set_do_differently(index % 3 == 0 ? "" : "Call back within a day.");
  } else {
    r.set_reason(std::string(kOtherReasons[index % kOtherReasons.size()]));
  }
  v1::Respondent* who = r.mutable_respondent();
  who->set_respondent_id(absl::StrCat(options.run_id, "-p", index));
  who->set_full_name(absl::StrCat("Sample Respondent ", index));
  who->set_email(absl::StrCat("respondent", index, "@example.com"));
  who->set_phone("+1 503 555 0100");
  who->set_kind(index % 2 == 0 ? v1::RESPONDENT_KIND_CLIENT : v1::RESPONDENT_KIND_TALENT);
  const int64_t account = options.accounts > 0 ? index % options.accounts : 0;
  r.mutable_account()->set_account_id(absl::StrCat("acct-", account));
  r.mutable_account()->set_name(absl::StrCat("Sample Account ", account));
  v1::Owner* director = r.add_owner_chain();
  director->set_name("Lee Director");
  director->set_role("Director");
  director->set_email("director@example.com");
  v1::Owner* owner = r.add_owner_chain();
  owner->set_name(absl::StrCat("Owner ", account % 10));
  owner->set_email(absl::StrCat("owner", account % 10, "@example.com"));
  r.add_tags("Portland");
  r.add_tags("Industrial");
  if (account == 0) {
    r.add_tags("Top 100");
  }
  return r;
}

v1::ResponseReceived SampleEvent(const v1::SurveyResponse& response, absl::Time received_at) {
  v1::ResponseReceived event;
  event.set_event_id(absl::StrCat("rsp-", response.response_id()));
  *event.mutable_response() = response;
  event.mutable_response()->set_respondent_key(response.respondent().respondent_id());
  SetTime(event.mutable_response()->mutable_received_at(), received_at);
  event.mutable_response()->set_source("grpc");
  return event;
}

}  // namespace rebound::bench
