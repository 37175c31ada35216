#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace conveyor::github {

/// What checking a webhook's `X-Hub-Signature-256` header found.
enum class signature_status {
  ok,               ///< the signature matches one of the secrets
  missing_header,   ///< the request has no `X-Hub-Signature-256` header
  malformed_header, ///< the header is not `sha256=` and 64 hex digits
  mismatch,         ///< well-formed, but no secret produces it
  no_secret,        ///< no (non-empty) secret is configured: nothing passes
};

/// Returns the status's name, e.g. "malformed_header".
std::string to_string(signature_status x);

/// The result of a check: its status and, when `ok`, which secret matched
/// (an index into the list), so that a rotation can see when an old secret
/// is no longer used.
struct signature_check {
  signature_status status = signature_status::missing_header;
  std::size_t secret = 0; ///< index of the matching secret when `ok`
};

/// Returns `sha256=` followed by the lowercase hex HMAC-SHA256 of `body`
/// keyed with `secret`: the header GitHub sends.
std::string signature_of(std::string_view secret, std::string_view body);

/// Checks the `X-Hub-Signature-256` header value (`std::nullopt` when the
/// request lacks the header) against the raw request body, for each secret
/// in turn (several during a rotation). Empty secrets are skipped. The hex
/// digits may be in either case; the digest comparison is constant-time.
signature_check verify_signature(std::optional<std::string_view> header,
                                 std::string_view body,
                                 const std::vector<std::string>& secrets);

} // namespace conveyor::github
