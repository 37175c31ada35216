// Reading real git repositories with libgit2.
#include <catch2/catch.hpp>

#include "actors/gatekeeper/repository.hpp"
#include "messages/error.hpp"
#include "test_repo.hpp"

using namespace conveyor;

namespace {

// A repository with history:
//   c1 (main, tag v1.0 annotated): .travis.yml, old.txt
//   c2 (main): .conveyor.yml added, old.txt removed   <- main, tag light
//   c3 (feature): feature.txt
//   c4 (main, HEAD): both configs removed
struct history : test_repo {
  std::string c1, c2, c3, c4;

  history() {
    write(".travis.yml", "script: travis\n");
    write("old.txt", "old content\n");
    c1 = commit("first commit");
    git("tag -a v1.0 -m 'release one'");
    write(".conveyor.yml", "script: conveyor\n");
    git("rm -q old.txt");
    c2 = commit("second commit\n\nwith a body");
    git("tag light");
    git("checkout -q -b feature");
    write("feature.txt", "f\n");
    c3 = commit("feature work");
    git("checkout -q main");
    git("rm -q .travis.yml .conveyor.yml");
    c4 = commit("drop the configs");
  }

  repository open() const {
    auto repo = repository::open(path());
    REQUIRE(repo);
    return std::move(*repo);
  }
};

uint8_t code_of(const caf::error& err) {
  CHECK(err.category() == errc_category);
  return err.code();
}

} // namespace

TEST_CASE_METHOD(history, "HEAD resolves to the current branch's commit") {
  auto repo = open();
  CHECK(repo.path() == path());
  for (auto ref : {"HEAD", ""}) {
    auto commit = repo.resolve(ref);
    REQUIRE(commit);
    CHECK(commit->sha == c4);
    CHECK(commit->message == "drop the configs");
    CHECK(commit->branch == "main");
    CHECK(commit->tag.empty());
  }
  auto commit = repo.resolve();
  REQUIRE(commit);
  CHECK(commit->sha == c4);
}

TEST_CASE_METHOD(history, "branches, tags and shas resolve") {
  auto repo = open();
  auto feature = repo.resolve("feature");
  REQUIRE(feature);
  CHECK(feature->sha == c3);
  CHECK(feature->branch == "feature");
  CHECK(feature->message == "feature work");

  auto full = repo.resolve("refs/heads/feature");
  REQUIRE(full);
  CHECK(full->sha == c3);
  CHECK(full->branch == "feature");

  auto tag = repo.resolve("v1.0");
  REQUIRE(tag);
  CHECK(tag->sha == c1);
  CHECK(tag->tag == "v1.0");
  CHECK(tag->branch.empty());
  CHECK(tag->message == "first commit");

  auto light = repo.resolve("refs/tags/light");
  REQUIRE(light);
  CHECK(light->sha == c2);
  CHECK(light->tag == "light");
  CHECK(light->message == "second commit\n\nwith a body");

  auto sha = repo.resolve(c2);
  REQUIRE(sha);
  CHECK(sha->sha == c2);
  CHECK(sha->branch.empty());
  CHECK(sha->tag.empty());

  auto short_sha = repo.resolve(c1.substr(0, 7));
  REQUIRE(short_sha);
  CHECK(short_sha->sha == c1);

  auto parent = repo.resolve("HEAD~1");
  REQUIRE(parent);
  CHECK(parent->sha == c2);
}

TEST_CASE_METHOD(history, "a detached HEAD has no branch") {
  git("checkout -q " + c2);
  auto commit = open().resolve();
  REQUIRE(commit);
  CHECK(commit->sha == c2);
  CHECK(commit->branch.empty());
}

TEST_CASE_METHOD(history, "unknown refs are unknown_ref errors naming the "
                          "ref") {
  auto repo = open();
  for (auto ref : {"nope", "refs/heads/nope", "0123456789abcdef", "a..b",
                   "HEAD:feature.txt"}) {
    auto commit = repo.resolve(ref);
    INFO(ref);
    REQUIRE_FALSE(commit);
    CHECK(code_of(commit.error()) == static_cast<uint8_t>(errc::unknown_ref));
    CHECK(describe(commit.error()).find(ref) != std::string::npos);
    CHECK(describe(commit.error()).find(path()) != std::string::npos);
  }
  auto file = repo.read_file("nope", "x");
  REQUIRE_FALSE(file);
  CHECK(code_of(file.error()) == static_cast<uint8_t>(errc::unknown_ref));
}

TEST_CASE_METHOD(history, "files are read at a commit") {
  auto repo = open();
  auto old = repo.read_file(c1, "old.txt");
  REQUIRE(old);
  REQUIRE(old->has_value());
  CHECK(**old == "old content\n");
  auto gone = repo.read_file(c2, "old.txt");
  REQUIRE(gone);
  CHECK_FALSE(gone->has_value());
  auto dir = repo.read_file(c3, ".");
  REQUIRE(dir);
  CHECK_FALSE(dir->has_value());
}

TEST_CASE_METHOD(history, "the build config is .conveyor.yml, else "
                          ".travis.yml") {
  auto repo = open();
  auto both = repo.read_build_config(c2);
  REQUIRE(both);
  CHECK(both->name == ".conveyor.yml");
  CHECK(both->content == "script: conveyor\n");
  auto travis = repo.read_build_config(c1);
  REQUIRE(travis);
  CHECK(travis->name == ".travis.yml");
  CHECK(travis->content == "script: travis\n");
  auto none = repo.read_build_config(c4);
  REQUIRE(none);
  CHECK(none->name.empty());
  CHECK(none->content.empty());
}

TEST_CASE_METHOD(history, "a directory named like the config is no config") {
  write(".conveyor.yml/x", "not a config\n");
  auto sha = commit("config dir");
  auto config = open().read_build_config(sha);
  REQUIRE(config);
  CHECK(config->name.empty());
}

TEST_CASE_METHOD(history, "bare repositories are read too") {
  git("clone -q --bare . ../demo.git");
  auto repo = repository::open(root() + "/demo.git");
  REQUIRE(repo);
  auto commit = repo->resolve();
  REQUIRE(commit);
  CHECK(commit->sha == c4);
  CHECK(commit->branch == "main");
  auto config = repo->read_build_config(c2);
  REQUIRE(config);
  CHECK(config->name == ".conveyor.yml");
}

TEST_CASE_METHOD(history, "a repository knows its name") {
  CHECK(open().name() == "demo");
  for (auto dir : {path() + "/.", path() + "/", path() + "/.git",
                   root() + "/./demo"}) {
    auto repo = repository::open(dir);
    INFO(dir);
    REQUIRE(repo);
    CHECK(repo->name() == "demo");
  }
  git("clone -q --bare . ../other.git");
  auto bare = repository::open(root() + "/other.git/");
  REQUIRE(bare);
  CHECK(bare->name() == "other");
}

TEST_CASE_METHOD(history, "a .git directory opens its repository") {
  auto repo = repository::open(path() + "/.git");
  REQUIRE(repo);
  auto commit = repo->resolve("feature");
  REQUIRE(commit);
  CHECK(commit->sha == c3);
}

TEST_CASE_METHOD(test_repo, "a repository without commits has no HEAD commit") {
  auto repo = repository::open(path());
  REQUIRE(repo);
  auto commit = repo->resolve();
  REQUIRE_FALSE(commit);
  CHECK(code_of(commit.error()) == static_cast<uint8_t>(errc::unknown_ref));
}

TEST_CASE_METHOD(test_repo, "what is not a repository is unknown_repository") {
  write("sub/file.txt", "x\n");
  commit("one");
  // A directory inside a working copy is not a repository of its own.
  for (auto dir : {path() + "/sub", root(), root() + "/missing",
                   std::string{}, path() + "/sub/file.txt"}) {
    auto repo = repository::open(dir);
    INFO(dir);
    REQUIRE_FALSE(repo);
    CHECK(code_of(repo.error())
          == static_cast<uint8_t>(errc::unknown_repository));
    if (!dir.empty())
      CHECK(describe(repo.error()).find(dir) != std::string::npos);
  }
}

TEST_CASE("repository names come from the path") {
  CHECK(repository_name("/srv/repos/demo") == "demo");
  CHECK(repository_name("/srv/repos/demo/") == "demo");
  CHECK(repository_name("/srv/repos/demo.git") == "demo");
  CHECK(repository_name("/srv/repos/demo.git/") == "demo");
  CHECK(repository_name("/srv/repos/demo/.git") == "demo");
  CHECK(repository_name("/srv/repos/demo/.git/") == "demo");
  CHECK(repository_name("/srv/repos/demo/.") == "demo");
  CHECK(repository_name("/srv/repos/demo/./") == "demo");
  CHECK(repository_name("/srv/repos/x/../demo") == "demo");
  CHECK(repository_name("demo") == "demo");
  CHECK(repository_name("../x.y") == "x.y");
}

TEST_CASE("full refs name a branch or a tag") {
  auto branch = names_of_ref("refs/heads/feature/x");
  CHECK(branch.branch == "feature/x");
  CHECK(branch.tag.empty());
  auto tag = names_of_ref("refs/tags/v1");
  CHECK(tag.branch.empty());
  CHECK(tag.tag == "v1");
  auto other = names_of_ref("HEAD");
  CHECK(other.branch.empty());
  CHECK(other.tag.empty());
}
