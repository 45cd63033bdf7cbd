#include "case_store.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "rebound/domain/domain.h"

namespace rebound::cases {
namespace {

// One script for every change. ARGV:
//  1 prefix  2 case id  3 expected current version (0: must not exist)  4 mode (open, update,
//  overdue)  5 new version  6 Case proto  7 owner  8 account  9 tags  10 priority  11 resolution
//  12 closed (0/1)  13 respondent key  14 opened ms  15 due ms  16 closed ms  17 awaiting a first
//  action (0/1)  18 notified due ms  19 retention seconds  20 event id  21 CaseEvent
//  22 CaseEventSummary  23 change stream cap  24 alias (case id of a joining response, or "")
// Replies {"OK", change stream id} | {"VERSION", current} | {"DUP"} | {"JOIN", case id} |
// {"NOOP"}.
constexpr char kWriteScript[] = R"lua(
local key = KEYS[1]
local p, id, mode = ARGV[1], ARGV[2], ARGV[4]
local cur = tonumber(redis.call('HGET', key, 'v') or '0')
if cur ~= tonumber(ARGV[3]) then return {'VERSION', tostring(cur)} end
if mode == 'open' then
  if redis.call('EXISTS', p .. 'alias:' .. id) == 1 then return {'DUP'} end
  if ARGV[13] ~= '' then
    local other = redis.call('GET', p .. 'resp:' .. ARGV[13])
    if other and other ~= id and redis.call('EXISTS', p .. 'case:' .. other) == 1 then
      return {'JOIN', other}
    end
  end
elseif mode == 'overdue' then
  if redis.call('HGET', key, 'odue') == ARGV[18] then return {'NOOP'} end
end

local function attr_keys(owner, account, tags, priority, resolution)
  local keys = {}
  if owner ~= '' then keys[#keys + 1] = p .. 'idx:owner:' .. owner end
  if account ~= '' then keys[#keys + 1] = p .. 'idx:account:' .. account end
  for tag in string.gmatch(tags, '[^\31]+') do keys[#keys + 1] = p .. 'idx:tag:' .. tag end
  keys[#keys + 1] = p .. 'idx:priority:' .. priority
  keys[#keys + 1] = p .. 'idx:resolution:' .. resolution
  return keys
end

-- Take the case out of the indexes of its old state.
if cur > 0 then
  local old = {}
  local ix, start = redis.call('HGET', key, 'ix') or '', 1
  while true do
    local i = string.find(ix, '\30', start, true)
    if not i then old[#old + 1] = string.sub(ix, start); break end
    old[#old + 1] = string.sub(ix, start, i - 1)
    start = i + 1
  end
  if old[6] == '1' then
    redis.call('ZREM', p .. 'idx:closed:opened', id)
    redis.call('ZREM', p .. 'idx:closed:due', id)
    redis.call('ZREM', p .. 'idx:closed:at', id)
  else
    for _, k in ipairs(attr_keys(old[1] or '', old[2] or '', old[3] or '', old[4] or '',
                                 old[5] or '')) do
      redis.call('SREM', k, id)
    end
    redis.call('ZREM', p .. 'idx:open:opened', id)
    redis.call('ZREM', p .. 'idx:open:due', id)
    redis.call('ZREM', p .. 'idx:pending', id)
  end
  if old[7] and old[7] ~= '' and redis.call('GET', p .. 'resp:' .. old[7]) == id then
    redis.call('DEL', p .. 'resp:' .. old[7])
  end
end

-- Few fields keep the hash small: the indexed values share one field.
redis.call('HSET', key, 'v', ARGV[5], 'pb', ARGV[6], 'odue', ARGV[18], 'ix',
           table.concat({ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]},
                        '\30'))
if ARGV[12] == '1' then
  redis.call('ZADD', p .. 'idx:closed:opened', ARGV[14], id)
  redis.call('ZADD', p .. 'idx:closed:due', ARGV[15], id)
  redis.call('ZADD', p .. 'idx:closed:at', ARGV[16], id)
  redis.call('EXPIRE', key, ARGV[19])
else
  for _, k in ipairs(attr_keys(ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11])) do
    redis.call('SADD', k, id)
  end
  redis.call('ZADD', p .. 'idx:open:opened', ARGV[14], id)
  redis.call('ZADD', p .. 'idx:open:due', ARGV[15], id)
  if ARGV[17] == '1' then redis.call('ZADD', p .. 'idx:pending', ARGV[15], id) end
  if ARGV[13] ~= '' then redis.call('SET', p .. 'resp:' .. ARGV[13], id) end
  redis.call('PERSIST', key)
end
if ARGV[24] ~= '' then
  redis.call('SET', p .. 'alias:' .. ARGV[24], id, 'EX', ARGV[19])
end
redis.call('XADD', p .. 'outbox', '*', 'id', ARGV[20], 'ev', ARGV[21])
local sid = redis.call('XADD', p .. 'changes', 'MAXLEN', '~', ARGV[23], '*', 'owner', ARGV[7],
                       'ev', ARGV[22])
return {'OK', sid}
)lua";

constexpr int kMaxAttempts = 8;
constexpr char kTagSeparator = '\x1f';

std::string Str(std::string_view s) { return std::string(s); }

std::string Millis(const google::protobuf::Timestamp& ts) { return absl::StrCat(ToUnixMillis(ts)); }

std::string JoinedTags(const v1::Case& c) {
  std::set<std::string> tags;
  for (const v1::SurveyResponse& r : c.responses()) {
    for (const std::string& tag : r.tags()) {
      std::string name = IndexName(tag);
      if (!name.empty()) {
        tags.insert(std::move(name));
      }
    }
  }
  return absl::StrJoin(tags, std::string(1, kTagSeparator));
}

std::string ArrayString(const redis::Reply& reply, size_t index) {
  if (reply.type != redis::Reply::Type::kArray || index >= reply.elements.size()) {
    return "";
  }
  return reply.elements[index].AsString().value_or("");
}

int64_t ParseInt(const std::optional<std::string>& text) {
  int64_t value = 0;
  if (text && absl::SimpleAtoi(*text, &value)) {
    return value;
  }
  return 0;
}

bool HasResponse(const v1::Case& c, const std::string& response_id) {
  for (const v1::SurveyResponse& r : c.responses()) {
    if (r.response_id() == response_id) {
      return true;
    }
  }
  return false;
}

bool HasTag(const v1::Case& c, const std::string& tag) {
  for (const v1::SurveyResponse& r : c.responses()) {
    for (const std::string& t : r.tags()) {
      if (IndexName(t) == tag) {
        return true;
      }
    }
  }
  return false;
}

struct Candidate {
  double score = 0;
  std::string id;
};

// Reads the (member, score) pairs of a WITHSCORES reply.
std::vector<Candidate> ParseScored(const redis::Reply& reply) {
  std::vector<Candidate> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    Candidate c;
    c.id = reply.elements[i].AsString().value_or("");
    double score = 0;
    if (absl::SimpleAtod(reply.elements[i + 1].AsString().value_or("0"), &score)) {
      c.score = score;
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace

std::string IndexName(std::string_view text) {
  return absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
}

std::string EncodePageToken(int order, double score, const std::string& id) {
  // Scores are whole milliseconds; print them in full (StrCat would round a double to 6 digits).
  return absl::WebSafeBase64Escape(
      absl::StrCat("p1|", order, "|", static_cast<int64_t>(score), "|", id));
}

absl::Status DecodePageToken(const std::string& token, int order, double* score, std::string* id) {
  std::string raw;
  const absl::Status bad = absl::InvalidArgumentError(
      "page_token: not a token from a previous reply with the same order");
  if (!absl::WebSafeBase64Unescape(token, &raw)) {
    return bad;
  }
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('|', 3));
  int token_order = 0;
  if (parts.size() != 4 || parts[0] != "p1" || !absl::SimpleAtoi(parts[1], &token_order) ||
      token_order != order || !absl::SimpleAtod(parts[2], score) || parts[3].empty()) {
    return bad;
  }
  *id = parts[3];
  return absl::OkStatus();
}

double Median(std::vector<double> values) {
  if (values.empty()) {
    return 0;
  }
  std::sort(values.begin(), values.end());
  const size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

std::vector<std::string> DaysInWindow(absl::Time from, absl::Time to, int max_days) {
  std::vector<std::string> days;
  if (to <= from) {
    return days;
  }
  const absl::Time last = to - absl::Milliseconds(1);
  absl::CivilDay day = absl::ToCivilDay(last, absl::UTCTimeZone());
  const absl::CivilDay first = absl::ToCivilDay(from, absl::UTCTimeZone());
  while (day >= first && static_cast<int>(days.size()) < max_days) {
    days.push_back(absl::FormatCivilTime(day));
    --day;
  }
  std::reverse(days.begin(), days.end());
  return days;
}

CaseStore::CaseStore(redis::Client& client, StoreOptions options)
    : client_(client), options_(std::move(options)), script_(kWriteScript) {}

std::string CaseStore::Key(std::string_view suffix) const {
  return absl::StrCat(options_.prefix, absl::string_view(suffix.data(), suffix.size()));
}

absl::StatusOr<CaseStore::WriteResult> CaseStore::Write(std::string_view mode,
                                                        int64_t expected_version,
                                                        int64_t notified_due_ms,
                                                        const Transition& transition,
                                                        const std::string& alias) {
  const v1::Case& c = transition.after;
  const std::string account = c.responses_size() > 0 ? c.responses(0).account().account_id() : "";
  const std::string respondent = c.responses_size() > 0 ? c.responses(0).respondent_key() : "";
  std::vector<std::string> args = {
      options_.prefix,
      c.case_id(),
      absl::StrCat(expected_version),
      std::string(mode),
      absl::StrCat(c.version()),
      c.SerializeAsString(),
      IndexName(c.owner()),
      account,
      JoinedTags(c),
      Str(domain::PrioritySlug(c.priority())),
      Str(domain::ResolutionSlug(c.resolution())),
      c.closed() ? "1" : "0",
      respondent,
      Millis(c.opened_at()),
      Millis(c.due_at()),
      c.has_closed_at() ? Millis(c.closed_at()) : "0",
      AwaitsFirstAction(c, notified_due_ms) ? "1" : "0",
      absl::StrCat(notified_due_ms),
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options_.closed_retention))),
      EventId(c.case_id(), transition.change.sequence()),
      MakeEvent(transition).SerializeAsString(),
      MakeSummary(transition).SerializeAsString(),
      absl::StrCat(options_.changes_max_len),
      alias,
  };
  absl::StatusOr<redis::Reply> reply = script_.Run(client_, {Key("case:" + c.case_id())}, args);
  if (!reply.ok()) {
    return reply.status();
  }
  const std::string verdict = ArrayString(*reply, 0);
  WriteResult result;
  result.detail = ArrayString(*reply, 1);
  if (verdict == "OK") {
    result.kind = WriteResult::Kind::kOk;
  } else if (verdict == "VERSION") {
    result.kind = WriteResult::Kind::kVersion;
  } else if (verdict == "DUP") {
    result.kind = WriteResult::Kind::kDuplicate;
  } else if (verdict == "JOIN") {
    result.kind = WriteResult::Kind::kJoin;
  } else if (verdict == "NOOP") {
    result.kind = WriteResult::Kind::kNoop;
  } else {
    return absl::InternalError(absl::StrCat("unexpected reply from the case script: ", verdict));
  }
  return result;
}

absl::StatusOr<IntakeOutcome> CaseStore::Intake(const v1::DetractorIdentified& detractor,
                                                absl::Time now) {
  const std::string& response_id = detractor.response().response_id();
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<Transition> opened = OpenCase(detractor, now);
    if (!opened.ok()) {
      return opened.status();
    }
    absl::StatusOr<WriteResult> written = Write("open", 0, 0, *opened, "");
    if (!written.ok()) {
      return written.status();
    }
    switch (written->kind) {
      case WriteResult::Kind::kOk:
        return IntakeOutcome{IntakeResult::kOpened, opened->after.case_id()};
      case WriteResult::Kind::kVersion:
      case WriteResult::Kind::kDuplicate:
      case WriteResult::Kind::kNoop:
        return IntakeOutcome{IntakeResult::kDuplicate, opened->after.case_id()};
      case WriteResult::Kind::kJoin:
        break;
    }

    // The respondent has an open case: join it, unless this response is already in it.
    const std::string target = written->detail;
    absl::StatusOr<StoredCase> current = Get(target);
    if (absl::IsNotFound(current.status())) {
      continue;
    }
    if (!current.ok()) {
      return current.status();
    }
    if (HasResponse(current->value, response_id)) {
      return IntakeOutcome{IntakeResult::kDuplicate, target};
    }
    absl::StatusOr<Transition> joined = JoinResponse(current->value, detractor, now);
    if (!joined.ok()) {
      continue;  // closed in between: the next attempt opens a case of its own
    }
    written = Write("update", current->value.version(), current->notified_due_ms, *joined,
                    opened->after.case_id());
    if (!written.ok()) {
      return written.status();
    }
    if (written->kind == WriteResult::Kind::kOk) {
      return IntakeOutcome{IntakeResult::kJoined, target};
    }
  }
  return absl::AbortedError(
      absl::StrCat("response ", response_id, ": too many concurrent changes, try again"));
}

absl::StatusOr<std::vector<std::optional<StoredCase>>> CaseStore::GetMany(
    const std::vector<std::string>& ids) {
  std::vector<std::vector<std::string>> commands;
  commands.reserve(ids.size());
  for (const std::string& id : ids) {
    commands.push_back({"HMGET", Key("case:" + id), "pb", "odue"});
  }
  std::vector<std::optional<StoredCase>> out;
  if (ids.empty()) {
    return out;
  }
  auto replies = client_.Pipeline(commands);
  if (!replies.ok()) {
    return replies.status();
  }
  for (size_t i = 0; i < replies->size(); ++i) {
    const absl::StatusOr<redis::Reply>& reply = (*replies)[i];
    if (!reply.ok()) {
      return reply.status();
    }
    if (reply->elements.size() < 2 || reply->elements[0].IsNil()) {
      out.push_back(std::nullopt);
      continue;
    }
    StoredCase stored;
    if (!stored.value.ParseFromString(reply->elements[0].AsString().value_or(""))) {
      return absl::DataLossError(absl::StrCat("case ", ids[i], ": stored record does not parse"));
    }
    stored.notified_due_ms = ParseInt(reply->elements[1].AsString());
    out.push_back(std::move(stored));
  }
  return out;
}

absl::StatusOr<StoredCase> CaseStore::Get(const std::string& case_id) {
  auto found = GetMany({case_id});
  if (!found.ok()) {
    return found.status();
  }
  if (!(*found)[0].has_value()) {
    return absl::NotFoundError(absl::StrCat("case_id: no case ", case_id));
  }
  return std::move(*(*found)[0]);
}

absl::StatusOr<Transition> CaseStore::Mutate(const std::string& case_id, int64_t expected_version,
                                             const Mutation& mutation) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    absl::StatusOr<StoredCase> current = Get(case_id);
    if (!current.ok()) {
      return current.status();
    }
    if (expected_version != 0 && current->value.version() != expected_version) {
      return absl::FailedPreconditionError(absl::StrCat("expected_version: case ", case_id,
                                                        " is at version ", current->value.version(),
                                                        ", not ", expected_version));
    }
    absl::StatusOr<Transition> transition = mutation(*current);
    if (!transition.ok()) {
      return transition.status();
    }
    absl::StatusOr<WriteResult> written =
        Write("update", current->value.version(), current->notified_due_ms, *transition, "");
    if (!written.ok()) {
      return written.status();
    }
    if (written->kind == WriteResult::Kind::kOk) {
      return transition;
    }
    if (written->detail == "0") {
      return absl::NotFoundError(absl::StrCat("case_id: no case ", case_id));
    }
    if (expected_version != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "expected_version: case ", case_id, " changed concurrently and is now at version ",
          written->detail, ", not ", expected_version));
    }
  }
  return absl::AbortedError(
      absl::StrCat("case ", case_id, ": too many concurrent changes, try again"));
}

absl::StatusOr<int> CaseStore::EmitOverdue(absl::Time now, int limit) {
  auto due =
      client_.Command({"ZRANGEBYSCORE", Key("idx:pending"), "-inf",
                       absl::StrCat(absl::ToUnixMillis(now)), "LIMIT", "0", absl::StrCat(limit)});
  if (!due.ok()) {
    return due.status();
  }
  int emitted = 0;
  for (const redis::Reply& member : due->elements) {
    const std::string id = member.AsString().value_or("");
    for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
      absl::StatusOr<StoredCase> current = Get(id);
      if (absl::IsNotFound(current.status())) {
        client_.Command({"ZREM", Key("idx:pending"), id}).IgnoreError();
        break;
      }
      if (!current.ok()) {
        return current.status();
      }
      if (!NeedsOverdueEvent(current->value, current->notified_due_ms, now)) {
        break;  // acted on, closed, or another replica sent it: the script cleaned the index
      }
      absl::StatusOr<Transition> transition = MarkOverdue(current->value, now);
      if (!transition.ok()) {
        break;
      }
      const int64_t due_ms = ToUnixMillis(current->value.due_at());
      absl::StatusOr<WriteResult> written =
          Write("overdue", current->value.version(), due_ms, *transition, "");
      if (!written.ok()) {
        return written.status();
      }
      if (written->kind == WriteResult::Kind::kOk) {
        ++emitted;
        break;
      }
      if (written->kind == WriteResult::Kind::kNoop) {
        break;
      }
    }
  }
  return emitted;
}

absl::StatusOr<int> CaseStore::Purge(absl::Time now, int limit) {
  const absl::Time cutoff = now - options_.closed_retention;
  auto old = client_.Command({"ZRANGEBYSCORE", Key("idx:closed:at"), "-inf",
                              absl::StrCat(absl::ToUnixMillis(cutoff)), "LIMIT", "0",
                              absl::StrCat(limit)});
  if (!old.ok()) {
    return old.status();
  }
  int removed = 0;
  for (const redis::Reply& member : old->elements) {
    const std::string id = member.AsString().value_or("");
    auto exists = client_.Command({"EXISTS", Key("case:" + id)});
    if (!exists.ok()) {
      return exists.status();
    }
    // A case reopened and closed again has a later closing time; only expired ones go.
    if (exists->integer != 0) {
      continue;
    }
    auto done = client_.Pipeline({{"ZREM", Key("idx:closed:opened"), id},
                                  {"ZREM", Key("idx:closed:due"), id},
                                  {"ZREM", Key("idx:closed:at"), id}});
    if (!done.ok()) {
      return done.status();
    }
    ++removed;
  }
  return removed;
}

absl::StatusOr<v1::ListCasesResponse> CaseStore::List(const v1::ListCasesRequest& request,
                                                      absl::Time now) {
  if (request.page_size() < 0 || request.page_size() > 500) {
    return absl::InvalidArgumentError("page_size: must be 0 (for 50) to 500");
  }
  if (!v1::Resolution_IsValid(request.resolution())) {
    return absl::InvalidArgumentError("resolution: unknown value");
  }
  if (!v1::Priority_IsValid(request.priority())) {
    return absl::InvalidArgumentError("priority: unknown value");
  }
  const int page_size = request.page_size() == 0 ? 50 : request.page_size();
  const bool due_first = request.order() == v1::CASE_ORDER_DUE_FIRST;
  const bool want_open = request.state() != v1::CASE_STATE_FILTER_CLOSED;
  const bool want_closed = request.state() != v1::CASE_STATE_FILTER_OPEN;
  const std::string owner = IndexName(request.owner());
  const std::string tag = IndexName(request.tag());

  double after_score = 0;
  std::string after_id;
  if (!request.page_token().empty()) {
    if (absl::Status s =
            DecodePageToken(request.page_token(), request.order(), &after_score, &after_id);
        !s.ok()) {
      return s;
    }
  }

  // Candidates: open cases narrowed by their index sets, closed ones from their zset (closed
  // cases are filtered below, after loading).
  // NOTE: this reads the ids of every candidate to sort and page them, which is fine for
  // thousands of open cases but not for millions; a sorted index per filter would avoid it.
  std::vector<Candidate> candidates;
  const std::string suffix = due_first ? "due" : "opened";
  if (want_open) {
    std::vector<std::string> sets;
    if (!owner.empty()) sets.push_back(Key("idx:owner:" + owner));
    if (!request.account_id().empty()) sets.push_back(Key("idx:account:" + request.account_id()));
    if (!tag.empty()) sets.push_back(Key("idx:tag:" + tag));
    if (request.priority() != v1::PRIORITY_UNSPECIFIED) {
      sets.push_back(
          Key(absl::StrCat("idx:priority:", Str(domain::PrioritySlug(request.priority())))));
    }
    if (request.resolution() != v1::RESOLUTION_UNSPECIFIED) {
      sets.push_back(
          Key(absl::StrCat("idx:resolution:", Str(domain::ResolutionSlug(request.resolution())))));
    }
    const std::string zset = Key("idx:open:" + suffix);
    if (sets.empty()) {
      auto all = client_.Command({"ZRANGE", zset, "0", "-1", "WITHSCORES"});
      if (!all.ok()) {
        return all.status();
      }
      candidates = ParseScored(*all);
    } else {
      std::vector<std::string> inter = {"SINTER"};
      inter.insert(inter.end(), sets.begin(), sets.end());
      auto ids = client_.Command(inter);
      if (!ids.ok()) {
        return ids.status();
      }
      if (!ids->elements.empty()) {
        std::vector<std::string> mscore = {"ZMSCORE", zset};
        for (const redis::Reply& id : ids->elements) {
          mscore.push_back(id.AsString().value_or(""));
        }
        auto scores = client_.Command(mscore);
        if (!scores.ok()) {
          return scores.status();
        }
        for (size_t i = 0; i < scores->elements.size(); ++i) {
          double score = 0;
          if (scores->elements[i].IsNil() ||
              !absl::SimpleAtod(scores->elements[i].AsString().value_or(""), &score)) {
            continue;
          }
          candidates.push_back({score, mscore[i + 2]});
        }
      }
    }
  }
  if (want_closed) {
    auto closed = client_.Command({"ZRANGE", Key("idx:closed:" + suffix), "0", "-1", "WITHSCORES"});
    if (!closed.ok()) {
      return closed.status();
    }
    for (Candidate& c : ParseScored(*closed)) {
      candidates.push_back(std::move(c));
    }
  }

  // Newest first is descending opening time; due first ascending due time. Ties break by id.
  auto before = [due_first](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) {
      return due_first ? a.score < b.score : a.score > b.score;
    }
    return a.id < b.id;
  };
  std::sort(candidates.begin(), candidates.end(), before);
  size_t start = 0;
  if (!after_id.empty()) {
    const Candidate token{after_score, after_id};
    start =
        std::upper_bound(candidates.begin(), candidates.end(), token, before) - candidates.begin();
  }

  v1::ListCasesResponse response;
  size_t next = start;
  constexpr size_t kChunk = 100;
  while (next < candidates.size() && response.cases_size() < page_size) {
    const size_t end = std::min(candidates.size(), next + kChunk);
    std::vector<std::string> ids;
    for (size_t i = next; i < end; ++i) {
      ids.push_back(candidates[i].id);
    }
    auto loaded = GetMany(ids);
    if (!loaded.ok()) {
      return loaded.status();
    }
    size_t i = next;
    for (; i < end && response.cases_size() < page_size; ++i) {
      const std::optional<StoredCase>& stored = (*loaded)[i - next];
      if (!stored.has_value()) {
        // Expired after closing: drop the stale index entries on the way.
        client_
            .Pipeline({{"ZREM", Key("idx:closed:opened"), candidates[i].id},
                       {"ZREM", Key("idx:closed:due"), candidates[i].id},
                       {"ZREM", Key("idx:closed:at"), candidates[i].id}})
            .IgnoreError();
        continue;
      }
      const v1::Case& c = stored->value;
      if ((c.closed() && !want_closed) || (!c.closed() && !want_open)) continue;
      if (request.resolution() != v1::RESOLUTION_UNSPECIFIED &&
          c.resolution() != request.resolution()) {
        continue;
      }
      if (request.priority() != v1::PRIORITY_UNSPECIFIED && c.priority() != request.priority()) {
        continue;
      }
      if (!owner.empty() && IndexName(c.owner()) != owner) continue;
      if (!request.account_id().empty() &&
          (c.responses_size() == 0 ||
           c.responses(0).account().account_id() != request.account_id())) {
        continue;
      }
      if (!tag.empty() && !HasTag(c, tag)) continue;
      if (request.overdue_only() && !IsOverdue(c, now)) continue;
      *response.add_cases() = c;
      if (response.cases_size() == page_size) {
        ++i;
        break;
      }
    }
    next = i;
  }
  if (next < candidates.size() && response.cases_size() == page_size) {
    const Candidate& last = candidates[next - 1];
    response.set_next_page_token(EncodePageToken(request.order(), last.score, last.id));
  }
  return response;
}

absl::StatusOr<v1::GetStatsResponse> CaseStore::Stats(const v1::GetStatsRequest& request,
                                                      absl::Time now) {
  constexpr int kMaxDays = 366;
  const absl::Time to = request.has_to() ? FromProto(request.to()) : now;
  const bool has_from = request.has_from();
  const absl::Time from = has_from ? FromProto(request.from()) : absl::InfinitePast();
  if (has_from && from >= to) {
    return absl::InvalidArgumentError("from: must be before to");
  }
  const std::string min = has_from ? absl::StrCat(absl::ToUnixMillis(from)) : "-inf";
  const std::string max = absl::StrCat("(", absl::ToUnixMillis(to));

  // Every retained case opened in the window.
  std::vector<std::string> ids;
  for (const char* zset : {"idx:open:opened", "idx:closed:opened"}) {
    auto found = client_.Command({"ZRANGEBYSCORE", Key(zset), min, max});
    if (!found.ok()) {
      return found.status();
    }
    for (const redis::Reply& id : found->elements) {
      ids.push_back(id.AsString().value_or(""));
    }
  }

  struct Slice {
    v1::CaseFigures figures;
    std::vector<double> first_action;
    std::vector<double> close;
    int64_t closed = 0;
  };
  Slice total;
  std::map<std::string, Slice> by_tag;  // by lower-case tag
  std::map<std::string, std::string> tag_spelling;
  std::map<std::string, Slice> by_owner;
  auto count = [&now](Slice& slice, const v1::Case& c) {
    v1::CaseFigures& f = slice.figures;
    f.set_opened(f.opened() + 1);
    (*f.mutable_resolution_mix())[Str(domain::ResolutionSlug(c.resolution()))]++;
    if (!c.closed()) {
      (*f.mutable_open_by_priority())[Str(domain::PrioritySlug(c.priority()))]++;
    }
    if (IsOverdue(c, now)) {
      f.set_overdue(f.overdue() + 1);
    }
    if (c.has_first_action_at()) {
      slice.first_action.push_back(
          absl::ToDoubleSeconds(FromProto(c.first_action_at()) - FromProto(c.opened_at())));
    }
    if (c.closed()) {
      ++slice.closed;
      slice.close.push_back(
          absl::ToDoubleSeconds(FromProto(c.closed_at()) - FromProto(c.opened_at())));
    }
  };

  for (size_t begin = 0; begin < ids.size(); begin += 200) {
    std::vector<std::string> chunk(ids.begin() + begin,
                                   ids.begin() + std::min(ids.size(), begin + 200));
    auto loaded = GetMany(chunk);
    if (!loaded.ok()) {
      return loaded.status();
    }
    for (const std::optional<StoredCase>& stored : *loaded) {
      if (!stored.has_value()) {
        continue;
      }
      const v1::Case& c = stored->value;
      count(total, c);
      if (!c.owner().empty()) {
        count(by_owner[c.owner()], c);
      }
      std::set<std::string> seen;
      for (const v1::SurveyResponse& r : c.responses()) {
        for (const std::string& t : r.tags()) {
          const std::string name = IndexName(t);
          if (name.empty() || !seen.insert(name).second) {
            continue;
          }
          tag_spelling.emplace(name, t);
          count(by_tag[name], c);
        }
      }
    }
  }

  auto finish = [](Slice& slice) {
    v1::CaseFigures& f = slice.figures;
    f.set_median_seconds_to_first_action(Median(slice.first_action));
    f.set_median_seconds_to_close(Median(slice.close));
    f.set_closed_loop_rate(f.opened() == 0 ? 0.0
                                           : static_cast<double>(slice.closed) /
                                                 static_cast<double>(f.opened()));
    return f;
  };
  v1::GetStatsResponse response;
  *response.mutable_total() = finish(total);
  for (auto& [name, slice] : by_tag) {
    (*response.mutable_by_tag())[tag_spelling[name]] = finish(slice);
  }
  for (auto& [name, slice] : by_owner) {
    (*response.mutable_by_owner())[name] = finish(slice);
  }

  // Category counts come from the classifier's per-day counters; days count whole.
  const absl::Time days_from = has_from ? from : to - absl::Hours(24 * kMaxDays);
  std::vector<std::vector<std::string>> commands;
  for (const std::string& day : DaysInWindow(days_from, to, kMaxDays)) {
    commands.push_back(
        {"HMGET", Key("stats:categories:" + day), "promoters", "passives", "detractors"});
  }
  int64_t promoters = 0, passives = 0, detractors = 0;
  if (!commands.empty()) {
    auto replies = client_.Pipeline(commands);
    if (!replies.ok()) {
      return replies.status();
    }
    for (const absl::StatusOr<redis::Reply>& reply : *replies) {
      if (!reply.ok() || reply->elements.size() < 3) {
        continue;
      }
      promoters += ParseInt(reply->elements[0].AsString());
      passives += ParseInt(reply->elements[1].AsString());
      detractors += ParseInt(reply->elements[2].AsString());
    }
  }
  v1::CategoryCounts* categories = response.mutable_categories();
  categories->set_promoters(promoters);
  categories->set_passives(passives);
  categories->set_detractors(detractors);
  categories->set_nps(domain::NetPromoterScore(promoters, passives, detractors));
  return response;
}

}  // namespace rebound::cases
