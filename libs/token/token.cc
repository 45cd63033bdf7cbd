#include "rebound/token/token.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <cstdint>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace rebound::token {
namespace {

constexpr size_t kMinSecretBytes = 32;
constexpr char kVersion[] = "v1";
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t n = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
  }
  return out;
}

int DecodeChar(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '-') {
    return 62;
  }
  if (c == '_') {
    return 63;
  }
  return -1;
}

// Strict decoding: URL alphabet only, no padding, no leftover bits set.
std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = DecodeChar(c);
    if (value < 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  // Non-zero leftover bits mean a second spelling of the same bytes; accept only one.
  if ((buffer & ((1u << bits) - 1)) != 0) {
    return std::nullopt;
  }
  return out;
}

const SigningKey* FindKey(const SigningKey& current, const std::vector<SigningKey>& previous,
                          std::string_view id) {
  if (current.id == id) {
    return &current;
  }
  for (const SigningKey& key : previous) {
    if (key.id == id) {
      return &key;
    }
  }
  return nullptr;
}

template <typename T>
bool ParseNumber(absl::string_view text, T& value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return !text.empty() && ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &length);
  return std::string(reinterpret_cast<const char*>(mac), length);
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    auto b = static_cast<uint8_t>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (MACs and tokens have fixed, public lengths).
  if (a.size() != b.size()) {
    return false;
  }
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

LinkSigner::LinkSigner(SigningKey current, std::vector<SigningKey> previous)
    : current_(std::move(current)), previous_(std::move(previous)) {}

absl::StatusOr<LinkSigner> LinkSigner::FromConfig(std::string_view keys) {
  if (keys.empty()) {
    return absl::InvalidArgumentError("no signing key configured (expected id:secret)");
  }
  std::vector<SigningKey> parsed;
  std::set<std::string> ids;
  int position = 0;
  for (absl::string_view entry : absl::StrSplit(absl::string_view(keys.data(), keys.size()), ',')) {
    ++position;
    size_t colon = entry.find(':');
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("signing key ", position, " is not in the form id:secret"));
    }
    SigningKey key{std::string(entry.substr(0, colon)), std::string(entry.substr(colon + 1))};
    if (key.id.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("signing key ", position, " has no id"));
    }
    if (key.id.find('|') != std::string::npos || key.id.find(' ') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("signing key id '", key.id, "' must not contain '|' or spaces"));
    }
    if (key.secret.size() < kMinSecretBytes) {
      return absl::InvalidArgumentError(absl::StrCat("signing key '", key.id, "' has a secret of ",
                                                     key.secret.size(), " bytes; at least ",
                                                     kMinSecretBytes, " are required"));
    }
    if (!ids.insert(key.id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("signing key id '", key.id, "' appears more than once"));
    }
    parsed.push_back(std::move(key));
  }
  SigningKey current = std::move(parsed.front());
  parsed.erase(parsed.begin());
  return LinkSigner(std::move(current), std::move(parsed));
}

std::string LinkSigner::Sign(const LinkClaims& claims) const {
  std::string payload =
      absl::StrCat(kVersion, "|", current_.id, "|", claims.case_id, "|", claims.resolution, "|",
                   absl::ToUnixSeconds(claims.expires_at));
  return absl::StrCat(Base64UrlEncode(payload), ".",
                      Base64UrlEncode(HmacSha256(current_.secret, payload)));
}

absl::StatusOr<LinkClaims> LinkSigner::Verify(std::string_view token, absl::Time now) const {
  auto malformed = [] { return absl::InvalidArgumentError("the link token is malformed"); };

  // Shape: payload "." mac, both base64url.
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return malformed();
  }
  std::optional<std::string> payload = Base64UrlDecode(token.substr(0, dot));
  std::optional<std::string> mac = Base64UrlDecode(token.substr(dot + 1));
  if (!payload || !mac || payload->empty()) {
    return malformed();
  }
  std::vector<absl::string_view> fields = absl::StrSplit(*payload, '|');
  if (fields.size() != 5 || fields[0] != kVersion || fields[2].empty()) {
    return malformed();
  }
  LinkClaims claims;
  claims.case_id = std::string(fields[2]);
  int64_t expiry = 0;
  if (!ParseNumber(fields[3], claims.resolution) || !ParseNumber(fields[4], expiry)) {
    return malformed();
  }
  claims.expires_at = absl::FromUnixSeconds(expiry);

  // Authenticity, before anything from the payload is trusted.
  const SigningKey* key =
      FindKey(current_, previous_, std::string_view(fields[1].data(), fields[1].size()));
  if (key == nullptr) {
    return absl::PermissionDeniedError("the link was signed with a key that is no longer valid");
  }
  if (!ConstantTimeEquals(*mac, HmacSha256(key->secret, *payload))) {
    return absl::PermissionDeniedError("the link signature does not match");
  }

  if (now >= claims.expires_at) {
    return absl::DeadlineExceededError("the link has expired");
  }
  return claims;
}

}  // namespace rebound::token
