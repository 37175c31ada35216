#pragma once

#include <cstdint>
#include <string>

/// A PostgreSQL database per test, on the throwaway server of the ctest
/// fixture "postgres" (see pg-server.sh and CMakeLists.txt beside this file).
namespace conveyor::testing {

/// Returns the URL of the test server's database "conveyor": the value of
/// $CONVEYOR_TEST_POSTGRES_URL if set, else the file written by
/// `pg-server.sh start <build dir>/postgres`. Throws std::runtime_error,
/// saying how to start the server, if there is neither: the tests fail, they
/// are never skipped.
std::string pg_server_url();

/// Returns `url` with its database name replaced by `name`.
std::string pg_url_with_database(const std::string& url,
                                 const std::string& name);

/// A fresh, empty database of its own for one test, so that tests may run in
/// parallel (ctest -j): by default a schema of the server's database
/// "conveyor" that the URL puts first on the search path (cheap), or a whole
/// database; dropped with everything in it at the end.
class pg_database {
public:
  /// What the test gets.
  enum class kind {
    schema,   ///< its own schema: the URL sets search_path
    database, ///< its own database, e.g. to end every session on it
  };

  /// Creates the schema or database; throws if the server cannot be reached.
  explicit pg_database(kind k = kind::schema);

  pg_database(const pg_database&) = delete;

  pg_database& operator=(const pg_database&) = delete;

  ~pg_database();

  /// Returns the name of the schema or database.
  const std::string& name() const {
    return name_;
  }

  /// Returns the URL that stores connect to.
  const std::string& url() const {
    return url_;
  }

  /// Runs `sql` on a connection of its own; answers the first column of the
  /// first row as an integer (0 if there is no row or it is NULL).
  int64_t query_int(const std::string& sql) const;

  /// Runs `sql` (one or more statements) on a connection of its own.
  void exec(const std::string& sql) const;

private:
  kind kind_;
  std::string server_url_;
  std::string name_;
  std::string url_;
};

} // namespace conveyor::testing
