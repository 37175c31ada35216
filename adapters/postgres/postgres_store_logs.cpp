#include "adapters/postgres/postgres_store.hpp"

#include <string>
#include <utility>
#include <unordered_set>
#include <vector>

#include <pqxx/binarystring>

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

constexpr prepared_statement completed_log{
  "completed_log",
  "SELECT parts, bytes FROM logs WHERE job_id = $1 AND attempt = $2"};

constexpr prepared_statement completed_content{
  "completed_content",
  "SELECT content FROM logs WHERE job_id = $1 AND attempt = $2"};

// FOR UPDATE: a store completing the same log on another node waits.
constexpr prepared_statement part_numbers{
  "part_numbers",
  "SELECT number, final FROM log_parts WHERE job_id = $1 AND attempt = $2 "
  "ORDER BY number FOR UPDATE"};

// The log is put together on the server: its text never travels for this.
// No row back: another store completed it first.
constexpr prepared_statement aggregate_log{
  "aggregate_log",
  "INSERT INTO logs (job_id, attempt, content, parts, bytes) "
  "SELECT $1::bigint, $2::integer, string_agg(content, ''::bytea ORDER BY "
  "number), count(*), COALESCE(sum(octet_length(content)), 0) "
  "FROM log_parts WHERE job_id = $1::bigint AND attempt = $2::integer "
  "ON CONFLICT DO NOTHING RETURNING parts, bytes"};

constexpr prepared_statement drop_parts{
  "drop_parts", "DELETE FROM log_parts WHERE job_id = $1 AND attempt = $2"};

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
    static constexpr char digits[] = "0123456789abcdef";
    for (unsigned char c : x.content) {
      contents_ += digits[c >> 4];
      contents_ += digits[c & 0x0F];
    }
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
      // The first copy of a part within the batch wins; copies already
      // stored are left out by the statement.
      std::unordered_set<part_key, part_key_hash> seen;
      seen.reserve(xs.size());
      part_arrays arrays;
      int64_t added = 0;
      int64_t bytes = 0;
      auto flush = [&s, &tx, &arrays, &added, &bytes] {
        auto [n, b] = arrays.insert(s, tx);
        added += n;
        bytes += b;
      };
      for (const auto& part : xs) {
        if (!seen.insert(part_key{part.job_id, part.attempt, part.number})
               .second)
          continue;
        arrays.add(part);
        if (arrays.size() == max_parts_per_statement)
          flush();
      }
      if (arrays.size() > 0)
        flush();
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
      auto& s = *s_;
      auto where = [job_id, attempt] {
        return " job " + std::to_string(job_id) + " attempt "
               + std::to_string(attempt);
      };
      auto figures = [job_id, attempt](const pqxx::row& row) {
        return log_completed{job_id, attempt, row[0].as<int32_t>(),
                             row[1].as<int64_t>()};
      };
      auto done = run(s, tx, completed_log, job_id, attempt);
      if (!done.empty())
        return figures(done[0]);
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
      if (count == 0) {
        // Another store may have completed it since we looked.
        auto other = run(s, tx, completed_log, job_id, attempt);
        if (!other.empty())
          return figures(other[0]);
        throw failure("no parts stored for" + where());
      }
      if (!final_seen)
        throw failure("no final part after part " + std::to_string(count - 1)
                      + " of" + where());
      auto stored = run(s, tx, aggregate_log, job_id, attempt);
      if (stored.empty()) {
        auto other = run(s, tx, completed_log, job_id, attempt);
        if (other.empty())
          throw failure("the log of" + where() + " vanished");
        return figures(other[0]);
      }
      run(s, tx, drop_parts, job_id, attempt);
      return figures(stored[0]);
    });
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
