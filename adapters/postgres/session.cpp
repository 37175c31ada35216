#include "adapters/postgres/session.hpp"

#include <algorithm>

#include <pqxx/errorhandler>
#include <pqxx/nontransaction>

#include "adapters/postgres/json_codec.hpp"

namespace conveyor::postgres {

// Server notices and warnings go to the store's log instead of nowhere.
struct session::notice_logger : pqxx::errorhandler {
  notice_logger(pqxx::connection_base& conn, std::string url)
    : pqxx::errorhandler(conn), url_(std::move(url)) {
    // nop
  }

  bool operator()(const char msg[]) noexcept override {
    try {
      std::string text = msg;
      while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
      store_logger()->warn("postgres notice=\"{}\"", scrub(text, url_));
    } catch (...) {
      // A notice that cannot be logged is dropped.
    }
    return true;
  }

  std::string url_;
};

session::session(const std::string& url_in)
  : url(url_in), safe_url(redact(url_in)), conn(url_in) {
#if defined(__GNUC__)
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
  // A silent reconnect would lose the session settings and hide the failure
  // from the open batch; the store's actor stops instead and its supervisor
  // restarts it.
  conn.inhibit_reactivation(true);
#if defined(__GNUC__)
#  pragma GCC diagnostic pop
#endif
  notices_ = std::make_unique<notice_logger>(conn, url);
  pqxx::nontransaction tx{conn};
  tx.exec("SET client_min_messages TO warning");
  tx.exec("SET application_name TO 'conveyor store'");
  // The store's statements are short, except the completion of many logs at
  // once, whose cost estimate makes the server compile it (tens of ms each
  // time) for no gain.
  tx.exec("SET jit TO off");
}

session::~session() {
  // The error handler unregisters itself from the connection: it goes first.
  notices_.reset();
}

bool session::is_open() const {
  return conn.is_open();
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

std::string describe_exception(const std::exception_ptr& eptr,
                               const std::string& url) {
  std::string detail;
  try {
    std::rethrow_exception(eptr);
  } catch (const pqxx::broken_connection& e) {
    detail = std::string{"connection to PostgreSQL failed: "} + e.what();
  } catch (const pqxx::in_doubt_error& e) {
    detail = std::string{"connection lost during COMMIT, outcome unknown: "}
             + e.what();
  } catch (const pqxx::sql_error& e) {
    detail = e.what();
    if (!e.sqlstate().empty())
      detail += " [SQLSTATE " + e.sqlstate() + "]";
  } catch (const std::exception& e) {
    detail = e.what();
  } catch (...) {
    detail = "unknown exception";
  }
  // libpq's messages span lines ("ERROR:  ...\nDETAIL:  ..."): one line for
  // the log.
  std::string folded;
  for (auto c : detail) {
    if (c == '\n' || c == '\t' || c == '\r')
      c = ' ';
    if (c == ' ' && !folded.empty() && folded.back() == ' ')
      continue;
    folded += c;
  }
  while (!folded.empty() && folded.back() == ' ')
    folded.pop_back();
  detail = std::move(folded);
  return scrub(std::move(detail), url);
}

void rollback_write(pqxx::transaction_base& batch) noexcept {
  try {
    batch.exec0("ROLLBACK TO SAVEPOINT write; RELEASE SAVEPOINT write");
  } catch (...) {
    // The batch is lost with the connection: its COMMIT fails and says so.
  }
}

void require_text(const char* name, const std::string& x) {
  if (!is_text(x))
    throw failure(std::string{name}
                  + " is not valid UTF-8 text without NUL bytes");
}

} // namespace conveyor::postgres
