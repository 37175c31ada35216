#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace conveyor::github {

/// Encodes `data` in standard base64 (RFC 4648 §4) with '=' padding.
std::string base64_encode(std::string_view data);

/// Encodes `data` in base64url (RFC 4648 §5) without padding, as JWTs do.
std::string base64url_encode(std::string_view data);

/// Decodes base64 in either alphabet (standard or URL-safe), with or without
/// padding, skipping ASCII whitespace (GitHub's contents API breaks its
/// base64 into lines). Returns `std::nullopt` on any other character, on
/// misplaced padding or on a dangling final character.
std::optional<std::string> base64_decode(std::string_view text);

} // namespace conveyor::github
