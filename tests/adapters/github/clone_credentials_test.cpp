// Which URLs get GitHub credentials when git clones, and the header git sends.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

#include "adapters/github/base64.hpp"
#include "adapters/github/clone_credentials.hpp"

using namespace conveyor::github;

namespace {

// Counts how often it is asked, to show uncovered URLs never ask.
class counting_source final : public token_source {
public:
  explicit counting_source(std::string token) : token_(std::move(token)) {
  }

  token_result token() override {
    ++asked;
    if (token_.empty())
      return {"", "no token configured"};
    return {token_, ""};
  }

  std::atomic<int> asked{0};

private:
  std::string token_;
};

} // namespace

TEST_CASE("clone credentials: URL origins drop user info and default ports") {
  CHECK(url_origin("https://github.com/octo/demo.git")
        == "https://github.com/");
  CHECK(url_origin("HTTPS://GitHub.COM:443/octo/demo") == "https://github.com/");
  CHECK(url_origin("https://user:secret@github.com/octo/demo.git")
        == "https://github.com/");
  CHECK(url_origin("http://127.0.0.1:8080/octo/demo.git")
        == "http://127.0.0.1:8080/");
  CHECK(url_origin("http://127.0.0.1:80/x") == "http://127.0.0.1/");
  CHECK(url_origin("https://[::1]:8443/x") == "https://[::1]:8443/");
  CHECK(url_origin("https://ghe.example.com?x") == "https://ghe.example.com/");
  CHECK(url_origin("git@github.com:octo/demo.git").empty());
  CHECK(url_origin("ssh://git@github.com/octo/demo.git").empty());
  CHECK(url_origin("file:///srv/demo.git").empty());
  CHECK(url_origin("/srv/demo.git").empty());
  CHECK(url_origin("https:///nohost").empty());
}

TEST_CASE("clone credentials: the web host of an API base URL") {
  CHECK(web_origin("https://api.github.com") == "https://github.com/");
  CHECK(web_origin("https://api.github.com/") == "https://github.com/");
  CHECK(web_origin("https://ghe.example.com/api/v3")
        == "https://ghe.example.com/");
  CHECK(web_origin("https://ghe.example.com:8443/api/v3")
        == "https://ghe.example.com:8443/");
  CHECK(web_origin("http://127.0.0.1:4567") == "http://127.0.0.1:4567/");
  CHECK(web_origin("http://proxy.internal/github")
        == "http://proxy.internal/");
  CHECK(web_origin("ftp://api.github.com").empty());
}

TEST_CASE("clone credentials: the header is basic auth as x-access-token") {
  auto header = clone_auth_header("ghp_secret");
  REQUIRE(header.rfind("basic ", 0) == 0);
  CHECK(base64_decode(header.substr(6)) == "x-access-token:ghp_secret");
  CHECK(header.find("ghp_secret") == std::string::npos);
}

TEST_CASE("clone credentials: only URLs on the API's web host get the token") {
  auto tokens = std::make_shared<counting_source>("ghs_install");
  clone_credentials creds{"https://api.github.com", tokens};
  CHECK(creds.origin() == "https://github.com/");
  CHECK(creds.covers("https://github.com/octo/private.git"));
  CHECK_FALSE(creds.covers("https://gitlab.com/octo/private.git"));
  CHECK_FALSE(creds.covers("https://github.com.evil.example/octo/x.git"));
  CHECK_FALSE(creds.covers("http://github.com/octo/x.git"));
  CHECK_FALSE(creds.covers("git@github.com:octo/x.git"));
  CHECK(creds.header_for("https://gitlab.com/octo/x.git").empty());
  CHECK(tokens->asked == 0);
  CHECK(creds.header_for("https://github.com/octo/private.git")
        == clone_auth_header("ghs_install"));
  CHECK(tokens->asked == 1);
  // A token source without a token gives no header, and says why.
  auto none = std::make_shared<counting_source>("");
  clone_credentials failing{"https://api.github.com", none};
  CHECK(failing.header_for("https://github.com/octo/x.git").empty());
  CHECK(failing.token_for("https://github.com/octo/x.git").error
        == "no token configured");
  // No token source: nothing, for every URL.
  clone_credentials anonymous{"https://api.github.com", nullptr};
  CHECK(anonymous.header_for("https://github.com/octo/x.git").empty());
}
