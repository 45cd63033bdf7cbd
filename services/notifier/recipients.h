// Who receives a mail: the case owner (the chain link's own address, else the directory
// file), optionally the owner's director, extra inboxes chosen by tag, and a fallback address
// when the owner has none, so that no mail is dropped silently.
#ifndef REBOUND_NOTIFIER_RECIPIENTS_H_
#define REBOUND_NOTIFIER_RECIPIENTS_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rebound/mail/mime.h"
#include "rebound/v1/events.pb.h"
#include "render.h"

namespace rebound::notifier {

struct DirectoryEntry {
  std::string name;
  std::string email;
  std::string director_email;  // optional
};

// "Every response tagged `tag` also goes to `email`" (an office's shared inbox, say).
struct RoutingRule {
  std::string tag;
  std::string email;
  std::string name;  // optional display name
};

// The directory file (JSON):
//   {"owners": [{"name": "Dana Whitfield", "email": "dana@example.com",
//                "director_email": "lee@example.com"}],
//    "routes": [{"tag": "Portland", "email": "portland@example.com", "name": "Portland office"}]}
// Names and tags are matched case-insensitively with whitespace collapsed.
class Directory {
 public:
  Directory() = default;
  // An empty path gives an empty directory. The error names the file and the entry.
  static absl::StatusOr<Directory> Load(const std::string& path);
  static absl::StatusOr<Directory> Parse(std::string_view json);

  const DirectoryEntry* Find(std::string_view owner_name) const;
  const std::vector<RoutingRule>& routes() const { return routes_; }
  size_t size() const { return owners_.size(); }

 private:
  std::vector<DirectoryEntry> owners_;
  std::vector<RoutingRule> routes_;
};

struct RecipientOptions {
  bool cc_director = false;
  // Used when the owner has no address; empty: such a mail fails (and is dead-lettered).
  std::string fallback_recipient;
};

struct Recipients {
  std::vector<mail::Address> to;
  std::vector<mail::Address> cc;
  bool used_fallback = false;

  // Every address of to and cc, for the SMTP envelope.
  std::vector<std::string> Envelope() const;
};

// NOT_FOUND when nobody can be addressed (no owner address and no fallback).
absl::StatusOr<Recipients> ResolveRecipients(MailKind kind, const v1::CaseEvent& event,
                                             const Directory& directory,
                                             const RecipientOptions& options);

}  // namespace rebound::notifier

#endif  // REBOUND_NOTIFIER_RECIPIENTS_H_
