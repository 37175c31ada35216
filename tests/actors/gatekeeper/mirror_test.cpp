// Repositories given as URLs: their names, and bare mirrors fetched over
// file:// from real repositories made in temporary directories.
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/mirror.hpp"
#include "actors/gatekeeper/repository.hpp"
#include "messages/error.hpp"
#include "test_repo.hpp"

using namespace conveyor;

namespace fs = std::filesystem;

namespace {

// A working copy (`path()`) that pushes to a bare origin, which the gatekeeper
// knows by its file:// URL, and an empty mirror root beside them.
struct remote : test_repo {
  std::string origin = root() + "/origin.git";
  std::string url = "file://" + origin;
  fs::path mirrors = fs::path{root()} / "mirrors";

  remote() {
    git("init -q --bare '" + origin + "'");
    git("remote add origin '" + origin + "'");
  }

  // Publishes every branch and tag of the working copy.
  void push() const {
    git("push -q --force origin --all");
    git("push -q --force origin --tags");
  }

  // Runs git in the bare origin.
  void origin_git(const std::string& args) const {
    git("--git-dir='" + origin + "' " + args);
  }

  build_request request(const std::string& ref = {}) const {
    build_request req;
    req.request_id = "req-1";
    req.repo = url;
    req.ref = ref;
    return req;
  }

  resolved_request resolve(const std::string& ref = {}) const {
    auto result = resolve_request(request(ref), mirrors);
    if (!result)
      FAIL(describe(result.error()));
    return std::move(*result);
  }

  caf::error error_for(const build_request& req) const {
    auto result = resolve_request(req, mirrors);
    REQUIRE_FALSE(result);
    return std::move(result.error());
  }

  std::vector<std::string> mirror_entries() const {
    std::vector<std::string> result;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator{mirrors, ec})
      result.push_back(entry.path().filename().string());
    return result;
  }
};

uint8_t code(errc x) {
  return static_cast<uint8_t>(x);
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

// -- URLs ---------------------------------------------------------------------

TEST_CASE("URLs and scp-like addresses are told from local paths") {
  for (auto url : {"https://github.com/octo/demo.git", "http://h/x",
                   "git://h/x.git", "ssh://git@h:22/x.git", "file:///srv/x",
                   "git+ssh://h/x", "git@github.com:octo/demo.git",
                   "github.com:octo/demo", "host:x"}) {
    INFO(url);
    CHECK(is_repository_url(url));
  }
  for (auto path : {"", ".", "demo", "/srv/demo.git", "./a:b", "/x/y:z",
                    "../demo", ":x", "@:x", "/srv/http://x", "relative/dir"}) {
    INFO(path);
    CHECK_FALSE(is_repository_url(path));
  }
}

TEST_CASE("the slug of a URL is owner/name from its path") {
  CHECK(url_slug("https://github.com/octo/demo.git") == "octo/demo");
  CHECK(url_slug("https://github.com/octo/demo") == "octo/demo");
  CHECK(url_slug("https://github.com/octo/demo.git/") == "octo/demo");
  CHECK(url_slug("git@github.com:octo/demo.git") == "octo/demo");
  CHECK(url_slug("ssh://git@host:2222/srv/git/octo/demo.git") == "octo/demo");
  CHECK(url_slug("https://user:token@h/octo/demo.git?x=1#frag")
        == "octo/demo");
  CHECK(url_slug("file:///srv/demo.git") == "srv/demo");
  CHECK(url_slug("https://h/demo.git") == "demo");
  CHECK(url_slug("host:demo") == "demo");
  CHECK(url_slug("https://h/a/./b/../c") == "b/c");
  CHECK(url_slug("https://example.org") == "example.org");
}

TEST_CASE("mirror names are readable, distinct and stable") {
  auto name = mirror_name("https://github.com/octo/demo.git");
  CHECK(name.rfind("github.com-octo-demo.git-", 0) == 0);
  CHECK(name.size() == std::string{"github.com-octo-demo.git-"}.size() + 16);
  CHECK(mirror_name("https://github.com/octo/demo.git") == name);
  CHECK(mirror_name("https://github.com/octo/demo") != name);
  CHECK(mirror_name("https://github.com/octo/demo.git/") != name);
  CHECK(mirror_name("git@github.com:octo/demo.git")
        .rfind("github.com-octo-demo.git-", 0)
        == 0);
  auto secret = mirror_name("https://user:s3cret@github.com/octo/demo.git");
  CHECK_FALSE(contains(secret, "s3cret"));
  CHECK_FALSE(contains(secret, "user"));
  CHECK(secret != name);
}

TEST_CASE("mirror names of tricky URLs stay inside the mirror root") {
  const fs::path root = "/var/lib/conveyor/mirrors";
  std::string long_url = "https://h/" + std::string(5000, 'a') + "/x.git";
  std::string dots = "https://h/";
  for (int i = 0; i < 300; ++i)
    dots += "../";
  for (const auto& url : std::vector<std::string>{
         "https://h/a/../../x", "https://h/../../../etc/passwd",
        "https://h/x.git?path=../../etc&y=/", "https://h/x#/../../y",
        "file:///../../..", "https://../..", "..:..", "https://h/%2e%2e/x",
        "https://h/.hidden", "https://-rf/-x", "ssh://h/a\\..\\..\\b",
        "https://h/a b/\n/c", "https://h/\xc3\xa9t\xc3\xa9", "https://",
        "file:///", "https://h/....", long_url, dots}) {
    INFO(url);
    auto name = mirror_name(url);
    CHECK_FALSE(name.empty());
    CHECK(name.size() <= 64 + 1 + 16);
    CHECK(name.find('/') == std::string::npos);
    CHECK(name.find('\\') == std::string::npos);
    CHECK(name.find("..") == std::string::npos);
    CHECK(name.front() != '.');
    CHECK(name.front() != '-');
    CHECK(name.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
          == std::string::npos);
    auto dir = (root / name).lexically_normal();
    CHECK(dir.parent_path() == root);
    CHECK(dir.filename() == name);
  }
}

// -- mirrors ------------------------------------------------------------------

TEST_CASE_METHOD(remote, "the first request creates a bare mirror and builds "
                         "the right commit") {
  write(".travis.yml", "script: make\n");
  auto sha = commit("first");
  push();
  auto resolved = resolve();
  const auto& req = resolved.request;
  CHECK(req.repo == url);
  CHECK(req.sha == sha);
  CHECK(req.branch == "main");
  CHECK(req.commit_message == "first");
  CHECK(req.slug == fs::path{root()}.filename().string() + "/origin");
  CHECK(req.event == "push");
  CHECK(resolved.config.name == ".travis.yml");
  CHECK(resolved.config.content == "script: make\n");
  REQUIRE(mirror_entries() == std::vector<std::string>{mirror_name(url)});
  auto dir = mirrors / mirror_name(url);
  auto mirror = repository::open(dir.string());
  REQUIRE(mirror);
  CHECK(fs::exists(dir / "HEAD"));
  CHECK_FALSE(fs::exists(dir / ".git"));
  std::ifstream config{dir / "config"};
  std::string text{std::istreambuf_iterator<char>{config}, {}};
  CHECK(contains(text, "url = " + url));
  auto head = mirror->resolve("refs/heads/main");
  REQUIRE(head);
  CHECK(head->sha == sha);
}

TEST_CASE_METHOD(remote, "each request fetches what was pushed since") {
  write(".conveyor.yml", "script: one\n");
  auto first = commit("first");
  push();
  CHECK(resolve().request.sha == first);

  write(".conveyor.yml", "script: two\n");
  auto second = commit("second");
  git("tag -a v2 -m 'version two'");
  git("checkout -q -b feature");
  write("f.txt", "f\n");
  auto third = commit("feature");
  push();
  auto head = resolve();
  CHECK(head.request.sha == second);
  CHECK(head.request.branch == "main");
  CHECK(head.config.content == "script: two\n");
  auto tag = resolve("v2");
  CHECK(tag.request.sha == second);
  CHECK(tag.request.tag == "v2");
  CHECK(tag.request.branch.empty());
  auto feature = resolve("refs/heads/feature");
  CHECK(feature.request.sha == third);
  CHECK(feature.request.branch == "feature");
  // A sha alone, as a webhook sends it with the ref it was pushed to.
  auto req = request("refs/heads/main");
  req.sha = first;
  auto by_sha = resolve_request(req, mirrors);
  REQUIRE(by_sha);
  CHECK(by_sha->request.sha == first);
  CHECK(by_sha->config.content == "script: one\n");
  // A force-push rewinds the branch in the mirror too.
  git("checkout -q main");
  git("reset -q --hard " + first);
  push();
  CHECK(resolve("main").request.sha == first);
  CHECK(mirror_entries().size() == 1);
}

TEST_CASE_METHOD(remote, "branches and tags deleted upstream are pruned") {
  write(".conveyor.yml", "script: make\n");
  commit("first");
  git("branch gone");
  git("tag old");
  push();
  CHECK(resolve("gone").request.branch == "gone");
  CHECK(resolve("old").request.tag == "old");
  git("push -q origin --delete gone");
  git("push -q origin --delete refs/tags/old");
  for (auto ref : {"gone", "old"}) {
    INFO(ref);
    auto err = error_for(request(ref));
    CHECK(err.code() == code(errc::unknown_ref));
  }
}

TEST_CASE_METHOD(remote, "HEAD follows the remote's default branch") {
  write(".conveyor.yml", "script: make\n");
  commit("on main");
  git("checkout -q -b develop");
  auto dev = commit("on develop");
  push();
  CHECK(resolve().request.branch == "main");
  origin_git("symbolic-ref HEAD refs/heads/develop");
  auto resolved = resolve();
  CHECK(resolved.request.branch == "develop");
  CHECK(resolved.request.sha == dev);
}

TEST_CASE_METHOD(remote, "an unknown branch of a URL is unknown_ref naming "
                         "the URL") {
  write(".conveyor.yml", "script: make\n");
  commit("first");
  push();
  auto err = error_for(request("no-such-branch"));
  CHECK(err.category() == errc_category);
  CHECK(err.code() == code(errc::unknown_ref));
  CHECK(contains(describe(err), "no-such-branch"));
  CHECK(contains(describe(err), url));
  auto req = request();
  req.sha = "0123456789012345678901234567890123456789";
  CHECK(error_for(req).code() == code(errc::unknown_ref));
}

TEST_CASE_METHOD(remote, "an empty remote has no HEAD commit") {
  auto err = error_for(request());
  CHECK(err.code() == code(errc::unknown_ref));
}

TEST_CASE_METHOD(remote, "unreachable URLs are unknown_repository with "
                         "libgit2's message and leave no mirror") {
  for (const auto& bad : std::vector<std::string>{
         "file:///nonexistent", "file://" + root() + "/nothing-here.git",
        "file://" + path() + "/README", "https://127.0.0.1:1/octo/demo.git",
        "ssh://git@127.0.0.1:1/octo/demo.git"}) {
    INFO(bad);
    auto req = request();
    req.repo = bad;
    auto err = error_for(req);
    CHECK(err.category() == errc_category);
    CHECK(err.code() == code(errc::unknown_repository));
    auto text = describe(err);
    INFO(text);
    CHECK(contains(text, "cannot fetch '" + bad + "'"));
    CHECK(text.size() > ("cannot fetch '" + bad + "' into its mirror: ").size());
    CHECK(mirror_entries().empty());
  }
}

TEST_CASE_METHOD(remote, "a fetch that fails on a known mirror keeps it") {
  write(".conveyor.yml", "script: make\n");
  auto sha = commit("first");
  push();
  CHECK(resolve().request.sha == sha);
  fs::rename(origin, root() + "/moved.git");
  auto err = error_for(request());
  CHECK(err.code() == code(errc::unknown_repository));
  CHECK(mirror_entries() == std::vector<std::string>{mirror_name(url)});
  fs::rename(root() + "/moved.git", origin);
  CHECK(resolve().request.sha == sha);
}

TEST_CASE_METHOD(remote, "without a mirror root URLs are refused") {
  write(".conveyor.yml", "script: make\n");
  commit("first");
  push();
  auto result = resolve_request(request(), fs::path{});
  REQUIRE_FALSE(result);
  CHECK(result.error().code() == code(errc::unknown_repository));
  CHECK(contains(describe(result.error()),
                 "repository URLs need a mirror directory"));
  CHECK(contains(describe(result.error()), url));
  // Local paths need no mirror.
  auto local = build_request{};
  local.repo = path();
  CHECK(resolve_request(local, fs::path{}));
  CHECK_FALSE(fs::exists(mirrors));
}

TEST_CASE_METHOD(remote, "a broken mirror or a stale partial one is rebuilt") {
  write(".conveyor.yml", "script: make\n");
  auto sha = commit("first");
  push();
  auto dir = mirrors / mirror_name(url);
  auto partial = dir;
  partial += ".partial";
  fs::create_directories(partial / "junk");
  fs::create_directories(dir);
  std::ofstream{dir / "HEAD"} << "garbage\n";
  CHECK(resolve().request.sha == sha);
  CHECK(mirror_entries() == std::vector<std::string>{mirror_name(url)});
  CHECK(repository::open(dir.string()));
}

TEST_CASE_METHOD(remote, "a URL with dot-dot segments mirrors inside the "
                         "root") {
  write(".conveyor.yml", "script: make\n");
  auto sha = commit("first");
  push();
  auto tricky = "file://" + root() + "/mirrors/../origin.git";
  auto req = request();
  req.repo = tricky;
  auto resolved = resolve_request(req, mirrors);
  REQUIRE(resolved);
  CHECK(resolved->request.sha == sha);
  CHECK(resolved->request.repo == tricky);
  CHECK(mirror_entries() == std::vector<std::string>{mirror_name(tricky)});
  std::vector<std::string> top;
  for (const auto& entry : fs::directory_iterator{root()})
    top.push_back(entry.path().filename().string());
  std::sort(top.begin(), top.end());
  CHECK(top == std::vector<std::string>{"demo", "mirrors", "origin.git"});
}

TEST_CASE_METHOD(remote, "update_mirror returns the mirror's directory") {
  write(".conveyor.yml", "script: make\n");
  commit("first");
  push();
  auto dir = update_mirror(mirrors, url);
  REQUIRE(dir);
  CHECK(*dir == mirrors / mirror_name(url));
  auto again = update_mirror(mirrors, url);
  REQUIRE(again);
  CHECK(*again == *dir);
  auto missing = update_mirror(fs::path{}, url);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == code(errc::unknown_repository));
}

namespace {

// A loopback HTTP server that asks for basic credentials and records the
// Authorization headers it gets (answering 404 once it has one).
class auth_recorder {
public:
  auth_recorder() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(::listen(fd_, 8) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { serve(); }};
  }

  ~auth_recorder() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    thread_.join();
  }

  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<std::string> authorizations() {
    std::lock_guard<std::mutex> guard{mtx_};
    return seen_;
  }

private:
  void serve() {
    while (!stop_) {
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0)
        return;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        auto n = ::recv(conn, buf, sizeof(buf), 0);
        if (n <= 0)
          break;
        head.append(buf, static_cast<size_t>(n));
      }
      std::string auth;
      for (const char* name : {"\r\nAuthorization: ", "\r\nauthorization: "})
        if (auto at = head.find(name); at != std::string::npos) {
          auto begin = at + std::strlen(name);
          auth = head.substr(begin, head.find("\r\n", begin) - begin);
        }
      std::string answer;
      if (auth.empty()) {
        answer = "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic "
                 "realm=\"test\"\r\nContent-Length: 0\r\nConnection: "
                 "close\r\n\r\n";
      } else {
        std::lock_guard<std::mutex> guard{mtx_};
        seen_.push_back(auth);
        answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: "
                 "close\r\n\r\n";
      }
      ::send(conn, answer.data(), answer.size(), MSG_NOSIGNAL);
      ::close(conn);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mtx_;
  std::vector<std::string> seen_;
};

} // namespace

TEST_CASE("a mirror fetch sends the token of the URL when the server asks") {
  auth_recorder server;
  test_repo scratch;
  auto mirrors = fs::path{scratch.root()} / "mirrors";
  auto url = server.url("/octo/private.git");
  // No token provider: the server's question goes unanswered.
  auto anonymous = update_mirror(mirrors, url);
  REQUIRE_FALSE(anonymous);
  CHECK(server.authorizations().empty());
  std::vector<std::string> asked;
  {
    scoped_fetch_tokens tokens{[&asked](const std::string& x) {
      asked.push_back(x);
      return std::string{"tok123"};
    }};
    auto fetched = update_mirror(mirrors, url);
    CHECK_FALSE(fetched); // the recorder serves no repository
    if (!fetched)
      CHECK(to_string(fetched.error()).find("tok123") == std::string::npos);
  }
  REQUIRE_FALSE(asked.empty());
  CHECK(asked.front() == url);
  auto seen = server.authorizations();
  REQUIRE_FALSE(seen.empty());
  // base64("x-access-token:tok123")
  CHECK(seen.front() == "Basic eC1hY2Nlc3MtdG9rZW46dG9rMTIz");
  // Once the scope ends, no token again.
  asked.clear();
  CHECK_FALSE(update_mirror(mirrors, url));
  CHECK(asked.empty());
}
