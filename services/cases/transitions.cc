#include "transitions.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "rebound/domain/domain.h"

namespace rebound::cases {
namespace {

std::string Str(std::string_view s) { return std::string(s); }

// Starts the next history entry of `c` and bumps its version; the caller fills in the rest.
v1::CaseChange* Append(v1::Case& c, std::string_view kind, std::string actor, absl::Time now) {
  c.set_version(c.version() + 1);
  *c.mutable_updated_at() = ToProto(now);
  v1::CaseChange* change = c.add_history();
  change->set_sequence(c.version());
  *change->mutable_at() = ToProto(now);
  change->set_actor(std::move(actor));
  change->set_kind(Str(kind));
  return change;
}

Transition Finish(v1::Case after, v1::CaseEventType type) {
  Transition t;
  t.change = after.history(after.history_size() - 1);
  t.after = std::move(after);
  t.type = type;
  return t;
}

void NoteFirstAction(v1::Case& c, absl::Time now) {
  if (!c.has_first_action_at()) {
    *c.mutable_first_action_at() = ToProto(now);
  }
}

}  // namespace

int64_t ToUnixMillis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1000000;
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  const timespec ts = absl::ToTimespec(t);
  google::protobuf::Timestamp out;
  out.set_seconds(ts.tv_sec);
  out.set_nanos(static_cast<int32_t>(ts.tv_nsec));
  return out;
}

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

std::string EventId(const std::string& case_id, int64_t sequence) {
  return absl::StrCat(case_id, "/", sequence);
}

absl::Status ValidateChangeRequest(const ChangeRequest& request, bool note_required) {
  if (request.actor.empty()) {
    return absl::InvalidArgumentError("actor: required (a person's or a service's name)");
  }
  if (!IsValidUtf8(request.actor)) {
    return absl::InvalidArgumentError("actor: must be valid UTF-8");
  }
  if (!IsValidUtf8(request.note)) {
    return absl::InvalidArgumentError("note: must be valid UTF-8");
  }
  if (CountChars(request.actor) > kMaxActorLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("actor: longer than ", kMaxActorLength, " characters"));
  }
  if (note_required && request.note.empty()) {
    return absl::InvalidArgumentError("note: required, 1 to 2000 characters");
  }
  if (CountChars(request.note) > kMaxNoteLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("note: longer than ", kMaxNoteLength, " characters"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Transition> OpenCase(const v1::DetractorIdentified& detractor, absl::Time now) {
  const v1::SurveyResponse& response = detractor.response();
  if (response.response_id().empty()) {
    return absl::InvalidArgumentError("response.response_id: empty");
  }
  v1::Case c;
  c.set_case_id(domain::CaseIdForResponse(response.response_id()));
  c.set_resolution(v1::RESOLUTION_UNSPECIFIED);
  const int chain = response.owner_chain_size();
  c.set_owner_index(chain > 0 ? chain - 1 : 0);
  if (chain > 0) {
    c.set_owner(response.owner_chain(chain - 1).name());
  }
  c.set_priority(detractor.assessment().priority() == v1::PRIORITY_UNSPECIFIED
                     ? v1::PRIORITY_NORMAL
                     : detractor.assessment().priority());
  // A detractor without a due time still needs a follow-up: treat it as due when it opens.
  *c.mutable_due_at() =
      detractor.assessment().has_due_at() ? detractor.assessment().due_at() : ToProto(now);
  *c.mutable_opened_at() = ToProto(now);
  *c.add_responses() = response;
  *c.mutable_assessment() = detractor.assessment();
  Append(c, "opened", "system", now)->set_response_id(response.response_id());
  return Finish(std::move(c), v1::CASE_EVENT_TYPE_OPENED);
}

absl::StatusOr<Transition> JoinResponse(const v1::Case& current,
                                        const v1::DetractorIdentified& detractor, absl::Time now) {
  if (current.closed()) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", current.case_id(), " is closed; a new response opens a new case"));
  }
  v1::Case c = current;
  *c.add_responses() = detractor.response();
  *c.mutable_assessment() = detractor.assessment();
  c.set_priority(std::max(c.priority(), detractor.assessment().priority()));
  if (detractor.assessment().has_due_at() &&
      ToUnixMillis(detractor.assessment().due_at()) < ToUnixMillis(c.due_at())) {
    *c.mutable_due_at() = detractor.assessment().due_at();
  }
  Append(c, "response_joined", "system", now)->set_response_id(detractor.response().response_id());
  return Finish(std::move(c), v1::CASE_EVENT_TYPE_RESPONSE_JOINED);
}

absl::StatusOr<Transition> ChangeResolution(const v1::Case& current, v1::Resolution resolution,
                                            const ChangeRequest& request, absl::Time now) {
  if (resolution == v1::RESOLUTION_UNSPECIFIED || !v1::Resolution_IsValid(resolution)) {
    return absl::InvalidArgumentError(
        "resolution: choose one of in_progress, cant_resolve, not_an_issue, resolved, escalate");
  }
  if (absl::Status s = ValidateChangeRequest(request, /*note_required=*/false); !s.ok()) {
    return s;
  }
  if (current.closed() && !request.reopen) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", current.case_id(), " is closed (",
                     Str(domain::ResolutionLabel(current.resolution())),
                     "); set reopen to change its resolution"));
  }

  v1::Case c = current;
  const v1::Resolution from = c.resolution();
  c.set_resolution(resolution);
  NoteFirstAction(c, now);
  if (domain::IsClosing(resolution)) {
    c.set_closed(true);
    *c.mutable_closed_at() = ToProto(now);
  } else {
    c.set_closed(false);
    c.clear_closed_at();
  }

  if (resolution == v1::RESOLUTION_ESCALATE) {
    const std::string from_owner = c.owner();
    // The chain is the first response's: later responses of the same respondent do not move
    // the case to somebody else.
    const auto& chain = c.responses_size() > 0 ? c.responses(0).owner_chain()
                                               : google::protobuf::RepeatedPtrField<v1::Owner>();
    if (c.owner_index() > 0 && c.owner_index() - 1 < chain.size()) {
      c.set_owner_index(c.owner_index() - 1);
      c.set_owner(chain[c.owner_index()].name());
    }
    c.set_escalated(true);
    v1::CaseChange* change = Append(c, "escalated", request.actor, now);
    change->set_from_resolution(from);
    change->set_to_resolution(resolution);
    change->set_from_owner(from_owner);
    change->set_to_owner(c.owner());
    change->set_note(request.note);
    return Finish(std::move(c), v1::CASE_EVENT_TYPE_ESCALATED);
  }

  v1::CaseChange* change = Append(c, "resolution", request.actor, now);
  change->set_from_resolution(from);
  change->set_to_resolution(resolution);
  change->set_note(request.note);
  return Finish(std::move(c), v1::CASE_EVENT_TYPE_RESOLUTION_CHANGED);
}

absl::StatusOr<Transition> AddNote(const v1::Case& current, const ChangeRequest& request,
                                   absl::Time now) {
  if (absl::Status s = ValidateChangeRequest(request, /*note_required=*/true); !s.ok()) {
    return s;
  }
  v1::Case c = current;
  NoteFirstAction(c, now);
  Append(c, "note", request.actor, now)->set_note(request.note);
  return Finish(std::move(c), v1::CASE_EVENT_TYPE_NOTE_ADDED);
}

absl::StatusOr<Transition> MarkOverdue(const v1::Case& current, absl::Time now) {
  if (!IsOverdue(current, now)) {
    return absl::FailedPreconditionError(
        absl::StrCat("case ", current.case_id(), " is not overdue"));
  }
  v1::Case c = current;
  c.set_overdue(true);
  Append(c, "overdue", "system", now);
  return Finish(std::move(c), v1::CASE_EVENT_TYPE_OVERDUE);
}

bool IsOverdue(const v1::Case& c, absl::Time now) {
  return !c.closed() && !c.has_first_action_at() && c.has_due_at() && FromProto(c.due_at()) <= now;
}

bool AwaitsFirstAction(const v1::Case& c, int64_t notified_due_ms) {
  return !c.closed() && !c.has_first_action_at() && ToUnixMillis(c.due_at()) != notified_due_ms;
}

bool NeedsOverdueEvent(const v1::Case& c, int64_t notified_due_ms, absl::Time now) {
  return IsOverdue(c, now) && AwaitsFirstAction(c, notified_due_ms);
}

v1::CaseEvent MakeEvent(const Transition& transition) {
  v1::CaseEvent event;
  event.set_event_id(EventId(transition.after.case_id(), transition.change.sequence()));
  event.set_type(transition.type);
  *event.mutable_case_() = transition.after;
  *event.mutable_change() = transition.change;
  *event.mutable_occurred_at() = transition.change.at();
  return event;
}

v1::CaseEventSummary MakeSummary(const Transition& transition) {
  v1::CaseEventSummary summary;
  summary.set_event_id(EventId(transition.after.case_id(), transition.change.sequence()));
  summary.set_case_id(transition.after.case_id());
  *summary.mutable_change() = transition.change;
  summary.set_version(transition.after.version());
  summary.set_resolution(transition.after.resolution());
  summary.set_owner(transition.after.owner());
  return summary;
}

std::string LastResolutionActor(const v1::Case& c) {
  for (int i = c.history_size() - 1; i >= 0; --i) {
    const v1::CaseChange& change = c.history(i);
    if (change.kind() == "resolution" || change.kind() == "escalated") {
      return change.actor();
    }
  }
  return "";
}

}  // namespace rebound::cases
