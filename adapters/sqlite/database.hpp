#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

/// A thin RAII layer over the SQLite C API, private to the SQLite adapter.
/// Failures throw `sqlite::failure`; the store converts them at its boundary.
namespace conveyor::sqlite {

/// A failed SQLite call or a broken expectation about stored data; `what()`
/// holds SQLite's message or the detail.
class failure : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// A prepared statement. Parameters are bound from 1, columns read from 0.
/// Strings are bound and read with explicit lengths, so any bytes survive.
class statement {
public:
  // -- constructors, destructors, and assignment operators --------------------

  /// Prepares `sql` on `db`; throws `failure` if it does not compile.
  statement(sqlite3* db, const char* sql);

  /// Borrows a statement prepared earlier: when this object goes, the
  /// statement is reset for its next user and `*in_use` is cleared.
  statement(sqlite3* db, sqlite3_stmt* prepared, bool* in_use);

  statement(statement&& other) noexcept;

  statement& operator=(statement&& other) noexcept;

  statement(const statement&) = delete;

  statement& operator=(const statement&) = delete;

  ~statement();

  // -- binding ----------------------------------------------------------------

  /// Binds an integer to parameter `index`.
  statement& bind(int index, int64_t value);

  /// Binds `value` as TEXT (its bytes, unchanged) to parameter `index`.
  statement& bind(int index, const std::string& value);

  /// Binds `value` as a BLOB to parameter `index`.
  statement& bind_blob(int index, const std::string& value);

  /// Binds NULL to parameter `index`.
  statement& bind_null(int index);

  // -- execution --------------------------------------------------------------

  /// Advances to the next row; returns false once there is none.
  bool step();

  /// Runs a statement that returns no rows and resets it for reuse.
  void run();

  /// Resets the statement and clears its bindings for the next use.
  void reset();

  // -- columns of the current row ---------------------------------------------

  /// Returns column `col` as an integer (0 for NULL).
  int64_t int64(int col) const;

  /// Returns column `col` as TEXT bytes ("" for NULL).
  std::string text(int col) const;

  /// Returns column `col` as BLOB bytes ("" for NULL).
  std::string blob(int col) const;

private:
  [[noreturn]] void fail(const char* what) const;

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  bool* in_use_ = nullptr; ///< set while borrowed from a database's cache
};

/// An open connection. One thread at a time may use it.
class database {
public:
  /// Opens or creates the database file at `path` with WAL, synchronous=NORMAL,
  /// foreign keys and a busy timeout; throws `failure` on error.
  static database open(const std::string& path);

  /// Runs one or more statements that return nothing of interest.
  void exec(const char* sql);

  /// Prepares one statement, or reuses the one prepared for the same text if
  /// no one else is using it (parsing SQL is most of a small write's cost).
  statement prepare(const char* sql);

  /// Returns the rowid of the most recent successful INSERT.
  int64_t last_insert_rowid() const;

  /// Returns how many rows the most recent statement changed.
  int64_t changes() const;

  /// True while a transaction is open on the connection.
  bool in_transaction() const;

  /// Returns the path the database was opened with.
  const std::string& path() const {
    return path_;
  }

private:
  struct closer {
    void operator()(sqlite3* db) const;
  };

  database(std::unique_ptr<sqlite3, closer> db, std::string path);

  struct cached_statement {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
    ~cached_statement();
  };

  std::unique_ptr<sqlite3, closer> db_;
  std::string path_;
  // Declared after db_, so the statements are finalized before it closes.
  std::unordered_map<std::string, std::unique_ptr<cached_statement>> cache_;
};

/// A transaction that rolls back unless committed. Write transactions begin
/// IMMEDIATE, so they wait for the write lock up front instead of failing
/// with SQLITE_BUSY halfway through. Inside an open transaction (a batch of
/// writes) it is a SAVEPOINT instead: `commit` releases it, and rolling back
/// undoes only its own changes; the enclosing transaction commits them.
class transaction {
public:
  /// What the transaction is for.
  enum class kind { read, write };

  /// Begins a transaction on `db`.
  transaction(database& db, kind k);

  transaction(const transaction&) = delete;

  transaction& operator=(const transaction&) = delete;

  /// Rolls back if `commit` was not called.
  ~transaction();

  /// Commits; throws `failure` if SQLite refuses.
  void commit();

private:
  database& db_;
  bool nested_;
  bool done_ = false;
};

} // namespace conveyor::sqlite
