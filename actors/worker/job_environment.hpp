#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "messages/job.hpp"

namespace conveyor {

/// Returns the whole environment of a job's build script, as `NAME=value`.
/// Nothing of the server's own environment is passed on (no inherited
/// secrets): only a fixed PATH, HOME=`workspace`, LANG, TERM, USER/LOGNAME of
/// the current user, the CI flags (CI, CONTINUOUS_INTEGRATION, TRAVIS,
/// CONVEYOR), the CONVEYOR_* and TRAVIS_* description of the job (with
/// TRAVIS_BUILD_DIR=`build_dir`). The job's own `env` is not in it: the
/// build script exports it (bash reads BASH_ENV and SHELLOPTS as it starts).
/// The worker's clone credentials travel this way alone (`git_auth_variable`,
/// which the build script takes out at once): the environment is never
/// logged, and no command line holds it.
std::vector<std::string> job_environment(const job_spec& spec,
                                         const std::filesystem::path& workspace,
                                         const std::filesystem::path& build_dir);

} // namespace conveyor
