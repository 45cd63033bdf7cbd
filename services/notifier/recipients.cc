#include "recipients.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace rebound::notifier {
namespace {

// Lower case with whitespace collapsed, for comparing names and tags.
std::string Key(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (absl::ascii_isspace(c)) {
      if (!out.empty() && out.back() != ' ') {
        out.push_back(' ');
      }
    } else {
      out.push_back(absl::ascii_tolower(c));
    }
  }
  while (!out.empty() && out.back() == ' ') {
    out.pop_back();
  }
  return out;
}

std::string StringField(const nlohmann::json& object, const char* field) {
  auto it = object.find(field);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

absl::Status CheckEmail(const std::string& email, const std::string& where) {
  if (absl::Status s = mail::ValidateEmail(email); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
  }
  return absl::OkStatus();
}

// Adds `address` unless an address equal to it (case-insensitively) is in `a` or `b`.
void AddUnique(std::vector<mail::Address>& list, const std::vector<mail::Address>& other,
               mail::Address address) {
  if (address.email.empty() || !mail::ValidateEmail(address.email).ok()) {
    return;
  }
  const std::string key = Key(address.email);
  for (const std::vector<mail::Address>* l :
       std::initializer_list<const std::vector<mail::Address>*>{&list, &other}) {
    for (const mail::Address& existing : *l) {
      if (Key(existing.email) == key) {
        return;
      }
    }
  }
  address.name = SingleLine(address.name);
  list.push_back(std::move(address));
}

// The chain link named `name` (the first, when several share it), or nullptr.
const v1::Owner* FindLink(const v1::Case& c, std::string_view name) {
  if (c.responses_size() == 0 || name.empty()) {
    return nullptr;
  }
  const auto& chain = c.responses(0).owner_chain();
  if (c.owner_index() >= 0 && c.owner_index() < chain.size() &&
      Key(chain[c.owner_index()].name()) == Key(name)) {
    return &chain[c.owner_index()];
  }
  for (const v1::Owner& link : chain) {
    if (Key(link.name()) == Key(name)) {
      return &link;
    }
  }
  return nullptr;
}

// The address of the owner named `name`: the chain link's own, else the directory's.
std::string OwnerEmail(const v1::Case& c, const Directory& directory, std::string_view name) {
  if (const v1::Owner* link = FindLink(c, name);
      link != nullptr && mail::ValidateEmail(link->email()).ok()) {
    return link->email();
  }
  if (const DirectoryEntry* entry = directory.Find(name); entry != nullptr) {
    return entry->email;
  }
  return "";
}

// The director of the owner: the directory's director address, else the chain link just above.
mail::Address DirectorOf(const v1::Case& c, const Directory& directory, std::string_view owner) {
  if (const DirectoryEntry* entry = directory.Find(owner);
      entry != nullptr && !entry->director_email.empty()) {
    return {"", entry->director_email};
  }
  if (c.responses_size() == 0) {
    return {};
  }
  const auto& chain = c.responses(0).owner_chain();
  const v1::Owner* link = FindLink(c, owner);
  for (int i = 1; link != nullptr && i < chain.size(); ++i) {
    if (&chain[i] == link) {
      const v1::Owner& above = chain[i - 1];
      return {above.name(), OwnerEmail(c, directory, above.name())};
    }
  }
  return {};
}

}  // namespace

absl::StatusOr<Directory> Directory::Load(const std::string& path) {
  if (path.empty()) {
    return Directory();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read directory file ", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<Directory> directory = Parse(ss.str());
  if (!directory.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory file ", path, ": ", directory.status().message()));
  }
  return directory;
}

absl::StatusOr<Directory> Directory::Parse(std::string_view json) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return absl::InvalidArgumentError("not a JSON object");
  }
  Directory directory;
  if (auto it = doc.find("owners"); it != doc.end()) {
    if (!it->is_array()) {
      return absl::InvalidArgumentError("\"owners\" must be an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& o = (*it)[i];
      const std::string where = absl::StrCat("owners[", i, "]");
      DirectoryEntry entry{StringField(o, "name"), StringField(o, "email"),
                           StringField(o, "director_email")};
      if (Key(entry.name).empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": \"name\" is missing"));
      }
      if (absl::Status s = CheckEmail(entry.email, where); !s.ok()) {
        return s;
      }
      if (!entry.director_email.empty()) {
        if (absl::Status s = CheckEmail(entry.director_email, where + ".director_email"); !s.ok()) {
          return s;
        }
      }
      directory.owners_.push_back(std::move(entry));
    }
  }
  if (auto it = doc.find("routes"); it != doc.end()) {
    if (!it->is_array()) {
      return absl::InvalidArgumentError("\"routes\" must be an array");
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const nlohmann::json& r = (*it)[i];
      const std::string where = absl::StrCat("routes[", i, "]");
      RoutingRule rule{StringField(r, "tag"), StringField(r, "email"), StringField(r, "name")};
      if (Key(rule.tag).empty()) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": \"tag\" is missing"));
      }
      if (absl::Status s = CheckEmail(rule.email, where); !s.ok()) {
        return s;
      }
      directory.routes_.push_back(std::move(rule));
    }
  }
  return directory;
}

const DirectoryEntry* Directory::Find(std::string_view owner_name) const {
  const std::string key = Key(owner_name);
  if (key.empty()) {
    return nullptr;
  }
  for (const DirectoryEntry& entry : owners_) {
    if (Key(entry.name) == key) {
      return &entry;
    }
  }
  return nullptr;
}

std::vector<std::string> Recipients::Envelope() const {
  std::vector<std::string> out;
  for (const std::vector<mail::Address>* list : {&to, &cc}) {
    for (const mail::Address& a : *list) {
      out.push_back(a.email);
    }
  }
  return out;
}

absl::StatusOr<Recipients> ResolveRecipients(MailKind kind, const v1::CaseEvent& event,
                                             const Directory& directory,
                                             const RecipientOptions& options) {
  const v1::Case& c = event.case_();
  Recipients r;
  const std::string owner = kind == MailKind::kEscalation && !event.change().to_owner().empty()
                                ? event.change().to_owner()
                                : c.owner();
  AddUnique(r.to, r.cc, {owner, OwnerEmail(c, directory, owner)});
  if (r.to.empty()) {
    if (options.fallback_recipient.empty()) {
      return absl::NotFoundError("the case owner has no address and no fallback is configured");
    }
    AddUnique(r.to, r.cc, {"", options.fallback_recipient});
    r.used_fallback = true;
  }
  if (kind == MailKind::kEscalation && !event.change().from_owner().empty()) {
    const std::string& previous = event.change().from_owner();
    AddUnique(r.cc, r.to, {previous, OwnerEmail(c, directory, previous)});
  }
  if (options.cc_director) {
    AddUnique(r.cc, r.to, DirectorOf(c, directory, owner));
  }
  if (const v1::SurveyResponse* response = FocusResponse(event); response != nullptr) {
    for (const RoutingRule& rule : directory.routes()) {
      for (const std::string& tag : response->tags()) {
        if (Key(tag) == Key(rule.tag)) {
          AddUnique(r.cc, r.to, {rule.name, rule.email});
        }
      }
    }
  }
  return r;
}

}  // namespace rebound::notifier
