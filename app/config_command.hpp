#pragma once

#include <string>
#include <vector>

namespace conveyor {

/// `conveyor config check FILE [--json]` and `conveyor config expand FILE
/// [--branch B] [--event E] [--tag T] [--message M] [--repo SLUG] [--json]`:
/// read a build config file the way the gatekeeper does, without a node.
///
/// `check` prints the findings (`FILE:LINE:COL: LEVEL: CODE: message`, or a
/// JSON array with `--json`) and returns 0 if the config is valid (warnings
/// allowed), 1 if it has errors, 2 on bad usage or an unreadable file.
///
/// `expand` prints the jobs a build of the given request would have (text,
/// or a JSON array of job objects with `--json`) and its findings on stderr;
/// it returns 0 if the build would have jobs, 1 if the request is rejected
/// or the config does not plan any job, 2 on bad usage or an unreadable file.
int config_command(const std::vector<std::string>& args);

/// The text of `conveyor config --help`.
std::string config_usage();

/// The text of `conveyor config check --help`.
std::string config_check_usage();

/// The text of `conveyor config expand --help`.
std::string config_expand_usage();

} // namespace conveyor
