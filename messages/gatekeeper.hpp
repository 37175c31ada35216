#pragma once

#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "messages/build.hpp"
#include "messages/build_request.hpp"

namespace conveyor {

/// Turns a build request into a stored build and hands its jobs to the
/// scheduler. A bad config still makes a build, errored with the findings;
/// an unknown repository or ref answers `errc::unknown_repository` or
/// `errc::unknown_ref`.
using gatekeeper_actor
  = caf::typed_actor<caf::replies_to<build_request>::with<build_record>>;

} // namespace conveyor
