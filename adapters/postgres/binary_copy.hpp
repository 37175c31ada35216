#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/dbtransaction>

namespace conveyor::postgres {

// libpqxx 6 sends COPY data only as text lines: binary COPY goes through
// libpq on the transaction's own connection.

/// Rows sent into a table with COPY in PostgreSQL's binary format, within an
/// open transaction: no text to escape on our side, none to parse on the
/// server's (bytea above all: its hex form doubles the bytes and is decoded
/// again). Nothing else may use the transaction until `finish`.
class binary_copy {
public:
  /// Starts `COPY table (columns) FROM STDIN (FORMAT binary)`.
  binary_copy(pqxx::dbtransaction& tx, const std::string& table,
              const std::vector<std::string>& columns);

  /// Ends an unfinished COPY with an error (nothing stored).
  ~binary_copy();

  binary_copy(const binary_copy&) = delete;
  binary_copy& operator=(const binary_copy&) = delete;

  /// Starts a row; `add` each of its fields next, in the columns' order.
  void row();

  void add(int64_t x);
  void add(int32_t x);
  void add(bool x);
  void add_bytes(std::string_view x);

  /// Ends the COPY; throws pqxx::sql_error (with the SQLSTATE) if the server
  /// refused the rows, pqxx::broken_connection if it could not be reached.
  /// Either way no row is stored and the transaction is aborted.
  void finish();

private:
  void put(const void* data, size_t size);
  void flush();

  void* conn_; ///< libpq's PGconn of the transaction
  std::string block_;
  int16_t fields_;
  bool finished_ = false;
};

} // namespace conveyor::postgres
