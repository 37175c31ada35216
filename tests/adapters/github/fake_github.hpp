#pragma once

// A fake GitHub REST API on loopback for the client's tests, on the
// project's own HTTP server (adapters/http), plus the OpenSSL helpers the
// tests need to make and check App JWTs.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "adapters/http/message.hpp"
#include "adapters/http/responder.hpp"
#include "adapters/http/router.hpp"
#include "adapters/http/server.hpp"

namespace conveyor::github::testing {

/// An RSA key pair in PEM.
struct rsa_key_pair {
  std::string private_pem; ///< PKCS#1 "RSA PRIVATE KEY", as GitHub hands out
  std::string public_pem;  ///< SubjectPublicKeyInfo "PUBLIC KEY"
};

/// Generates a 2048-bit RSA key pair with OpenSSL 3 (`EVP_RSA_gen`).
rsa_key_pair generate_rsa_key();

/// A JWT whose RS256 signature was checked.
struct verified_jwt {
  nlohmann::json header;
  nlohmann::json claims;
};

/// Checks `jwt`'s RS256 signature with `public_pem` and decodes its parts;
/// `std::nullopt` if it is malformed or the signature does not match.
std::optional<verified_jwt> verify_jwt(const std::string& jwt,
                                       const std::string& public_pem);

/// "2016-07-11T22:14:10Z".
std::string format_iso8601(std::chrono::system_clock::time_point t);

/// A commit status the fake received.
struct posted_status {
  std::string repo; ///< owner/name
  std::string sha;
  std::string state;
  std::string context;
  std::string description;
  std::string target_url;
  std::string authorization; ///< the Authorization header sent with it
};

/// A request the fake received (before any fault or delay).
struct seen_request {
  std::string method;
  std::string target;
  std::string authorization;
  std::string accept;
  std::string user_agent;
  std::string api_version; ///< X-GitHub-Api-Version
  std::string host;
};

/// An answer given instead of the normal one.
struct scripted_answer {
  int status = 500;
  http::header_list headers;
  std::string body = R"({"message":"Server Error"})";
};

/// The fake: contents API, commit statuses, App installation tokens, and
/// faults on demand. Thread-safe; listens on 127.0.0.1 on a free port.
class fake_github {
public:
  fake_github();
  ~fake_github();

  fake_github(const fake_github&) = delete;
  fake_github& operator=(const fake_github&) = delete;

  /// "http://127.0.0.1:PORT".
  std::string base_url() const;

  /// The port it listens on (kept across go_down/come_back).
  uint16_t port() const;

  // -- what it serves ---------------------------------------------------------

  /// Serves `content` as `path` of `repo` (owner/name) at `sha`.
  void add_file(const std::string& repo, const std::string& sha,
                const std::string& path, const std::string& content);

  /// With true, ignores the raw media type and always answers the JSON
  /// description with base64 content.
  void serve_base64_only(bool on);

  /// API routes answer 401 "Bad credentials" unless the Authorization header
  /// carries `token` (empty: anything goes). Served repositories (see
  /// `serve_repository`) answer 401 with `WWW-Authenticate: Basic` unless
  /// it is `basic base64("x-access-token:" + token)`, as git sends it.
  void require_token(std::string token);

  /// Serves the bare repository at `bare_dir` as `<base_url>/<slug>.git`
  /// over git's dumb HTTP protocol: runs `git update-server-info` in it
  /// (again on every call: call it after each push) and answers `GET
  /// /<slug>.git/<file>` with that file, 404 if there is none. Served before
  /// any scripted fault (those are for the API).
  void serve_repository(const std::string& slug, const std::string& bare_dir);

  /// Serves the installation token endpoint of App `app_id` for installation
  /// `installation_id`, checking JWTs with `public_pem`.
  void enable_app(std::string app_id, uint64_t installation_id,
                  std::string public_pem);

  /// The token (and its expiry text) the token endpoint hands out.
  void set_installation_token(std::string token, std::string expires_at);

  // -- faults -------------------------------------------------------------------

  /// The next `n` requests get `status` (default 500).
  void fail_next(int n, int status = 500);

  /// The next `n` requests get `answer`.
  void answer_next(int n, scripted_answer answer);

  /// Answers every request `delay` late (zero: at once).
  void set_delay(std::chrono::milliseconds delay);

  /// Stops listening: connections are refused.
  void go_down();

  /// Listens again on the same port.
  void come_back();

  // -- what it saw ----------------------------------------------------------------

  /// Statuses posted, in order.
  std::vector<posted_status> statuses() const;

  /// Requests received, in order.
  std::vector<seen_request> requests() const;

  /// The number of requests received.
  std::size_t request_count() const;

  /// Token exchanges answered 201.
  std::size_t tokens_issued() const;

private:
  void start();
  void handle(http::request& req, http::responder res);
  void dispatch(http::request& req, http::responder res);
  bool authorized(const http::request& req, const http::responder& res);
  void get_contents(http::request& req, http::responder res);
  void post_status(http::request& req, http::responder res);
  void issue_token(http::request& req, http::responder res);
  bool serve_git_file(const http::request& req, http::responder& res);

  mutable std::mutex mtx_;
  std::condition_variable wake_;
  bool stopping_ = false;
  uint16_t port_ = 0;
  std::unique_ptr<http::server> server_;
  http::router router_;
  std::vector<std::thread> delayed_;

  std::map<std::tuple<std::string, std::string, std::string>, std::string>
    files_;
  bool base64_only_ = false;
  std::map<std::string, std::string> repositories_; ///< "/slug.git" → dir
  std::string required_token_;
  std::string app_id_;
  uint64_t installation_id_ = 0;
  std::string public_pem_;
  std::string installation_token_ = "ghs_installation_token";
  std::string expires_at_ = "2099-01-01T00:00:00Z";
  std::deque<scripted_answer> scripted_;
  std::chrono::milliseconds delay_{0};
  std::vector<posted_status> statuses_;
  std::vector<seen_request> requests_;
  std::size_t tokens_issued_ = 0;
};

} // namespace conveyor::github::testing
