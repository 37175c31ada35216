// GitHub App authentication: the RS256 JWT (checked with the public key),
// installation tokens from the fake GitHub, caching and renewal, and the
// personal access token alternative.
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "adapters/github/app_auth.hpp"
#include "adapters/github/base64.hpp"
#include "adapters/github/github_client.hpp"
#include "fake_github.hpp"
#include "test_hooks.hpp"

using namespace conveyor::github;
using namespace conveyor::github::testing;
using namespace std::chrono_literals;

namespace {

// Key generation takes a while: one key (and one stranger's) per run.
const rsa_key_pair& app_key() {
  static const rsa_key_pair key = generate_rsa_key();
  return key;
}

const rsa_key_pair& other_key() {
  static const rsa_key_pair key = generate_rsa_key();
  return key;
}

const auto t0 = std::chrono::system_clock::time_point{}
                + std::chrono::seconds{1'700'000'000};

std::string ec_private_key_pem() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  REQUIRE(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr,
                                   nullptr)
          == 1);
  char* data = nullptr;
  auto n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  EVP_PKEY_free(key);
  return pem;
}

// A fake with the App enabled and the client pair the App mode needs: one
// for the exchange (no token source), one for the API calls.
struct app_setup {
  fake_github fake;
  manual_time time;
  std::shared_ptr<github_client> exchanger;
  std::shared_ptr<installation_token_source> tokens;
  std::unique_ptr<github_client> api;

  app_setup() {
    fake.enable_app("4242", 77, app_key().public_pem);
    fake.set_installation_token("ghs_first",
                                format_iso8601(time.wall() + 1h));
    client_settings s;
    s.base_url = fake.base_url();
    s.timeout = 2s;
    s.retry.max_attempts = 2;
    exchanger = std::make_shared<github_client>(s, nullptr, time.hooks());
    auto clock = time;
    tokens = std::make_shared<installation_token_source>(
      app_credentials{"4242", app_key().private_pem, 77}, exchanger,
      [clock] { return clock.wall(); });
    api = std::make_unique<github_client>(s, tokens, time.hooks());
  }
};

} // namespace

// -- the JWT -------------------------------------------------------------------------

TEST_CASE("an app JWT is RS256 signed and carries iat exp and iss") {
  auto made = make_app_jwt("4242", app_key().private_pem, t0);
  REQUIRE(made.ok());
  const auto& jwt = made.jwt;
  CHECK(jwt.find_first_of("=+/") == std::string::npos);
  // The header is exactly this text, not just equivalent JSON.
  CHECK(base64_decode(jwt.substr(0, jwt.find('.')))
        == std::string{R"({"alg":"RS256","typ":"JWT"})"});
  auto checked = verify_jwt(jwt, app_key().public_pem);
  REQUIRE(checked);
  CHECK(checked->header["alg"] == "RS256");
  CHECK(checked->header["typ"] == "JWT");
  CHECK(checked->claims["iat"] == 1'700'000'000 - 60);
  CHECK(checked->claims["exp"] == 1'700'000'000 + 540);
  CHECK(checked->claims["iss"].is_number());
  CHECK(checked->claims["iss"] == 4242);
}

TEST_CASE("an app JWT does not verify with another key or when altered") {
  auto made = make_app_jwt("4242", app_key().private_pem, t0);
  REQUIRE(made.ok());
  CHECK_FALSE(verify_jwt(made.jwt, other_key().public_pem));
  // Claims of a later time under the old signature.
  auto later = make_app_jwt("4242", app_key().private_pem, t0 + 1h);
  auto dot1 = made.jwt.find('.');
  auto dot2 = made.jwt.find('.', dot1 + 1);
  auto ldot1 = later.jwt.find('.');
  auto ldot2 = later.jwt.find('.', ldot1 + 1);
  auto forged = made.jwt.substr(0, dot1 + 1)
                + later.jwt.substr(ldot1 + 1, ldot2 - ldot1 - 1)
                + made.jwt.substr(dot2);
  CHECK_FALSE(verify_jwt(forged, app_key().public_pem));
}

TEST_CASE("a client id is sent as a string iss") {
  auto made = make_app_jwt("Iv1.0123abcd", app_key().private_pem, t0);
  REQUIRE(made.ok());
  auto checked = verify_jwt(made.jwt, app_key().public_pem);
  REQUIRE(checked);
  CHECK(checked->claims["iss"] == "Iv1.0123abcd");
}

TEST_CASE("a bad key or an empty app id gives an error without secrets") {
  auto garbage = make_app_jwt("1", "-----BEGIN RSA PRIVATE KEY-----\nxx\n"
                                   "-----END RSA PRIVATE KEY-----\n",
                              t0);
  CHECK_FALSE(garbage.ok());
  CHECK(garbage.jwt.empty());
  CHECK(garbage.error.find("not an RSA private key") != std::string::npos);
  CHECK_FALSE(make_app_jwt("1", "", t0).ok());
  auto ec = make_app_jwt("1", ec_private_key_pem(), t0);
  CHECK_FALSE(ec.ok());
  CHECK(ec.error.find("not an RSA private key") != std::string::npos);
  auto no_id = make_app_jwt("", app_key().private_pem, t0);
  CHECK_FALSE(no_id.ok());
  CHECK(no_id.error.find("App id") != std::string::npos);
  CHECK(no_id.error.find("PRIVATE") == std::string::npos);
}

TEST_CASE("ISO 8601 times as GitHub writes them parse") {
  auto t = parse_iso8601("2016-07-11T22:14:10Z");
  REQUIRE(t);
  CHECK(std::chrono::system_clock::to_time_t(*t) == 1468275250);
  CHECK(parse_iso8601("2016-07-11T22:14:10.123Z") == t);
  CHECK(parse_iso8601("2016-07-12T00:14:10+02:00") == t);
  CHECK(format_iso8601(*t) == "2016-07-11T22:14:10Z");
  CHECK_FALSE(parse_iso8601("2016-07-11 22:14"));
  CHECK_FALSE(parse_iso8601("2016-13-11T22:14:10Z"));
  CHECK_FALSE(parse_iso8601("2016-07-11T22:14:10"));
  CHECK_FALSE(parse_iso8601("2016-07-11T22:14:10Zjunk"));
}

// -- token sources ------------------------------------------------------------------------

TEST_CASE("a static token source serves its token") {
  static_token_source pat{"ghp_abc"};
  CHECK(pat.token().ok());
  CHECK(pat.token().token == "ghp_abc");
  static_token_source none{""};
  CHECK_FALSE(none.token().ok());
}

TEST_CASE("an installation token is exchanged once and cached") {
  app_setup s;
  auto first = s.tokens->token();
  REQUIRE(first.ok());
  CHECK(first.token == "ghs_first");
  CHECK(s.tokens->token().token == "ghs_first");
  CHECK(s.tokens->exchanges() == 1);
  CHECK(s.fake.tokens_issued() == 1);
  auto seen = s.fake.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].method == "POST");
  CHECK(seen[0].target == "/app/installations/77/access_tokens");
  CHECK(seen[0].authorization.rfind("Bearer ey", 0) == 0);
}

TEST_CASE("an installation token is renewed shortly before it expires") {
  app_setup s;
  REQUIRE(s.tokens->token().token == "ghs_first");
  s.fake.set_installation_token("ghs_second",
                                format_iso8601(s.time.wall() + 2h));
  s.time.advance(54min);
  CHECK(s.tokens->token().token == "ghs_first");
  s.time.advance(2min); // 56 min: within five minutes of the expiry
  CHECK(s.tokens->token().token == "ghs_second");
  CHECK(s.tokens->exchanges() == 2);
}

TEST_CASE("API calls send the installation token") {
  app_setup s;
  s.fake.require_token("ghs_first");
  s.fake.add_file("octo/demo", "abc", ".travis.yml", "x");
  auto got = s.api->fetch_file("octo/demo", ".travis.yml", "abc");
  REQUIRE(got.status == fetch_status::found);
  REQUIRE(s.api->post_status("octo/demo", "abc", status_state::success, "ci",
                             "ok", "")
            .ok());
  CHECK(s.fake.statuses().at(0).authorization == "Bearer ghs_first");
  CHECK(s.fake.tokens_issued() == 1);
}

TEST_CASE("a refused installation token is replaced and the call retried") {
  app_setup s;
  s.fake.require_token("ghs_first");
  REQUIRE(s.api->post_status("o/r", "abc", status_state::pending, "ci", "",
                             "")
            .ok());
  // GitHub revokes the token early; the next exchange gives a new one.
  s.fake.set_installation_token("ghs_second",
                                format_iso8601(s.time.wall() + 1h));
  s.fake.require_token("ghs_second");
  auto again = s.api->post_status("o/r", "abc", status_state::success, "ci",
                                  "", "");
  REQUIRE(again.ok());
  CHECK(again.attempts == 2);
  CHECK(s.fake.tokens_issued() == 2);
  auto posted = s.fake.statuses();
  REQUIRE(posted.size() == 2);
  CHECK(posted[1].authorization == "Bearer ghs_second");
}

TEST_CASE("a JWT signed with the wrong key gets no token") {
  app_setup s;
  s.fake.enable_app("4242", 77, other_key().public_pem);
  auto got = s.tokens->token();
  REQUIRE_FALSE(got.ok());
  CHECK(got.error
        == "could not get an installation token from GitHub: GitHub "
           "answered 401: A JSON web token could not be decoded (1 attempt)");
  // The API call names the token problem and sends nothing.
  auto call = s.api->fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(call.error.kind == call_failure::no_token);
  CHECK(call.error.message.find("A JSON web token could not be decoded")
        != std::string::npos);
  for (const auto& r : s.fake.requests())
    CHECK(r.target.find("/contents/") == std::string::npos);
  CHECK(call.error.message.find("eyJ") == std::string::npos);
}

TEST_CASE("an unknown installation gives a clear error") {
  app_setup s;
  auto wrong = std::make_shared<installation_token_source>(
    app_credentials{"4242", app_key().private_pem, 78}, s.exchanger);
  auto got = wrong->token();
  REQUIRE_FALSE(got.ok());
  CHECK(got.error.find("GitHub answered 404: Not Found") != std::string::npos);
  installation_token_source unset{app_credentials{"4242", "", 0}, s.exchanger};
  CHECK(unset.token().error.find("installation id is not set")
        != std::string::npos);
}
