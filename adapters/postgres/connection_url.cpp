#include "adapters/postgres/connection_url.hpp"

#include <algorithm>
#include <cctype>

namespace conveyor::postgres {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(const std::string& s) {
  std::string result;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0
        && hex_value(s[i + 2]) >= 0) {
      result += static_cast<char>(hex_value(s[i + 1]) * 16
                                  + hex_value(s[i + 2]));
      i += 2;
    } else {
      result += s[i];
    }
  }
  return result;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.compare(0, std::char_traits<char>::length(prefix), prefix) == 0;
}

void add(std::vector<std::string>& xs, std::string x) {
  if (x.empty())
    return;
  auto decoded = percent_decoded(x);
  xs.push_back(std::move(x));
  if (decoded != xs.back() && !decoded.empty())
    xs.push_back(std::move(decoded));
}

// The values of `password=` in the query of a URI ("&"-separated).
void query_secrets(const std::string& query, std::vector<std::string>& out) {
  size_t pos = 0;
  while (pos <= query.size()) {
    auto end = query.find('&', pos);
    if (end == std::string::npos)
      end = query.size();
    auto item = query.substr(pos, end - pos);
    if (starts_with(item, "password="))
      add(out, item.substr(9));
    pos = end + 1;
  }
}

// The values of `password` in a key/value connection string, quoted or not.
void keyword_secrets(const std::string& s, std::vector<std::string>& out) {
  const std::string key = "password";
  size_t pos = 0;
  while ((pos = s.find(key, pos)) != std::string::npos) {
    auto i = pos + key.size();
    pos = i;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
    if (i >= s.size() || s[i] != '=')
      continue;
    ++i;
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i])))
      ++i;
    std::string value;
    if (i < s.size() && s[i] == '\'') {
      for (++i; i < s.size() && s[i] != '\''; ++i) {
        if (s[i] == '\\' && i + 1 < s.size())
          ++i;
        value += s[i];
      }
    } else {
      while (i < s.size() && !std::isspace(static_cast<unsigned char>(s[i])))
        value += s[i++];
    }
    add(out, value);
  }
}

} // namespace

std::vector<std::string> secrets_of(const std::string& url) {
  std::vector<std::string> result;
  auto scheme = url.find("://");
  if (scheme != std::string::npos
      && (starts_with(url, "postgresql://") || starts_with(url, "postgres://"))) {
    auto start = scheme + 3;
    auto authority_end = url.find_first_of("/?", start);
    if (authority_end == std::string::npos)
      authority_end = url.size();
    auto authority = url.substr(start, authority_end - start);
    auto at = authority.rfind('@');
    if (at != std::string::npos) {
      auto userinfo = authority.substr(0, at);
      auto colon = userinfo.find(':');
      if (colon != std::string::npos)
        add(result, userinfo.substr(colon + 1));
    }
    auto question = url.find('?', start);
    if (question != std::string::npos)
      query_secrets(url.substr(question + 1), result);
  } else {
    keyword_secrets(url, result);
  }
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(result.begin(), result.end(),
            [](const std::string& x, const std::string& y) {
              return x.size() > y.size();
            });
  return result;
}

std::string scrub(std::string text, const std::string& url) {
  for (const auto& secret : secrets_of(url)) {
    size_t pos = 0;
    while ((pos = text.find(secret, pos)) != std::string::npos) {
      text.replace(pos, secret.size(), "***");
      pos += 3;
    }
  }
  return text;
}

std::string redact(const std::string& url) {
  return scrub(url, url);
}

} // namespace conveyor::postgres
