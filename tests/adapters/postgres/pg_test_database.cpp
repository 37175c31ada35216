#include "tests/adapters/postgres/pg_test_database.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <random>
#include <stdexcept>

#include <pqxx/connection>
#include <pqxx/nontransaction>
#include <pqxx/transaction>
#include <unistd.h>

namespace conveyor::testing {

namespace {

std::string url_file() {
  return std::string{CONVEYOR_BINARY_DIR} + "/postgres/url";
}

} // namespace

std::string pg_server_url() {
  if (auto env = std::getenv("CONVEYOR_TEST_POSTGRES_URL");
      env != nullptr && *env != '\0')
    return env;
  std::ifstream in{url_file()};
  std::string url;
  if (!in || !std::getline(in, url) || url.empty())
    throw std::runtime_error(
      "no PostgreSQL test server: " + url_file()
      + " is missing. Run the tests with ctest (its fixture \"postgres\" "
        "starts one), or start one by hand with "
        "tests/adapters/postgres/pg-server.sh start " CONVEYOR_BINARY_DIR
        "/postgres, or set CONVEYOR_TEST_POSTGRES_URL");
  return url;
}

std::string pg_url_with_database(const std::string& url,
                                 const std::string& name) {
  auto scheme = url.find("://");
  if (scheme == std::string::npos)
    throw std::runtime_error("the test server's URL is not a URI");
  auto slash = url.find('/', scheme + 3);
  auto query = url.find('?', scheme + 3);
  auto tail = query == std::string::npos ? std::string{} : url.substr(query);
  auto authority_end = std::min(slash, query);
  return url.substr(0, authority_end) + "/" + name + tail;
}

pg_database::pg_database(kind k) : kind_(k), server_url_(pg_server_url()) {
  static std::atomic<int> counter{0};
  std::random_device rd;
  name_ = "conveyor_test_" + std::to_string(::getpid()) + "_"
          + std::to_string(counter++) + "_" + std::to_string(rd() % 100000);
  pqxx::connection conn{server_url_};
  pqxx::nontransaction tx{conn};
  if (kind_ == kind::database) {
    url_ = pg_url_with_database(server_url_, name_);
    tx.exec("CREATE DATABASE " + tx.quote_name(name_));
  } else {
    // libpq passes "options" to the server: -c search_path=<schema>.
    url_ = server_url_
           + (server_url_.find('?') == std::string::npos ? "?" : "&")
           + "options=-csearch_path%3D" + name_;
    tx.exec("CREATE SCHEMA " + tx.quote_name(name_));
  }
}

pg_database::~pg_database() {
  try {
    pqxx::connection conn{server_url_};
    pqxx::nontransaction tx{conn};
    if (kind_ == kind::database)
      tx.exec("DROP DATABASE IF EXISTS " + tx.quote_name(name_)
              + " WITH (FORCE)");
    else
      tx.exec("DROP SCHEMA IF EXISTS " + tx.quote_name(name_) + " CASCADE");
  } catch (...) {
    // The server is thrown away with everything in it at the end of the run.
  }
}

int64_t pg_database::query_int(const std::string& sql) const {
  pqxx::connection conn{url_};
  pqxx::work tx{conn};
  auto rows = tx.exec(sql);
  if (rows.empty() || rows[0][0].is_null())
    return 0;
  return rows[0][0].as<int64_t>();
}

void pg_database::exec(const std::string& sql) const {
  pqxx::connection conn{url_};
  pqxx::work tx{conn};
  tx.exec(sql);
  tx.commit();
}

} // namespace conveyor::testing
