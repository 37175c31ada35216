#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <caf/meta/type_name.hpp>

namespace conveyor {

/// One child of a supervision tree, as its supervisor reports it.
///
/// A supervisor (an untyped actor, see supervisors/supervisor.hpp) answers
/// `(caf::get_atom, std::string id) -> caf::actor` with a child's current
/// handle, `(fetch_atom, status_atom) -> supervision_report` with every child
/// of its subtree, `(crash_atom, std::string path) -> bool` by making that
/// child fail, `(caf::add_atom, std::string kind, std::string id)
/// -> caf::actor` by starting a dynamic child and `(caf::delete_atom,
/// std::string id) -> bool` by stopping one.
struct supervised_child {
  std::string path;             ///< e.g. "node/core/scheduler"
  std::string strategy;         ///< its supervisor's strategy, e.g. "one_for_one"
  std::string restart;          ///< "permanent", "transient" or "temporary"
  bool supervisor = false;      ///< the child is a supervisor itself
  bool dynamic = false;         ///< started at run time, from a template
  std::string state;            ///< "running", "restarting" or "stopped"
  int32_t restarts = 0;         ///< how often it was restarted
  std::string last_exit_reason; ///< why it last ended; empty: never ended
  int64_t last_exit_ms = 0;     ///< when, in ms since the epoch; 0: never
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervised_child& x) {
  return f(caf::meta::type_name("conveyor::supervised_child"), x.path,
           x.strategy, x.restart, x.supervisor, x.dynamic, x.state, x.restarts,
           x.last_exit_reason, x.last_exit_ms);
}

/// A supervision tree, depth first: each supervisor's children in start
/// order, a child supervisor's own children right after it.
using supervision_report = std::vector<supervised_child>;

} // namespace conveyor
