// Replays the inputs the gatekeeper's fuzz targets found (tests/fuzz/
// regressions/{config,condition}/) and the hand-written hostile seeds
// (tests/fuzz/seeds/{config,condition}/) through the same entry points as the
// fuzzers (tests/fuzz/fuzz_inputs.hpp): each must give a result or an error,
// keep the invariants checked there and finish in bounded time. The bound is
// generous (timing belongs in bench/); it catches hangs, not slowdowns.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_inputs.hpp"

using namespace conveyor;

namespace fs = std::filesystem;

namespace {

constexpr auto max_time_per_input = std::chrono::seconds{5};

// The files of `kind` (config or condition) under tests/fuzz/regressions
// and tests/fuzz/seeds, sorted.
std::vector<fs::path> inputs(const std::string& kind) {
  std::vector<fs::path> result;
  auto root = fs::path{CONVEYOR_SOURCE_DIR} / "tests" / "fuzz";
  for (auto dir : {root / "regressions" / kind, root / "seeds" / kind}) {
    if (!fs::is_directory(dir))
      continue;
    for (const auto& entry : fs::directory_iterator{dir})
      if (entry.is_regular_file() && entry.path().filename() != ".keep")
        result.push_back(entry.path());
  }
  std::sort(result.begin(), result.end());
  return result;
}

std::string read_file(const fs::path& path) {
  std::ifstream in{path, std::ios::binary};
  REQUIRE(in.good());
  return std::string{std::istreambuf_iterator<char>{in}, {}};
}

template <class Run>
void replay(const std::string& kind, Run run) {
  auto files = inputs(kind);
  REQUIRE_FALSE(files.empty());
  for (const auto& path : files) {
    INFO("input " << path.string());
    auto text = read_file(path);
    auto start = std::chrono::steady_clock::now();
    auto out = run(text);
    auto elapsed = std::chrono::steady_clock::now() - start;
    CHECK(out.problem == "");
    CHECK((out.accepted || !out.error.empty()));
    CHECK(elapsed < max_time_per_input);
  }
}

} // namespace

TEST_CASE("fuzz regressions: config inputs plan or fail cleanly",
          "[fuzz][travis]") {
  replay("config", [](const std::string& text) {
    return fuzz::run_config_input(text);
  });
}

TEST_CASE("fuzz regressions: condition inputs evaluate or fail cleanly",
          "[fuzz][condition]") {
  replay("condition", [](const std::string& text) {
    return fuzz::run_condition_input(text);
  });
}
