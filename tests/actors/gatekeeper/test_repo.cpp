#include "test_repo.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include <catch2/catch.hpp>

namespace {

// Identity and config that make every test repository the same, whatever the
// user's ~/.gitconfig says.
const std::string git_prefix
  = "GIT_CONFIG_NOSYSTEM=1 HOME=/nonexistent git -c user.name=Test "
    "-c user.email=test@example.com -c init.defaultBranch=main "
    "-c commit.gpgsign=false -c tag.gpgsign=false ";

} // namespace

test_repo::test_repo() {
  char tmpl[] = "/tmp/conveyor-gatekeeper-XXXXXX";
  if (mkdtemp(tmpl) == nullptr)
    throw std::runtime_error("mkdtemp failed");
  root_ = tmpl;
  path_ = root_ + "/demo";
  std::filesystem::create_directory(path_);
  git("init -q");
}

test_repo::~test_repo() {
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

void test_repo::write(const std::string& file,
                      const std::string& content) const {
  auto full = std::filesystem::path{path_} / file;
  std::filesystem::create_directories(full.parent_path());
  std::ofstream out{full, std::ios::binary};
  out << content;
}

void test_repo::git(const std::string& args) const {
  auto cmd = "cd '" + path_ + "' && " + git_prefix + args + " >/dev/null 2>&1";
  INFO(cmd);
  REQUIRE(std::system(cmd.c_str()) == 0);
}

std::string test_repo::output(const std::string& args) const {
  auto cmd = "cd '" + path_ + "' && " + git_prefix + args;
  std::string result;
  auto pipe = popen(cmd.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0)
    result.append(buf, n);
  INFO(cmd);
  REQUIRE(pclose(pipe) == 0);
  while (!result.empty() && (result.back() == '\n' || result.back() == ' '))
    result.pop_back();
  return result;
}

std::string test_repo::commit(const std::string& message) const {
  git("add -A");
  git("commit -q --allow-empty -m '" + message + "'");
  return output("rev-parse HEAD");
}
