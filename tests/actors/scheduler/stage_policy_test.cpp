#include <catch2/catch.hpp>

#include "actors/scheduler/build_result.hpp"
#include "actors/scheduler/stage_policy.hpp"

using namespace conveyor;
using s = job_state;

namespace {

staged_job job(int64_t id, int32_t stage, job_state state,
               bool allow_failure = false) {
  return {id, stage, state, allow_failure};
}

using ids = std::vector<int64_t>;

} // namespace

TEST_CASE("a build without stages is queued at once", "[stage_policy]") {
  auto step = next_stage_step(
    {job(1, 0, s::created), job(2, 0, s::created), job(3, 0, s::created)});
  CHECK(step.queue == ids{1, 2, 3});
  CHECK(step.cancel.empty());
}

TEST_CASE("only the first unfinished stage is queued", "[stage_policy]") {
  auto step = next_stage_step({job(1, 0, s::created), job(2, 0, s::created),
                               job(3, 1, s::created), job(4, 2, s::created)});
  CHECK(step.queue == ids{1, 2});
  CHECK(step.cancel.empty());
  // While a job of the first stage runs, the next one waits.
  step = next_stage_step({job(1, 0, s::passed), job(2, 0, s::started),
                          job(3, 1, s::created), job(4, 2, s::created)});
  CHECK(step.queue.empty());
  CHECK(step.cancel.empty());
  // Queued jobs (or jobs whose queueing is being stored) are not named again.
  step = next_stage_step({job(1, 0, s::queued), job(2, 1, s::created)});
  CHECK(step.queue.empty());
}

TEST_CASE("the next stage comes up once every job of a stage ended",
          "[stage_policy]") {
  auto step = next_stage_step({job(1, 0, s::passed), job(2, 0, s::passed),
                               job(3, 1, s::created), job(4, 1, s::created),
                               job(5, 2, s::created)});
  CHECK(step.queue == ids{3, 4});
  CHECK(step.cancel.empty());
  step = next_stage_step({job(1, 0, s::passed), job(3, 1, s::passed),
                          job(5, 2, s::created)});
  CHECK(step.queue == ids{5});
}

TEST_CASE("an allowed failure does not stop the stages", "[stage_policy]") {
  auto step = next_stage_step({job(1, 0, s::passed), job(2, 0, s::failed, true),
                               job(3, 0, s::errored, true),
                               job(4, 1, s::created)});
  CHECK(step.queue == ids{4});
  CHECK(step.cancel.empty());
  CHECK(broken_stage({job(1, 0, s::failed, true)}) == -1);
}

TEST_CASE("a broken stage cancels the later stages", "[stage_policy]") {
  for (auto broke : {s::failed, s::errored, s::canceled}) {
    // At once, while the rest of the broken stage still runs.
    auto step = next_stage_step({job(1, 0, broke), job(2, 0, s::started),
                                 job(3, 1, s::created), job(4, 2, s::created)});
    CHECK(step.queue.empty());
    CHECK(step.cancel == ids{3, 4});
    CHECK(broken_stage({job(1, 0, broke), job(3, 1, s::canceled)}) == 0);
  }
  // The jobs of the broken stage still run.
  auto step = next_stage_step({job(1, 1, s::passed), job(2, 2, s::failed),
                               job(3, 2, s::created), job(4, 3, s::created)});
  CHECK(step.queue == ids{3});
  CHECK(step.cancel == ids{4});
}

TEST_CASE("jobs of a later stage that run anyway are left alone",
          "[stage_policy]") {
  // A user restarted a job of stage 0 while stage 1 ran: stage 1 goes on,
  // stage 2 waits for both.
  auto step = next_stage_step({job(1, 0, s::queued), job(2, 1, s::started),
                               job(3, 2, s::created)});
  CHECK(step.queue.empty());
  CHECK(step.cancel.empty());
  // A canceled later job restarted after its stage broke runs.
  step = next_stage_step({job(1, 0, s::failed), job(2, 1, s::queued)});
  CHECK(step.queue.empty());
  CHECK(step.cancel.empty());
}

TEST_CASE("a finished build has nothing to do", "[stage_policy]") {
  auto step = next_stage_step({job(1, 0, s::passed), job(2, 1, s::failed)});
  CHECK(step.queue.empty());
  CHECK(step.cancel.empty());
  CHECK(next_stage_step({}).queue.empty());
}

// -- build results with stages ------------------------------------------------

namespace {

job_outcome at(int32_t stage, job_state state, bool allow_failure = false) {
  return {state, allow_failure, stage};
}

} // namespace

TEST_CASE("a build whose stage failed ends failed, not canceled",
          "[stage_policy]") {
  CHECK(decide_build({at(0, s::failed), at(0, s::passed), at(1, s::canceled),
                      at(2, s::canceled)},
                     false)
        == build_state::failed);
  CHECK(decide_build({at(0, s::passed), at(1, s::errored), at(2, s::canceled)},
                     false)
        == build_state::errored);
  // Undecided while the later stages are not canceled yet.
  CHECK_FALSE(decide_build({at(0, s::failed), at(1, s::created)}, false));
  // With fast_finish, at once.
  CHECK(decide_build({at(0, s::failed), at(0, s::started), at(1, s::created)},
                     true)
        == build_state::failed);
}

TEST_CASE("a canceled job still cancels its build", "[stage_policy]") {
  // Canceled in the first stage (by a user): the build is canceled.
  CHECK(decide_build({at(0, s::canceled), at(0, s::failed), at(1, s::canceled)},
                     false)
        == build_state::canceled);
  // A whole canceled build.
  CHECK(decide_build({at(0, s::canceled), at(1, s::canceled)}, false)
        == build_state::canceled);
  // A job of the same stage as the failure, canceled, still counts.
  CHECK(decide_build({at(0, s::passed), at(1, s::failed), at(1, s::canceled)},
                     false)
        == build_state::canceled);
}
