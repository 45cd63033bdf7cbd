#include "link_pages.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kainjow/mustache.hpp"
#include "rebound/domain/domain.h"
#include "rebound/runtime/log.h"

namespace rebound::cases {
namespace {

using kainjow::mustache::data;
using kainjow::mustache::mustache;

// The frame of every page: readable on a phone, no external resources.
constexpr char kLayout[] = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{title}} · Rebound</title>
<style>
  body { margin: 0; background: #f4f5f7; color: #1d2330;
         font: 16px/1.5 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
  main { max-width: 34rem; margin: 0 auto; padding: 1.25rem; }
  .card { background: #fff; border-radius: 10px; padding: 1.25rem;
          box-shadow: 0 1px 3px rgba(0,0,0,.08); margin-bottom: 1rem; }
  h1 { font-size: 1.35rem; margin: 0 0 .5rem; }
  p { margin: .5rem 0; }
  dl { display: grid; grid-template-columns: max-content 1fr; gap: .3rem .9rem; margin: 0; }
  dt { color: #5b6475; }
  dd { margin: 0; overflow-wrap: anywhere; }
  .notice { background: #fff6db; border-left: 4px solid #e0a800; padding: .75rem; }
  .ok { border-left: 4px solid #1f9d55; }
  .bad { border-left: 4px solid #c53030; }
  label { display: block; font-weight: 600; margin: .75rem 0 .25rem; }
  textarea { width: 100%; box-sizing: border-box; min-height: 6rem; font: inherit;
             padding: .5rem; border: 1px solid #c9ced8; border-radius: 6px; }
  button { margin-top: 1rem; width: 100%; padding: .8rem; font: inherit; font-weight: 600;
           color: #fff; background: #2456c7; border: 0; border-radius: 6px; }
  .muted { color: #5b6475; font-size: .9rem; }
</style>
</head>
<body><main>
{{{content}}}
<p class="muted">Rebound · follow-up of survey feedback</p>
</main></body>
</html>
)html";

// The case as the owner recognises it. The respondent's own words are left out on purpose:
// the page is reachable by anyone holding the link.
constexpr char kSummary[] = R"html(<div class="card">
<dl>
  <dt>Respondent</dt><dd>{{respondent}}</dd>
  {{#company}}<dt>Company</dt><dd>{{company}}</dd>{{/company}}
  <dt>Score</dt><dd>{{score}} of 10</dd>
  {{#chain}}<dt>Owner chain</dt><dd>{{chain}}</dd>{{/chain}}
  <dt>Owner now</dt><dd>{{owner}}</dd>
  <dt>Status</dt><dd>{{status}}</dd>
  <dt>Priority</dt><dd>{{priority}}</dd>
  <dt>Opened</dt><dd>{{opened}}</dd>
  {{#tags}}<dt>Tags</dt><dd>{{tags}}</dd>{{/tags}}
  <dt>Case</dt><dd>{{case_id}}</dd>
</dl>
</div>
)html";

constexpr char kConfirm[] = R"html(<div class="card">
<h1>{{headline}}</h1>
{{#notice}}<p class="notice">{{notice}}</p>{{/notice}}
{{^notice}}
<p>{{explain}}</p>
<form method="post" action="{{action}}">
  <input type="hidden" name="version" value="{{version}}">
  <label for="note">Note (optional)</label>
  <textarea id="note" name="note" maxlength="2000"
            placeholder="What did you agree with the client?"></textarea>
  <button type="submit">Confirm: {{resolution}}</button>
</form>
{{/notice}}
</div>
{{{summary}}})html";

constexpr char kResult[] = R"html(<div class="card {{tone}}">
<h1>{{headline}}</h1>
<p>{{detail}}</p>
</div>
{{{summary}}})html";

constexpr char kError[] = R"html(<div class="card bad">
<h1>{{headline}}</h1>
<p>{{detail}}</p>
</div>)html";

std::string Str(std::string_view s) { return std::string(s); }

std::string Page(const std::string& title, const std::string& content) {
  data d;
  d.set("title", title);
  d.set("content", content);
  return mustache(kLayout).render(d);
}

std::string Summary(const v1::Case& c) {
  data d;
  const v1::SurveyResponse* first = c.responses_size() > 0 ? &c.responses(0) : nullptr;
  const v1::SurveyResponse* latest =
      c.responses_size() > 0 ? &c.responses(c.responses_size() - 1) : nullptr;
  d.set("respondent", first && !first->respondent().full_name().empty()
                          ? first->respondent().full_name()
                          : std::string("(name not given)"));
  if (first && !first->account().name().empty()) {
    d.set("company", first->account().name());
  }
  d.set("score", latest ? absl::StrCat(latest->score()) : std::string("-"));
  if (first && first->owner_chain_size() > 0) {
    d.set("chain", domain::FormatOwnerChain(first->owner_chain()));
  }
  d.set("owner", c.owner().empty() ? std::string("(no owner)") : c.owner());
  std::string status = Str(domain::ResolutionLabel(c.resolution()));
  if (c.closed()) {
    absl::StrAppend(&status, " (closed)");
  }
  d.set("status", status);
  d.set("priority", Str(domain::PriorityLabel(c.priority())));
  d.set("opened",
        absl::FormatTime("%Y-%m-%d %H:%M UTC", FromProto(c.opened_at()), absl::UTCTimeZone()));
  std::vector<std::string> tags;
  if (first) {
    tags.assign(first->tags().begin(), first->tags().end());
  }
  if (!tags.empty()) {
    d.set("tags", absl::StrJoin(tags, ", "));
  }
  d.set("case_id", c.case_id());
  return mustache(kSummary).render(d);
}

// What the resolution will do, in a sentence.
std::string Explain(const v1::Case& c, v1::Resolution resolution) {
  if (resolution == v1::RESOLUTION_ESCALATE) {
    const auto& chain = c.responses_size() > 0 ? c.responses(0).owner_chain()
                                               : google::protobuf::RepeatedPtrField<v1::Owner>();
    if (c.owner_index() > 0 && c.owner_index() - 1 < chain.size()) {
      return absl::StrCat("The case will move to ", chain[c.owner_index() - 1].name(),
                          ", the next person up the owner chain.");
    }
    return "You are at the top of the owner chain: the case stays with you, marked escalated.";
  }
  if (domain::IsClosing(resolution)) {
    return "This closes the case.";
  }
  return "The case stays open while you work on it.";
}

runtime::HttpResponse Html(int status, std::string body) {
  runtime::HttpResponse response;
  response.status = status;
  response.content_type = "text/html; charset=utf-8";
  response.body = std::move(body);
  // The pages carry a case summary: keep them out of shared caches, and never framed.
  response.headers["Cache-Control"] = "no-store";
  response.headers["X-Frame-Options"] = "DENY";
  response.headers["Referrer-Policy"] = "no-referrer";
  return response;
}

runtime::HttpResponse ErrorPage(int status, const std::string& headline,
                                const std::string& detail) {
  return Html(status, RenderErrorPage(headline, detail));
}

// True when a resolution was recorded after `version` (the version the confirmation page
// showed), or the case already has the link's resolution or is closed.
bool MovedOn(const v1::Case& c, v1::Resolution resolution, int64_t seen_version) {
  if (c.resolution() == resolution || c.closed()) {
    return true;
  }
  if (seen_version <= 0) {
    return false;
  }
  for (const v1::CaseChange& change : c.history()) {
    if (change.sequence() > seen_version &&
        (change.kind() == "resolution" || change.kind() == "escalated")) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string AlreadySetMessage(const v1::Case& c) {
  const std::string actor = LastResolutionActor(c);
  return absl::StrCat("Already set to ", Str(domain::ResolutionLabel(c.resolution())), " by ",
                      actor.empty() ? std::string("someone else") : actor, ".");
}

std::string RenderConfirmPage(const v1::Case& c, v1::Resolution resolution,
                              const std::string& action_path, const std::string& notice) {
  data d;
  const std::string label = Str(domain::ResolutionLabel(resolution));
  d.set("headline", absl::StrCat("Record “", label, "”?"));
  d.set("resolution", label);
  d.set("explain", Explain(c, resolution));
  d.set("action", action_path);
  d.set("version", absl::StrCat(c.version()));
  if (!notice.empty()) {
    d.set("notice", notice);
  }
  d.set("summary", Summary(c));
  return Page(absl::StrCat("Confirm ", label), mustache(kConfirm).render(d));
}

std::string RenderResultPage(const v1::Case& c, const std::string& headline,
                             const std::string& detail) {
  data d;
  d.set("headline", headline);
  d.set("detail", detail);
  d.set("tone", "ok");
  d.set("summary", Summary(c));
  return Page(headline, mustache(kResult).render(d));
}

std::string RenderErrorPage(const std::string& headline, const std::string& detail) {
  data d;
  d.set("headline", headline);
  d.set("detail", detail);
  return Page(headline, mustache(kError).render(d));
}

LinkPages::LinkPages(CaseStore& store, const token::LinkSigner* signer, Metrics& metrics)
    : store_(store), signer_(signer), metrics_(metrics) {}

runtime::HttpResponse LinkPages::Get(const runtime::HttpRequest& request) {
  runtime::HttpResponse response = Handle(request, /*apply=*/false);
  metrics_.CountLink("GET", response.status);
  return response;
}

runtime::HttpResponse LinkPages::Post(const runtime::HttpRequest& request) {
  runtime::HttpResponse response = Handle(request, /*apply=*/true);
  metrics_.CountLink("POST", response.status);
  return response;
}

runtime::HttpResponse LinkPages::Handle(const runtime::HttpRequest& request, bool apply) {
  auto log = runtime::Logger("cases");
  if (signer_ == nullptr) {
    return ErrorPage(503, "Links are switched off",
                     "This service has no link keys configured. Record the resolution in your "
                     "case tool instead.");
  }
  const std::string prefix = kLinkPathPrefix;
  const std::string token =
      request.path.size() > prefix.size() ? request.path.substr(prefix.size()) : "";
  absl::StatusOr<token::LinkClaims> claims = signer_->Verify(token, absl::Now());
  if (!claims.ok()) {
    switch (claims.status().code()) {
      case absl::StatusCode::kDeadlineExceeded:
        return ErrorPage(410, "This link has expired",
                         "Links in alert emails work for a limited time. Record the resolution "
                         "in your case tool, or ask for a new alert.");
      case absl::StatusCode::kPermissionDenied:
        return ErrorPage(403, "This link is not valid",
                         "The link was changed or was not issued by Rebound. Use the link from "
                         "the alert email exactly as it arrived.");
      default:
        return ErrorPage(400, "This link is incomplete",
                         "Part of the address seems to be missing. Open the link from the alert "
                         "email again, or copy the whole address into the browser.");
    }
  }
  const auto resolution = static_cast<v1::Resolution>(claims->resolution);
  if (!v1::Resolution_IsValid(claims->resolution) || resolution == v1::RESOLUTION_UNSPECIFIED) {
    return ErrorPage(400, "This link is not valid", "The link names no resolution Rebound knows.");
  }

  absl::StatusOr<StoredCase> stored = store_.Get(claims->case_id);
  if (absl::IsNotFound(stored.status())) {
    return ErrorPage(404, "Case not found",
                     "This case no longer exists: closed cases are kept for a limited time.");
  }
  if (!stored.ok()) {
    log->warn("link page for case {}: {}", claims->case_id, std::string(stored.status().message()));
    return ErrorPage(503, "Please try again in a minute",
                     "Rebound could not read the case just now. Nothing was changed.");
  }

  if (!apply) {
    const std::string notice =
        MovedOn(stored->value, resolution, 0) ? AlreadySetMessage(stored->value) : std::string();
    return Html(200, RenderConfirmPage(stored->value, resolution, request.path, notice));
  }

  int64_t seen_version = 0;
  if (auto it = request.query.find("version"); it != request.query.end()) {
    if (!absl::SimpleAtoi(it->second, &seen_version)) {
      seen_version = 0;
    }
  }
  std::string note;
  if (auto it = request.query.find("note"); it != request.query.end()) {
    note = it->second;
  }
  if (!IsValidUtf8(note)) {
    return ErrorPage(400, "The note could not be read",
                     "The browser sent the note in an encoding Rebound cannot read. Go back, "
                     "type the note again and confirm. Nothing was changed.");
  }
  if (CountChars(note) > kMaxNoteLength) {
    return ErrorPage(400, "The note is too long",
                     "Notes can have at most 2,000 characters. Go back, shorten it and confirm "
                     "again. Nothing was changed.");
  }
  if (MovedOn(stored->value, resolution, seen_version)) {
    return Html(409, RenderResultPage(stored->value, AlreadySetMessage(stored->value),
                                      "Nothing was changed."));
  }

  const std::string actor = absl::StrCat("link:", stored->value.owner());
  // No expected version: an unrelated change meanwhile (a note, an overdue mark) must not
  // refuse the click; a resolution recorded meanwhile does, inside the retried mutation.
  absl::StatusOr<Transition> changed = store_.Mutate(
      claims->case_id, 0, [&](const StoredCase& current) -> absl::StatusOr<Transition> {
        if (MovedOn(current.value, resolution, seen_version)) {
          return absl::FailedPreconditionError("the case moved on");
        }
        return ChangeResolution(current.value, resolution, {.actor = actor, .note = note},
                                absl::Now());
      });
  if (absl::IsFailedPrecondition(changed.status())) {
    // Changed between reading and writing: show what it is now.
    absl::StatusOr<StoredCase> now = store_.Get(claims->case_id);
    if (now.ok()) {
      return Html(
          409, RenderResultPage(now->value, AlreadySetMessage(now->value), "Nothing was changed."));
    }
    return ErrorPage(409, "The case changed meanwhile", "Open the link again to see it now.");
  }
  if (!changed.ok()) {
    log->warn("link change of case {}: {}", claims->case_id,
              std::string(changed.status().message()));
    return ErrorPage(503, "Please try again in a minute",
                     "Rebound could not record the change just now. Nothing was changed.");
  }
  metrics_.CountTransition(Str(domain::ResolutionSlug(resolution)));
  log->info("case {} set to {} by link", claims->case_id, Str(domain::ResolutionSlug(resolution)));
  std::string detail = "Thank you. The change is in the case history.";
  if (resolution == v1::RESOLUTION_ESCALATE) {
    detail = changed->change.from_owner() == changed->change.to_owner()
                 ? "The case stays with you at the top of the owner chain, marked escalated."
                 : absl::StrCat("The case now belongs to ", changed->after.owner(), ".");
  }
  return Html(200,
              RenderResultPage(changed->after,
                               absl::StrCat("Recorded: ", Str(domain::ResolutionLabel(resolution))),
                               detail));
}

}  // namespace rebound::cases
