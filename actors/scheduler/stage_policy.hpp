#pragma once

// Travis CI's build stages, as the scheduler applies them. Pure.
//
// The jobs of a build run stage by stage: a job is queued only once every
// job of the stages before its own has ended. When a job that may not fail
// breaks (failed, errored or canceled), the jobs of the later stages that
// have not been queued yet are canceled and never run; the jobs of its own
// stage still run. A build without stages is one stage (index 0) whose jobs
// are all queued at once.

#include <cstdint>
#include <string>
#include <vector>

#include "messages/job.hpp"

namespace conveyor {

/// A job as far as its build's stages are concerned.
struct staged_job {
  int64_t job_id = 0;
  int32_t stage_index = 0;
  /// Where the job stands, counting what is on its way to the store: a job
  /// whose queueing is being stored is `queued`, one whose cancel is being
  /// stored `canceled`.
  job_state state = job_state::created;
  bool allow_failure = false;
};

/// What the scheduler does next with a build's created jobs.
struct stage_step {
  std::vector<int64_t> queue;  ///< created jobs whose stage has come up
  std::vector<int64_t> cancel; ///< created jobs after a broken stage
};

/// The reason given to the jobs that `stage_step::cancel` names.
inline const std::string earlier_stage_failed = "an earlier stage failed";

/// True if the job broke its stage: it may not fail and it failed, errored
/// or was canceled.
bool breaks_stage(job_state state, bool allow_failure);

/// The index of the first stage that a job broke; -1 if none.
int32_t broken_stage(const std::vector<staged_job>& jobs);

/// Decides which created jobs to queue and which to cancel. Only created
/// jobs are named: a queued or running job, even of a later stage (a user
/// restarted it), is left as it is.
stage_step next_stage_step(const std::vector<staged_job>& jobs);

} // namespace conveyor
