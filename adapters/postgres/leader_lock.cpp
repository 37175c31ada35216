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

// The session of the lock's holder in this database (pid, start, name).
const std::string holder_query
  = "SELECT a.pid, a.backend_start::text, coalesce(a.application_name, '') "
    "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.granted "
    "AND l.database = (SELECT oid FROM pg_database "
    "                  WHERE datname = current_database()) "
    "AND l.classid = " + std::to_string(lock_class) + " AND l.objid = "
    + std::to_string(lock_id) + " AND l.objsubid = 2";

// `url` with short timeouts for the lock's connection: a dead network fails
// its calls within seconds (libpq's keepalives and TCP user timeout) instead
// of blocking the watch for the kernel's 15 minutes.
std::string with_short_timeouts(const std::string& url) {
  const char* options = "connect_timeout=3 keepalives=1 keepalives_idle=5 "
                        "keepalives_interval=2 keepalives_count=3 "
                        "tcp_user_timeout=10000";
  auto uri = url.rfind("postgres://", 0) == 0
             || url.rfind("postgresql://", 0) == 0;
  if (!uri)
    return url + " " + options;
  std::string query = options;
  for (auto& c : query)
    if (c == ' ')
      c = '&';
  return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

// Identifies one server session: a pid alone may be reused.
struct session_id {
  int64_t pid = 0;
  std::string started;
};

} // namespace

struct leader_lock::impl {
  std::string url;
  std::string holder;
  std::optional<pqxx::connection> conn;
  bool held = false;
  session_id self;
  /// Our last session that held the lock, if its connection was lost: the
  /// server may keep it (and the lock) until it notices the client is gone.
  std::optional<session_id> lost;

  void drop() {
    if (held)
      lost = self;
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
    conn.emplace(with_short_timeouts(url));
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
    // The server notices a dead leader within seconds too, and frees the
    // lock for a standby.
    tx.exec("SET tcp_keepalives_idle TO 5");
    tx.exec("SET tcp_keepalives_interval TO 2");
    tx.exec("SET tcp_keepalives_count TO 3");
    auto row = tx.exec1("SELECT pg_backend_pid(), backend_start::text FROM "
                        "pg_stat_activity WHERE pid = pg_backend_pid()");
    self = {row[0].as<int64_t>(), row[1].as<std::string>()};
  }

  bool take(pqxx::nontransaction& tx) {
    auto row = tx.exec1("SELECT pg_try_advisory_lock("
                        + std::to_string(lock_class) + ", "
                        + std::to_string(lock_id) + ")");
    return row[0].as<bool>();
  }

  // Ends our own lost session if it still holds the lock and takes the lock
  // once it is gone (within 2 s); false if another node holds it.
  bool take_from_lost_session(pqxx::nontransaction& tx) {
    auto rows = tx.exec(holder_query);
    if (rows.empty() || rows[0][0].as<int64_t>() != lost->pid
        || rows[0][1].as<std::string>() != lost->started)
      return false;
    tx.exec1("SELECT pg_terminate_backend(" + std::to_string(lost->pid)
             + ", 2000)");
    return take(tx);
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
      d.held = d.take(tx) || (d.lost && d.take_from_lost_session(tx));
      d.lost.reset();
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
    auto rows = tx.exec(holder_query);
    return rows.empty() ? std::string{} : rows[0][2].as<std::string>();
  } catch (...) {
    return d.unreachable(std::current_exception());
  }
}

void leader_lock::release() {
  impl_->conn.reset();
  impl_->held = false;
}

} // namespace conveyor
