#include "adapters/github/base64.hpp"

#include <cstdint>

namespace conveyor::github {

namespace {

constexpr char standard_digits[]
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char url_digits[]
  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string encode(std::string_view data, const char* digits, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    auto n = (uint32_t{static_cast<unsigned char>(data[i])} << 16)
             | (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8)
             | uint32_t{static_cast<unsigned char>(data[i + 2])};
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += digits[(n >> 6) & 63];
    out += digits[n & 63];
  }
  auto rest = data.size() - i;
  if (rest == 1) {
    auto n = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    if (pad)
      out += "==";
  } else if (rest == 2) {
    auto n = (uint32_t{static_cast<unsigned char>(data[i])} << 16)
             | (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8);
    out += digits[(n >> 18) & 63];
    out += digits[(n >> 12) & 63];
    out += digits[(n >> 6) & 63];
    if (pad)
      out += '=';
  }
  return out;
}

int digit_value(char c) {
  if (c >= 'A' && c <= 'Z')
    return c - 'A';
  if (c >= 'a' && c <= 'z')
    return c - 'a' + 26;
  if (c >= '0' && c <= '9')
    return c - '0' + 52;
  if (c == '+' || c == '-')
    return 62;
  if (c == '/' || c == '_')
    return 63;
  return -1;
}

bool is_space(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

} // namespace

std::string base64_encode(std::string_view data) {
  return encode(data, standard_digits, true);
}

std::string base64url_encode(std::string_view data) {
  return encode(data, url_digits, false);
}

std::optional<std::string> base64_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() / 4 * 3);
  uint32_t acc = 0;
  int bits = 0;
  std::size_t digits = 0;
  std::size_t padding = 0;
  for (auto c : text) {
    if (is_space(c))
      continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    // Nothing but padding (and whitespace) may follow padding.
    if (padding > 0)
      return std::nullopt;
    auto v = digit_value(c);
    if (v < 0)
      return std::nullopt;
    ++digits;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  // One digit alone carries only 6 bits: never a whole byte.
  if (digits % 4 == 1)
    return std::nullopt;
  if (padding > 0 && (padding > 2 || (digits + padding) % 4 != 0))
    return std::nullopt;
  return out;
}

} // namespace conveyor::github
