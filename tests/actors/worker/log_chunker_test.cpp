#include <catch2/catch.hpp>

#include <string>

#include "actors/worker/log_chunker.hpp"

using namespace conveyor;
using namespace std::chrono_literals;

namespace {

const auto t0 = log_chunker::clock::time_point{} + 1h;

} // namespace

TEST_CASE("a part is cut at exactly 8 KiB", "[log_chunker]") {
  log_chunker c{7, 2};
  CHECK(c.write(std::string(8191, 'a'), t0).empty());
  auto parts = c.write("b", t0);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].content.size() == 8192);
  CHECK(parts[0].content.back() == 'b');
  CHECK(parts[0].job_id == 7);
  CHECK(parts[0].attempt == 2);
  CHECK(parts[0].number == 0);
  CHECK_FALSE(parts[0].final);
  CHECK_FALSE(c.has_pending());
}

TEST_CASE("a big write is cut into parts of at most 8 KiB", "[log_chunker]") {
  log_chunker c{1, 1};
  auto parts = c.write(std::string(20000, 'x'), t0);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].content.size() == 8192);
  CHECK(parts[1].content.size() == 8192);
  CHECK(parts[1].number == 1);
  CHECK(c.has_pending());
  auto rest = c.finish("");
  REQUIRE(rest.size() == 1);
  CHECK(rest[0].content.size() == 20000 - 2 * 8192);
  CHECK(rest[0].number == 2);
  CHECK(rest[0].final);
}

TEST_CASE("pending bytes are cut when the oldest is 200 ms old",
          "[log_chunker]") {
  log_chunker c{1, 1};
  CHECK(c.write("abc", t0).empty());
  CHECK(c.write("def", t0 + 150ms).empty());
  CHECK(c.tick(t0 + 199ms).empty());
  CHECK(c.due_at() == t0 + 200ms);
  auto parts = c.tick(t0 + 200ms);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].content == "abcdef");
  CHECK(c.tick(t0 + 1s).empty());
  // The clock restarts with the next byte, and a late write flushes too.
  CHECK(c.write("g", t0 + 2s).empty());
  parts = c.write("h", t0 + 2s + 250ms);
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].content == "gh");
  CHECK(parts[0].number == 1);
}

TEST_CASE("bytes left after a size cut are as old as the write",
          "[log_chunker]") {
  log_chunker c{1, 1};
  c.write("a", t0);
  auto parts = c.write(std::string(8192, 'b'), t0 + 100ms);
  REQUIRE(parts.size() == 1);
  CHECK(c.tick(t0 + 250ms).empty());
  CHECK(c.tick(t0 + 300ms).size() == 1);
}

TEST_CASE("sizes and delays are configurable", "[log_chunker]") {
  log_chunker c{1, 1, log_chunker_config{4, 10ms}};
  auto parts = c.write("abcdefghij", t0);
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].content == "abcd");
  CHECK(parts[1].content == "efgh");
  CHECK(c.tick(t0 + 10ms).at(0).content == "ij");
}

TEST_CASE("parts are numbered without gaps and end with one final part",
          "[log_chunker]") {
  log_chunker c{1, 1};
  std::vector<log_part> all;
  auto add = [&all](std::vector<log_part> xs) {
    all.insert(all.end(), xs.begin(), xs.end());
  };
  add(c.write("line 1\n", t0));
  add(c.tick(t0 + 300ms));
  add(c.write(std::string(10000, 'z'), t0 + 400ms));
  add(c.write("no newline", t0 + 500ms));
  add(c.finish("Done. Your build exited with 0."));
  REQUIRE(all.size() == 3);
  for (size_t i = 0; i < all.size(); ++i) {
    CHECK(all[i].number == static_cast<int32_t>(i));
    CHECK(all[i].final == (i + 1 == all.size()));
  }
  CHECK(all.back().content.substr(all.back().content.size() - 43)
        == "no newline\nDone. Your build exited with 0.\n");
  CHECK(c.finish("again").empty());
  CHECK(c.write("late", t0 + 1s).empty());
  CHECK(c.bytes_written() == 7 + 10000 + 10);
}

TEST_CASE("an empty log still gets exactly one final part", "[log_chunker]") {
  log_chunker c{1, 3};
  auto parts = c.finish("");
  REQUIRE(parts.size() == 1);
  CHECK(parts[0].number == 0);
  CHECK(parts[0].attempt == 3);
  CHECK(parts[0].content.empty());
  CHECK(parts[0].final);
}

TEST_CASE("a long ending is cut too, the final part last", "[log_chunker]") {
  log_chunker c{1, 1};
  c.write(std::string(8000, 'a'), t0);
  auto parts = c.finish(std::string(300, 'b'));
  REQUIRE(parts.size() == 2);
  CHECK(parts[0].content.size() == 8192);
  CHECK_FALSE(parts[0].final);
  CHECK(parts[1].content.size() == 8000 + 1 + 300 + 1 - 8192);
  CHECK(parts[1].final);
}
