// Throughput of log parts into PostgreSQL: the store's batch path against raw
// COPY and the other idempotent ways (bench/pg_ingest_bench measures the
// whole path through the sequencer). Hidden ([.bench]): run it by hand with
//   tests/adapters/postgres/pg-server.sh start build/postgres
//   build/tests/adapters/postgres/postgres_store_test "[.bench]"
//   tests/adapters/postgres/pg-server.sh stop build/postgres
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <pqxx/connection>
#include <pqxx/prepared_statement>
#include <pqxx/stream_to>
#include <pqxx/transaction>

#include "adapters/postgres/postgres_store.hpp"
#include "adapters/postgres/postgres_store_actor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"
#include "tests/adapters/postgres/pg_test_database.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

constexpr int rows = 200000;
constexpr int batch = 1000;

// 100 bytes of content, as in a busy build's log.
std::string content_of(int i) {
  auto result = "line " + std::to_string(i) + " ";
  result.resize(99, 'x');
  return result + "\n";
}

std::vector<log_part> parts_of(int first, int n) {
  std::vector<log_part> result;
  for (int i = first; i < first + n; ++i)
    result.push_back(log_part{1 + i / 10000, 1, i % 10000, content_of(i),
                              false});
  return result;
}

std::string hex_bytea(const std::string& x) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string result = "\\x";
  for (unsigned char c : x) {
    result += digits[c >> 4];
    result += digits[c & 0x0F];
  }
  return result;
}

template <class F>
double rate(F fun) {
  auto start = std::chrono::steady_clock::now();
  fun();
  std::chrono::duration<double> s = std::chrono::steady_clock::now() - start;
  return rows / s.count();
}

} // namespace

TEST_CASE("bench: log parts rows per second", "[.bench]") {
  pg_database db;
  auto store = postgres_store::open(db.url());
  REQUIRE(store);
  // 1. The store's path: batches of 1000 are COPYed straight into log_parts
  // (the statement below when a part is stored already).
  auto store_rate = rate([&store] {
    for (int i = 0; i < rows; i += batch)
      REQUIRE(*store->append_log_parts(parts_of(i, batch)) == batch);
  });
  // 2. The same again: every part a duplicate, nothing written.
  auto duplicate_rate = rate([&store] {
    for (int i = 0; i < rows; i += batch)
      REQUIRE(*store->append_log_parts(parts_of(i, batch)) == 0);
  });
  pqxx::connection conn{db.url()};
  {
    pqxx::work tx{conn};
    tx.exec("CREATE TABLE raw_parts (LIKE log_parts INCLUDING ALL)");
    tx.commit();
  }
  // 3. Raw COPY into a table with the same key: not idempotent.
  auto copy_rate = rate([&conn] {
    for (int i = 0; i < rows; i += batch) {
      pqxx::work tx{conn};
      pqxx::stream_to out{tx, "raw_parts",
                          std::vector<std::string>{"job_id", "attempt",
                                                   "number", "content",
                                                   "final"}};
      for (const auto& p : parts_of(i, batch))
        out << std::make_tuple(p.job_id, p.attempt, p.number,
                               hex_bytea(p.content), p.final);
      out.complete();
      tx.commit();
    }
  });
  // 4. One multi-row INSERT ... ON CONFLICT DO NOTHING per batch.
  std::string sql = "INSERT INTO log_parts (job_id, attempt, number, content, "
                    "final) SELECT v.* FROM (VALUES ";
  for (int r = 0; r < batch; ++r) {
    auto p = [r](int k) { return "$" + std::to_string(r * 5 + k); };
    sql += (r > 0 ? ", (" : "(") + p(1) + "::bigint, " + p(2) + "::integer, "
           + p(3) + "::integer, " + p(4) + "::bytea, " + p(5) + "::boolean)";
  }
  sql += ") v (job_id, attempt, number, content, final) WHERE NOT EXISTS "
         "(SELECT 1 FROM logs l WHERE l.job_id = v.job_id AND l.attempt = "
         "v.attempt) ON CONFLICT DO NOTHING";
  {
    pqxx::work tx{conn};
    tx.exec("TRUNCATE log_parts");
    tx.commit();
  }
  conn.prepare("insert_many", sql);
  auto insert_rate = rate([&conn] {
    for (int i = 0; i < rows; i += batch) {
      std::vector<std::string> params;
      params.reserve(batch * 5);
      for (const auto& p : parts_of(i, batch)) {
        params.push_back(std::to_string(p.job_id));
        params.push_back(std::to_string(p.attempt));
        params.push_back(std::to_string(p.number));
        params.push_back(hex_bytea(p.content));
        params.push_back(p.final ? "true" : "false");
      }
      pqxx::work tx{conn};
      REQUIRE(tx.exec_prepared("insert_many",
                               pqxx::prepare::make_dynamic_params(params))
                .affected_rows()
              == batch);
      tx.commit();
    }
  });
  // 5. COPY into a temporary table, then INSERT ... SELECT ON CONFLICT.
  {
    pqxx::work tx{conn};
    tx.exec("TRUNCATE log_parts");
    tx.exec("CREATE TEMPORARY TABLE staging (job_id bigint, attempt integer, "
            "number integer, content bytea, final boolean) "
            "ON COMMIT DELETE ROWS");
    tx.commit();
  }
  auto staging_rate = rate([&conn] {
    for (int i = 0; i < rows; i += batch) {
      pqxx::work tx{conn};
      {
        pqxx::stream_to out{tx, "staging",
                            std::vector<std::string>{"job_id", "attempt",
                                                     "number", "content",
                                                     "final"}};
        for (const auto& p : parts_of(i, batch))
          out << std::make_tuple(p.job_id, p.attempt, p.number,
                                 hex_bytea(p.content), p.final);
        out.complete();
      }
      REQUIRE(tx.exec("INSERT INTO log_parts SELECT s.* FROM staging s "
                      "WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE "
                      "l.job_id = s.job_id AND l.attempt = s.attempt) "
                      "ON CONFLICT DO NOTHING")
                .affected_rows()
              == batch);
      tx.commit();
    }
  });
  // 6. INSERT ... SELECT FROM unnest(arrays) ON CONFLICT: one statement
  // whatever the number of rows.
  {
    pqxx::work tx{conn};
    tx.exec("TRUNCATE log_parts");
    tx.commit();
  }
  conn.prepare("insert_unnest",
               "INSERT INTO log_parts (job_id, attempt, number, content, final) "
               "SELECT p.* FROM unnest($1::bigint[], $2::integer[], "
               "$3::integer[], $4::bytea[], $5::boolean[]) "
               "AS p (job_id, attempt, number, content, final) "
               "WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE l.job_id = p.job_id "
               "AND l.attempt = p.attempt) ON CONFLICT DO NOTHING");
  auto unnest_rate = rate([&conn] {
    for (int i = 0; i < rows; i += batch) {
      std::string ids = "{", attempts = "{", numbers = "{", contents = "{",
                  finals = "{";
      for (const auto& p : parts_of(i, batch)) {
        auto sep = ids.size() > 1 ? "," : "";
        ids += sep + std::to_string(p.job_id);
        attempts += sep + std::to_string(p.attempt);
        numbers += sep + std::to_string(p.number);
        contents += sep;
        contents += "\"\\" + hex_bytea(p.content) + "\"";
        finals += sep;
        finals += p.final ? "t" : "f";
      }
      for (auto* x : {&ids, &attempts, &numbers, &contents, &finals})
        *x += "}";
      pqxx::work tx{conn};
      REQUIRE(tx.exec_prepared("insert_unnest", ids, attempts, numbers,
                               contents, finals)
                .affected_rows()
              == batch);
      tx.commit();
    }
  });
  // 7. Through the actor: messages of 100 parts sent without waiting, group
  // committed.
  {
    pqxx::work tx{conn};
    tx.exec("TRUNCATE log_parts");
    tx.commit();
  }
  caf::actor_system_config cfg;
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  caf::actor_system sys{cfg};
  auto actor = spawn_postgres_store(sys, db.url());
  REQUIRE(actor);
  auto actor_rate = rate([&sys, &actor] {
    caf::scoped_actor self{sys};
    using handle = decltype(self->request(*actor, std::chrono::seconds(60),
                                          std::vector<log_part>{}));
    std::vector<handle> pending;
    for (int i = 0; i < rows; i += 100)
      pending.push_back(
        self->request(*actor, std::chrono::seconds(60), parts_of(i, 100)));
    for (auto& h : pending)
      std::move(h).receive([](int64_t n) { REQUIRE(n == 100); },
                           [](caf::error& err) { FAIL(describe(err)); });
  });
  caf::anon_send_exit(*actor, caf::exit_reason::user_shutdown);
  std::printf("log parts, %d rows of 100 bytes, batches of %d:\n"
              "  store.append_log_parts:                          %9.0f rows/s\n"
              "  store.append_log_parts, all duplicates:          %9.0f rows/s\n"
              "  raw COPY (not idempotent):                       %9.0f rows/s\n"
              "  multi-row INSERT ... VALUES ON CONFLICT:         %9.0f rows/s\n"
              "  COPY to temp table + INSERT SELECT ON CONFLICT:  %9.0f rows/s\n"
              "  INSERT ... SELECT unnest(arrays) ON CONFLICT:    %9.0f rows/s\n"
              "  actor, 100 parts/message, group commit:          %9.0f rows/s\n",
              rows, batch, store_rate, duplicate_rate, copy_rate, insert_rate,
              staging_rate, unnest_rate, actor_rate);
  CHECK(store_rate > 0);
}
