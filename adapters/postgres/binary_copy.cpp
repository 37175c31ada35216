#include "adapters/postgres/binary_copy.hpp"

#include <cstring>

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <pqxx/except>
#include <pqxx/largeobject>

namespace conveyor::postgres {

namespace {

// libpqxx 6 gives libpq's connection of a transaction only to its large
// objects (a protected static of pqxx::largeobject).
struct connection_of : pqxx::largeobject {
  static PGconn* get(const pqxx::dbtransaction& tx) {
    return raw_connection(tx);
  }
};

PGconn* pg(void* conn) {
  return static_cast<PGconn*>(conn);
}

// Flushed to libpq at this size: libpq sends it on at once.
constexpr size_t block_size = 256 * 1024;

constexpr char signature[] = "PGCOPY\n\377\r\n"; // and a NUL: 11 bytes

std::string without_newline(std::string x) {
  while (!x.empty() && x.back() == '\n')
    x.pop_back();
  return x;
}

std::string error_message(PGconn* conn) {
  return without_newline(PQerrorMessage(conn));
}

// Throws what libpqxx would for a failed result `res` of `sql` (freed).
[[noreturn]] void fail(PGconn* conn, PGresult* res, const std::string& sql) {
  std::string message = res ? PQresultErrorMessage(res) : "";
  std::string sqlstate;
  if (res) {
    if (auto* state = PQresultErrorField(res, PG_DIAG_SQLSTATE))
      sqlstate = state;
    PQclear(res);
  }
  if (PQstatus(conn) != CONNECTION_OK)
    throw pqxx::broken_connection{error_message(conn)};
  if (message.empty())
    message = error_message(conn);
  throw pqxx::sql_error{without_newline(message), sql,
                        sqlstate.empty() ? nullptr : sqlstate.c_str()};
}

} // namespace

binary_copy::binary_copy(pqxx::dbtransaction& tx, const std::string& table,
                         const std::vector<std::string>& columns)
  : conn_(connection_of::get(tx)),
    fields_(static_cast<int16_t>(columns.size())) {
  std::string sql = "COPY " + table + " (";
  for (size_t i = 0; i < columns.size(); ++i)
    sql += (i == 0 ? "" : ", ") + columns[i];
  sql += ") FROM STDIN (FORMAT binary)";
  tx.exec0(sql); // the server now waits for the data
  block_.reserve(block_size + 64 * 1024);
  block_.append(signature, sizeof signature); // 11 bytes with the NUL
  int32_t zero = 0;
  put(&zero, 4); // flags
  put(&zero, 4); // header extension length
}

void binary_copy::row() {
  auto n = static_cast<int16_t>(htons(static_cast<uint16_t>(fields_)));
  put(&n, 2);
  if (block_.size() >= block_size)
    flush();
}

void binary_copy::add(int64_t x) {
  auto v = static_cast<uint64_t>(x);
  uint32_t length = htonl(8);
  uint32_t parts[2] = {htonl(static_cast<uint32_t>(v >> 32)),
                       htonl(static_cast<uint32_t>(v))};
  put(&length, 4);
  put(parts, 8);
}

void binary_copy::add(int32_t x) {
  uint32_t length = htonl(4);
  uint32_t v = htonl(static_cast<uint32_t>(x));
  put(&length, 4);
  put(&v, 4);
}

void binary_copy::add(bool x) {
  uint32_t length = htonl(1);
  char v = x ? 1 : 0;
  put(&length, 4);
  put(&v, 1);
}

void binary_copy::add_bytes(std::string_view x) {
  uint32_t length = htonl(static_cast<uint32_t>(x.size()));
  put(&length, 4);
  put(x.data(), x.size());
}

void binary_copy::put(const void* data, size_t size) {
  block_.append(static_cast<const char*>(data), size);
}

void binary_copy::flush() {
  if (block_.empty())
    return;
  if (PQputCopyData(pg(conn_), block_.data(), static_cast<int>(block_.size()))
      != 1)
    throw pqxx::broken_connection{error_message(pg(conn_))};
  block_.clear();
}

void binary_copy::finish() {
  int16_t trailer = -1;
  put(&trailer, 2);
  flush();
  finished_ = true;
  if (PQputCopyEnd(pg(conn_), nullptr) != 1)
    throw pqxx::broken_connection{error_message(pg(conn_))};
  // One result for the COPY, then none.
  PGresult* failed = nullptr;
  while (auto* res = PQgetResult(pg(conn_))) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && !failed)
      failed = res;
    else
      PQclear(res);
  }
  if (failed || PQstatus(pg(conn_)) != CONNECTION_OK)
    fail(pg(conn_), failed, "COPY ... FROM STDIN (FORMAT binary)");
}

binary_copy::~binary_copy() {
  if (finished_)
    return;
  // Left in the middle (an exception): end the COPY with an error, so the
  // connection can take the ROLLBACK.
  if (PQputCopyEnd(pg(conn_), "abandoned by the client") == 1)
    while (auto* res = PQgetResult(pg(conn_)))
      PQclear(res);
}

} // namespace conveyor::postgres
