#include "webhook.h"

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "rebound/runtime/log.h"
#include "rebound/token/token.h"

namespace rebound::ingest {
namespace {

using Json = nlohmann::json;

absl::string_view Absl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Path(std::string_view prefix, std::string_view field) {
  if (prefix.empty()) {
    return std::string(field);
  }
  return absl::StrCat(Absl(prefix), ".", Absl(field));
}

std::string Indexed(std::string_view prefix, size_t index) {
  return absl::StrCat(Absl(prefix), "[", index, "]");
}

const char* TypeName(const Json& value) {
  if (value.is_string()) {
    return "a string";
  }
  if (value.is_boolean()) {
    return "a boolean";
  }
  if (value.is_number()) {
    return "a number";
  }
  if (value.is_array()) {
    return "a list";
  }
  if (value.is_object()) {
    return "an object";
  }
  return "null";
}

// Follows the parser through the document to name the field at which parsing failed. Used only
// after a failed parse, to turn "ill-formed UTF-8 at byte 212" into "respondent.full_name".
class PathTracker : public nlohmann::json_sax<Json> {
 public:
  std::string error_path;
  std::string error_message;

  bool null() override { return Value(); }
  bool boolean(bool) override { return Value(); }
  bool number_integer(number_integer_t) override { return Value(); }
  bool number_unsigned(number_unsigned_t) override { return Value(); }
  bool number_float(number_float_t, const string_t&) override { return Value(); }
  bool string(string_t&) override { return Value(); }
  bool binary(binary_t&) override { return Value(); }
  bool start_object(std::size_t) override {
    Value();
    frames_.push_back({false, 0, ""});
    return true;
  }
  bool key(string_t& key) override {
    frames_.back().key = key;
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return true;
  }
  bool start_array(std::size_t) override {
    Value();
    frames_.push_back({true, 0, ""});
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return true;
  }
  bool parse_error(std::size_t, const std::string&,
                   const nlohmann::detail::exception& error) override {
    error_message = error.what();
    std::string path;
    for (size_t f = 0; f < frames_.size(); ++f) {
      const Frame& frame = frames_[f];
      if (frame.array) {
        // The innermost list has not counted the element that failed yet.
        const size_t index = f + 1 == frames_.size() ? frame.next : frame.next - 1;
        path = Indexed(path, index);
      } else if (!frame.key.empty()) {
        path = Path(path, frame.key);
      }
    }
    error_path = path;
    return false;
  }

 private:
  struct Frame {
    bool array;
    size_t next;      // arrays: index of the next element
    std::string key;  // objects: the last key read
  };

  bool Value() {
    if (!frames_.empty() && frames_.back().array) {
      ++frames_.back().next;
    }
    return true;
  }

  std::vector<Frame> frames_;
};

// A string member: nullopt when absent or null, InvalidField when of another type.
absl::StatusOr<std::optional<std::string>> OptionalString(const Json& object, const char* key,
                                                          std::string_view path) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    return std::nullopt;
  }
  if (!it->is_string()) {
    return InvalidField(Path(path, key), absl::StrCat("must be a string, not ", TypeName(*it)));
  }
  return it->get<std::string>();
}

// Copies string member `key` of `object` into `out` when present.
absl::Status CopyString(const Json& object, const char* key, std::string_view path,
                        std::string* out) {
  absl::StatusOr<std::optional<std::string>> value = OptionalString(object, key, path);
  if (!value.ok()) {
    return value.status();
  }
  if (value->has_value()) {
    *out = std::move(**value);
  }
  return absl::OkStatus();
}

absl::Status MapScore(const Json& root, v1::SurveyResponse& response) {
  auto it = root.find("score");
  if (it == root.end() || it->is_null()) {
    return InvalidField("score", "is required");
  }
  if (it->is_number_integer()) {
    // Both signed and unsigned JSON integers land here; compare before narrowing.
    const bool in_range = it->is_number_unsigned()
                              ? it->get<uint64_t>() <= 10
                              : (it->get<int64_t>() >= 0 && it->get<int64_t>() <= 10);
    if (!in_range) {
      return InvalidField("score", "must be an integer from 0 to 10");
    }
    response.set_score(static_cast<int32_t>(it->get<int64_t>()));
    return absl::OkStatus();
  }
  if (it->is_number()) {
    // JSON does not tell 6 from 6.0; a whole number written with a decimal point is fine.
    const double value = it->get<double>();
    if (std::trunc(value) != value) {
      return InvalidField("score", "must be an integer from 0 to 10, not a number with a fraction");
    }
    if (value < 0 || value > 10) {
      return InvalidField("score", "must be an integer from 0 to 10");
    }
    response.set_score(static_cast<int32_t>(value));
    return absl::OkStatus();
  }
  return InvalidField("score",
                      absl::StrCat("must be an integer from 0 to 10, not ", TypeName(*it)));
}

absl::Status MapSubmittedAt(const Json& root, v1::SurveyResponse& response) {
  absl::StatusOr<std::optional<std::string>> text = OptionalString(root, "submitted_at", "");
  if (!text.ok()) {
    return text.status();
  }
  if (!text->has_value()) {
    return absl::OkStatus();  // NormalizeResponse reports it as required
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, **text, &time, &error)) {
    return InvalidField("submitted_at",
                        "must be an RFC 3339 timestamp such as 2026-11-30T14:05:00Z");
  }
  // Split without going through int64 nanoseconds, which end in the year 2262.
  const int64_t seconds = absl::ToUnixSeconds(time);
  response.mutable_submitted_at()->set_seconds(seconds);
  response.mutable_submitted_at()->set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return absl::OkStatus();
}

absl::Status MapRespondent(const Json& root, v1::Respondent& respondent) {
  auto it = root.find("respondent");
  if (it == root.end() || it->is_null()) {
    return absl::OkStatus();
  }
  if (!it->is_object()) {
    return InvalidField("respondent", absl::StrCat("must be an object, not ", TypeName(*it)));
  }
  const Json& object = *it;
  for (auto [key, out] : {std::pair{"respondent_id", respondent.mutable_respondent_id()},
                          std::pair{"full_name", respondent.mutable_full_name()},
                          std::pair{"email", respondent.mutable_email()},
                          std::pair{"phone", respondent.mutable_phone()}}) {
    if (auto s = CopyString(object, key, "respondent", out); !s.ok()) {
      return s;
    }
  }
  absl::StatusOr<std::optional<std::string>> kind = OptionalString(object, "kind", "respondent");
  if (!kind.ok()) {
    return kind.status();
  }
  if (kind->has_value()) {
    const std::string folded = absl::AsciiStrToLower(absl::StripAsciiWhitespace(**kind));
    if (folded == "client") {
      respondent.set_kind(v1::RESPONDENT_KIND_CLIENT);
    } else if (folded == "talent") {
      respondent.set_kind(v1::RESPONDENT_KIND_TALENT);
    } else if (!folded.empty()) {
      return InvalidField("respondent.kind", "must be \"client\" or \"talent\"");
    }
  }
  return absl::OkStatus();
}

absl::Status MapAccount(const Json& root, v1::Account& account) {
  auto it = root.find("account");
  if (it == root.end() || it->is_null()) {
    return absl::OkStatus();
  }
  if (!it->is_object()) {
    return InvalidField("account", absl::StrCat("must be an object, not ", TypeName(*it)));
  }
  if (auto s = CopyString(*it, "account_id", "account", account.mutable_account_id()); !s.ok()) {
    return s;
  }
  return CopyString(*it, "name", "account", account.mutable_name());
}

absl::Status MapOwnerChain(const Json& root, v1::SurveyResponse& response) {
  auto it = root.find("owner_chain");
  if (it == root.end() || it->is_null()) {
    return absl::OkStatus();
  }
  if (it->is_string()) {
    for (v1::Owner& owner : ParseOwnerChain(it->get<std::string>())) {
      *response.add_owner_chain() = std::move(owner);
    }
    return absl::OkStatus();
  }
  if (!it->is_array()) {
    return InvalidField("owner_chain",
                        absl::StrCat("must be a string or a list, not ", TypeName(*it)));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& link = (*it)[i];
    const std::string path = Indexed("owner_chain", i);
    if (link.is_string()) {
      // A bare string is one link ("Director: Dana Whitfield"); NormalizeResponse splits it.
      response.add_owner_chain()->set_name(link.get<std::string>());
      continue;
    }
    if (!link.is_object()) {
      return InvalidField(path,
                          absl::StrCat("must be a string or an object, not ", TypeName(link)));
    }
    v1::Owner* owner = response.add_owner_chain();
    for (auto [key, out] :
         {std::pair{"name", owner->mutable_name()}, std::pair{"role", owner->mutable_role()},
          std::pair{"email", owner->mutable_email()}}) {
      if (auto s = CopyString(link, key, path, out); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

absl::Status MapTags(const Json& root, v1::SurveyResponse& response) {
  auto it = root.find("tags");
  if (it == root.end() || it->is_null()) {
    return absl::OkStatus();
  }
  if (!it->is_array()) {
    return InvalidField("tags", absl::StrCat("must be a list of strings, not ", TypeName(*it)));
  }
  for (size_t i = 0; i < it->size(); ++i) {
    const Json& tag = (*it)[i];
    if (!tag.is_string()) {
      return InvalidField(Indexed("tags", i),
                          absl::StrCat("must be a string, not ", TypeName(tag)));
    }
    response.add_tags(tag.get<std::string>());
  }
  return absl::OkStatus();
}

runtime::HttpResponse JsonResponse(int status, std::string body) {
  runtime::HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  response.body = std::move(body);
  return response;
}

runtime::HttpResponse Unavailable(std::string_view message) {
  runtime::HttpResponse response = JsonResponse(503, ErrorJson("unavailable", "", message));
  response.headers["Retry-After"] = "1";
  return response;
}

// A short, stable reason for the auth-failure metric.
std::string AuthFailureReason(std::string_view message) {
  if (message.find("missing") != std::string_view::npos) {
    return "missing";
  }
  if (message.find("malformed") != std::string_view::npos) {
    return "malformed";
  }
  if (message.find("old") != std::string_view::npos) {
    return "stale";
  }
  if (message.find("future") != std::string_view::npos) {
    return "future";
  }
  return "mismatch";
}

}  // namespace

std::string SignatureHeaderValue(std::string_view secret, std::string_view body, absl::Time at) {
  const std::string t = absl::StrCat(absl::ToUnixSeconds(at));
  const std::string mac = token::Hex(token::HmacSha256(secret, absl::StrCat(t, ".", Absl(body))));
  return absl::StrCat("t=", t, ",v1=", mac);
}

absl::Status VerifySignature(const std::optional<std::string>& header, std::string_view body,
                             const SignaturePolicy& policy, absl::Time now) {
  if (!header.has_value() || absl::StripAsciiWhitespace(*header).empty()) {
    return absl::UnauthenticatedError("missing X-Rebound-Signature header");
  }
  std::optional<int64_t> timestamp;
  std::vector<std::string> macs;
  for (absl::string_view part : absl::StrSplit(*header, ',')) {
    part = absl::StripAsciiWhitespace(part);
    const size_t eq = part.find('=');
    if (eq == absl::string_view::npos) {
      continue;
    }
    const absl::string_view key = part.substr(0, eq);
    const absl::string_view value = part.substr(eq + 1);
    int64_t seconds = 0;
    if (key == "t" && absl::SimpleAtoi(value, &seconds)) {
      timestamp = seconds;
    } else if (key == "v1") {
      macs.emplace_back(absl::AsciiStrToLower(value));
    }
  }
  if (!timestamp.has_value() || macs.empty()) {
    return absl::UnauthenticatedError(
        "malformed X-Rebound-Signature header: expected t=<unix seconds>,v1=<hex HMAC-SHA256>");
  }

  const absl::Time signed_at = absl::FromUnixSeconds(*timestamp);
  if (now - signed_at > policy.max_age) {
    return absl::UnauthenticatedError(
        absl::StrCat("signature timestamp is too old (", absl::ToInt64Seconds(now - signed_at),
                     " s; at most ", absl::ToInt64Seconds(policy.max_age),
                     " s allowed); sign each request"
                     " when sending it"));
  }
  if (signed_at - now > policy.max_future_skew) {
    return absl::UnauthenticatedError(absl::StrCat("signature timestamp lies ",
                                                   absl::ToInt64Seconds(signed_at - now),
                                                   " s in the future; check the sender's clock"));
  }

  const std::string expected =
      token::Hex(token::HmacSha256(policy.secret, absl::StrCat(*timestamp, ".", Absl(body))));
  bool match = false;
  for (const std::string& mac : macs) {
    // Check every entry, without stopping early, so the timing says nothing about which one.
    match = token::ConstantTimeEquals(expected, mac) || match;
  }
  if (!match) {
    return absl::UnauthenticatedError(
        "signature does not match the body (wrong secret, or the body changed after signing)");
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::SurveyResponse> ResponseFromJson(std::string_view body) {
  Json root = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    // Parse again with a path tracker to name the field, which matters for the common case of
    // a string in another encoding than UTF-8 (a Windows-1252 name, say) or with an unpaired
    // surrogate escape.
    PathTracker tracker;
    Json::sax_parse(body.begin(), body.end(), &tracker);
    if (!IsValidUtf8(body) || tracker.error_message.find("surrogate") != std::string::npos) {
      return InvalidField(tracker.error_path.empty() ? "body" : tracker.error_path,
                          "must be valid UTF-8");
    }
    // nlohmann's message says where and what ("parse error at line 1, column 39: syntax error
    // while parsing object - unexpected end of input; expected '}'"); drop its "[json...] " tag.
    std::string detail = tracker.error_message;
    if (const size_t tag_end = detail.find("] ");
        !detail.empty() && detail[0] == '[' && tag_end != std::string::npos) {
      detail = detail.substr(tag_end + 2);
    }
    return InvalidField("body", absl::StrCat("is not valid JSON: ", detail));
  }
  if (!root.is_object()) {
    return InvalidField("body", absl::StrCat("must be a JSON object, not ", TypeName(root)));
  }

  v1::SurveyResponse response;
  for (auto [key, out] : {std::pair{"response_id", response.mutable_response_id()},
                          std::pair{"survey_id", response.mutable_survey_id()},
                          std::pair{"reason", response.mutable_reason()},
                          std::pair{"do_differently", response.mutable_do_differently()}}) {
    if (auto s = CopyString(root, key, "", out); !s.ok()) {
      return s;
    }
  }
  if (auto s = MapSubmittedAt(root, response); !s.ok()) {
    return s;
  }
  if (auto s = MapScore(root, response); !s.ok()) {
    return s;
  }
  if (auto s = MapRespondent(root, *response.mutable_respondent()); !s.ok()) {
    return s;
  }
  if (auto s = MapAccount(root, *response.mutable_account()); !s.ok()) {
    return s;
  }
  if (auto s = MapOwnerChain(root, response); !s.ok()) {
    return s;
  }
  if (auto s = MapTags(root, response); !s.ok()) {
    return s;
  }
  return response;
}

std::string ErrorJson(std::string_view code, std::string_view field, std::string_view message) {
  Json error = {{"code", std::string(code)}, {"message", std::string(message)}};
  if (!field.empty()) {
    error["field"] = std::string(field);
  }
  // The message may echo bytes of a bad request; replace what is not UTF-8 rather than throw.
  return Json{{"error", error}}.dump(-1, ' ', false, Json::error_handler_t::replace);
}

WebhookHandler::WebhookHandler(Ingestor& ingestor, SignaturePolicy policy, size_t max_body_bytes,
                               IngestMetrics* metrics)
    : ingestor_(ingestor),
      policy_(std::move(policy)),
      max_body_bytes_(max_body_bytes),
      metrics_(metrics) {}

runtime::HttpResponse WebhookHandler::Handle(const runtime::HttpRequest& request) {
  if (request.body.size() > max_body_bytes_) {
    return JsonResponse(413, ErrorJson("too_large", "body",
                                       absl::StrCat("is larger than ", max_body_bytes_, " bytes")));
  }

  std::optional<std::string> header;
  if (auto it = request.headers.find(std::string(kSignatureHeader)); it != request.headers.end()) {
    header = it->second;
  }
  if (absl::Status auth = VerifySignature(header, request.body, policy_, absl::Now()); !auth.ok()) {
    if (metrics_ != nullptr) {
      metrics_->CountAuthFailure(AuthFailureReason(std::string(auth.message())));
    }
    // The caller's address is personal data in some jurisdictions: the reason is enough here.
    runtime::Logger("ingest")->info("webhook request refused: {}", std::string(auth.message()));
    return JsonResponse(401, ErrorJson("unauthenticated", "", std::string(auth.message())));
  }

  absl::StatusOr<v1::SurveyResponse> response = ResponseFromJson(request.body);
  if (!response.ok()) {
    const FieldError error = FieldErrorOf(response.status());
    if (metrics_ != nullptr) {
      metrics_->CountOutcome(kSourceWebhook, "rejected", error.field);
    }
    return JsonResponse(400, ErrorJson("invalid_argument", error.field, error.message));
  }

  absl::StatusOr<ItemResult> result = ingestor_.Submit(std::move(*response), kSourceWebhook);
  if (!result.ok()) {
    return Unavailable(std::string(result.status().message()));
  }
  const Json ok_body = {{"response_id", result->response_id}};
  switch (result->outcome) {
    case v1::SUBMIT_OUTCOME_ACCEPTED: {
      Json body = ok_body;
      body["outcome"] = "accepted";
      return JsonResponse(202, body.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    case v1::SUBMIT_OUTCOME_DUPLICATE: {
      Json body = ok_body;
      body["outcome"] = "duplicate";
      return JsonResponse(200, body.dump(-1, ' ', false, Json::error_handler_t::replace));
    }
    default:
      return JsonResponse(
          400, ErrorJson("invalid_argument", result->error.field, result->error.message));
  }
}

}  // namespace rebound::ingest
