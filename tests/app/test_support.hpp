#pragma once

// Scratch directories and git repositories for the app's tests.

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

namespace conveyor::test {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

/// A temporary directory, removed with everything in it.
struct scratch_dir {
  fs::path path;

  scratch_dir() {
    char pattern[] = "/tmp/conveyor-serve-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    path = pattern;
  }

  ~scratch_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

/// Makes a git repository from examples/NAME, or from a config text.
inline std::string example_repo(const std::string& name, const fs::path& dir) {
  auto dest = dir / ("repo-" + name);
  auto cmd = std::string{CONVEYOR_SOURCE_DIR "/examples/make-repo "} + name
             + " " + dest.string() + " >/dev/null";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return dest.string();
}

inline std::string config_repo(const std::string& config, const fs::path& dir,
                               const std::string& name = "repo") {
  auto repo = dir / name;
  fs::create_directories(repo);
  std::ofstream{repo / ".travis.yml"} << config;
  auto cmd = "cd " + repo.string()
             + " && git init -q -b main && git add -A && git -c user.name=t"
               " -c user.email=t@t.invalid commit -qm test";
  REQUIRE(std::system(cmd.c_str()) == 0);
  return repo.string();
}

} // namespace conveyor::test
