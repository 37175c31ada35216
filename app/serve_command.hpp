#pragma once

#include <string>
#include <vector>

namespace conveyor {

/// `conveyor serve [options]`: runs a node with its HTTP API until SIGINT or
/// SIGTERM, then shuts down gracefully. Returns the exit code: 0 after a
/// clean shutdown, 1 if the node failed, 2 on bad usage.
int serve_command(const std::vector<std::string>& args);

} // namespace conveyor
