#include <catch2/catch.hpp>

#include "app/options.hpp"
#include "messages/error.hpp"

using namespace conveyor;

TEST_CASE("durations and sizes parse with their units") {
  CHECK(*parse_duration_ms("90") == 90'000);
  CHECK(*parse_duration_ms("90s") == 90'000);
  CHECK(*parse_duration_ms("1m30s") == 90'000);
  CHECK(*parse_duration_ms("500ms") == 500);
  CHECK(*parse_duration_ms("2h") == 7'200'000);
  CHECK_FALSE(parse_duration_ms(""));
  CHECK_FALSE(parse_duration_ms("1x"));
  CHECK_FALSE(parse_duration_ms("m"));
  CHECK(describe(parse_duration_ms("5 parsecs").error()).find("parsecs")
        != std::string::npos);
  CHECK(*parse_size("4096") == 4096);
  CHECK(*parse_size("64KiB") == 65'536);
  CHECK(*parse_size("4MiB") == 4'194'304);
  CHECK(*parse_size("1KB") == 1000);
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("12QB"));
  CHECK(*parse_count("8") == 8);
  CHECK_FALSE(parse_count("0"));
  CHECK_FALSE(parse_count("two"));
}

TEST_CASE("arguments split into flags and positional words") {
  auto args = parse_args({"repo", "--ref", "main", "--jobs=3", "--keep"},
                         {"ref", "jobs"}, {"keep"});
  REQUIRE(args);
  CHECK(args->positional == std::vector<std::string>{"repo"});
  CHECK(args->get("ref") == std::optional<std::string>{"main"});
  CHECK(args->get("jobs") == std::optional<std::string>{"3"});
  CHECK(args->has("keep"));
  CHECK_FALSE(args->has("other"));
  auto unknown = parse_args({"--nope"}, {"ref"}, {});
  REQUIRE_FALSE(unknown);
  CHECK(describe(unknown.error()) == "unknown option --nope");
  auto missing = parse_args({"--ref"}, {"ref"}, {});
  REQUIRE_FALSE(missing);
  CHECK(describe(missing.error()) == "option --ref needs a value");
}
