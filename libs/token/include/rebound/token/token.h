// Signed one-click links. A token names a case, a resolution and an expiry, and carries an
// HMAC-SHA256 over them; the case service verifies it, the notifier signs it. Keys rotate: the
// current key signs, the previous one is still accepted until it is removed from config.
//
// Format (URL-safe): base64url(payload) "." base64url(mac), where payload is
// "v1|<key id>|<case id>|<resolution number>|<expiry unix seconds>".
#ifndef REBOUND_TOKEN_TOKEN_H_
#define REBOUND_TOKEN_TOKEN_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace rebound::token {

struct SigningKey {
  std::string id;      // short name, e.g. "2026-12"
  std::string secret;  // at least 32 bytes
};

struct LinkClaims {
  std::string case_id;
  int resolution = 0;  // rebound.v1.Resolution number
  absl::Time expires_at;
};

class LinkSigner {
 public:
  // `current` signs; `previous` (optional) is accepted when verifying.
  LinkSigner(SigningKey current, std::vector<SigningKey> previous = {});

  // Parses "id:secret[,id:secret...]" (first is current). INVALID_ARGUMENT names the problem.
  static absl::StatusOr<LinkSigner> FromConfig(std::string_view keys);

  std::string Sign(const LinkClaims& claims) const;

  // INVALID_ARGUMENT: malformed; PERMISSION_DENIED: bad signature or unknown key;
  // DEADLINE_EXCEEDED: expired (at `now`).
  absl::StatusOr<LinkClaims> Verify(std::string_view token, absl::Time now) const;

 private:
  SigningKey current_;
  std::vector<SigningKey> previous_;
};

// HMAC-SHA256 of `data` with `key`, raw bytes. Shared with the ingest webhook signature.
std::string HmacSha256(std::string_view key, std::string_view data);
// Lower-case hex of bytes.
std::string Hex(std::string_view bytes);
// Constant-time comparison.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace rebound::token

#endif  // REBOUND_TOKEN_TOKEN_H_
