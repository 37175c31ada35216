#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace conveyor::github {

class github_client;

/// A token to authenticate with, or why there is none. `error` is a
/// sentence for people and never contains a secret.
struct token_result {
  std::string token; ///< the token when `error` is empty
  std::string error; ///< why there is no token; empty on success

  /// Whether a token is there.
  bool ok() const {
    return error.empty();
  }
};

/// Where the GitHub API client gets the token it sends as
/// `Authorization: Bearer <token>`. Implementations are thread-safe; `token`
/// may block (an installation token is exchanged with GitHub).
class token_source {
public:
  virtual ~token_source() = default;

  /// Returns the token to send now, or an error.
  virtual token_result token() = 0;

  /// Tells the source that GitHub refused `token` (401 Bad credentials), so
  /// that a cached token is dropped and the next `token` makes a new one.
  /// Does nothing by default.
  virtual void refused(const std::string& token);
};

/// The trivial source: one fixed token, e.g. a personal access token. The
/// caller reads it from the environment or a file and passes the value.
class static_token_source final : public token_source {
public:
  /// Serves `token`; an empty one gives an error from `token()`.
  explicit static_token_source(std::string token);

  token_result token() override;

private:
  std::string token_;
};

/// A GitHub App's identity: the secrets are passed in as values (the caller
/// reads environment variables or files).
struct app_credentials {
  /// The App's id (digits; sent as a JSON number) or client id (e.g.
  /// "Iv1.0123abcd", sent as a string) for the JWT's `iss`.
  std::string app_id;
  /// The App's private key in PEM (PKCS#1 "RSA PRIVATE KEY" as GitHub
  /// hands it out, or PKCS#8).
  std::string private_key_pem;
  /// The installation whose token to fetch.
  uint64_t installation_id = 0;
};

/// A signed JWT, or why there is none.
struct jwt_result {
  std::string jwt;   ///< header.claims.signature, base64url without padding
  std::string error; ///< a sentence for people; empty on success

  /// Whether the JWT is there.
  bool ok() const {
    return error.empty();
  }
};

/// Makes the JWT a GitHub App authenticates with: header
/// `{"alg":"RS256","typ":"JWT"}`, claims `iat` = now - 60 s (clock drift),
/// `exp` = now + 540 s (GitHub allows at most ten minutes) and `iss` =
/// `app_id`, signed with RSASSA-PKCS1-v1_5 SHA-256 under `private_key_pem`.
/// Fails on an empty app id or a key that is not an RSA private key in PEM.
jwt_result make_app_jwt(const std::string& app_id,
                        const std::string& private_key_pem,
                        std::chrono::system_clock::time_point now);

/// Parses an ISO 8601 UTC time as GitHub writes it, e.g.
/// "2016-07-11T22:14:10Z" (fractional seconds are ignored).
std::optional<std::chrono::system_clock::time_point>
parse_iso8601(const std::string& text);

/// Installation access tokens of a GitHub App: exchanges a fresh App JWT for
/// a token (`POST /app/installations/{id}/access_tokens` → 201 `{token,
/// expires_at}`) through `client` (whose breaker and retries apply), and
/// caches it until `refresh_before` ahead of its expiry. One exchange at a
/// time: concurrent callers wait for it and share its token.
class installation_token_source final : public token_source {
public:
  /// Wall clock (tests inject their own).
  using wall_clock = std::function<std::chrono::system_clock::time_point()>;

  /// Exchanges through `client`, which should have no token source of its
  /// own (the exchange authenticates with the JWT, not a token) and usually
  /// is a second client on the same base URL. `now` defaults to
  /// `system_clock::now`.
  installation_token_source(app_credentials credentials,
                            std::shared_ptr<github_client> client,
                            wall_clock now = {},
                            std::chrono::seconds refresh_before
                            = std::chrono::minutes{5});

  ~installation_token_source() override;

  /// Returns the cached token while it is fresh, else exchanges a new one.
  /// Errors name the failed step ("could not get an installation token from
  /// GitHub: GitHub answered 401: ...") and contain no secret.
  token_result token() override;

  /// Drops the cached token if it is `token`.
  void refused(const std::string& token) override;

  /// How many exchanges were made (successful or not), for tests and logs.
  uint64_t exchanges() const;

private:
  token_result exchange(std::chrono::system_clock::time_point now);

  app_credentials credentials_;
  std::shared_ptr<github_client> client_;
  wall_clock now_;
  std::chrono::seconds refresh_before_;
  mutable std::mutex mtx_;
  std::string token_;
  std::chrono::system_clock::time_point refresh_at_;
  uint64_t exchanges_ = 0;
};

} // namespace conveyor::github
