#include "adapters/postgres/leader_lock.hpp"

#include <optional>

#include <pqxx/connection>
#include <pqxx/nontransaction>

#include "adapters/postgres/session.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

// The lock's two 32-bit keys: "conv" and the lock's number. Advisory locks
// are per database; two-key ones show in pg_locks with objsubid 2.
constexpr int32_t lock_class = 0x636f6e76;
constexpr int32_t lock_id = 1;

} // namespace

struct leader_lock::impl {
  std::string url;
  std::string holder;
  std::optional<pqxx::connection> conn;
  bool held = false;

  void drop() {
    conn.reset();
    held = false;
  }

  // Drops the connection and describes why it failed.
  caf::error unreachable(const std::exception_ptr& eptr) {
    auto detail = postgres::describe_exception(eptr, url);
    drop();
    return make_error(errc::store_failure,
                      "cannot reach PostgreSQL for the leader lock: "
                        + detail);
  }

  void connect() {
    conn.emplace(url);
#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    // A silent reconnect would open a session without the lock.
    conn->inhibit_reactivation(true);
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif
    pqxx::nontransaction tx{*conn};
    tx.exec("SET application_name TO " + tx.quote(holder.substr(0, 63)));
  }
};

leader_lock::leader_lock(std::string url, std::string holder)
  : impl_(std::make_unique<impl>()) {
  impl_->url = std::move(url);
  impl_->holder = std::move(holder);
}

leader_lock::~leader_lock() = default;

caf::expected<bool> leader_lock::try_acquire() {
  auto& d = *impl_;
  try {
    if (!d.conn || !d.conn->is_open()) {
      d.drop();
      d.connect();
    }
    if (!d.held) {
      pqxx::nontransaction tx{*d.conn};
      auto row = tx.exec1("SELECT pg_try_advisory_lock("
                          + std::to_string(lock_class) + ", "
                          + std::to_string(lock_id) + ")");
      d.held = row[0].as<bool>();
    }
    return d.held;
  } catch (...) {
    return d.unreachable(std::current_exception());
  }
}

bool leader_lock::still_held() {
  auto& d = *impl_;
  if (!d.held || !d.conn)
    return false;
  try {
    pqxx::nontransaction tx{*d.conn};
    tx.exec("SELECT 1");
    return true;
  } catch (...) {
    d.drop();
    return false;
  }
}

caf::expected<std::string> leader_lock::current_holder() {
  auto& d = *impl_;
  try {
    if (!d.conn || !d.conn->is_open()) {
      d.drop();
      d.connect();
    }
    pqxx::nontransaction tx{*d.conn};
    auto rows = tx.exec(
      "SELECT a.application_name FROM pg_locks l "
      "JOIN pg_stat_activity a ON a.pid = l.pid "
      "WHERE l.locktype = 'advisory' AND l.granted "
      "AND l.database = (SELECT oid FROM pg_database "
      "                  WHERE datname = current_database()) "
      "AND l.classid = " + std::to_string(lock_class) + " AND l.objid = "
      + std::to_string(lock_id) + " AND l.objsubid = 2");
    return rows.empty() ? std::string{} : rows[0][0].as<std::string>();
  } catch (...) {
    return d.unreachable(std::current_exception());
  }
}

void leader_lock::release() {
  impl_->drop();
}

} // namespace conveyor
