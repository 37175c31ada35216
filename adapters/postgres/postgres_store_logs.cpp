#include "adapters/postgres/postgres_store.hpp"

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <unordered_set>
#include <vector>

#include <pqxx/binarystring>
#include <pqxx/except>

#include "adapters/postgres/binary_copy.hpp"
#include "adapters/postgres/session.hpp"

// The log half of postgres_store: parts in, aggregated logs out.

namespace conveyor {

namespace {

using postgres::failure;
using postgres::job_context;
using postgres::prepared_statement;
using postgres::run;
using postgres::transaction_kind;

// Stores the parts given as arrays (one element per part), leaving out the
// ones already stored and those of completed logs; answers the number of
// parts and bytes added. One prepared statement whatever the number of parts.
constexpr prepared_statement insert_log_parts{
  "insert_log_parts",
  "WITH added AS (INSERT INTO log_parts (job_id, attempt, number, content, "
  "final) SELECT p.job_id, p.attempt, p.number, p.content, p.final "
  "FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::bytea[], "
  "$5::boolean[]) AS p (job_id, attempt, number, content, final) "
  "WHERE NOT EXISTS (SELECT 1 FROM logs l "
  "WHERE l.job_id = p.job_id AND l.attempt = p.attempt) "
  "ON CONFLICT DO NOTHING RETURNING octet_length(content) AS bytes) "
  "SELECT count(*), COALESCE(sum(bytes), 0) FROM added"};

// The most parts in one statement: keeps each statement's text (twice the
// parts' size, in hex) within a few MB.
constexpr size_t max_parts_per_statement = 5000;

// The fewest parts COPYed rather than inserted with `insert_log_parts`.
constexpr size_t min_parts_to_copy = 64;

// Which of the given logs (as arrays of job ids and attempts) are completed.
constexpr prepared_statement completed_among{
  "completed_among",
  "SELECT l.job_id, l.attempt FROM logs l JOIN unnest($1::bigint[], "
  "$2::integer[]) AS k (job_id, attempt) ON l.job_id = k.job_id "
  "AND l.attempt = k.attempt"};

constexpr prepared_statement completed_log{
  "completed_log",
  "SELECT parts, bytes FROM logs WHERE job_id = $1 AND attempt = $2"};

constexpr prepared_statement completed_content{
  "completed_content",
  "SELECT content FROM logs WHERE job_id = $1 AND attempt = $2"};

// Completes a log in one statement (one snapshot, one round trip) when its
// parts are whole: numbers 0..n-1, the final part last. Answers one row: the
// figures of the log if it was completed already (done_*), those of the log
// it stored (new_*), and whether the parts were whole. The parts are dropped
// only with the log stored. Two stores completing one log at once meet on the
// logs' primary key: the second waits for the first, then stores and drops
// nothing. (The parts are read without FOR UPDATE: locking them would write
// every row once more.)
constexpr prepared_statement complete_whole_log{
  "complete_whole_log",
  "WITH done AS (SELECT parts, bytes FROM logs "
  "WHERE job_id = $1::bigint AND attempt = $2::integer), "
  "figures AS (SELECT count(*) AS n, min(number) AS lo, max(number) AS hi, "
  "count(*) FILTER (WHERE final) AS finals, "
  "max(number) FILTER (WHERE final) AS final_number, "
  "string_agg(content, ''::bytea ORDER BY number) AS content, "
  "COALESCE(sum(octet_length(content)), 0) AS bytes FROM log_parts "
  "WHERE job_id = $1::bigint AND attempt = $2::integer), "
  "whole AS (SELECT * FROM figures WHERE NOT EXISTS (SELECT 1 FROM done) "
  "AND n > 0 AND lo = 0 AND hi = n - 1 AND finals = 1 AND final_number = hi), "
  "stored AS (INSERT INTO logs (job_id, attempt, content, parts, bytes) "
  "SELECT $1::bigint, $2::integer, content, n, bytes FROM whole "
  "ON CONFLICT DO NOTHING RETURNING parts, bytes), "
  "dropped AS (DELETE FROM log_parts WHERE job_id = $1::bigint "
  "AND attempt = $2::integer AND EXISTS (SELECT 1 FROM stored)) "
  "SELECT (SELECT parts FROM done), (SELECT bytes FROM done), "
  "(SELECT parts FROM stored), (SELECT bytes FROM stored), "
  "EXISTS (SELECT 1 FROM whole)"};

// Completes the whole ones among the given logs (arrays of job ids and
// attempts, without duplicates) in one statement, like `complete_whole_log`
// each: one pass over the parts of all of them, where a statement per log
// visits each of its parts' pages (a shuffled stream spreads a log over
// hundreds). Answers a row per log completed already (done = true) and per
// log it stored (done = false): job id, attempt, parts, bytes. A log without
// a row is not whole, or was completed by another store meanwhile.
constexpr prepared_statement complete_whole_logs{
  "complete_whole_logs",
  "WITH k AS (SELECT * FROM unnest($1::bigint[], $2::integer[]) "
  "AS k (job_id, attempt)), "
  "done AS (SELECT l.job_id, l.attempt, l.parts, l.bytes FROM logs l "
  "JOIN k ON l.job_id = k.job_id AND l.attempt = k.attempt), "
  "todo AS (SELECT * FROM k WHERE NOT EXISTS (SELECT 1 FROM done d "
  "WHERE d.job_id = k.job_id AND d.attempt = k.attempt)), "
  "figures AS (SELECT p.job_id, p.attempt, count(*) AS n, "
  "min(p.number) AS lo, max(p.number) AS hi, "
  "count(*) FILTER (WHERE p.final) AS finals, "
  "max(p.number) FILTER (WHERE p.final) AS final_number, "
  "string_agg(p.content, ''::bytea ORDER BY p.number) AS content, "
  "sum(octet_length(p.content)) AS bytes FROM log_parts p "
  "JOIN todo t ON p.job_id = t.job_id AND p.attempt = t.attempt "
  "GROUP BY p.job_id, p.attempt), "
  "whole AS (SELECT * FROM figures WHERE lo = 0 AND hi = n - 1 "
  "AND finals = 1 AND final_number = hi), "
  "stored AS (INSERT INTO logs (job_id, attempt, content, parts, bytes) "
  "SELECT job_id, attempt, content, n, bytes FROM whole "
  "ON CONFLICT DO NOTHING RETURNING job_id, attempt, parts, bytes), "
  "dropped AS (DELETE FROM log_parts p USING stored s "
  "WHERE p.job_id = s.job_id AND p.attempt = s.attempt) "
  "SELECT job_id, attempt, parts, bytes FROM done "
  "UNION ALL SELECT job_id, attempt, parts, bytes FROM stored"};

// log_parts' size in pages, and the settings `set_join_settings` changes.
constexpr prepared_statement join_settings{
  "join_settings",
  "SELECT pg_relation_size('log_parts') "
  "/ current_setting('block_size')::bigint, "
  "current_setting('enable_nestloop'), current_setting('enable_mergejoin')"};

// Sets enable_nestloop and enable_mergejoin until the transaction ends.
constexpr prepared_statement set_join_settings{
  "set_join_settings",
  "SELECT set_config('enable_nestloop', $1, true), "
  "set_config('enable_mergejoin', $2, true)"};

// `complete_whole_logs` makes one pass over log_parts when the logs number at
// least its pages over this, and at least `min_logs_for_one_pass`: for fewer,
// an index scan per log costs little whatever the table, and the look-up of
// its size and the settings would cost three round trips.
constexpr int64_t pages_per_log = 64;
constexpr size_t min_logs_for_one_pass = 16;

// The parts' numbers in order, to say what keeps a log from being whole.
constexpr prepared_statement part_numbers{
  "part_numbers",
  "SELECT number, final FROM log_parts WHERE job_id = $1 AND attempt = $2 "
  "ORDER BY number"};

constexpr prepared_statement parts_content{
  "parts_content",
  "SELECT string_agg(content, ''::bytea ORDER BY number) FROM log_parts "
  "WHERE job_id = $1 AND attempt = $2"};

constexpr prepared_statement parts_content_below{
  "parts_content_below",
  "SELECT string_agg(content, ''::bytea ORDER BY number) FROM log_parts "
  "WHERE job_id = $1 AND attempt = $2 AND number < $3"};

constexpr prepared_statement open_parts{
  "open_parts",
  "SELECT p.job_id, p.attempt, p.number, p.final FROM log_parts p "
  "WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE l.job_id = p.job_id "
  "AND l.attempt = p.attempt) ORDER BY p.job_id, p.attempt, p.number"};

// Appends bytea's hex form of `x`, without the leading \x.
void append_hex(std::string& out, const std::string& x) {
  static constexpr char digits[] = "0123456789abcdef";
  for (unsigned char c : x) {
    out += digits[c >> 4];
    out += digits[c & 0x0F];
  }
}

// The five arrays of `insert_log_parts`, as PostgreSQL array literals.
class part_arrays {
public:
  void add(const log_part& x) {
    auto sep = ids_.empty() ? "{" : ",";
    ids_ += sep + std::to_string(x.job_id);
    attempts_ += sep + std::to_string(x.attempt);
    numbers_ += sep + std::to_string(x.number);
    // A quoted element reads \\ as one backslash: the element is \x<hex>,
    // bytea's hex form.
    contents_ += sep;
    contents_ += "\"\\\\x";
    append_hex(contents_, x.content);
    contents_ += '"';
    finals_ += sep;
    finals_ += x.final ? 't' : 'f';
    ++size_;
  }

  size_t size() const {
    return size_;
  }

  // Runs `insert_log_parts` with the arrays; answers {parts, bytes} added.
  std::pair<int64_t, int64_t> insert(postgres::session& s,
                                     pqxx::transaction_base& tx) {
    for (auto* x : {&ids_, &attempts_, &numbers_, &contents_, &finals_})
      *x += '}';
    auto row = run(s, tx, insert_log_parts, ids_, attempts_, numbers_,
                   contents_, finals_)[0];
    *this = part_arrays{};
    return {row[0].as<int64_t>(), row[1].as<int64_t>()};
  }

private:
  std::string ids_;
  std::string attempts_;
  std::string numbers_;
  std::string contents_;
  std::string finals_;
  size_t size_ = 0;
};

struct part_key {
  int64_t job_id;
  int32_t attempt;
  int32_t number;

  bool operator==(const part_key& other) const {
    return job_id == other.job_id && attempt == other.attempt
           && number == other.number;
  }
};

struct part_key_hash {
  size_t operator()(const part_key& k) const {
    auto h = std::hash<int64_t>{}(k.job_id);
    h = h * 31 + std::hash<int32_t>{}(k.attempt);
    return h * 31 + std::hash<int32_t>{}(k.number);
  }
};

using part_list = std::vector<const log_part*>;

// The first copy of each part within `xs`.
part_list first_copies(const std::vector<log_part>& xs) {
  std::unordered_set<part_key, part_key_hash> seen;
  seen.reserve(xs.size());
  part_list result;
  result.reserve(xs.size());
  for (const auto& x : xs)
    if (seen.insert(part_key{x.job_id, x.attempt, x.number}).second)
      result.push_back(&x);
  return result;
}

// Leaves out of `xs` the parts of logs already completed: one look-up for
// all the logs of the batch.
void drop_completed(postgres::session& s, pqxx::transaction_base& tx,
                    part_list& xs) {
  if (xs.empty())
    return;
  std::set<std::pair<int64_t, int32_t>> keys;
  for (auto* x : xs)
    keys.emplace(x->job_id, x->attempt);
  std::string ids;
  std::string attempts;
  for (auto& [job_id, attempt] : keys) {
    auto sep = ids.empty() ? "{" : ",";
    ids += sep + std::to_string(job_id);
    attempts += sep + std::to_string(attempt);
  }
  ids += '}';
  attempts += '}';
  auto done = run(s, tx, completed_among, ids, attempts);
  if (done.empty())
    return;
  std::set<std::pair<int64_t, int32_t>> completed;
  for (const auto& row : done)
    completed.emplace(row[0].as<int64_t>(), row[1].as<int32_t>());
  xs.erase(std::remove_if(xs.begin(), xs.end(),
                          [&completed](const log_part* x) {
                            return completed.count({x->job_id, x->attempt})
                                   > 0;
                          }),
           xs.end());
}

// COPYs `xs` straight into log_parts, the fastest way in (a multi-row insert,
// no conflict handling, binary: the content as it is): all or nothing.
// Answers false, with none of them stored, if one of them is stored already
// (or being stored by another transaction): a unique violation. In the
// optimistic try of a batch that violation escapes instead (the batch runs
// again with savepoints): a savepoint of its own would cost a round trip.
bool copy_parts(postgres::session& s, pqxx::transaction_base& tx,
                const part_list& xs) {
  // Writes run in a pqxx::work.
  auto& db = dynamic_cast<pqxx::dbtransaction&>(tx);
  auto guarded = s.batch == nullptr || !s.optimistic;
  if (guarded)
    tx.exec0("SAVEPOINT copy_parts");
  try {
    postgres::binary_copy out{db, "log_parts",
                              {"job_id", "attempt", "number", "content",
                               "final"}};
    for (auto* x : xs) {
      out.row();
      out.add(x->job_id);
      out.add(x->attempt);
      out.add(x->number);
      out.add_bytes(x->content);
      out.add(x->final);
    }
    out.finish();
  } catch (const pqxx::sql_error& e) {
    if (!guarded || e.sqlstate() != "23505") // unique_violation
      throw;
    tx.exec0("ROLLBACK TO SAVEPOINT copy_parts");
    return false;
  }
  return true;
}

// Completes one log with `complete_whole_log`; throws `failure` saying why
// if it is not whole.
log_completed complete_one(postgres::session& s, pqxx::transaction_base& tx,
                           int64_t job_id, int32_t attempt) {
  auto where = [job_id, attempt] {
    return " job " + std::to_string(job_id) + " attempt "
           + std::to_string(attempt);
  };
  auto figures = [job_id, attempt](const pqxx::row& row) {
    return log_completed{job_id, attempt, row[0].as<int32_t>(),
                         row[1].as<int64_t>()};
  };
  for (int round = 0;; ++round) {
    auto fast = run(s, tx, complete_whole_log, job_id, attempt)[0];
    if (!fast[0].is_null())
      return log_completed{job_id, attempt, fast[0].as<int32_t>(),
                           fast[1].as<int64_t>()};
    if (!fast[2].is_null())
      return log_completed{job_id, attempt, fast[2].as<int32_t>(),
                           fast[3].as<int64_t>()};
    // Whole, but another store completed it while we aggregated; or not
    // whole, but completed since our snapshot.
    auto other = run(s, tx, completed_log, job_id, attempt);
    if (!other.empty())
      return figures(other[0]);
    if (fast[4].as<bool>())
      throw failure("the log of" + where() + " vanished");
    // Not whole: say why.
    int32_t count = 0;
    bool final_seen = false;
    for (const auto& row : run(s, tx, part_numbers, job_id, attempt)) {
      auto number = row[0].as<int32_t>();
      if (final_seen)
        throw failure("part " + std::to_string(number)
                      + " follows the final part of" + where());
      if (number != count)
        throw failure("part " + std::to_string(count) + " of" + where()
                      + " is missing");
      final_seen = row[1].as<bool>();
      ++count;
    }
    if (count == 0)
      throw failure("no parts stored for" + where());
    if (!final_seen)
      throw failure("no final part after part " + std::to_string(count - 1)
                    + " of" + where());
    // Whole now: parts were stored since the snapshot. Once more.
    if (round > 0)
      throw failure("the parts of" + where() + " changed while completing");
  }
}

using log_key = std::pair<int64_t, int32_t>;
using completions = std::vector<caf::expected<log_completed>>;

// Completes `keys` in the open transaction: the whole ones with one
// `complete_whole_logs`, the others one by one with `complete_one`, whose
// `failure` becomes that log's answer only (it changed nothing). Any other
// exception (an SQL error, which aborts the transaction) escapes.
completions complete_group(postgres::session& s, pqxx::transaction_base& tx,
                           const std::vector<log_key>& keys) {
  std::set<log_key> distinct{keys.begin(), keys.end()};
  std::string ids;
  std::string attempts;
  for (auto& [job_id, attempt] : distinct) {
    auto sep = ids.empty() ? "{" : ",";
    ids += sep + std::to_string(job_id);
    attempts += sep + std::to_string(attempt);
  }
  ids += '}';
  attempts += '}';
  std::map<log_key, log_completed> answered;
  // With many logs whose parts fill much of the table, one pass over the
  // table (a hash join) beats an index scan per log, each visiting about a
  // page per part; the planner, whose statistics lag behind a table that
  // fills and empties fast, picks the index scans. Then they are turned off
  // for this statement only. (Pages: read from the file's size, exact.)
  std::optional<pqxx::row> plan;
  auto one_pass = false;
  if (distinct.size() >= min_logs_for_one_pass) {
    plan = run(s, tx, join_settings)[0];
    auto pages = (*plan)[0].as<int64_t>();
    one_pass = static_cast<int64_t>(distinct.size()) * pages_per_log >= pages;
  }
  if (one_pass)
    run(s, tx, set_join_settings, "off", "off");
  auto rows = run(s, tx, complete_whole_logs, ids, attempts);
  if (one_pass)
    run(s, tx, set_join_settings, (*plan)[1].as<std::string>(),
        (*plan)[2].as<std::string>());
  for (const auto& row : rows) {
    auto job_id = row[0].as<int64_t>();
    auto attempt = row[1].as<int32_t>();
    answered.emplace(log_key{job_id, attempt},
                     log_completed{job_id, attempt, row[2].as<int32_t>(),
                                   row[3].as<int64_t>()});
  }
  completions result;
  result.reserve(keys.size());
  for (auto& [job_id, attempt] : keys) {
    if (auto i = answered.find({job_id, attempt}); i != answered.end()) {
      result.emplace_back(i->second);
      continue;
    }
    try {
      auto done = complete_one(s, tx, job_id, attempt);
      answered.emplace(log_key{job_id, attempt}, done);
      result.emplace_back(done);
    } catch (const failure&) {
      // As `guarded` answers and logs it for one log.
      auto detail = postgres::describe_exception(std::current_exception(),
                                                 s.url);
      postgres::store_logger()->error("complete_log failed {} error=\"{}\"",
                                      job_context(job_id, attempt), detail);
      result.emplace_back(
        make_error(errc::store_failure, "complete_log failed: " + detail));
    }
  }
  return result;
}

// Reads a bytea column; "" for NULL.
std::string bytes_of(const pqxx::field& f) {
  if (f.is_null())
    return {};
  return pqxx::binarystring{f}.str();
}

} // namespace

// -- logs ---------------------------------------------------------------------

caf::expected<int64_t>
postgres_store::append_log_parts(const std::vector<log_part>& xs) {
  auto context = "parts=" + std::to_string(xs.size());
  if (!xs.empty())
    context += " first " + job_context(xs.front().job_id, xs.front().attempt);
  return postgres::write<int64_t>(
    *s_, transaction_kind::log_parts, "append_log_parts", context,
    [this, &xs](pqxx::transaction_base& tx) {
      auto& s = *s_;
      // The first copy of a part within the batch wins.
      auto parts = first_copies(xs);
      // A COPY costs three or four round trips (the look-up of completed
      // logs, maybe a savepoint, its start and its end), the statement one:
      // small batches go in with the statement.
      auto copy = parts.size() >= min_parts_to_copy;
      if (copy)
        drop_completed(s, tx, parts);
      int64_t added = 0;
      int64_t bytes = 0;
      if (parts.empty()) {
        // Nothing new.
      } else if (copy && copy_parts(s, tx, parts)) {
        added = static_cast<int64_t>(parts.size());
        for (auto* x : parts)
          bytes += static_cast<int64_t>(x->content.size());
      } else {
        // A small batch, or some are stored already (a worker sending a
        // part again): the statement leaves those out, one by one.
        part_arrays arrays;
        auto flush = [&s, &tx, &arrays, &added, &bytes] {
          auto [n, b] = arrays.insert(s, tx);
          added += n;
          bytes += b;
        };
        for (auto* x : parts) {
          arrays.add(*x);
          if (arrays.size() == max_parts_per_statement)
            flush();
        }
        if (arrays.size() > 0)
          flush();
      }
      s.metrics.record_log_parts(added, bytes);
      return added;
    });
}

caf::expected<log_completed> postgres_store::complete_log(int64_t job_id,
                                                          int32_t attempt) {
  return postgres::write<log_completed>(
    *s_, transaction_kind::complete_log, "complete_log",
    job_context(job_id, attempt),
    [this, job_id, attempt](pqxx::transaction_base& tx) {
      return complete_one(*s_, tx, job_id, attempt);
    });
}

std::vector<caf::expected<log_completed>> postgres_store::complete_logs(
  const std::vector<std::pair<int64_t, int32_t>>& keys) {
  if (keys.empty())
    return {};
  auto start = std::chrono::steady_clock::now();
  auto context = "logs=" + std::to_string(keys.size()) + " first "
                 + job_context(keys.front().first, keys.front().second);
  auto group = postgres::guarded<completions>(
    s_->url, "complete_log", context, [this, &keys] {
      auto fun = [this, &keys](pqxx::transaction_base& tx)
        -> caf::expected<completions> { return complete_group(*s_, tx, keys); };
      return postgres::run_write<completions>(*s_, fun);
    });
  std::chrono::duration<double> elapsed = std::chrono::steady_clock::now()
                                          - start;
  completions result;
  if (group)
    result = std::move(*group);
  else
    result.assign(keys.size(), caf::expected<log_completed>{group.error()});
  // Counted as `complete_log` counts each log.
  auto share = elapsed.count() / static_cast<double>(keys.size());
  for (const auto& x : result) {
    auto failed = !x && x.error().category() == errc_category
                  && x.error().code()
                       == static_cast<uint8_t>(errc::store_failure);
    s_->metrics.record_transaction(transaction_kind::complete_log, share,
                                   failed);
  }
  return result;
}

caf::expected<std::string> postgres_store::fetch_log(int64_t job_id,
                                                     int32_t attempt) {
  return postgres::read<std::string>(
    *s_, "fetch_log", job_context(job_id, attempt),
    [this, job_id, attempt](pqxx::transaction_base& tx) {
      auto done = run(*s_, tx, completed_content, job_id, attempt);
      if (!done.empty())
        return bytes_of(done[0][0]);
      return bytes_of(run(*s_, tx, parts_content, job_id, attempt)[0][0]);
    });
}

caf::expected<std::string> postgres_store::fetch_log(int64_t job_id,
                                                     int32_t attempt,
                                                     int32_t below) {
  auto context = job_context(job_id, attempt) + " below="
                 + std::to_string(below);
  return postgres::read<std::string>(
    *s_, "fetch_log", context,
    [this, job_id, attempt, below](pqxx::transaction_base& tx) {
      auto done = run(*s_, tx, completed_content, job_id, attempt);
      if (!done.empty())
        return bytes_of(done[0][0]);
      return bytes_of(
        run(*s_, tx, parts_content_below, job_id, attempt, below)[0][0]);
    });
}

caf::expected<std::vector<log_progress>> postgres_store::fetch_open_logs() {
  return postgres::read<std::vector<log_progress>>(
    *s_, "fetch_open_logs", "", [this](pqxx::transaction_base& tx) {
      std::vector<log_progress> result;
      for (const auto& row : run(*s_, tx, open_parts)) {
        auto job_id = row[0].as<int64_t>();
        auto attempt = row[1].as<int32_t>();
        if (result.empty() || result.back().job_id != job_id
            || result.back().attempt != attempt)
          result.push_back({job_id, attempt, {}, -1});
        auto number = row[2].as<int32_t>();
        result.back().stored.push_back(number);
        if (row[3].as<bool>())
          result.back().final_number = number;
      }
      return result;
    });
}

} // namespace conveyor
