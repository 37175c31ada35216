#include "adapters/sqlite/database.hpp"

#include <utility>

#include <sqlite3.h>

namespace conveyor::sqlite {

namespace {

constexpr int busy_timeout_ms = 5000;

} // namespace

// -- statement ----------------------------------------------------------------

statement::statement(sqlite3* db, const char* sql) : db_(db), stmt_(nullptr) {
  if (sqlite3_prepare_v2(db_, sql, -1, &stmt_, nullptr) != SQLITE_OK)
    fail("prepare");
}

statement::statement(sqlite3* db, sqlite3_stmt* prepared, bool* in_use)
  : db_(db), stmt_(prepared), in_use_(in_use) {
  *in_use_ = true;
}

statement::statement(statement&& other) noexcept
  : db_(other.db_),
    stmt_(std::exchange(other.stmt_, nullptr)),
    in_use_(std::exchange(other.in_use_, nullptr)) {
  // nop
}

statement& statement::operator=(statement&& other) noexcept {
  std::swap(db_, other.db_);
  std::swap(stmt_, other.stmt_);
  std::swap(in_use_, other.in_use_);
  return *this;
}

statement::~statement() {
  if (in_use_ == nullptr) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  *in_use_ = false;
}

statement& statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK)
    fail("bind");
  return *this;
}

statement& statement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK)
    fail("bind");
  return *this;
}

statement& statement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text64(stmt_, index, value.data(), value.size(),
                          SQLITE_TRANSIENT, SQLITE_UTF8)
      != SQLITE_OK)
    fail("bind");
  return *this;
}

statement& statement::bind_blob(int index, const std::string& value) {
  // data() is never null, so an empty string binds an empty BLOB, not NULL.
  if (sqlite3_bind_blob64(stmt_, index, value.data(), value.size(),
                          SQLITE_TRANSIENT)
      != SQLITE_OK)
    fail("bind");
  return *this;
}

bool statement::step() {
  switch (sqlite3_step(stmt_)) {
    case SQLITE_ROW:
      return true;
    case SQLITE_DONE:
      return false;
    default:
      fail("step");
  }
}

void statement::run() {
  while (step()) {
    // Rows of a statement run for its effect are of no interest.
  }
  reset();
}

void statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int64_t statement::int64(int col) const {
  return sqlite3_column_int64(stmt_, col);
}

std::string statement::text(int col) const {
  auto data = sqlite3_column_text(stmt_, col);
  auto size = sqlite3_column_bytes(stmt_, col);
  if (data == nullptr)
    return {};
  return std::string(reinterpret_cast<const char*>(data),
                     static_cast<size_t>(size));
}

std::string statement::blob(int col) const {
  // SQLite answers a null pointer for an empty BLOB; the size is read after
  // the pointer, as its documentation requires.
  auto data = sqlite3_column_blob(stmt_, col);
  auto size = sqlite3_column_bytes(stmt_, col);
  if (data == nullptr)
    return {};
  return std::string(static_cast<const char*>(data),
                     static_cast<size_t>(size));
}

void statement::fail(const char* what) const {
  std::string detail = what;
  detail += ": ";
  detail += sqlite3_errmsg(db_);
  if (stmt_ != nullptr) {
    // A failed step leaves the statement in an error state; reset it so the
    // enclosing transaction can still roll back cleanly.
    sqlite3_reset(stmt_);
  }
  throw failure(detail);
}

// -- database -----------------------------------------------------------------

void database::closer::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

database::database(std::unique_ptr<sqlite3, closer> db, std::string path)
  : db_(std::move(db)), path_(std::move(path)) {
  // nop
}

database database::open(const std::string& path) {
  sqlite3* raw = nullptr;
  auto rc = sqlite3_open_v2(path.c_str(), &raw,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr);
  std::unique_ptr<sqlite3, closer> handle{raw};
  if (rc != SQLITE_OK) {
    std::string detail = "open " + path + ": ";
    detail += raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc);
    throw failure(detail);
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  database result{std::move(handle), path};
  // The first statement reads the file: a file that is not a database fails here.
  result.exec("PRAGMA journal_mode=WAL;"
              "PRAGMA synchronous=NORMAL;"
              "PRAGMA foreign_keys=ON;");
  return result;
}

void database::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string detail = message != nullptr ? message
                                            : sqlite3_errmsg(db_.get());
    sqlite3_free(message);
    throw failure(detail);
  }
}

database::cached_statement::~cached_statement() {
  sqlite3_finalize(stmt);
}

statement database::prepare(const char* sql) {
  auto& slot = cache_[sql];
  if (!slot) {
    auto fresh = std::make_unique<cached_statement>();
    if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT,
                           &fresh->stmt, nullptr)
        != SQLITE_OK) {
      cache_.erase(sql);
      return statement{db_.get(), sql}; // fails with SQLite's message
    }
    slot = std::move(fresh);
  }
  if (slot->in_use)
    return statement{db_.get(), sql};
  return statement{db_.get(), slot->stmt, &slot->in_use};
}

int64_t database::last_insert_rowid() const {
  return sqlite3_last_insert_rowid(db_.get());
}

int64_t database::changes() const {
  return sqlite3_changes(db_.get());
}

bool database::in_transaction() const {
  return sqlite3_get_autocommit(db_.get()) == 0;
}

// -- transaction --------------------------------------------------------------

transaction::transaction(database& db, kind k)
  : db_(db), nested_(db.in_transaction()) {
  if (nested_)
    db_.exec("SAVEPOINT nested");
  else
    db_.exec(k == kind::write ? "BEGIN IMMEDIATE" : "BEGIN");
}

transaction::~transaction() {
  if (done_)
    return;
  try {
    // ROLLBACK TO keeps the savepoint open: RELEASE it too.
    db_.exec(nested_ ? "ROLLBACK TO nested; RELEASE nested" : "ROLLBACK");
  } catch (const failure&) {
    // SQLite may already have rolled back on its own (e.g. after SQLITE_FULL);
    // there is nothing left to undo.
  }
}

void transaction::commit() {
  db_.exec(nested_ ? "RELEASE nested" : "COMMIT");
  done_ = true;
}

} // namespace conveyor::sqlite
