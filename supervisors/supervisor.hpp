#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

namespace conveyor {

/// How a supervisor starts one child: an id for logs and a factory that
/// spawns it (or fails, e.g. when a store cannot be opened).
struct child_spec {
  std::string id;
  std::function<caf::expected<caf::actor>(caf::actor_system&)> start;
};

/// Settings of a supervisor.
struct supervisor_config {
  std::string name = "supervisor";
  /// How long a child may take to stop before it is killed.
  std::chrono::milliseconds shutdown_timeout{5000};
};

/// Starts `children` in order and a supervisor actor that watches them. This
/// first version has the one_for_all strategy with no restarts: when a child
/// ends abnormally, the supervisor stops the others in reverse start order and
/// exits with that child's reason, so its parent decides (escalation). Asked
/// to exit, it stops every child in reverse start order, each within the
/// shutdown timeout, then exits. If a factory fails, the children already
/// started are stopped and the error is returned.
caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           supervisor_config cfg,
                                           std::vector<child_spec> children);

} // namespace conveyor
