// Turning a CaseEvent into the words of a mail: the view model (every value a template may
// show), the subject line, and the rendering of the replaceable mustache templates (a text and
// an HTML part per kind of mail).
#ifndef REBOUND_NOTIFIER_RENDER_H_
#define REBOUND_NOTIFIER_RENDER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "rebound/mail/mime.h"
#include "rebound/v1/events.pb.h"

namespace rebound::notifier {

enum class MailKind { kAlert, kUpdate, kEscalation, kReminder };

// "alert", "update", "escalation", "reminder": template file stems and metric labels.
std::string_view MailKindName(MailKind kind);
// The mail an event type calls for; nullopt for events that send nothing.
std::optional<MailKind> KindForEvent(v1::CaseEventType type);

// Signs a one-click link token for (case id, resolution, expiry).
using LinkSignFn =
    std::function<std::string(const std::string& case_id, v1::Resolution, absl::Time expires_at)>;

struct RenderOptions {
  // Base of the one-click links, without a trailing slash; a link is <base>/r/<token>.
  std::string link_base_url = "http://localhost:8082";
  absl::Duration link_expiry = absl::Hours(24 * 30);
  LinkSignFn sign;
  absl::TimeZone time_zone = absl::UTCTimeZone();
  // Free-text answers longer than this (in characters) are shortened in the mail.
  size_t max_comment_chars = 5000;
};

struct RenderedMail {
  std::string subject;
  std::string text;
  std::string html;
};

// The theme as the call opener may name it to the respondent, in general words
// ("how quickly we got back to you"); a neutral phrase for unknown or missing themes.
std::string ThemePhrase(std::string_view theme_id);

// Subject line: the company and what is needed, with the priority when high or urgent. Never
// holds comment text; control characters of the company name become spaces.
std::string MailSubject(MailKind kind, const v1::CaseEvent& event);

// `text` with every control character (CR, LF, tab, ...) turned into a space and runs of
// spaces collapsed: for values headed for a header line.
std::string SingleLine(std::string_view text);

// The response a mail is about: the one that joined for RESPONSE_JOINED, otherwise the
// latest of the case. nullptr when the case carries no response.
const v1::SurveyResponse* FocusResponse(const v1::CaseEvent& event);

// The template files of one directory: <kind>.txt.mustache and <kind>.html.mustache for each
// kind. Loaded once at start; a broken template stops the start, not a send.
class TemplateSet {
 public:
  // Reads and parses all eight files; the error names the file and the problem.
  static absl::StatusOr<TemplateSet> Load(const std::string& dir);
  // From sources in memory, keyed by file name ("alert.txt.mustache"), for tests.
  static absl::StatusOr<TemplateSet> FromSources(std::map<std::string, std::string> sources);

  // Renders subject, text and HTML. `now` fixes the links' expiry. FAILED_PRECONDITION when the
  // event has no case or no response.
  absl::StatusOr<RenderedMail> Render(MailKind kind, const v1::CaseEvent& event,
                                      const RenderOptions& options, absl::Time now) const;

 private:
  struct Parsed;
  // Parsed once; shared by copies of the set. Rendering is serialised inside.
  std::shared_ptr<Parsed> parsed_;
};

// "<first 32 hex digits of SHA-256(event id)>@<domain>": the same event always gets the same
// Message-ID, so a mail that is sent twice after all is recognisable as one.
std::string MessageIdFor(std::string_view event_id, std::string_view domain);

struct ComposeOptions {
  mail::Address from;
  std::string message_id_domain = "rebound.local";
};

// The whole message of `mail` for `event`: headers (Message-ID from the event id; follow-ups
// refer to the alert's Message-ID so mail readers thread them), text and HTML parts.
mail::MailMessage ComposeMessage(const RenderedMail& mail, const v1::CaseEvent& event,
                                 MailKind kind, std::vector<mail::Address> to,
                                 std::vector<mail::Address> cc, const ComposeOptions& options,
                                 absl::Time now);

}  // namespace rebound::notifier

#endif  // REBOUND_NOTIFIER_RENDER_H_
