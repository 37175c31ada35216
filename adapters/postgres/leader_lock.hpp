#pragma once

#include <memory>
#include <string>

#include <caf/expected.hpp>

/// Leadership among the nodes that share one PostgreSQL database.
namespace conveyor {

/// A session-level PostgreSQL advisory lock that at most one node holds: the
/// node holding it leads (runs the scheduler and the workers), the others
/// stand by. The lock lives as long as the session that took it, so a node
/// that dies, is killed or loses its connection frees it for another at once.
/// Not thread-safe: one thread uses it.
class leader_lock {
public:
  /// Nothing is connected yet. `url` as for the store (may hold a password,
  /// which no error shows); `holder` names this node to the others, e.g.
  /// "conveyor host:port pid 123" (PostgreSQL's application_name, cut to 63
  /// bytes).
  leader_lock(std::string url, std::string holder);
  ~leader_lock();

  leader_lock(const leader_lock&) = delete;
  leader_lock& operator=(const leader_lock&) = delete;

  /// Connects if needed and tries once to take the lock, without waiting:
  /// true if this node holds it now (also if it already did), false if
  /// another session holds it; `errc::store_failure` if the database cannot
  /// be reached (the connection is dropped, the next call reconnects).
  caf::expected<bool> try_acquire();

  /// One round trip on the lock's session: true while this node still holds
  /// the lock, false once the session is gone (and the lock with it).
  bool still_held();

  /// The `holder` text of the node that holds the lock, "" if none does;
  /// `errc::store_failure` if the database cannot be reached.
  caf::expected<std::string> current_holder();

  /// Gives the lock up by closing its session.
  void release();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace conveyor
