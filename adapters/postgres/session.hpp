#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <caf/expected.hpp>
#include <pqxx/connection>
#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/result>
#include <pqxx/transaction>
#include <spdlog/spdlog.h>

#include "adapters/postgres/connection_url.hpp"
#include "adapters/postgres/failure.hpp"
#include "adapters/postgres/store_logger.hpp"
#include "adapters/postgres/store_metrics.hpp"
#include "messages/error.hpp"

/// The connection of a PostgreSQL store and the boundary where libpqxx's
/// exceptions stop. Private to the PostgreSQL adapter; the only header of
/// it that includes libpqxx, apart from the .cpp files.
namespace conveyor::postgres {

/// A statement prepared on first use: its name on the connection and its SQL.
struct prepared_statement {
  const char* name;
  const char* sql;
};

/// Reads see one snapshot and never write: they run in a nontransaction that
/// sends BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY itself, one round trip
/// where pqxx::transaction<repeatable_read, read_only> takes two (BEGIN, then
/// SET TRANSACTION).
constexpr const char* begin_read = "BEGIN ISOLATION LEVEL REPEATABLE READ "
                                   "READ ONLY";

/// One connection and what lives on it: the prepared statements and the open
/// batch transaction if any. Not thread-safe: it belongs to one actor.
struct session {
  /// Connects to `url` and sets the session up. The connection never
  /// reconnects by itself: once it is lost, every operation fails and
  /// `is_open()` is false. Throws libpqxx's exceptions.
  explicit session(const std::string& url);

  ~session();

  /// True while the connection is usable.
  bool is_open() const;

  const std::string url;      ///< as given: holds the password, never shown
  const std::string safe_url; ///< the password replaced by ***
  pqxx::connection conn;
  pqxx::work* batch = nullptr; ///< the open batch transaction, if any
  /// True while the open batch runs its writes without a savepoint each
  /// (its first try); a write that fails then sets `batch_failed`.
  bool optimistic = false;
  bool batch_failed = false; ///< a write of the optimistic try failed
  store_metrics metrics;

private:
  struct notice_logger;
  std::unique_ptr<notice_logger> notices_;
};

/// Runs `st` in `tx` with the parameters `xs`, preparing it on first use.
template <class... Ts>
pqxx::result run(session& s, pqxx::transaction_base& tx,
                 const prepared_statement& st, Ts&&... xs) {
  // Registers the definition; libpqxx prepares it on the server when it is
  // first executed. Repeating the same definition is a no-op.
  s.conn.prepare(st.name, st.sql);
  return tx.exec_prepared(st.name, std::forward<Ts>(xs)...);
}

/// Returns ms since the epoch.
int64_t now_ms();

/// Returns `at_ms`, or now if it is 0.
inline int64_t or_now(int64_t at_ms) {
  return at_ms != 0 ? at_ms : now_ms();
}

/// Returns the text of the exception `eptr` for a store error: SQLSTATE
/// included, newlines folded, every secret of `url` replaced by ***.
std::string describe_exception(const std::exception_ptr& eptr,
                               const std::string& url);

/// Runs `fun` (answering a `T` or a `caf::expected<T>`) and turns any
/// exception into `errc::store_failure` "<what> failed: <detail>", logged with
/// `context` (key=value fields). The one place where the exceptions of
/// libpqxx, nlohmann and the allocator stop. The detail never holds the
/// password of `url`.
template <class T, class F>
caf::expected<T> guarded(const std::string& url, const char* what,
                         const std::string& context, F fun) {
  std::string detail;
  try {
    return fun();
  } catch (...) {
    detail = describe_exception(std::current_exception(), url);
  }
  store_logger()->error("{} failed {} error=\"{}\"", what, context, detail);
  return make_error(errc::store_failure,
                    std::string{what} + " failed: " + detail);
}

/// Runs `fun` like `guarded` and records it in the session's metrics as one
/// transaction of kind `k` with its duration; it failed if it answers
/// `errc::store_failure`.
template <class T, class F>
caf::expected<T> counted(session& s, transaction_kind k, const char* what,
                         const std::string& context, F fun) {
  auto start = std::chrono::steady_clock::now();
  auto result = guarded<T>(s.url, what, context, std::move(fun));
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now()
                                          - start;
  auto failed = !result && result.error().category() == errc_category
                && result.error().code()
                     == static_cast<uint8_t>(errc::store_failure);
  s.metrics.record_transaction(k, elapsed.count(), failed);
  return result;
}

/// Rolls the open batch back to the savepoint of the current write and
/// releases it; errors (a lost connection) are left for the COMMIT to report.
void rollback_write(pqxx::transaction_base& batch) noexcept;

/// Runs the write `fun(pqxx::transaction_base&)` in a transaction of its own,
/// or in a savepoint of the open batch: committed (released) if it answers a
/// value, rolled back if it answers an error or throws. In the optimistic try
/// of a batch it runs without a savepoint and a failure sets
/// `s.batch_failed`: the batch is then rolled back and run again. Neither
/// guarded nor counted (see `write`).
template <class T, class F>
caf::expected<T> run_write(session& s, F& fun) {
  if (s.batch == nullptr) {
    pqxx::work tx{s.conn};
    caf::expected<T> result = fun(tx);
    if (result)
      tx.commit();
    return result;
  }
  auto& tx = *s.batch;
  if (s.optimistic) {
    // No savepoint (two round trips less): the first write that fails
    // spoils the try, and the batch runs again with a savepoint per write.
    try {
      caf::expected<T> result = fun(tx);
      if (!result)
        s.batch_failed = true;
      return result;
    } catch (...) {
      s.batch_failed = true;
      throw;
    }
  }
  // Savepoints by hand: libpqxx 6's subtransaction begins lazily and not
  // for prepared statements, so it would never set one.
  tx.exec0("SAVEPOINT write");
  std::optional<caf::expected<T>> result;
  try {
    result.emplace(fun(tx));
  } catch (...) {
    rollback_write(tx);
    throw;
  }
  if (*result)
    tx.exec0("RELEASE SAVEPOINT write");
  else
    rollback_write(tx);
  return std::move(*result);
}

/// Runs the write `fun(pqxx::transaction_base&)` as `run_write` does, guarded
/// and counted like `counted`.
template <class T, class F>
caf::expected<T> write(session& s, transaction_kind k, const char* what,
                       const std::string& context, F fun) {
  return counted<T>(s, k, what, context, [&s, &fun]() -> caf::expected<T> {
    return run_write<T>(s, fun);
  });
}

/// Runs the read `fun(pqxx::transaction_base&)` in a read-only transaction
/// with one snapshot. Counted as a query.
template <class T, class F>
caf::expected<T> read(session& s, const char* what, const std::string& context,
                      F fun) {
  return counted<T>(s, transaction_kind::query, what, context,
                    [&s, &fun]() -> caf::expected<T> {
                      pqxx::nontransaction tx{s.conn};
                      tx.exec0(begin_read);
                      std::optional<caf::expected<T>> result;
                      try {
                        result.emplace(fun(tx));
                      } catch (...) {
                        try {
                          tx.exec0("ROLLBACK");
                        } catch (...) {
                          // The connection is lost: so is the transaction.
                        }
                        throw;
                      }
                      tx.exec0("COMMIT");
                      return std::move(*result);
                    });
}

/// Runs the read `fun(pqxx::transaction_base&)`, which sends exactly one
/// statement, with no BEGIN and COMMIT around it: a single statement sees one
/// snapshot by itself, so `read`'s transaction would only add two round
/// trips. Counted as a query, like `read`.
template <class T, class F>
caf::expected<T> read_statement(session& s, const char* what,
                                const std::string& context, F fun) {
  return counted<T>(s, transaction_kind::query, what, context,
                    [&s, &fun]() -> caf::expected<T> {
                      pqxx::nontransaction tx{s.conn};
                      return fun(tx);
                    });
}

/// Returns "job_id=<id> attempt=<n>" for log lines.
inline std::string job_context(int64_t job_id, int32_t attempt) {
  return "job_id=" + std::to_string(job_id)
         + " attempt=" + std::to_string(attempt);
}

/// Throws `failure` unless `x` can go into a text column (valid UTF-8, no
/// NUL): `name` says which value it is.
void require_text(const char* name, const std::string& x);

} // namespace conveyor::postgres
