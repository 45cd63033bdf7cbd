#include "cases/cases_command.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "rebound/domain/domain.h"
#include "rebound/v1/case_service.grpc.pb.h"

namespace rebound::reboundctl {
namespace {

struct CasesFlags {
  std::string address = "127.0.0.1:50052";
  std::string api_token;
  double timeout_seconds = 10;
  bool json = false;
  // list
  std::string state = "open";
  std::string owner;
  std::string account;
  std::string tag;
  std::string priority;
  bool overdue = false;
  std::string order = "newest";
  int limit = 50;
  // show, resolve, note
  std::string case_id;
  std::string resolution;
  std::string actor;
  std::string note;
  int64_t expected_version = 0;
  bool reopen = false;
};

std::string Time(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) {
    return "-";
  }
  return absl::FormatTime("%Y-%m-%d %H:%M", absl::FromUnixSeconds(ts.seconds()),
                          absl::LocalTimeZone());
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

int ExitCodeFor(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::OK:
      return kExitOk;
    case grpc::StatusCode::INVALID_ARGUMENT:
      return kExitUsage;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return kExitUnreachable;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return kExitAuth;
    default:
      return kExitFailed;
  }
}

int Fail(const CasesFlags& flags, const grpc::Status& status) {
  std::string what;
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      what = "not found";
      break;
    case grpc::StatusCode::FAILED_PRECONDITION:
      what = "precondition failed";
      break;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      what = absl::StrCat("the case service at ", flags.address, " is unreachable");
      break;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      what = "the case service refused the token (set --api-token or REBOUND_API_TOKEN)";
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      what = "invalid request";
      break;
    default:
      what = "failed";
      break;
  }
  std::cerr << "reboundctl: " << what;
  if (!status.error_message().empty()) {
    std::cerr << ": " << status.error_message();
  }
  std::cerr << "\n";
  return ExitCodeFor(status);
}

class Client {
 public:
  explicit Client(const CasesFlags& flags) : flags_(flags) {
    stub_ = v1::CaseService::NewStub(
        grpc::CreateChannel(flags.address, grpc::InsecureChannelCredentials()));
  }
  std::unique_ptr<grpc::ClientContext> Context() const {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(
        absl::ToChronoTime(absl::Now() + absl::Seconds(std::max(0.1, flags_.timeout_seconds))));
    if (!flags_.api_token.empty()) {
      context->AddMetadata("authorization", absl::StrCat("Bearer ", flags_.api_token));
    }
    return context;
  }
  v1::CaseService::Stub& stub() { return *stub_; }

 private:
  const CasesFlags& flags_;
  std::unique_ptr<v1::CaseService::Stub> stub_;
};

size_t TerminalWidth() {
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr && std::atoi(columns) > 0) {
    return static_cast<size_t>(std::atoi(columns));
  }
  winsize size{};
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  return 0;
}

// Cuts `text` to `width` display columns, ending in an ellipsis when cut.
std::string Fit(const std::string& text, size_t width) {
  if (DisplayWidth(text) <= width) {
    return text;
  }
  if (width == 0) {
    return "";
  }
  std::string out;
  size_t columns = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c & 0xC0) != 0x80) {
      if (columns + 1 == width) {
        break;
      }
      ++columns;
    }
    out.push_back(text[i]);
  }
  return out + "\xE2\x80\xA6";
}

std::string Pad(const std::string& text, size_t width) {
  const size_t used = DisplayWidth(text);
  return used >= width ? text : text + std::string(width - used, ' ');
}

const v1::SurveyResponse* LatestResponse(const v1::Case& c) {
  return c.responses_size() > 0 ? &c.responses(c.responses_size() - 1) : nullptr;
}

std::string AccountOf(const v1::Case& c) {
  if (c.responses_size() == 0) {
    return "-";
  }
  const auto& account = c.responses(0).account();
  return !account.name().empty() ? account.name() : account.account_id();
}

std::string StateOf(const v1::Case& c) {
  return absl::StrCat(c.closed() ? "closed" : "open", c.overdue() ? ", overdue" : "",
                      c.escalated() ? ", escalated" : "");
}

int RunList(const CasesFlags& flags) {
  v1::ListCasesRequest request;
  if (flags.state == "open") {
    request.set_state(v1::CASE_STATE_FILTER_OPEN);
  } else if (flags.state == "closed") {
    request.set_state(v1::CASE_STATE_FILTER_CLOSED);
  } else {
    request.set_state(v1::CASE_STATE_FILTER_UNSPECIFIED);
  }
  request.set_owner(flags.owner);
  request.set_account_id(flags.account);
  request.set_tag(flags.tag);
  if (!flags.priority.empty()) {
    auto priority = domain::ParsePriority(flags.priority);
    if (!priority.ok()) {
      std::cerr << "reboundctl: --priority: " << std::string(priority.status().message()) << "\n";
      return kExitUsage;
    }
    request.set_priority(*priority);
  }
  request.set_overdue_only(flags.overdue);
  request.set_order(flags.order == "due" ? v1::CASE_ORDER_DUE_FIRST : v1::CASE_ORDER_NEWEST_FIRST);

  Client client(flags);
  std::vector<v1::Case> cases;
  bool more = false;
  do {
    request.set_page_size(std::min(500, flags.limit - static_cast<int>(cases.size())));
    v1::ListCasesResponse reply;
    auto context = client.Context();
    const grpc::Status status = client.stub().ListCases(context.get(), request, &reply);
    if (!status.ok()) {
      return Fail(flags, status);
    }
    for (auto& c : *reply.mutable_cases()) {
      if (static_cast<int>(cases.size()) < flags.limit) {
        cases.push_back(std::move(c));
      }
    }
    request.set_page_token(reply.next_page_token());
    more = !reply.next_page_token().empty();
  } while (more && static_cast<int>(cases.size()) < flags.limit);

  if (flags.json) {
    v1::ListCasesResponse all;
    for (const auto& c : cases) {
      *all.add_cases() = c;
    }
    all.set_next_page_token(more ? request.page_token() : "");
    std::cout << ToJson(all) << "\n";
    return kExitOk;
  }
  if (cases.empty()) {
    std::cout << "No cases match.\n";
    return kExitOk;
  }
  std::cout << FormatCaseTable(cases, TerminalWidth());
  if (more) {
    std::cout << "Showing the first " << cases.size() << " cases; raise --limit to see more.\n";
  }
  return kExitOk;
}

void PrintCase(const v1::Case& c) {
  std::cout << "Case " << c.case_id() << " (version " << c.version() << ")\n";
  auto row = [](const std::string& label, const std::string& value) {
    std::cout << "  " << Pad(label, 14) << value << "\n";
  };
  row("State", StateOf(c));
  row("Resolution", std::string(domain::ResolutionLabel(c.resolution())));
  std::string priority(domain::PriorityLabel(c.priority()));
  if (c.assessment().priority_reasons_size() > 0) {
    absl::StrAppend(&priority, " (", absl::StrJoin(c.assessment().priority_reasons(), ", "), ")");
  }
  row("Priority", priority);
  row("Owner", c.owner());
  if (c.responses_size() > 0) {
    row("Owner chain", domain::FormatOwnerChain(c.responses(0).owner_chain()));
    const auto& account = c.responses(0).account();
    row("Account", account.name().empty()
                       ? account.account_id()
                       : absl::StrCat(account.name(), " [", account.account_id(), "]"));
    row("Tags", absl::StrJoin(c.responses(0).tags(), ", "));
  }
  row("Opened", Time(c.opened_at()));
  row("Due", absl::StrCat(Time(c.due_at()), c.overdue() ? " (overdue)" : ""));
  if (c.closed()) {
    row("Closed", Time(c.closed_at()));
  }
  if (!c.assessment().overall_theme().label().empty()) {
    row("Theme", c.assessment().overall_theme().label());
  }
  if (c.assessment().has_previous_score()) {
    row("Previous", absl::StrCat("score ", c.assessment().previous_score(), " on ",
                                 Time(c.assessment().previous_submitted_at())));
  }
  std::cout << "\nResponses\n";
  for (const auto& response : c.responses()) {
    std::cout << "  " << response.response_id() << "  score " << response.score() << "  "
              << Time(response.submitted_at()) << "\n";
    const auto& person = response.respondent();
    std::vector<std::string> who;
    for (const auto* part : {&person.full_name(), &person.email(), &person.phone()}) {
      if (!part->empty()) {
        who.push_back(*part);
      }
    }
    if (!who.empty()) {
      std::cout << "    Respondent:     " << absl::StrJoin(who, ", ") << "\n";
    }
    std::cout << "    Reason:         "
              << (response.reason().empty() ? "No Response Provided" : response.reason()) << "\n";
    std::cout << "    Do differently: "
              << (response.do_differently().empty() ? "No Response Provided"
                                                    : response.do_differently())
              << "\n";
  }
  std::cout << "\nHistory\n";
  for (const auto& change : c.history()) {
    std::string what = change.kind();
    if (change.kind() == "resolution") {
      what = absl::StrCat(std::string(domain::ResolutionLabel(change.from_resolution())),
                          " \xE2\x86\x92 ",
                          std::string(domain::ResolutionLabel(change.to_resolution())));
    } else if (change.kind() == "escalated") {
      what = absl::StrCat("escalated ", change.from_owner(), " \xE2\x86\x92 ", change.to_owner());
    } else if (change.kind() == "response_joined") {
      what = absl::StrCat("response joined: ", change.response_id());
    }
    std::cout << "  #" << change.sequence() << "  " << Time(change.at()) << "  " << change.actor()
              << "  " << what;
    if (!change.note().empty()) {
      std::cout << "  \xE2\x80\x9C" << change.note() << "\xE2\x80\x9D";
    }
    std::cout << "\n";
  }
}

int RunShow(const CasesFlags& flags) {
  Client client(flags);
  v1::GetCaseRequest request;
  request.set_case_id(flags.case_id);
  v1::GetCaseResponse reply;
  auto context = client.Context();
  const grpc::Status status = client.stub().GetCase(context.get(), request, &reply);
  if (!status.ok()) {
    return Fail(flags, status);
  }
  if (flags.json) {
    std::cout << ToJson(reply.case_()) << "\n";
  } else {
    PrintCase(reply.case_());
  }
  return kExitOk;
}

int RunResolve(const CasesFlags& flags) {
  auto resolution = domain::ParseResolution(flags.resolution);
  if (!resolution.ok()) {
    std::cerr << "reboundctl: RESOLUTION: " << std::string(resolution.status().message()) << "\n";
    return kExitUsage;
  }
  if (*resolution == v1::RESOLUTION_UNSPECIFIED) {
    std::cerr << "reboundctl: RESOLUTION: choose one of in_progress, cant_resolve, "
                 "not_an_issue, resolved, escalate\n";
    return kExitUsage;
  }
  Client client(flags);
  v1::UpdateResolutionRequest request;
  request.set_case_id(flags.case_id);
  request.set_resolution(*resolution);
  request.set_actor(flags.actor);
  request.set_note(flags.note);
  request.set_expected_version(flags.expected_version);
  request.set_reopen(flags.reopen);
  v1::UpdateResolutionResponse reply;
  auto context = client.Context();
  const grpc::Status status = client.stub().UpdateResolution(context.get(), request, &reply);
  if (!status.ok()) {
    return Fail(flags, status);
  }
  if (flags.json) {
    std::cout << ToJson(reply.case_()) << "\n";
    return kExitOk;
  }
  const auto& c = reply.case_();
  std::cout << c.case_id() << ": " << domain::ResolutionLabel(c.resolution()) << " (version "
            << c.version() << ", " << StateOf(c) << ", owner " << c.owner() << ")\n";
  return kExitOk;
}

int RunNote(const CasesFlags& flags) {
  Client client(flags);
  v1::AddNoteRequest request;
  request.set_case_id(flags.case_id);
  request.set_actor(flags.actor);
  request.set_note(flags.note);
  request.set_expected_version(flags.expected_version);
  v1::AddNoteResponse reply;
  auto context = client.Context();
  const grpc::Status status = client.stub().AddNote(context.get(), request, &reply);
  if (!status.ok()) {
    return Fail(flags, status);
  }
  if (flags.json) {
    std::cout << ToJson(reply.case_()) << "\n";
  } else {
    std::cout << reply.case_().case_id() << ": note added (version " << reply.case_().version()
              << ")\n";
  }
  return kExitOk;
}

}  // namespace

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (char c : text) {
    width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  }
  return width;
}

std::string FormatCaseTable(const std::vector<v1::Case>& cases, size_t width) {
  const std::vector<std::string> headers = {"CASE",    "OPENED", "PRIORITY",   "OWNER",
                                            "ACCOUNT", "SCORE",  "RESOLUTION", "DUE"};
  std::vector<std::vector<std::string>> rows;
  for (const auto& c : cases) {
    const auto* latest = LatestResponse(c);
    rows.push_back({c.case_id(), Time(c.opened_at()),
                    std::string(domain::PriorityLabel(c.priority())), c.owner(), AccountOf(c),
                    latest ? std::to_string(latest->score()) : "-",
                    std::string(domain::ResolutionLabel(c.resolution())),
                    absl::StrCat(Time(c.due_at()), c.overdue() ? " !" : "")});
  }
  std::vector<size_t> widths(headers.size());
  for (size_t i = 0; i < headers.size(); ++i) {
    widths[i] = DisplayWidth(headers[i]);
    for (const auto& row : rows) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  // Owner and account names give way first when the terminal is narrow.
  constexpr size_t kGap = 2;
  constexpr size_t kOwner = 3;
  constexpr size_t kAccount = 4;
  constexpr size_t kMinimum = 8;
  auto total = [&] {
    size_t sum = 0;
    for (size_t w : widths) {
      sum += w + kGap;
    }
    return sum - kGap;
  };
  while (width > 0 && total() > width &&
         (widths[kOwner] > kMinimum || widths[kAccount] > kMinimum)) {
    size_t& wider = widths[kAccount] >= widths[kOwner] ? widths[kAccount] : widths[kOwner];
    --wider;
  }
  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string cell = Fit(cells[i], widths[i]);
      line += i + 1 == cells.size() ? cell : Pad(cell, widths[i] + kGap);
    }
    out += line + "\n";
  };
  emit(headers);
  for (const auto& row : rows) {
    emit(row);
  }
  return out;
}

void AddCasesCommand(CLI::App& app, int& exit_code) {
  auto flags = std::make_shared<CasesFlags>();
  CLI::App* cases = app.add_subcommand("cases", "List, show and resolve follow-up cases");
  cases->require_subcommand(1);
  cases->add_option("--cases-address", flags->address, "Case service gRPC address (host:port)")
      ->envname("REBOUND_CASES_ADDRESS")
      ->capture_default_str();
  cases->add_option("--api-token", flags->api_token, "Bearer token for the case service")
      ->envname("REBOUND_API_TOKEN");
  cases->add_option("--timeout", flags->timeout_seconds, "Seconds to wait for each call")
      ->envname("REBOUND_CASES_TIMEOUT")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();

  CLI::App* list = cases->add_subcommand("list", "List cases as a table");
  list->add_option("--state", flags->state, "open, closed or all")
      ->check(CLI::IsMember({"open", "closed", "all"}))
      ->capture_default_str();
  list->add_option("--owner", flags->owner, "Only cases owned by this person");
  list->add_option("--account", flags->account, "Only cases of this account id");
  list->add_option("--tag", flags->tag, "Only cases whose responses carry this tag");
  list->add_option("--priority", flags->priority, "normal, high or urgent");
  list->add_flag("--overdue", flags->overdue, "Only overdue cases");
  list->add_option("--order", flags->order, "newest or due")
      ->check(CLI::IsMember({"newest", "due"}))
      ->capture_default_str();
  list->add_option("--limit", flags->limit, "At most this many cases")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  list->add_flag("--json", flags->json, "Print JSON for scripts");
  list->callback([flags, &exit_code] { exit_code = RunList(*flags); });

  CLI::App* show = cases->add_subcommand("show", "Show one case with its history");
  show->add_option("ID", flags->case_id, "Case id (case-...)")->required();
  show->add_flag("--json", flags->json, "Print JSON for scripts");
  show->callback([flags, &exit_code] { exit_code = RunShow(*flags); });

  CLI::App* resolve = cases->add_subcommand("resolve", "Record a resolution (or escalate)");
  resolve->add_option("ID", flags->case_id, "Case id (case-...)")->required();
  resolve
      ->add_option("RESOLUTION", flags->resolution,
                   "in_progress, cant_resolve, not_an_issue, resolved or escalate")
      ->required();
  resolve->add_option("--actor", flags->actor, "Who records it")->required();
  resolve->add_option("--note", flags->note, "Optional note");
  resolve->add_option("--expected-version", flags->expected_version,
                      "Apply only if the case is at this version");
  resolve->add_flag("--reopen", flags->reopen, "Allow changing a closed case");
  resolve->add_flag("--json", flags->json, "Print the updated case as JSON");
  resolve->callback([flags, &exit_code] { exit_code = RunResolve(*flags); });

  CLI::App* note = cases->add_subcommand("note", "Add a note to a case");
  note->add_option("ID", flags->case_id, "Case id (case-...)")->required();
  note->add_option("TEXT", flags->note, "The note")->required();
  note->add_option("--actor", flags->actor, "Who writes it")->required();
  note->add_option("--expected-version", flags->expected_version,
                   "Apply only if the case is at this version");
  note->add_flag("--json", flags->json, "Print the updated case as JSON");
  note->callback([flags, &exit_code] { exit_code = RunNote(*flags); });
  for (CLI::App* leaf : {list, show, resolve, note}) {
    // Lets the connection options follow the command ("cases list --cases-address ...").
    leaf->fallthrough();
  }
}

}  // namespace rebound::reboundctl
