// The one-click resolution links of the alert email, served on the HTTP port:
//   GET  /r/<token>  shows what the link will do and changes nothing (mail scanners follow
//                    links);
//   POST /r/<token>  records the resolution (actor "link:<owner>") and shows the result, or
//                    says who set what when the case moved on meanwhile.
// A damaged token answers 400, a forged one 403, an expired one 410, an unknown case 404, each
// with a page a person can read. Pages are mustache templates; every value is HTML-escaped.
#ifndef REBOUND_SERVICES_CASES_LINK_PAGES_H_
#define REBOUND_SERVICES_CASES_LINK_PAGES_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "case_store.h"
#include "metrics.h"
#include "rebound/runtime/http_server.h"
#include "rebound/token/token.h"

namespace rebound::cases {

inline constexpr char kLinkPathPrefix[] = "/r/";

class LinkPages {
 public:
  // `signer` may be null: links are then answered with 503 (not configured).
  LinkPages(CaseStore& store, const token::LinkSigner* signer, Metrics& metrics);

  runtime::HttpResponse Get(const runtime::HttpRequest& request);
  runtime::HttpResponse Post(const runtime::HttpRequest& request);

 private:
  runtime::HttpResponse Handle(const runtime::HttpRequest& request, bool apply);

  CaseStore& store_;
  const token::LinkSigner* signer_;
  Metrics& metrics_;
};

// Page rendering, separate so it can be tested without Redis.

// The confirmation page for choosing `resolution` on `c`. `notice` (may be empty) explains why
// there is no button (the case already moved on).
std::string RenderConfirmPage(const v1::Case& c, v1::Resolution resolution,
                              const std::string& action_path, const std::string& notice);
// The page after a POST: `headline` and `detail` over the case summary.
std::string RenderResultPage(const v1::Case& c, const std::string& headline,
                             const std::string& detail);
// A page for a link that cannot be used.
std::string RenderErrorPage(const std::string& headline, const std::string& detail);

// "Already set to <resolution> by <actor>." for a case that moved on.
std::string AlreadySetMessage(const v1::Case& c);

}  // namespace rebound::cases

#endif  // REBOUND_SERVICES_CASES_LINK_PAGES_H_
