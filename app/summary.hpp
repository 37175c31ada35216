#pragma once

#include <cstdio>

#include "messages/build.hpp"

namespace conveyor {

/// Prints what a build is (number, repository, commit, request id, jobs) and
/// its config findings, errors with their line and column.
void print_build_header(std::FILE* out, const build_record& build);

/// Prints a table of the build's jobs (job, env, state, duration) and the
/// build's result.
void print_summary(std::FILE* out, const build_record& build);

} // namespace conveyor
