#include "adapters/http/message.hpp"

#include <nlohmann/json.hpp>

namespace conveyor::http {

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    auto x = a[i] >= 'A' && a[i] <= 'Z' ? a[i] + ('a' - 'A') : a[i];
    auto y = b[i] >= 'A' && b[i] <= 'Z' ? b[i] + ('a' - 'A') : b[i];
    if (x != y)
      return false;
  }
  return true;
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

} // namespace

std::string request::header(std::string_view name) const {
  for (auto& [key, value] : headers)
    if (iequals(key, name))
      return value;
  return {};
}

bool request::has_header(std::string_view name) const {
  for (auto& field : headers)
    if (iequals(field.first, name))
      return true;
  return false;
}

response json_error(int status, std::string_view message,
                    std::string_view request_id) {
  nlohmann::json body{{"error", std::string{message}},
                      {"request_id", std::string{request_id}}};
  response res;
  res.status = status;
  res.content_type = "application/json";
  // Messages may quote client input, which need not be valid UTF-8.
  res.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return res;
}

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string result;
  result.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = text[i];
    if (c == '%' && i + 2 < text.size()) {
      auto hi = hex_value(text[i + 1]);
      auto lo = hex_value(text[i + 2]);
      if (hi >= 0 && lo >= 0) {
        result += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    result += (plus_is_space && c == '+') ? ' ' : c;
  }
  return result;
}

std::map<std::string, std::string> parse_query(std::string_view text) {
  std::map<std::string, std::string> result;
  while (!text.empty()) {
    auto amp = text.find('&');
    auto pair = text.substr(0, amp);
    text = amp == std::string_view::npos ? std::string_view{}
                                         : text.substr(amp + 1);
    if (pair.empty())
      continue;
    auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = eq == std::string_view::npos
                   ? std::string{}
                   : percent_decode(pair.substr(eq + 1), true);
    result[std::move(name)] = std::move(value);
  }
  return result;
}

} // namespace conveyor::http
