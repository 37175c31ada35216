#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "messages/store.hpp"

namespace conveyor::github {

class github_client;

/// Settings of the commit-status reporter.
struct status_reporter_config {
  /// Base of the status's target URL, e.g. "https://ci.example.com": a
  /// build links to `<public_url>/api/builds/<id>`.
  std::string public_url;
  /// How often the outbox is read when it was empty.
  std::chrono::milliseconds poll_interval{500};
  /// Statuses sent per round at most.
  int32_t batch = 50;
};

/// Spawns the commit-status reporter (detached: its calls block). It reads
/// the store's outbox (builds from webhooks whose status is due), posts each
/// status (`pending` while a build is created or started, then `success`,
/// `failure` or `error`; context `conveyor/push` or `conveyor/pr`) and notes
/// it as reported. A failed call (GitHub down, the breaker open) leaves the
/// status in the outbox for the next round, so none is lost across restarts
/// of GitHub, of the reporter or of the node, and a build's final status is
/// never followed by its stale `pending`. Answers `(fetch_atom, metrics_atom)`
/// with the client's metrics and the outbox depth; `crash_atom` makes it fail.
caf::actor spawn_status_reporter(caf::actor_system& sys,
                                 status_reporter_config cfg, store_actor store,
                                 std::shared_ptr<github_client> client);

} // namespace conveyor::github
