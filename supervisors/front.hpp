#pragma once

#include <string>

#include <caf/actor.hpp>
#include <caf/atom.hpp>
#include <caf/fwd.hpp>

namespace conveyor {

/// Tells a front the handle of its child's new incarnation. Sent by the
/// supervisor after each (re)start of a child whose spec names the front.
using front_target_atom = caf::atom_constant<caf::atom("front_tgt")>;

/// Spawns a front: the stable address of a module that a supervisor may
/// restart. It forwards every message to the current incarnation, keeping
/// the sender and the request id (so answers go straight back to the one who
/// asked), and holds the messages that come while there is none (from a
/// crash until the restart) to hand them, in order, to the next one.
///
/// A message already forwarded to an incarnation that dies unprocessed is
/// lost, as with any dead actor (a request is answered with an error): what
/// must not be lost is sent as a request and repeated on error.
/// Requests still held when the front stops are answered
/// `errc::unavailable`. Cast the front to the module's typed handle.
caf::actor spawn_front(caf::actor_system& sys, std::string name);

} // namespace conveyor
