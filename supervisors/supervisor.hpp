#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/expected.hpp>
#include <caf/fwd.hpp>

namespace conveyor {

/// When a supervisor restarts a child that ended (Erlang/OTP restart types).
enum class restart_type {
  permanent, ///< always, whatever the exit reason (also a normal exit)
  transient, ///< only after an abnormal exit
  temporary, ///< never; nor when a sibling's failure stops it
};

/// Which children a supervisor restarts when one fails.
enum class restart_strategy {
  one_for_all,  ///< stop the others (reverse order), restart all in order
  one_for_one,  ///< restart only the failed child
  rest_for_one, ///< stop and restart the failed child and those after it
};

/// Exponential backoff before a restart: `initial` doubled for each earlier
/// restart of the same child within the intensity window, capped at `max`
/// (if non-zero), then spread by +/- `jitter` (a fraction, 0..1). Zero
/// `initial`: restart at once.
struct backoff_settings {
  std::chrono::milliseconds initial{0};
  std::chrono::milliseconds max{0};
  double jitter = 0.0;
};

/// How a supervisor starts one child: an id for logs and lookups, and a
/// factory that spawns it (or fails, e.g. when a store cannot be opened).
/// The factory is called again on every restart, from inside the supervisor.
struct child_spec {
  std::string id;
  std::function<caf::expected<caf::actor>(caf::actor_system&)> start;
  /// When the child is restarted after it ends.
  restart_type restart = restart_type::permanent;
  /// How long this child may take to stop before it is killed; zero kills it
  /// at once. Unset: the supervisor's `shutdown_timeout`.
  std::optional<std::chrono::milliseconds> shutdown = std::nullopt;
  /// If set, told each new incarnation's handle (see supervisors/front.hpp),
  /// so that the rest of the node reaches the child through it.
  caf::actor front = caf::actor{};
  /// The child is a supervisor: its own children appear in reports, and
  /// fault injection can reach them.
  bool supervisor = false;
  /// The child's own backoff (for one that wraps an external system, such as
  /// a database); unset: the supervisor's.
  std::optional<backoff_settings> backoff = std::nullopt;
};

/// Makes the spec of a dynamic child from its id (OTP's simple_one_for_one).
using child_template = std::function<child_spec(const std::string& id)>;

/// Settings of a supervisor. The defaults keep the first version's behaviour:
/// one_for_all with no restarts, so the first failure escalates at once.
struct supervisor_config {
  std::string name = "supervisor";
  /// How long a child may take to stop before it is killed.
  std::chrono::milliseconds shutdown_timeout{5000};
  /// Which children are restarted when one fails.
  restart_strategy strategy = restart_strategy::one_for_all;
  /// Restart intensity: more than `max_restarts` restarts within
  /// `max_seconds` stop all children in reverse order and make the
  /// supervisor exit with the last child's reason (escalation).
  size_t max_restarts = 0;
  std::chrono::seconds max_seconds{5};
  /// Delay before a restart: `backoff_initial` doubled for each earlier
  /// restart of the same child within `max_seconds`, capped at `backoff_max`
  /// (if non-zero), then spread by +/- `backoff_jitter` (a fraction, 0..1).
  /// Zero `backoff_initial`: restart at once.
  std::chrono::milliseconds backoff_initial{0};
  std::chrono::milliseconds backoff_max{0};
  double backoff_jitter = 0.0;
  /// Kinds of dynamic children: `(caf::add_atom, kind, id)` starts one from
  /// its template after the static children; it is then supervised like them.
  std::map<std::string, child_template> templates;
};

/// Starts `children` in order and a supervisor actor that watches them
/// (monitors; it is not linked to them).
///
/// A child that ends is restarted as its restart type and the strategy say;
/// each restart counts against the restart intensity, and exceeding it
/// escalates: the supervisor stops every child in reverse start order and
/// exits with that child's exit reason (or `errc::unavailable` when the child
/// ended normally), so its parent decides. A factory failing during a restart
/// counts as a failure of that child. While one restart (with its backoff) is
/// under way, other failures wait for it to finish.
///
/// Asked to exit, the supervisor stops every child in reverse start order,
/// each within its shutdown timeout (then it is killed), and exits with the
/// reason it was given. If a factory fails here, the children already
/// started are stopped and the error is returned.
///
/// Lookup: a restarted child has a new handle, so ask the supervisor for the
/// current one: `(caf::get_atom, std::string id) -> caf::actor`; it answers
/// `errc::unavailable` for an unknown id or a child that is not running
/// (stopped, restarting or waiting for its backoff). A child started with a
/// `front` is better reached through it.
///
/// Other messages (see messages/supervision.hpp): `(fetch_atom, status_atom)
/// -> supervision_report` for the subtree; `(crash_atom, std::string path)
/// -> bool` sends `crash_atom` to the child at `path` ("scheduler",
/// "core/scheduler"), which then fails as a bug would; `(caf::add_atom,
/// std::string kind, std::string id) -> caf::actor` starts a dynamic child;
/// `(caf::delete_atom, std::string id) -> bool` stops a dynamic child for
/// good. Every start, exit, restart and escalation is logged.
caf::expected<caf::actor> start_supervisor(caf::actor_system& sys,
                                           supervisor_config cfg,
                                           std::vector<child_spec> children);

} // namespace conveyor
