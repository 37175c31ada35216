// Verifying X-Hub-Signature-256: HMAC-SHA256 of the raw body, hex, constant-
// time compare, several secrets during a rotation.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "adapters/github/webhook_signature.hpp"

using namespace conveyor::github;

namespace {

using strings = std::vector<std::string>;

const std::string docs_secret = "It's a Secret to Everybody";
const std::string docs_body = "Hello, World!";
const std::string docs_signature
  = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

signature_status status_of(std::optional<std::string_view> header,
                           const std::string& body, const strings& secrets) {
  return verify_signature(header, body, secrets).status;
}

std::string upper(std::string x) {
  for (auto& c : x)
    if (c >= 'a' && c <= 'f')
      c = static_cast<char>(c - 'a' + 'A');
  return x;
}

} // namespace

TEST_CASE("signature_of matches the vector of GitHub's documentation") {
  CHECK(signature_of(docs_secret, docs_body) == docs_signature);
}

TEST_CASE("a correct signature is ok") {
  auto check = verify_signature(docs_signature, docs_body, {docs_secret});
  CHECK(check.status == signature_status::ok);
  CHECK(check.secret == 0);
}

TEST_CASE("any secret of a rotation is accepted and reported") {
  strings secrets{"new secret", docs_secret, "older secret"};
  auto check = verify_signature(docs_signature, docs_body, secrets);
  CHECK(check.status == signature_status::ok);
  CHECK(check.secret == 1);
  auto with_new = signature_of("new secret", docs_body);
  check = verify_signature(with_new, docs_body, secrets);
  CHECK(check.status == signature_status::ok);
  CHECK(check.secret == 0);
}

TEST_CASE("uppercase hex digits are accepted") {
  auto header = "sha256=" + upper(docs_signature.substr(7));
  CHECK(status_of(header, docs_body, {docs_secret}) == signature_status::ok);
}

TEST_CASE("a missing header is told apart") {
  CHECK(status_of(std::nullopt, docs_body, {docs_secret})
        == signature_status::missing_header);
}

TEST_CASE("malformed headers are told apart from mismatches") {
  auto hex = docs_signature.substr(7);
  for (std::string header : {
         std::string{},
         hex,                                    // no prefix
         "sha1=" + hex,                          // the old header's algorithm
         "SHA256=" + hex,                        // prefix is lowercase
         "sha256=" + hex.substr(1),              // one digit short
         "sha256=" + hex + "0",                  // one digit long
         "sha256=" + hex.substr(1) + "g",        // not hex
         "sha256= " + hex.substr(1),             // space inside
         " " + docs_signature.substr(0, 70),     // leading space
         std::string{"sha256="},
       }) {
    INFO("header '" << header << "'");
    CHECK(status_of(header, docs_body, {docs_secret})
          == signature_status::malformed_header);
  }
}

TEST_CASE("a wrong secret or an altered body is a mismatch") {
  CHECK(status_of(docs_signature, docs_body, {"another secret"})
        == signature_status::mismatch);
  CHECK(status_of(docs_signature, "Hello, World?", {docs_secret})
        == signature_status::mismatch);
  CHECK(status_of(docs_signature, docs_body + "\n", {docs_secret})
        == signature_status::mismatch);
  CHECK(status_of(docs_signature, "", {docs_secret})
        == signature_status::mismatch);
  auto flipped = docs_signature;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  CHECK(status_of(flipped, docs_body, {docs_secret})
        == signature_status::mismatch);
}

TEST_CASE("without a secret nothing passes") {
  CHECK(status_of(docs_signature, docs_body, {})
        == signature_status::no_secret);
  CHECK(status_of(docs_signature, docs_body, {"", ""})
        == signature_status::no_secret);
  CHECK(status_of(std::nullopt, docs_body, {})
        == signature_status::no_secret);
}

TEST_CASE("an empty secret is never used") {
  // Anyone can compute the HMAC of an empty key.
  auto forged = signature_of("", docs_body);
  CHECK(status_of(forged, docs_body, {"", docs_secret})
        == signature_status::mismatch);
  auto check = verify_signature(docs_signature, docs_body, {"", docs_secret});
  CHECK(check.status == signature_status::ok);
  CHECK(check.secret == 1);
}

TEST_CASE("a real payload verifies byte for byte") {
  std::ifstream in{"../shared/fixtures/github-webhooks/push.4.json",
                   std::ios::binary};
  REQUIRE(in.good());
  std::string body{std::istreambuf_iterator<char>{in}, {}};
  REQUIRE(!body.empty());
  auto header = signature_of("webhook secret", body);
  CHECK(status_of(header, body, {"webhook secret"}) == signature_status::ok);
  body.back() = body.back() == ' ' ? '\t' : ' ';
  CHECK(status_of(header, body, {"webhook secret"})
        == signature_status::mismatch);
}

TEST_CASE("bodies with zero bytes are signed whole") {
  std::string body{"a\0b", 3};
  auto header = signature_of(docs_secret, body);
  CHECK(status_of(header, body, {docs_secret}) == signature_status::ok);
  CHECK(status_of(header, "a", {docs_secret}) == signature_status::mismatch);
}

TEST_CASE("signature statuses have names") {
  CHECK(to_string(signature_status::ok) == "ok");
  CHECK(to_string(signature_status::missing_header) == "missing_header");
  CHECK(to_string(signature_status::malformed_header) == "malformed_header");
  CHECK(to_string(signature_status::mismatch) == "mismatch");
  CHECK(to_string(signature_status::no_secret) == "no_secret");
}
