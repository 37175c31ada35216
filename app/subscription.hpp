#pragma once

#include <caf/actor.hpp>
#include <caf/fwd.hpp>
#include <caf/message.hpp>

namespace conveyor {

/// Keeps a subscription in force while the module behind `front` restarts:
/// sends `subscribe` (a request the module answers itself, e.g.
/// `(subscribe_atom, listener)`), watches the incarnation that answered, and
/// sends it again when that one ends. It stops when `listener` ends.
/// What the module told while nobody listened is not replayed.
void keep_subscribed(caf::actor_system& sys, caf::actor front,
                     caf::message subscribe, caf::actor listener);

} // namespace conveyor
