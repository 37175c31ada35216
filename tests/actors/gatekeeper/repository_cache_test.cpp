// Open repositories kept across requests: they must still see what happens
// to the repository afterwards.
#include <catch2/catch.hpp>

#include <filesystem>

#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/repository_cache.hpp"
#include "messages/error.hpp"
#include "test_repo.hpp"

using namespace conveyor;

namespace fs = std::filesystem;

namespace {

repository open_repo(const std::string& path, std::string label = {}) {
  auto repo = repository::open(path, std::move(label));
  REQUIRE(repo);
  return std::move(*repo);
}

commit_info resolve(const repository& repo, const std::string& ref) {
  auto result = repo.resolve(ref);
  if (!result)
    FAIL(describe(result.error()));
  return *result;
}

build_request request_for(const std::string& repo, const std::string& ref) {
  build_request req;
  req.request_id = "req-1";
  req.repo = repo;
  req.ref = ref;
  return req;
}

} // namespace

TEST_CASE("the repository cache keeps the most recently used repositories") {
  test_repo a;
  test_repo b;
  test_repo c;
  repository_cache cache{2};
  CHECK(cache.find(a.path()) == nullptr);
  cache.insert(open_repo(a.path()));
  cache.insert(open_repo(b.path()));
  REQUIRE(cache.find(a.path()) != nullptr);
  CHECK(cache.find(a.path())->path() == a.path());
  // a was used last, so c pushes b out.
  cache.insert(open_repo(c.path()));
  CHECK(cache.size() == 2);
  CHECK(cache.find(b.path()) == nullptr);
  CHECK(cache.find(a.path()) != nullptr);
  CHECK(cache.find(c.path()) != nullptr);
  // The label is part of the key; an empty label is the path.
  CHECK(cache.find(a.path(), a.path()) != nullptr);
  CHECK(cache.find(a.path(), "file:///elsewhere") == nullptr);
  cache.insert(open_repo(a.path()));
  CHECK(cache.size() == 2);
  cache.drop(a.path());
  CHECK(cache.find(a.path()) == nullptr);
  CHECK(cache.size() == 1);
  repository_cache none{0};
  none.insert(open_repo(a.path()));
  CHECK(none.size() == 0);
}

TEST_CASE_METHOD(test_repo, "an open repository sees later commits, branches, "
                            "tags and repacks") {
  write(".conveyor.yml", "script: one\n");
  auto first = commit("one");
  auto repo = open_repo(path());
  CHECK(resolve(repo, "HEAD").sha == first);
  CHECK(resolve(repo, "HEAD").branch == "main");
  // Loose refs and objects made after the open.
  git("checkout -q -b topic");
  write(".conveyor.yml", "script: two\n");
  auto second = commit("two");
  git("tag v2");
  CHECK(resolve(repo, "HEAD").sha == second);
  CHECK(resolve(repo, "HEAD").branch == "topic");
  CHECK(resolve(repo, "topic").sha == second);
  CHECK(resolve(repo, "v2").tag == "v2");
  auto config = repo.read_build_config(second);
  REQUIRE(config);
  CHECK(config->content == "script: two\n");
  // Packed refs, packed objects and loose ones deleted by gc.
  git("checkout -q main");
  write(".conveyor.yml", "script: three\n");
  auto third = commit("three");
  git("tag v3");
  git("gc -q --prune=now");
  CHECK_FALSE(fs::exists(fs::path{path()} / ".git/refs/heads/main"));
  CHECK(resolve(repo, "main").sha == third);
  CHECK(resolve(repo, "v3").sha == third);
  config = repo.read_build_config(third);
  REQUIRE(config);
  CHECK(config->content == "script: three\n");
  // A packed ref that moves again, and a branch that is deleted.
  write("x", "x");
  auto fourth = commit("four");
  CHECK(resolve(repo, "main").sha == fourth);
  git("branch -q -D topic");
  git("pack-refs --all");
  CHECK_FALSE(repo.resolve("topic"));
}

TEST_CASE_METHOD(test_repo, "requests through the cache see new commits and "
                            "branches") {
  write(".conveyor.yml", "script: one\n");
  auto first = commit("one");
  repository_cache cache;
  auto resolved = resolve_request(request_for(path(), "HEAD"), {}, cache);
  REQUIRE(resolved);
  CHECK(resolved->request.sha == first);
  REQUIRE(cache.size() == 1);
  auto* cached = cache.find(path());
  REQUIRE(cached != nullptr);
  git("checkout -q -b next");
  write(".conveyor.yml", "script: two\n");
  auto second = commit("two");
  resolved = resolve_request(request_for(path(), "HEAD"), {}, cache);
  REQUIRE(resolved);
  CHECK(resolved->request.sha == second);
  CHECK(resolved->request.branch == "next");
  CHECK(resolved->config.content == "script: two\n");
  // Served by the same open repository, not a new one.
  CHECK(cache.find(path()) == cached);
  // An unknown ref is answered as without a cache; the repository stays.
  auto missing = resolve_request(request_for(path(), "missing"), {}, cache);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code() == static_cast<uint8_t>(errc::unknown_ref));
  CHECK(cache.size() == 1);
}

TEST_CASE_METHOD(test_repo, "a cached repository that disappears is dropped "
                            "and reported") {
  write(".conveyor.yml", "script: one\n");
  commit("one");
  repository_cache cache;
  REQUIRE(resolve_request(request_for(path(), "HEAD"), {}, cache));
  REQUIRE(cache.size() == 1);
  fs::remove_all(path());
  auto gone = resolve_request(request_for(path(), "HEAD"), {}, cache);
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code() == static_cast<uint8_t>(errc::unknown_repository));
  CHECK(cache.size() == 0);
  // Another repository made at the same path is read, not the old one.
  fs::create_directory(path());
  git("init -q");
  write(".travis.yml", "script: new\n");
  auto sha = commit("new");
  auto again = resolve_request(request_for(path(), "HEAD"), {}, cache);
  REQUIRE(again);
  CHECK(again->request.sha == sha);
  CHECK(again->config.name == ".travis.yml");
  CHECK(cache.size() == 1);
}

TEST_CASE_METHOD(test_repo, "a cached repository that is replaced is read "
                            "anew") {
  write(".conveyor.yml", "script: one\n");
  commit("one");
  repository_cache cache;
  REQUIRE(resolve_request(request_for(path(), "HEAD"), {}, cache));
  fs::remove_all(path());
  fs::create_directory(path());
  git("init -q");
  write(".conveyor.yml", "script: other\n");
  auto sha = commit("other");
  auto resolved = resolve_request(request_for(path(), "HEAD"), {}, cache);
  REQUIRE(resolved);
  CHECK(resolved->request.sha == sha);
  CHECK(resolved->config.content == "script: other\n");
}
