#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <caf/expected.hpp>

#include "messages/metrics.hpp"

/// Which of the nodes sharing one PostgreSQL database leads. `serve` on
/// PostgreSQL first stands by until it holds the leader lock
/// (adapters/postgres/leader_lock.hpp), then starts its node and watches the
/// lock for as long as it leads.
namespace conveyor {

class leader_lock;

/// How a standby waits.
struct standby_config {
  std::string host = "127.0.0.1";  ///< where the standby answers HTTP
  uint16_t port = 0;               ///< 0 picks a free port
  /// Between two attempts to take the lock.
  std::chrono::milliseconds poll{250};
  /// After the database was unreachable, how long a standby leaves the old
  /// leader to take its lock back before it tries itself: a database restart
  /// drops every session, the leader's too, and should not move the lead.
  std::chrono::milliseconds settle{2000};
};

/// Stands by until this node holds `lock`: answers HTTP meanwhile (GET
/// /healthz 200, GET /readyz 503 with `"role": "standby"` and the leader,
/// /metrics with conveyor_leader 0, anything else 503 naming the leader).
/// Answers the port it listened on, for the node to serve on once the
/// standby server is gone; nullopt if `stop_requested()` turned true first;
/// an error if the port cannot be bound or the database cannot be reached at
/// the first attempt (later outages are waited out).
caf::expected<std::optional<uint16_t>>
stand_by(leader_lock& lock, const standby_config& cfg,
         const std::function<bool()>& stop_requested);

/// Watches the lock of the node that leads, on a thread of its own. When the
/// lock's session is lost (a database restart, a network drop), it takes the
/// lock back as soon as the database answers; if another node holds it by
/// then, it calls `on_lost` once and stops watching: the caller must stop
/// leading at once.
class leadership_watch {
public:
  leadership_watch(leader_lock& lock, std::function<void()> on_lost,
                   std::chrono::milliseconds interval
                   = std::chrono::milliseconds(500));
  ~leadership_watch();

  leadership_watch(const leadership_watch&) = delete;
  leadership_watch& operator=(const leadership_watch&) = delete;

  /// conveyor_leader (1 while this node holds the lock, 0 while it takes it
  /// back) and conveyor_leader_lock_losses_total.
  metric_families metrics() const;

private:
  void run();

  leader_lock& lock_;
  std::function<void()> on_lost_;
  std::chrono::milliseconds interval_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> holding_{true};
  std::atomic<int64_t> losses_{0};
  std::thread thread_;
};

/// This node's name in the lock: "conveyor HOSTNAME pid N".
std::string leader_name();

} // namespace conveyor
