#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "actors/log_sequencer/batching.hpp"

using namespace conveyor;

namespace {

std::vector<log_part> parts_of_sizes(const std::vector<size_t>& sizes) {
  std::vector<log_part> result;
  int32_t n = 0;
  for (auto size : sizes)
    result.push_back({1, 1, n++, std::string(size, 'x'), false});
  return result;
}

} // namespace

TEST_CASE("a batch takes every waiting part within both limits") {
  CHECK(next_batch_size({}, 10, 100) == 0);
  CHECK(next_batch_size(parts_of_sizes({10, 10, 10}), 10, 100) == 3);
}

TEST_CASE("a batch stops at the most parts") {
  CHECK(next_batch_size(parts_of_sizes({1, 1, 1, 1, 1}), 3, 100) == 3);
}

TEST_CASE("a batch stops once it holds the most bytes") {
  // 40 + 40 < 100: a third part goes, and makes the batch 120 bytes.
  CHECK(next_batch_size(parts_of_sizes({40, 40, 40, 40}), 10, 100) == 3);
  CHECK(next_batch_size(parts_of_sizes({50, 50, 1}), 10, 100) == 2);
}

TEST_CASE("a part larger than the byte limit still goes alone") {
  CHECK(next_batch_size(parts_of_sizes({500, 1}), 10, 100) == 1);
}
