#include <catch2/catch.hpp>

#include "actors/scheduler/job_queue.hpp"

using namespace conveyor;

namespace {

job_spec job(int64_t id) {
  job_spec x;
  x.job_id = id;
  return x;
}

} // namespace

TEST_CASE("the job queue is first in, first out and supports removal") {
  job_queue queue;
  CHECK_FALSE(queue.pop());
  for (int64_t id = 1; id <= 4; ++id)
    queue.push(job(id));
  CHECK(queue.size() == 4);
  CHECK(queue.remove(2));
  CHECK_FALSE(queue.remove(2));
  CHECK_FALSE(queue.remove(99));
  CHECK(queue.pop()->job_id == 1);
  CHECK(queue.pop()->job_id == 3);
  CHECK(queue.pop()->job_id == 4);
  CHECK_FALSE(queue.pop());
  CHECK(queue.size() == 0);
}
