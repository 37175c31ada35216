#pragma once

#include <caf/atom.hpp>

/// Atoms that name commands and queries in the typed interfaces of messages/.
namespace conveyor {

using create_atom = caf::atom_constant<caf::atom("create")>;
using enqueue_atom = caf::atom_constant<caf::atom("enqueue")>;
using run_atom = caf::atom_constant<caf::atom("run")>;
using cancel_atom = caf::atom_constant<caf::atom("cancel")>;
using build_atom = caf::atom_constant<caf::atom("build")>;
using job_atom = caf::atom_constant<caf::atom("job")>;
using log_atom = caf::atom_constant<caf::atom("log")>;
using complete_atom = caf::atom_constant<caf::atom("complete")>;
using register_atom = caf::atom_constant<caf::atom("register")>;
using subscribe_atom = caf::atom_constant<caf::atom("subscribe")>;
using fetch_atom = caf::atom_constant<caf::atom("fetch")>;
using metrics_atom = caf::atom_constant<caf::atom("metrics")>;
using unfinished_atom = caf::atom_constant<caf::atom("unfinish")>;
using restart_atom = caf::atom_constant<caf::atom("restart")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using drain_atom = caf::atom_constant<caf::atom("drain")>;
using delivery_atom = caf::atom_constant<caf::atom("delivery")>;
using outbox_atom = caf::atom_constant<caf::atom("outbox")>;
/// Fault injection: the receiver fails as a bug would, by throwing inside its
/// handler (see supervisors/fault.hpp). Only sent when a node allows it.
using crash_atom = caf::atom_constant<caf::atom("crash")>;

} // namespace conveyor
