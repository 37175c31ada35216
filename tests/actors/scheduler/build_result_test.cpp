#include <catch2/catch.hpp>

#include "actors/scheduler/build_result.hpp"

using namespace conveyor;
using s = job_state;

namespace {

job_outcome required(job_state x) {
  return {x, false};
}

job_outcome optional_(job_state x) {
  return {x, true};
}

} // namespace

TEST_CASE("a build waits for every job without fast_finish") {
  CHECK_FALSE(decide_build({required(s::passed), required(s::started)}, false));
  CHECK_FALSE(decide_build({required(s::failed), required(s::queued)}, false));
  CHECK_FALSE(decide_build({required(s::passed), optional_(s::started)}, false));
  CHECK(decide_build({required(s::passed), required(s::passed)}, false)
        == build_state::passed);
}

TEST_CASE("allowed failures do not count") {
  CHECK(decide_build({required(s::passed), optional_(s::failed)}, false)
        == build_state::passed);
  CHECK(decide_build({required(s::passed), optional_(s::errored)}, false)
        == build_state::passed);
  CHECK(decide_build({required(s::failed), optional_(s::passed)}, false)
        == build_state::failed);
}

TEST_CASE("canceled wins over errored, errored over failed") {
  CHECK(decide_build({required(s::failed), required(s::errored)}, false)
        == build_state::errored);
  CHECK(decide_build({required(s::errored), required(s::canceled)}, false)
        == build_state::canceled);
  CHECK(decide_build({required(s::failed), required(s::passed)}, false)
        == build_state::failed);
}

TEST_CASE("fast_finish decides when the required jobs are done or one broke") {
  CHECK(decide_build({required(s::passed), optional_(s::started)}, true)
        == build_state::passed);
  CHECK(decide_build({required(s::failed), required(s::started)}, true)
        == build_state::failed);
  CHECK(decide_build({required(s::errored), optional_(s::queued)}, true)
        == build_state::errored);
  CHECK_FALSE(decide_build({required(s::passed), required(s::started)}, true));
  CHECK_FALSE(decide_build({optional_(s::failed), required(s::queued)}, true));
}

TEST_CASE("a build of only allowed failures") {
  CHECK(decide_build({optional_(s::failed)}, false) == build_state::passed);
  CHECK(decide_build({optional_(s::canceled), optional_(s::canceled)}, false)
        == build_state::canceled);
}
