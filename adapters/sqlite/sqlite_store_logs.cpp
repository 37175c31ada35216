#include "adapters/sqlite/sqlite_store.hpp"

#include <string>
#include <vector>

#include "adapters/sqlite/boundary.hpp"

// The log half of sqlite_store: parts in, aggregated logs out.

namespace conveyor {

namespace {

using sqlite::counted;
using sqlite::failure;
using sqlite::job_context;
using sqlite::transaction;
using sqlite::transaction_kind;

// Reads the completed log of a job attempt into `out`; false if there is none.
bool read_completed(sqlite::database& db, int64_t job_id, int32_t attempt,
                    std::string& out) {
  auto log = db.prepare(
    "SELECT content FROM logs WHERE job_id = ? AND attempt = ?");
  log.bind(1, job_id).bind(2, int64_t{attempt});
  if (!log.step())
    return false;
  out = log.blob(0);
  return true;
}

} // namespace

// -- logs ---------------------------------------------------------------------

caf::expected<int64_t>
sqlite_store::append_log_parts(const std::vector<log_part>& xs) {
  auto context = "parts=" + std::to_string(xs.size());
  if (!xs.empty())
    context += " first " + job_context(xs.front().job_id, xs.front().attempt);
  return counted<int64_t>(metrics_, transaction_kind::log_parts,
                          "append_log_parts", context, [this, &xs] {
    transaction tx{db_, transaction::kind::write};
    auto completed = db_.prepare(
      "SELECT 1 FROM logs WHERE job_id = ? AND attempt = ?");
    auto insert = db_.prepare(
      "INSERT OR IGNORE INTO log_parts (job_id, attempt, number, content, "
      "final) VALUES (?, ?, ?, ?, ?)");
    int64_t added = 0;
    int64_t bytes = 0;
    for (const auto& part : xs) {
      completed.bind(1, part.job_id).bind(2, int64_t{part.attempt});
      auto is_completed = completed.step();
      completed.reset();
      if (is_completed)
        continue;
      insert.bind(1, part.job_id)
        .bind(2, int64_t{part.attempt})
        .bind(3, int64_t{part.number})
        .bind_blob(4, part.content)
        .bind(5, int64_t{part.final});
      insert.run();
      if (db_.changes() > 0) {
        ++added;
        bytes += static_cast<int64_t>(part.content.size());
      }
    }
    tx.commit();
    metrics_.record_log_parts(added, bytes);
    return added;
  });
}

caf::expected<log_completed> sqlite_store::complete_log(int64_t job_id,
                                                        int32_t attempt) {
  return counted<log_completed>(metrics_, transaction_kind::complete_log,
                                "complete_log", job_context(job_id, attempt),
                                [this, job_id, attempt] {
    auto where = [job_id, attempt] {
      return " job " + std::to_string(job_id) + " attempt "
             + std::to_string(attempt);
    };
    transaction tx{db_, transaction::kind::write};
    auto done = db_.prepare(
      "SELECT parts, bytes FROM logs WHERE job_id = ? AND attempt = ?");
    done.bind(1, job_id).bind(2, int64_t{attempt});
    if (done.step())
      return log_completed{job_id, attempt, static_cast<int32_t>(done.int64(0)),
                           done.int64(1)};
    auto parts = db_.prepare(
      "SELECT number, content, final FROM log_parts "
      "WHERE job_id = ? AND attempt = ? ORDER BY number");
    parts.bind(1, job_id).bind(2, int64_t{attempt});
    std::string content;
    int32_t count = 0;
    bool final_seen = false;
    while (parts.step()) {
      auto number = parts.int64(0);
      if (final_seen)
        throw failure("part " + std::to_string(number)
                      + " follows the final part of" + where());
      if (number != count)
        throw failure("part " + std::to_string(count) + " of" + where()
                      + " is missing");
      content += parts.blob(1);
      final_seen = parts.int64(2) != 0;
      ++count;
    }
    if (count == 0)
      throw failure("no parts stored for" + where());
    if (!final_seen)
      throw failure("no final part after part " + std::to_string(count - 1)
                    + " of" + where());
    log_completed result{job_id, attempt, count,
                         static_cast<int64_t>(content.size())};
    db_.prepare("INSERT INTO logs (job_id, attempt, content, parts, bytes) "
                "VALUES (?, ?, ?, ?, ?)")
      .bind(1, job_id)
      .bind(2, int64_t{attempt})
      .bind_blob(3, content)
      .bind(4, int64_t{count})
      .bind(5, result.bytes)
      .run();
    db_.prepare("DELETE FROM log_parts WHERE job_id = ? AND attempt = ?")
      .bind(1, job_id)
      .bind(2, int64_t{attempt})
      .run();
    tx.commit();
    return result;
  });
}

caf::expected<std::string> sqlite_store::fetch_log(int64_t job_id,
                                                   int32_t attempt) {
  return counted<std::string>(metrics_, transaction_kind::query, "fetch_log",
                              job_context(job_id, attempt),
                              [this, job_id, attempt] {
    transaction tx{db_, transaction::kind::read};
    std::string result;
    if (read_completed(db_, job_id, attempt, result))
      return result;
    auto parts = db_.prepare(
      "SELECT content FROM log_parts WHERE job_id = ? AND attempt = ? "
      "ORDER BY number");
    parts.bind(1, job_id).bind(2, int64_t{attempt});
    while (parts.step())
      result += parts.blob(0);
    return result;
  });
}

caf::expected<std::string> sqlite_store::fetch_log(int64_t job_id,
                                                   int32_t attempt,
                                                   int32_t below) {
  auto context = job_context(job_id, attempt) + " below="
                 + std::to_string(below);
  return counted<std::string>(metrics_, transaction_kind::query, "fetch_log",
                              context, [this, job_id, attempt, below] {
    transaction tx{db_, transaction::kind::read};
    std::string result;
    if (read_completed(db_, job_id, attempt, result))
      return result;
    auto parts = db_.prepare(
      "SELECT content FROM log_parts WHERE job_id = ? AND attempt = ? "
      "AND number < ? ORDER BY number");
    parts.bind(1, job_id).bind(2, int64_t{attempt}).bind(3, int64_t{below});
    while (parts.step())
      result += parts.blob(0);
    return result;
  });
}

caf::expected<std::vector<log_progress>> sqlite_store::fetch_open_logs() {
  return counted<std::vector<log_progress>>(metrics_, transaction_kind::query,
                                            "fetch_open_logs", "", [this] {
    transaction tx{db_, transaction::kind::read};
    std::vector<log_progress> result;
    auto parts = db_.prepare("SELECT job_id, attempt, number, final "
                             "FROM log_parts ORDER BY job_id, attempt, number");
    while (parts.step()) {
      auto job_id = parts.int64(0);
      auto attempt = static_cast<int32_t>(parts.int64(1));
      if (result.empty() || result.back().job_id != job_id
          || result.back().attempt != attempt)
        result.push_back({job_id, attempt, {}, -1});
      auto number = static_cast<int32_t>(parts.int64(2));
      result.back().stored.push_back(number);
      if (parts.int64(3) != 0)
        result.back().final_number = number;
    }
    return result;
  });
}

} // namespace conveyor
