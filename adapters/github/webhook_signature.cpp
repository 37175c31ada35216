#include "adapters/github/webhook_signature.hpp"

#include <array>
#include <climits>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

namespace conveyor::github {

namespace {

constexpr std::string_view prefix = "sha256=";
constexpr std::size_t digest_size = 32;

using digest = std::array<unsigned char, digest_size>;

// False only if OpenSSL fails, which it does not for SHA-256 with sane sizes.
bool hmac_sha256(std::string_view secret, std::string_view body,
                 digest& out) {
  if (secret.size() > static_cast<std::size_t>(INT_MAX))
    return false;
  unsigned int len = 0;
  auto* result = HMAC(EVP_sha256(), secret.data(),
                      static_cast<int>(secret.size()),
                      reinterpret_cast<const unsigned char*>(body.data()),
                      body.size(), out.data(), &len);
  return result != nullptr && len == digest_size;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

bool parse_header(std::string_view header, digest& out) {
  if (header.size() != prefix.size() + 2 * digest_size
      || header.substr(0, prefix.size()) != prefix)
    return false;
  auto hex = header.substr(prefix.size());
  for (std::size_t i = 0; i < digest_size; ++i) {
    auto hi = hex_value(hex[2 * i]);
    auto lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return true;
}

} // namespace

std::string to_string(signature_status x) {
  switch (x) {
    case signature_status::ok:
      return "ok";
    case signature_status::missing_header:
      return "missing_header";
    case signature_status::malformed_header:
      return "malformed_header";
    case signature_status::mismatch:
      return "mismatch";
    case signature_status::no_secret:
      return "no_secret";
  }
  return "unknown";
}

std::string signature_of(std::string_view secret, std::string_view body) {
  static constexpr char digits[] = "0123456789abcdef";
  digest mac{};
  if (!hmac_sha256(secret, body, mac))
    return {};
  std::string result{prefix};
  for (auto byte : mac) {
    result += digits[byte >> 4];
    result += digits[byte & 0x0f];
  }
  return result;
}

signature_check verify_signature(std::optional<std::string_view> header,
                                 std::string_view body,
                                 const std::vector<std::string>& secrets) {
  bool any_secret = false;
  for (const auto& secret : secrets)
    any_secret = any_secret || !secret.empty();
  // Without a secret every request would be rejected as a mismatch, which
  // hides a configuration mistake behind what looks like an attack.
  if (!any_secret)
    return {signature_status::no_secret, 0};
  if (!header)
    return {signature_status::missing_header, 0};
  digest given{};
  if (!parse_header(*header, given))
    return {signature_status::malformed_header, 0};
  for (std::size_t i = 0; i < secrets.size(); ++i) {
    if (secrets[i].empty())
      continue;
    digest expected{};
    if (hmac_sha256(secrets[i], body, expected)
        && CRYPTO_memcmp(expected.data(), given.data(), digest_size) == 0)
      return {signature_status::ok, i};
  }
  return {signature_status::mismatch, 0};
}

} // namespace conveyor::github
