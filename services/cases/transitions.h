// The life of a case as pure functions: opening from a detractor, a further detractor joining,
// resolution changes (with escalation up the owner chain), notes and the overdue mark. Nothing
// here touches Redis or Kafka; the store persists what these functions compute, atomically,
// with the version the change was computed from.
#ifndef REBOUND_SERVICES_CASES_TRANSITIONS_H_
#define REBOUND_SERVICES_CASES_TRANSITIONS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/domain/utf8.h"
#include "rebound/v1/case.pb.h"
#include "rebound/v1/case_service.pb.h"
#include "rebound/v1/events.pb.h"

namespace rebound::cases {

// Longest accepted actor name and note, in characters (code points).
inline constexpr size_t kMaxActorLength = 200;
inline constexpr size_t kMaxNoteLength = 2000;

// Case records are proto3, whose string fields must be UTF-8: a record holding anything else
// could no longer be parsed once stored, so every text is checked with domain::IsValidUtf8.
using domain::CountChars;
using domain::IsValidUtf8;

// A computed change: the case after it, the history entry it appended and the event type it
// publishes.
struct Transition {
  v1::Case after;
  v1::CaseChange change;
  v1::CaseEventType type = v1::CASE_EVENT_TYPE_UNSPECIFIED;
};

// Who asks for a change and how.
struct ChangeRequest {
  std::string actor;
  std::string note;
  bool reopen = false;
};

// A new case for `detractor`. The owner is the last link of the owner chain. INVALID_ARGUMENT
// when the detractor carries no response id.
absl::StatusOr<Transition> OpenCase(const v1::DetractorIdentified& detractor, absl::Time now);

// `detractor` (a further response of the same respondent) joins the open case `current`:
// the response is appended, the priority becomes the higher one, the due time the earlier one,
// the assessment the latest. FAILED_PRECONDITION when `current` is closed.
absl::StatusOr<Transition> JoinResponse(const v1::Case& current,
                                        const v1::DetractorIdentified& detractor, absl::Time now);

// Records `resolution`. Open cases (no resolution, in progress, escalated) accept any
// resolution; a closed case only with `request.reopen`. Escalate moves the owner one link up
// the chain; at the top the owner stays and the case is marked escalated.
absl::StatusOr<Transition> ChangeResolution(const v1::Case& current, v1::Resolution resolution,
                                            const ChangeRequest& request, absl::Time now);

// Appends a note (1 to kMaxNoteLength characters) by `request.actor`.
absl::StatusOr<Transition> AddNote(const v1::Case& current, const ChangeRequest& request,
                                   absl::Time now);

// Marks the case overdue for its current due time (actor "system").
absl::StatusOr<Transition> MarkOverdue(const v1::Case& current, absl::Time now);

// True when the case is open, nobody acted on it yet and its due time passed.
bool IsOverdue(const v1::Case& c, absl::Time now);

// True when the overdue scheduler owes this case a reminder: it is overdue at `now` and no
// reminder went out yet for its current due time (`notified_due_ms`, 0 for none).
bool NeedsOverdueEvent(const v1::Case& c, int64_t notified_due_ms, absl::Time now);

// True while the case waits for a first action on a due time that got no reminder yet: the
// overdue scheduler watches exactly these.
bool AwaitsFirstAction(const v1::Case& c, int64_t notified_due_ms);

// "<case id>/<sequence>".
std::string EventId(const std::string& case_id, int64_t sequence);

// The event published for `transition`.
v1::CaseEvent MakeEvent(const Transition& transition);
// The compact form streamed to WatchCases.
v1::CaseEventSummary MakeSummary(const Transition& transition);

// Who last chose the current resolution ("" when none did).
std::string LastResolutionActor(const v1::Case& c);

// Checks actor and note of a request; messages name the field.
absl::Status ValidateChangeRequest(const ChangeRequest& request, bool note_required);

// Timestamp helpers.
int64_t ToUnixMillis(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& ts);

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_TRANSITIONS_H_
