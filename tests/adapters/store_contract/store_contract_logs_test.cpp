// The store contract for log parts, complete logs and open logs.
#include <algorithm>
#include <random>

#include <caf/deep_to_string.hpp>

#include "tests/adapters/store_contract/contract.hpp"

using namespace conveyor;
using namespace conveyor::testing;

STORE_CONTRACT_TEST("duplicated and shuffled log parts are stored once") {
  auto all = make_parts(7, 1, 20);
  std::vector<log_part> sent;
  for (int copy = 0; copy < 3; ++copy)
    sent.insert(sent.end(), all.begin(), all.end());
  std::mt19937 rng{42};
  std::shuffle(sent.begin(), sent.end(), rng);
  int64_t added = 0;
  for (size_t i = 0; i < sent.size(); i += 7)
    added += append(std::vector<log_part>(
      sent.begin() + static_cast<std::ptrdiff_t>(i),
      sent.begin() + static_cast<std::ptrdiff_t>(std::min(i + 7, sent.size()))));
  CHECK(added == 20);
  CHECK(append(all) == 0);
  CHECK(log_of(7, 1) == text_of(all));
  CHECK(log_of(7, 2).empty());
  CHECK(append({}) == 0);
  auto xs = metrics();
  CHECK(sample_of(xs, "conveyor_store_log_parts_written_total") == 20);
  CHECK(sample_of(xs, "conveyor_store_log_bytes_written_total")
        == static_cast<double>(text_of(all).size()));
}

STORE_CONTRACT_TEST("the first copy of a part wins") {
  CHECK(append({{1, 1, 0, "first", false}, {1, 1, 0, "second", true}}) == 1);
  CHECK(append({{1, 1, 0, "third", true}, {1, 1, 1, "next", true}}) == 1);
  CHECK(log_of(1, 1) == "firstnext");
  auto open = open_logs();
  REQUIRE(open.size() == 1);
  CHECK(open[0].final_number == 1);
}

STORE_CONTRACT_TEST("log content is binary-safe") {
  const std::string zero("\0\0\0", 3);
  const std::string mixed("a\0b\xff\xfe\n\x01\\x00", 11);
  REQUIRE(append({{5, 1, 1, "", false},
                  {5, 1, 0, zero, false},
                  {5, 1, 2, mixed, true}})
          == 3);
  CHECK(log_of(5, 1) == zero + mixed);
  CHECK(log_below(5, 1, 1) == zero);
  auto done = ask<log_completed>(complete_atom::value, int64_t{5}, int32_t{1});
  CHECK(done.parts == 3);
  CHECK(done.bytes == 14);
  CHECK(log_of(5, 1) == zero + mixed);
}

STORE_CONTRACT_TEST("fetch_log below a part number answers the parts before it") {
  auto all = make_parts(3, 1, 5);
  REQUIRE(append({all[3], all[0], all[4], all[2], all[1]}) == 5);
  CHECK(log_below(3, 1, 3) == text_of(all, 3));
  CHECK(log_below(3, 1, 1) == text_of(all, 1));
  CHECK(log_below(3, 1, 0).empty());
  CHECK(log_below(3, 1, -1).empty());
  CHECK(log_below(3, 1, 1000) == text_of(all));
  CHECK(log_below(3, 2, 3).empty());
  CHECK(log_below(99, 1, 3).empty());
  // Once aggregated, the whole log whatever the bound.
  REQUIRE(ask<log_completed>(complete_atom::value, int64_t{3}, int32_t{1}).parts
          == 5);
  CHECK(log_below(3, 1, 3) == text_of(all));
  CHECK(log_below(3, 1, 0) == text_of(all));
}

STORE_CONTRACT_TEST("complete_log aggregates in order once and drops the parts") {
  auto all = make_parts(9, 2, 5);
  std::reverse(all.begin(), all.end());
  REQUIRE(append(all) == 5);
  REQUIRE(append(make_parts(9, 3, 2, false)) == 2);
  auto done = ask<log_completed>(complete_atom::value, int64_t{9}, int32_t{2});
  CHECK(done.job_id == 9);
  CHECK(done.attempt == 2);
  CHECK(done.parts == 5);
  CHECK(done.bytes == static_cast<int64_t>(text_of(all).size()));
  std::reverse(all.begin(), all.end());
  CHECK(log_of(9, 2) == text_of(all));
  // Only attempt 3 has parts left.
  auto open = open_logs();
  REQUIRE(open.size() == 1);
  CHECK(open[0].attempt == 3);
  auto again = ask<log_completed>(complete_atom::value, int64_t{9}, int32_t{2});
  CHECK(caf::deep_to_string(again) == caf::deep_to_string(done));
  // Late copies of a completed log's parts are ignored.
  CHECK(append(make_parts(9, 2, 6)) == 0);
  CHECK(log_of(9, 2) == text_of(all));
  CHECK(open_logs().size() == 1);
}

STORE_CONTRACT_TEST("complete_log refuses an incomplete log") {
  auto complete = [this](int32_t attempt) {
    return ask_error<log_completed>(complete_atom::value, int64_t{3}, attempt);
  };
  auto none = complete(1);
  CHECK(is(none, errc::store_failure));
  CHECK_THAT(describe(none), Catch::StartsWith("complete_log failed: ")
                               && Catch::Contains("no parts"));
  REQUIRE(append({{3, 1, 0, "a", false},
                  {3, 1, 1, "b", false},
                  {3, 1, 3, "d", true}})
          == 3);
  CHECK_THAT(describe(complete(1)),
             Catch::Contains("part 2") && Catch::Contains("missing"));
  REQUIRE(append({{3, 1, 2, "c", false}}) == 1);
  REQUIRE(append({{3, 2, 0, "x", false}}) == 1);
  CHECK_THAT(describe(complete(2)), Catch::Contains("no final part"));
  REQUIRE(append({{3, 4, 0, "a", true}, {3, 4, 1, "b", false}}) == 2);
  CHECK_THAT(describe(complete(4)), Catch::Contains("follows the final part"));
  // Refusals keep the parts.
  CHECK(open_logs().size() == 3);
  auto done = ask<log_completed>(complete_atom::value, int64_t{3}, int32_t{1});
  CHECK(done.parts == 4);
  CHECK(log_of(3, 1) == "abcd");
  CHECK(open_logs().size() == 2);
}

STORE_CONTRACT_TEST("open logs list the stored part numbers and the final one") {
  CHECK(open_logs().empty());
  REQUIRE(append({{6, 1, 1, "b", true},
                  {5, 2, 1, "y", true},
                  {5, 1, 2, "c", false},
                  {5, 2, 0, "x", false},
                  {5, 1, 0, "a", false}})
          == 5);
  auto open = open_logs();
  REQUIRE(open.size() == 3);
  CHECK(caf::deep_to_string(open[0])
        == caf::deep_to_string(log_progress{5, 1, {0, 2}, -1}));
  CHECK(caf::deep_to_string(open[1])
        == caf::deep_to_string(log_progress{5, 2, {0, 1}, 1}));
  CHECK(caf::deep_to_string(open[2])
        == caf::deep_to_string(log_progress{6, 1, {1}, 1}));
  REQUIRE(ask<log_completed>(complete_atom::value, int64_t{5}, int32_t{2}).parts
          == 2);
  open = open_logs();
  REQUIRE(open.size() == 2);
  CHECK(open[0].job_id == 5);
  CHECK(open[0].attempt == 1);
  CHECK(open[1].job_id == 6);
}

STORE_CONTRACT_TEST("10000 log parts in batches of 100 go in and complete") {
  const int total = 10000;
  std::string expected;
  int64_t added = 0;
  for (int first = 0; first < total; first += 100) {
    std::vector<log_part> batch;
    for (int i = first; i < first + 100; ++i) {
      batch.push_back(log_part{11, 1, i, "line " + std::to_string(i) + "\n",
                               i == total - 1});
      expected += batch.back().content;
    }
    added += append(std::move(batch));
  }
  CHECK(added == total);
  auto done = ask<log_completed>(complete_atom::value, int64_t{11}, int32_t{1});
  CHECK(done.parts == total);
  CHECK(done.bytes == static_cast<int64_t>(expected.size()));
  CHECK(log_of(11, 1) == expected);
}
