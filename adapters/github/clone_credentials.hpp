#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "adapters/github/app_auth.hpp"

namespace conveyor::github {

// -- origins ------------------------------------------------------------------

/// The origin of an `http://` or `https://` URL as `scheme://host[:port]/`:
/// scheme and host in lower case, user info left out, the scheme's default
/// port dropped. Empty for another scheme or a URL without a host.
std::string url_origin(std::string_view url);

/// The origin of the web host whose repositories the API at `api_base_url`
/// serves: `https://github.com/` for `https://api.github.com`;
/// `https://HOST/` for GitHub Enterprise Server's `https://HOST/api/v3`; the
/// API's own origin for any other base URL (a proxy, the tests' fake).
/// Empty if `api_base_url` is not an http(s) URL.
std::string web_origin(std::string_view api_base_url);

// -- credentials --------------------------------------------------------------

/// The value of an HTTP `Authorization` header that lets git clone or fetch
/// over HTTPS with an access token (personal or App installation token):
/// `basic base64("x-access-token:" + token)`.
std::string clone_auth_header(std::string_view token);

/// The credentials git and libgit2 use for repositories on the GitHub host
/// of an API: the current token of `tokens` for URLs on `web_origin` of the
/// API, nothing for any other URL. Thread-safe as its token source is.
class clone_credentials {
public:
  /// Serves URLs on `web_origin(api_base_url)` with tokens of `tokens`
  /// (null: none).
  clone_credentials(std::string_view api_base_url,
                    std::shared_ptr<token_source> tokens);

  /// The web origin served, e.g. "https://github.com/"; empty: none.
  const std::string& origin() const {
    return origin_;
  }

  /// True if `url` is on the served origin.
  bool covers(std::string_view url) const;

  /// The token to fetch `url` with: empty (and no error) if `url` is not
  /// covered; the token source's error if it has no token. May block (an
  /// installation token is exchanged with GitHub).
  token_result token_for(std::string_view url) const;

  /// `clone_auth_header` of `token_for(url)`; empty if there is none.
  std::string header_for(std::string_view url) const;

private:
  std::string origin_;
  std::shared_ptr<token_source> tokens_;
};

} // namespace conveyor::github
