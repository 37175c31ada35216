#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "actors/log_sequencer/reorder_buffer.hpp"

using namespace conveyor;

namespace {

log_part part(int32_t number, bool final = false) {
  return {7, 1, number, "part " + std::to_string(number) + "\n", final};
}

std::vector<int32_t> numbers(const std::vector<log_part>& parts) {
  std::vector<int32_t> result;
  for (auto& x : parts)
    result.push_back(x.number);
  return result;
}

} // namespace

TEST_CASE("parts in order are released at once") {
  reorder_buffer buf;
  CHECK(numbers(buf.push(part(0))) == std::vector<int32_t>{0});
  CHECK(numbers(buf.push(part(1))) == std::vector<int32_t>{1});
  CHECK_FALSE(buf.complete());
  CHECK(numbers(buf.push(part(2, true))) == std::vector<int32_t>{2});
  CHECK(buf.complete());
}

TEST_CASE("a gap holds back later parts until it is filled") {
  reorder_buffer buf;
  CHECK(buf.push(part(2)).empty());
  CHECK(buf.push(part(1)).empty());
  CHECK(buf.waiting() == 2);
  CHECK(buf.next_expected() == 0);
  CHECK(numbers(buf.push(part(0))) == std::vector<int32_t>{0, 1, 2});
  CHECK(buf.waiting() == 0);
  CHECK(buf.push(part(4, true)).empty());
  CHECK_FALSE(buf.complete());
  CHECK(numbers(buf.push(part(3))) == std::vector<int32_t>{3, 4});
  CHECK(buf.complete());
}

TEST_CASE("duplicates and parts past the final one are dropped") {
  reorder_buffer buf;
  buf.push(part(0));
  CHECK(buf.push(part(0)).empty());
  buf.push(part(2));
  CHECK(buf.push(part(2)).empty());
  CHECK(buf.dropped() == 2);
  buf.push(part(3, true));
  CHECK(buf.push(part(5)).empty());
  CHECK(buf.dropped() == 3);
  CHECK(numbers(buf.push(part(1))) == std::vector<int32_t>{1, 2, 3});
  CHECK(buf.complete());
  CHECK(buf.push(part(1)).empty());
  CHECK(buf.dropped() == 4);
}

TEST_CASE("a final part drops the later parts that were waiting") {
  reorder_buffer buf;
  buf.push(part(5));
  buf.push(part(2, true));
  CHECK(buf.waiting() == 1);
  CHECK(buf.dropped() == 1);
}

TEST_CASE("shuffled and duplicated input comes out in order, exactly once") {
  std::mt19937 rng{42};
  for (int round = 0; round < 50; ++round) {
    const int32_t n = 1 + static_cast<int32_t>(rng() % 200);
    std::vector<log_part> input;
    for (int32_t i = 0; i < n; ++i) {
      input.push_back(part(i, i == n - 1));
      if (rng() % 3 == 0)
        input.push_back(part(i, i == n - 1));
    }
    std::shuffle(input.begin(), input.end(), rng);
    reorder_buffer buf;
    std::vector<log_part> output;
    for (auto& x : input)
      for (auto& y : buf.push(x))
        output.push_back(y);
    REQUIRE(buf.complete());
    REQUIRE(output.size() == static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) {
      CHECK(output[i].number == i);
      CHECK(output[i].content == "part " + std::to_string(i) + "\n");
    }
    CHECK(buf.dropped() == input.size() - static_cast<size_t>(n));
  }
}

TEST_CASE("parts far ahead of the window wait and come out once") {
  const auto w = reorder_buffer::window;
  reorder_buffer buf;
  CHECK(buf.push(part(w + 5)).empty());
  CHECK(buf.push(part(2 * w, true)).empty());
  CHECK(buf.push(part(3 * w)).empty()); // past the final part
  CHECK(buf.dropped() == 1);
  CHECK(buf.waiting() == 2);
  std::vector<int32_t> out;
  for (int32_t i = 0; i < w + 5; ++i)
    for (auto& x : buf.push(part(i)))
      out.push_back(x.number);
  // w + 5 came from far ahead: it is released with the window's parts.
  CHECK(out.size() == static_cast<size_t>(w + 6));
  CHECK(out.back() == w + 5);
  // A late duplicate of it is dropped.
  CHECK(buf.push(part(w + 5)).empty());
  CHECK(buf.dropped() == 2);
  for (int32_t i = w + 6; i <= 2 * w; ++i)
    for (auto& x : buf.push(part(i, i == 2 * w)))
      out.push_back(x.number);
  CHECK(buf.complete());
  CHECK(buf.waiting() == 0);
  REQUIRE(out.size() == static_cast<size_t>(2 * w + 1));
  for (size_t i = 0; i < out.size(); ++i)
    CHECK(out[i] == static_cast<int32_t>(i));
}

TEST_CASE("a duplicate of a far part that arrived before the window moved is "
          "dropped") {
  const auto w = reorder_buffer::window;
  reorder_buffer buf;
  buf.push(part(w + 1));       // far ahead
  buf.push(part(0));           // the window moves by one
  CHECK(buf.push(part(w + 1)).empty()); // within reach now: a duplicate
  CHECK(buf.dropped() == 1);
  CHECK(buf.waiting() == 1);
}

TEST_CASE("a final part drops waiting parts both near and far") {
  const auto w = reorder_buffer::window;
  reorder_buffer buf;
  buf.push(part(10));
  buf.push(part(w * 2));
  buf.push(part(5, true));
  CHECK(buf.waiting() == 1);
  CHECK(buf.dropped() == 2);
  for (int32_t i = 0; i < 5; ++i)
    buf.push(part(i));
  CHECK(buf.complete());
  CHECK(buf.waiting() == 0);
}

TEST_CASE("a long shuffled log with duplicates comes out in order exactly "
          "once") {
  std::mt19937 rng{7};
  const int32_t n = 3 * reorder_buffer::window + 17;
  std::vector<log_part> input;
  for (int32_t i = 0; i < n; ++i) {
    input.push_back(part(i, i == n - 1));
    if (rng() % 4 == 0)
      input.push_back(part(i, i == n - 1));
  }
  std::shuffle(input.begin(), input.end(), rng);
  reorder_buffer buf;
  std::vector<int32_t> out;
  size_t most_waiting = 0;
  for (auto& x : input) {
    for (auto& y : buf.push(x))
      out.push_back(y.number);
    most_waiting = std::max(most_waiting, buf.waiting());
  }
  CHECK(most_waiting > static_cast<size_t>(reorder_buffer::window));
  REQUIRE(buf.complete());
  CHECK(buf.waiting() == 0);
  REQUIRE(out.size() == static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i)
    CHECK(out[static_cast<size_t>(i)] == i);
  CHECK(buf.dropped() == input.size() - static_cast<size_t>(n));
}
