#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <caf/actor.hpp>
#include <caf/fwd.hpp>

#include "messages/metrics.hpp"
#include "messages/store.hpp"

namespace conveyor::github {

class github_client;

/// What the reporter did, kept across its restarts and read by /metrics.
struct status_reporter_stats {
  /// Statuses due at the last round (at most a batch).
  std::atomic<int32_t> backlog{0};
  /// Statuses posted to GitHub.
  std::atomic<uint64_t> sent{0};
};

/// conveyor_github_status_outbox and conveyor_github_statuses_sent_total.
metric_families to_metric_families(const status_reporter_stats& stats);

/// Settings of the commit-status reporter.
struct status_reporter_config {
  /// Base of the status's target URL, e.g. "https://ci.example.com": a
  /// build links to `<public_url>/api/builds/<id>`.
  std::string public_url;
  /// How often the outbox is read when it was empty.
  std::chrono::milliseconds poll_interval{500};
  /// Statuses sent per round at most.
  int32_t batch = 50;
  /// Where it counts what it does; made if empty.
  std::shared_ptr<status_reporter_stats> stats;
};

/// Spawns the commit-status reporter (detached: its calls block). It reads
/// the store's outbox (builds from webhooks whose status is due), posts each
/// status (`pending` while a build is created or started, then `success`,
/// `failure` or `error`; context `conveyor/push` or `conveyor/pr`) and notes
/// it as reported. A failed call (GitHub down, the breaker open) leaves the
/// status in the outbox for the next round, so none is lost across restarts
/// of GitHub, of the reporter or of the node, and a build's final status is
/// never followed by its stale `pending`. Answers `(fetch_atom, metrics_atom)`
/// with the client's metrics and its stats; `crash_atom` makes it fail.
caf::actor spawn_status_reporter(caf::actor_system& sys,
                                 status_reporter_config cfg, store_actor store,
                                 std::shared_ptr<github_client> client);

} // namespace conveyor::github
