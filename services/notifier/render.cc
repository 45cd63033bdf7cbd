#include "render.h"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "kainjow/mustache.hpp"
#include "rebound/domain/domain.h"

namespace rebound::notifier {
namespace {

using Data = kainjow::mustache::data;

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view Trimmed(const std::string& s) {
  const absl::string_view t = absl::StripAsciiWhitespace(s);
  return std::string_view(t.data(), t.size());
}

constexpr std::array<MailKind, 4> kKinds = {MailKind::kAlert, MailKind::kUpdate,
                                            MailKind::kEscalation, MailKind::kReminder};

// General phrases for the lexicon's theme ids (services/classifier/config/lexicon.json). They
// speak to the respondent and never repeat their words.
struct ThemeWords {
  std::string_view id;
  std::string_view phrase;
};
constexpr std::array<ThemeWords, 8> kThemePhrases = {{
    {"responsiveness", "how quickly we got back to you"},
    {"communication", "how well we kept you informed"},
    {"quality", "the quality of what we delivered"},
    {"fit", "how well we matched what you needed"},
    {"pricing_billing", "our pricing and billing"},
    {"timeliness", "whether we delivered when we said we would"},
    {"professionalism", "how our team worked with you"},
    {"process_paperwork", "how easy we made the process and paperwork"},
}};
constexpr std::string_view kNeutralThemePhrase = "your recent experience with us";

constexpr std::array<v1::Resolution, 5> kLinkResolutions = {
    v1::RESOLUTION_IN_PROGRESS, v1::RESOLUTION_CANT_RESOLVE, v1::RESOLUTION_NOT_AN_ISSUE,
    v1::RESOLUTION_RESOLVED, v1::RESOLUTION_ESCALATE};

// At most `max_chars` UTF-8 characters of `text`; `shortened` tells whether anything was cut.
std::string Shorten(std::string_view text, size_t max_chars, bool& shortened) {
  size_t chars = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xc0) != 0x80) {
      if (chars == max_chars) {
        shortened = true;
        return absl::StrCat(Absl(text.substr(0, i)), "\u2026");
      }
      ++chars;
    }
  }
  shortened = false;
  return std::string(text);
}

std::string DisplayTime(absl::Time t, absl::TimeZone tz) {
  return absl::FormatTime("%a %d %b %Y, %H:%M %Z", t, tz);
}

absl::Time ToAbsl(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

bool HasReason(const v1::Assessment& assessment, std::string_view reason) {
  for (const std::string& r : assessment.priority_reasons()) {
    if (r == reason) {
      return true;
    }
  }
  return false;
}

std::string CompanyName(const v1::CaseEvent& event) {
  const v1::SurveyResponse* response = FocusResponse(event);
  std::string name = response == nullptr ? "" : SingleLine(response->account().name());
  return name.empty() ? "an unnamed account" : name;
}

void SetText(Data& data, const std::string& key, std::string_view value) {
  data.set(key, std::string(value));
  data.set("has_" + key, !value.empty());
}

Data BuildViewModel(MailKind kind, const v1::CaseEvent& event, const v1::SurveyResponse& response,
                    const RenderOptions& options, absl::Time now) {
  const v1::Case& c = event.case_();
  const v1::Assessment& assessment = c.assessment();
  Data d{Data::type::object};
  d.set("kind", std::string(MailKindName(kind)));
  d.set("case_id", c.case_id());
  d.set("company", CompanyName(event));
  // One-line fields lose their line breaks; only the free-text answers keep them.

  const v1::Respondent& who = response.respondent();
  SetText(d, "respondent_name", SingleLine(who.full_name()));
  SetText(d, "first_name", domain::FirstName(SingleLine(who.full_name())));
  SetText(d, "respondent_email", SingleLine(who.email()));
  SetText(d, "respondent_phone", SingleLine(who.phone()));
  d.set("respondent_is_talent", who.kind() == v1::RESPONDENT_KIND_TALENT);

  const auto& chain =
      c.responses_size() > 0 ? c.responses(0).owner_chain() : response.owner_chain();
  SetText(d, "owner_chain", SingleLine(domain::FormatOwnerChain(chain)));
  SetText(d, "owner_name", SingleLine(c.owner()));
  SetText(d, "owner_first_name", domain::FirstName(SingleLine(c.owner())));
  SetText(d, "tags", SingleLine(absl::StrJoin(response.tags(), ", ")));

  d.set("score", std::to_string(response.score()));
  bool shortened = false;
  const std::string reason =
      Shorten(Trimmed(response.reason()), options.max_comment_chars, shortened);
  SetText(d, "reason", reason);
  d.set("reason_shortened", shortened);
  const std::string differently =
      Shorten(Trimmed(response.do_differently()), options.max_comment_chars, shortened);
  SetText(d, "do_differently", differently);
  d.set("do_differently_shortened", shortened);
  if (assessment.has_previous_score()) {
    d.set("previous_score", std::to_string(assessment.previous_score()));
  }
  d.set("has_previous_score", assessment.has_previous_score());

  const v1::Priority priority = c.priority();
  d.set("priority", std::string(domain::PriorityLabel(priority)));
  d.set("priority_raised", priority == v1::PRIORITY_HIGH || priority == v1::PRIORITY_URGENT);
  d.set("is_urgent", priority == v1::PRIORITY_URGENT);
  d.set("call_now", priority == v1::PRIORITY_URGENT || HasReason(assessment, "key_account"));
  if (c.has_due_at()) {
    d.set("due_at", DisplayTime(ToAbsl(c.due_at()), options.time_zone));
  }
  d.set("has_due_at", c.has_due_at());
  if (response.has_submitted_at()) {
    d.set("submitted_at", DisplayTime(ToAbsl(response.submitted_at()), options.time_zone));
  }
  d.set("has_submitted_at", response.has_submitted_at());
  d.set("theme_phrase", ThemePhrase(assessment.overall_theme().id()));
  d.set("response_count", std::to_string(c.responses_size()));

  Data links{Data::type::list};
  const absl::Time expires = now + options.link_expiry;
  for (v1::Resolution r : kLinkResolutions) {
    Data link{Data::type::object};
    link.set("label", std::string(domain::ResolutionLabel(r)));
    link.set("slug", std::string(domain::ResolutionSlug(r)));
    const std::string token = options.sign ? options.sign(c.case_id(), r, expires) : "";
    link.set("url", absl::StrCat(options.link_base_url, "/r/", token));
    links.push_back(link);
  }
  d.set("resolutions", links);
  d.set("links_expire_at", DisplayTime(expires, options.time_zone));

  const v1::CaseChange& change = event.change();
  SetText(d, "previous_owner", SingleLine(change.from_owner()));
  SetText(d, "new_owner", SingleLine(change.to_owner().empty() ? c.owner() : change.to_owner()));
  SetText(d, "change_note", change.note());
  SetText(d, "changed_by", change.actor());
  return d;
}

// Stands for a blank template line while rendering; removed from the output.
constexpr char kBlankLine = '\x01';

// Mustache's "standalone" rule, which kainjow's renderer applies only to sections that render:
// a line holding nothing but a section tag ({{#x}}, {{^x}}, {{/x}}) or a comment disappears
// entirely, so templates can put sections on lines of their own without leaving blank lines
// behind. kainjow would also swallow a blank line that follows such a tag; blank lines hold
// kBlankLine so they stay.
std::string PrepareTemplate(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  size_t start = 0;
  while (start < source.size()) {
    size_t end = source.find('\n', start);
    const bool has_newline = end != std::string::npos;
    if (!has_newline) {
      end = source.size();
    }
    const std::string_view line(source.data() + start, end - start);
    const absl::string_view trimmed = absl::StripAsciiWhitespace(Absl(line));
    const bool standalone = trimmed.size() >= 5 && absl::StartsWith(trimmed, "{{") &&
                            absl::EndsWith(trimmed, "}}") &&
                            trimmed.find("}}") == trimmed.size() - 2 &&
                            std::string_view("#^/!").find(trimmed[2]) != std::string_view::npos;
    if (standalone) {
      out.append(trimmed.data(), trimmed.size());
    } else {
      if (trimmed.empty() && has_newline) {
        out.push_back(kBlankLine);
      } else {
        out.append(line);
      }
      if (has_newline) {
        out.push_back('\n');
      }
    }
    start = end + 1;
  }
  return out;
}

std::string TemplateFile(MailKind kind, bool html) {
  return absl::StrCat(Absl(MailKindName(kind)), html ? ".html.mustache" : ".txt.mustache");
}

absl::StatusOr<std::string> RenderOne(kainjow::mustache::mustache& tmpl, const Data& data,
                                      const std::string& name) {
  std::string out = tmpl.render(data);
  if (!tmpl.is_valid()) {
    return absl::FailedPreconditionError(absl::StrCat(name, ": ", tmpl.error_message()));
  }
  out.erase(std::remove(out.begin(), out.end(), kBlankLine), out.end());
  return out;
}

}  // namespace

struct TemplateSet::Parsed {
  absl::Mutex mu;
  // By file name; kainjow's render() is not const, hence the mutex.
  std::map<std::string, std::unique_ptr<kainjow::mustache::mustache>> templates ABSL_GUARDED_BY(mu);
};

std::string_view MailKindName(MailKind kind) {
  switch (kind) {
    case MailKind::kAlert:
      return "alert";
    case MailKind::kUpdate:
      return "update";
    case MailKind::kEscalation:
      return "escalation";
    case MailKind::kReminder:
      return "reminder";
  }
  return "unknown";
}

std::optional<MailKind> KindForEvent(v1::CaseEventType type) {
  switch (type) {
    case v1::CASE_EVENT_TYPE_OPENED:
      return MailKind::kAlert;
    case v1::CASE_EVENT_TYPE_RESPONSE_JOINED:
      return MailKind::kUpdate;
    case v1::CASE_EVENT_TYPE_ESCALATED:
      return MailKind::kEscalation;
    case v1::CASE_EVENT_TYPE_OVERDUE:
      return MailKind::kReminder;
    default:
      return std::nullopt;
  }
}

std::string ThemePhrase(std::string_view theme_id) {
  for (const ThemeWords& t : kThemePhrases) {
    if (t.id == theme_id) {
      return std::string(t.phrase);
    }
  }
  return std::string(kNeutralThemePhrase);
}

std::string SingleLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    const bool control = c < 0x20 || c == 0x7f;
    if (control || c == ' ') {
      if (!out.empty() && out.back() != ' ') {
        out.push_back(' ');
      }
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string MailSubject(MailKind kind, const v1::CaseEvent& event) {
  bool shortened = false;
  const std::string company = Shorten(CompanyName(event), 100, shortened);
  std::string prefix;
  if (event.case_().priority() == v1::PRIORITY_URGENT) {
    prefix = "[Urgent] ";
  } else if (event.case_().priority() == v1::PRIORITY_HIGH) {
    prefix = "[High priority] ";
  }
  switch (kind) {
    case MailKind::kAlert:
      return absl::StrCat(prefix, "Follow-up needed: ", company, " \u2013 detractor feedback");
    case MailKind::kUpdate:
      return absl::StrCat(prefix, "New feedback on an open case: ", company);
    case MailKind::kEscalation:
      return absl::StrCat(prefix, "Escalated to you: ", company, " \u2013 detractor follow-up");
    case MailKind::kReminder:
      return absl::StrCat(prefix, "Reminder: follow-up overdue for ", company);
  }
  return company;
}

const v1::SurveyResponse* FocusResponse(const v1::CaseEvent& event) {
  const v1::Case& c = event.case_();
  if (c.responses_size() == 0) {
    return nullptr;
  }
  if (event.type() == v1::CASE_EVENT_TYPE_RESPONSE_JOINED) {
    for (const v1::SurveyResponse& r : c.responses()) {
      if (r.response_id() == event.change().response_id()) {
        return &r;
      }
    }
  }
  return &c.responses(c.responses_size() - 1);
}

absl::StatusOr<TemplateSet> TemplateSet::Load(const std::string& dir) {
  std::map<std::string, std::string> sources;
  for (MailKind kind : kKinds) {
    for (bool html : {false, true}) {
      const std::string name = TemplateFile(kind, html);
      const std::string path = absl::StrCat(dir, "/", name);
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        return absl::NotFoundError(absl::StrCat("cannot read template ", path));
      }
      std::stringstream ss;
      ss << in.rdbuf();
      sources[name] = ss.str();
    }
  }
  return FromSources(std::move(sources));
}

absl::StatusOr<TemplateSet> TemplateSet::FromSources(std::map<std::string, std::string> sources) {
  for (MailKind kind : kKinds) {
    for (bool html : {false, true}) {
      const std::string name = TemplateFile(kind, html);
      auto it = sources.find(name);
      if (it == sources.end()) {
        return absl::NotFoundError(absl::StrCat("template ", name, " is missing"));
      }
      it->second = PrepareTemplate(it->second);
      kainjow::mustache::mustache tmpl(it->second);
      if (!tmpl.is_valid()) {
        return absl::InvalidArgumentError(absl::StrCat(name, ": ", tmpl.error_message()));
      }
    }
  }
  TemplateSet set;
  set.parsed_ = std::make_shared<Parsed>();
  absl::MutexLock lock(&set.parsed_->mu);
  for (auto& [name, source] : sources) {
    auto tmpl = std::make_unique<kainjow::mustache::mustache>(source);
    if (absl::EndsWith(name, ".txt.mustache")) {
      // The text part is not HTML: values go in as they are.
      tmpl->set_custom_escape([](const std::string& s) { return s; });
    }
    set.parsed_->templates[name] = std::move(tmpl);
  }
  return set;
}

absl::StatusOr<RenderedMail> TemplateSet::Render(MailKind kind, const v1::CaseEvent& event,
                                                 const RenderOptions& options,
                                                 absl::Time now) const {
  const v1::SurveyResponse* response = FocusResponse(event);
  if (!event.has_case_() || response == nullptr) {
    return absl::FailedPreconditionError("the event carries no case or no response");
  }
  const Data data = BuildViewModel(kind, event, *response, options, now);
  RenderedMail mail;
  mail.subject = MailSubject(kind, event);
  const std::string text_name = TemplateFile(kind, false);
  const std::string html_name = TemplateFile(kind, true);
  absl::MutexLock lock(&parsed_->mu);
  absl::StatusOr<std::string> text = RenderOne(*parsed_->templates.at(text_name), data, text_name);
  if (!text.ok()) {
    return text.status();
  }
  absl::StatusOr<std::string> html = RenderOne(*parsed_->templates.at(html_name), data, html_name);
  if (!html.ok()) {
    return html.status();
  }
  mail.text = std::move(*text);
  mail.html = std::move(*html);
  return mail;
}

std::string MessageIdFor(std::string_view event_id, std::string_view domain) {
  return absl::StrCat(domain::Sha256Hex(event_id).substr(0, 32), "@", Absl(domain));
}

mail::MailMessage ComposeMessage(const RenderedMail& rendered, const v1::CaseEvent& event,
                                 MailKind kind, std::vector<mail::Address> to,
                                 std::vector<mail::Address> cc, const ComposeOptions& options,
                                 absl::Time now) {
  mail::MailMessage m;
  m.from = options.from;
  m.to = std::move(to);
  m.cc = std::move(cc);
  m.subject = SingleLine(rendered.subject);
  m.message_id = MessageIdFor(event.event_id(), options.message_id_domain);
  m.date = now;
  m.text_body = rendered.text;
  m.html_body = rendered.html;
  // The opening event of a case is "<case id>/1"; replies to it thread in mail readers.
  const std::string first_event = absl::StrCat(event.case_().case_id(), "/1");
  if (kind != MailKind::kAlert && event.event_id() != first_event) {
    const std::string parent =
        absl::StrCat("<", MessageIdFor(first_event, options.message_id_domain), ">");
    m.extra_headers.push_back({"In-Reply-To", parent});
    m.extra_headers.push_back({"References", parent});
  }
  // Tells auto-responders and vacation replies not to answer (RFC 3834).
  m.extra_headers.push_back({"Auto-Submitted", "auto-generated"});
  m.extra_headers.push_back({"X-Rebound-Case-Id", SingleLine(event.case_().case_id())});
  m.extra_headers.push_back({"X-Rebound-Event-Id", SingleLine(event.event_id())});
  m.extra_headers.push_back({"X-Rebound-Kind", std::string(MailKindName(kind))});
  return m;
}

}  // namespace rebound::notifier
