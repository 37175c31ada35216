#include "adapters/github/clone_credentials.hpp"

#include <utility>

#include "adapters/github/base64.hpp"

namespace conveyor::github {

namespace {

std::string lowered(std::string_view x) {
  std::string result{x};
  for (auto& c : result)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return result;
}

} // namespace

// -- origins ------------------------------------------------------------------

std::string url_origin(std::string_view url) {
  auto sep = url.find("://");
  if (sep == std::string_view::npos)
    return {};
  auto scheme = lowered(url.substr(0, sep));
  if (scheme != "http" && scheme != "https")
    return {};
  auto rest = url.substr(sep + 3);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos)
    authority.remove_prefix(at + 1);
  auto host = lowered(authority);
  // The port follows the last colon outside an IPv6 literal's brackets.
  auto colon = host.rfind(':');
  if (colon != std::string::npos && host.find(']', colon) == std::string::npos) {
    auto port = host.substr(colon + 1);
    if (port.empty() || (scheme == "https" && port == "443")
        || (scheme == "http" && port == "80"))
      host.erase(colon);
  }
  if (host.empty())
    return {};
  return scheme + "://" + host + "/";
}

std::string web_origin(std::string_view api_base_url) {
  auto origin = url_origin(api_base_url);
  if (origin.empty())
    return {};
  if (origin == "https://api.github.com/")
    return "https://github.com/";
  // Whatever follows the origin: GitHub Enterprise Server's API lives under
  // /api/v3 of the web host itself.
  return origin;
}

// -- credentials --------------------------------------------------------------

std::string clone_auth_header(std::string_view token) {
  return "basic " + base64_encode("x-access-token:" + std::string{token});
}

clone_credentials::clone_credentials(std::string_view api_base_url,
                                     std::shared_ptr<token_source> tokens)
  : origin_(web_origin(api_base_url)), tokens_(std::move(tokens)) {
  // nop
}

bool clone_credentials::covers(std::string_view url) const {
  return !origin_.empty() && url_origin(url) == origin_;
}

token_result clone_credentials::token_for(std::string_view url) const {
  if (!covers(url) || !tokens_)
    return {};
  return tokens_->token();
}

std::string clone_credentials::header_for(std::string_view url) const {
  auto token = token_for(url);
  if (!token.ok() || token.token.empty())
    return {};
  return clone_auth_header(token.token);
}

} // namespace conveyor::github
