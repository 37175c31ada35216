#pragma once

#include <string>
#include <vector>

namespace conveyor {

/// `conveyor run [DIR] [options]`: builds the repository's commit once on a
/// node of its own, prints every job's log live and a summary, and returns the
/// exit code: 0 passed, 1 failed, 2 errored, canceled or bad usage.
int run_command(const std::vector<std::string>& args);

/// The text of `conveyor run --help`.
std::string run_usage();

} // namespace conveyor
