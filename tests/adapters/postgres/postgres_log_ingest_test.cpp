// The fast path of log ingestion into PostgreSQL: parts COPYed straight into
// log_parts, the fallback when some are stored already, and the log sequencer
// over the real store (batches in flight, completion in one statement).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "actors/log_sequencer/log_sequencer_actor.hpp"
#include "adapters/postgres/postgres_store.hpp"
#include "adapters/postgres/postgres_store_actor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"
#include "tests/adapters/postgres/pg_test_database.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

std::vector<log_part> parts_of(int64_t job_id, int32_t first, int32_t count,
                               const std::string& tag, int32_t final_number) {
  std::vector<log_part> result;
  for (auto n = first; n < first + count; ++n)
    result.push_back({job_id, 1, n,
                      tag + " " + std::to_string(n) + " \\x00\t\n",
                      n == final_number});
  return result;
}

std::string text_of(const std::vector<log_part>& xs) {
  std::string result;
  for (const auto& x : xs)
    result += x.content;
  return result;
}

bool is_store_failure(const caf::error& err) {
  return err.category() == errc_category
         && err.code() == static_cast<uint8_t>(errc::store_failure);
}

postgres_store open_store(const pg_database& db) {
  auto store = postgres_store::open(db.url());
  if (!store)
    FAIL(describe(store.error()));
  return std::move(*store);
}

// The message types registered, and two scheduler threads as `serve`.
struct store_config : caf::actor_system_config {
  store_config() {
    register_message_types(*this);
    set("scheduler.max-threads", 2);
  }
};

// A PostgreSQL store actor on a database of its own, stopped at the end.
struct store_actor_fixture {
  pg_database db;
  store_config cfg;
  caf::actor_system sys{cfg};
  store_actor store = spawn_store();
  caf::scoped_actor self{sys};

  ~store_actor_fixture() {
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }

  store_actor spawn_store() {
    auto result = spawn_postgres_store(sys, db.url());
    if (!result)
      FAIL(describe(result.error()));
    return std::move(*result);
  }
};

} // namespace

TEST_CASE("a large batch holding parts stored already stores each part once") {
  pg_database db;
  auto store = open_store(db);
  auto first = parts_of(1, 0, 3000, "first", -1);
  REQUIRE(*store.append_log_parts(first) == 3000);
  // The copies come first: the COPY fails at once.
  auto again = parts_of(1, 0, 3000, "second", -1);
  auto more = parts_of(1, 3000, 3000, "first", 5999);
  auto batch = again;
  batch.insert(batch.end(), more.begin(), more.end());
  REQUIRE(*store.append_log_parts(batch) == 3000);
  // One copy last, after 6000 new parts: the COPY fails at its end.
  auto late = parts_of(2, 0, 6000, "late", 5999);
  late.push_back(first.front());
  REQUIRE(*store.append_log_parts(late) == 6000);
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 12000);
  CHECK(*store.fetch_log(1, 1) == text_of(first) + text_of(more));
  late.pop_back();
  CHECK(*store.fetch_log(2, 1) == text_of(late));
  auto done = store.complete_log(1, 1);
  REQUIRE(done);
  CHECK(done->parts == 6000);
  CHECK(*store.fetch_log(1, 1) == text_of(first) + text_of(more));
  CHECK(db.query_int("SELECT count(*) FROM log_parts WHERE job_id = 1") == 0);
}

TEST_CASE("parts COPYed in binary keep every byte: NUL high bytes empty "
          "and large parts") {
  pg_database db;
  auto store = open_store(db);
  std::string every_byte;
  for (int c = 0; c < 256; ++c)
    every_byte += static_cast<char>(c);
  std::vector<log_part> batch;
  for (int32_t n = 0; n < 100; ++n) {
    std::string content;
    if (n % 10 == 3)
      content = ""; // empty
    else if (n == 50)
      content = std::string(1 << 20, '\0') + every_byte; // past a block
    else
      content = every_byte + std::to_string(n) + "\\\t\r\n";
    batch.push_back({4, 2, n, content, n == 99});
  }
  auto expected = text_of(batch);
  // Shuffled: rows arrive in any order.
  std::mt19937 rng{3};
  std::shuffle(batch.begin(), batch.end(), rng);
  REQUIRE(*store.append_log_parts(batch) == 100);
  CHECK(*store.fetch_log(4, 2) == expected);
  auto done = store.complete_log(4, 2);
  REQUIRE(done);
  CHECK(done->parts == 100);
  CHECK(done->bytes == static_cast<int64_t>(expected.size()));
  CHECK(*store.fetch_log(4, 2) == expected);
}

TEST_CASE("a connection lost in the middle of a binary COPY fails the write "
          "and stores none of it") {
  pg_database db{pg_database::kind::database};
  auto store = open_store(db);
  REQUIRE(*store.append_log_parts(parts_of(1, 0, 100, "before", -1)) == 100);
  // Large enough (about 200 MB) that the COPY is still running when the
  // session is ended.
  std::vector<log_part> big;
  const std::string kilobyte(1024, 'k');
  for (int32_t n = 0; n < 200000; ++n)
    big.push_back({2, 1, n, kilobyte, false});
  std::atomic<bool> ended{false};
  std::thread killer{[&db, &ended] {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      if (db.query_int("SELECT count(*) FROM pg_stat_activity "
                       "WHERE datname = current_database() "
                       "AND application_name = 'conveyor store' "
                       "AND state = 'active' AND query LIKE 'COPY log_parts%'")
          > 0) {
        db.exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() "
                "AND application_name = 'conveyor store'");
        ended = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }};
  auto written = store.append_log_parts(big);
  killer.join();
  REQUIRE(ended);
  REQUIRE_FALSE(written);
  CHECK(is_store_failure(written.error()));
  CHECK_THAT(describe(written.error()),
             Catch::StartsWith("append_log_parts failed: "));
  CHECK_FALSE(store.connected());
  CHECK(db.query_int("SELECT count(*) FROM log_parts WHERE job_id = 2") == 0);
  CHECK(db.query_int("SELECT count(*) FROM log_parts WHERE job_id = 1") == 100);
}

TEST_CASE("parts of completed logs are left out of a batch") {
  pg_database db;
  auto store = open_store(db);
  auto log = parts_of(7, 0, 2, "done", 1);
  REQUIRE(*store.append_log_parts(log) == 2);
  REQUIRE(store.complete_log(7, 1));
  auto batch = parts_of(7, 0, 3, "late", 1);
  auto other = parts_of(8, 0, 4, "open", -1);
  batch.insert(batch.end(), other.begin(), other.end());
  CHECK(*store.append_log_parts(batch) == 4);
  CHECK(db.query_int("SELECT count(*) FROM log_parts WHERE job_id = 7") == 0);
  CHECK(*store.fetch_log(7, 1) == text_of(log));
  CHECK(*store.fetch_log(8, 1) == text_of(other));
  CHECK(*store.append_log_parts(parts_of(7, 0, 2, "late", 1)) == 0);
}

TEST_CASE("a log completed again answers its figures; left-over parts stay "
          "out of it") {
  pg_database db;
  auto store = open_store(db);
  auto log = parts_of(3, 0, 5, "log", 4);
  REQUIRE(*store.append_log_parts(log) == 5);
  auto done = store.complete_log(3, 1);
  REQUIRE(done);
  // A copy stored while the log was being completed (by another node).
  db.exec("INSERT INTO log_parts VALUES (3, 1, 2, 'stray', false)");
  auto again = store.complete_log(3, 1);
  REQUIRE(again);
  CHECK(again->parts == done->parts);
  CHECK(again->bytes == done->bytes);
  CHECK(*store.fetch_log(3, 1) == text_of(log));
}

TEST_CASE_METHOD(store_actor_fixture,
                 "the sequencer stores shuffled, repeated parts of many logs "
                 "in PostgreSQL and completes them") {
  auto seq = spawn_log_sequencer(sys, store);
  self->request(seq, std::chrono::seconds(10), subscribe_atom::value,
                caf::actor_cast<log_listener_actor>(self))
    .receive([](bool) {}, [](caf::error& err) { FAIL(describe(err)); });
  static constexpr int jobs = 30;
  static constexpr int parts = 200;
  std::vector<log_part> all;
  std::vector<log_part> sent;
  for (int j = 1; j <= jobs; ++j) {
    auto log = parts_of(j, 0, parts, "job " + std::to_string(j), parts - 1);
    all.insert(all.end(), log.begin(), log.end());
  }
  sent = all;
  for (size_t i = 0; i < all.size(); i += 5)
    sent.push_back(all[i]);
  std::shuffle(sent.begin(), sent.end(), std::mt19937{3});
  // Sent at once, like many workers: several batches are in flight.
  for (const auto& part : sent)
    self->send(seq, part);
  size_t acked = 0;
  int completed = 0;
  std::vector<int32_t> next(jobs + 1, 0);
  auto out_of_order = 0;
  while (acked < sent.size() || completed < jobs) {
    self->receive(
      [&acked](bool stored) {
        CHECK(stored);
        ++acked;
      },
      [&](const log_part& part) {
        if (part.number != next[static_cast<size_t>(part.job_id)]++)
          ++out_of_order;
      },
      [&completed](const log_completed& done) {
        CHECK(done.parts == parts);
        ++completed;
      },
      [](caf::error& err) { FAIL(describe(err)); },
      caf::after(std::chrono::seconds(60)) >> [] { FAIL("ingestion stalled"); });
  }
  CHECK(out_of_order == 0);
  CHECK(db.query_int("SELECT count(*) FROM logs") == jobs);
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 0);
  CHECK(db.query_int("SELECT sum(bytes) FROM logs")
        == static_cast<int64_t>(text_of(all).size()));
  self->request(store, std::chrono::seconds(10), fetch_atom::value,
                log_atom::value, int64_t{7}, int32_t{1})
    .receive(
      [&all](const std::string& text) {
        CHECK(text == text_of({all.begin() + 6 * parts,
                               all.begin() + 7 * parts}));
      },
      [](caf::error& err) { FAIL(describe(err)); });
  caf::anon_send_exit(seq, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(store_actor_fixture,
                 "a write failing in a group commit leaves the other writes of "
                 "the batch whole") {
  build_record build;
  build.request.request_id = "group-commit";
  build.request.repo = "https://example.com/octo/pg.git";
  build.request.slug = "octo/pg";
  job_record job;
  job.spec.request_id = "group-commit";
  build.jobs.push_back(job);
  // Sent together, so that they share a batch: the completion of a log
  // without parts fails, which runs the batch a second time.
  auto created = self->request(store, std::chrono::seconds(10),
                               create_atom::value, build);
  auto failed = self->request(store, std::chrono::seconds(10),
                              complete_atom::value, int64_t{99}, int32_t{1});
  auto parts = self->request(store, std::chrono::seconds(10),
                             parts_of(5, 0, 100, "kept", 99));
  std::move(created).receive(
    [](const build_record& x) {
      CHECK(x.id > 0);
      CHECK(x.request.request_id == "group-commit");
      REQUIRE(x.jobs.size() == 1);
    },
    [](caf::error& err) { FAIL(describe(err)); });
  std::move(failed).receive(
    [](const log_completed&) { FAIL("completed a log without parts"); },
    [](caf::error& err) { CHECK(is_store_failure(err)); });
  std::move(parts).receive([](int64_t n) { CHECK(n == 100); },
                           [](caf::error& err) { FAIL(describe(err)); });
  CHECK(db.query_int("SELECT count(*) FROM builds") == 1);
  CHECK(db.query_int("SELECT count(*) FROM jobs") == 1);
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 100);
}

TEST_CASE_METHOD(store_actor_fixture,
                 "a COPY meeting stored parts in a group commit reruns the "
                 "batch and stores each part once") {
  auto stored = parts_of(6, 0, 100, "first", -1);
  self->request(store, std::chrono::seconds(10), stored)
    .receive([](int64_t n) { CHECK(n == 100); },
             [](caf::error& err) { FAIL(describe(err)); });
  // Sent together, so that they share a batch: the second COPY meets 100
  // stored parts (its first try has no savepoint), the others are new.
  auto fresh = self->request(store, std::chrono::seconds(10),
                             parts_of(7, 0, 100, "fresh", 99));
  auto again = parts_of(6, 0, 100, "second", -1);
  auto more = parts_of(6, 100, 100, "first", 199);
  again.insert(again.end(), more.begin(), more.end());
  auto mixed = self->request(store, std::chrono::seconds(10), again);
  auto after = self->request(store, std::chrono::seconds(10),
                             parts_of(8, 0, 80, "after", -1));
  std::move(fresh).receive([](int64_t n) { CHECK(n == 100); },
                           [](caf::error& err) { FAIL(describe(err)); });
  std::move(mixed).receive([](int64_t n) { CHECK(n == 100); },
                           [](caf::error& err) { FAIL(describe(err)); });
  std::move(after).receive([](int64_t n) { CHECK(n == 80); },
                           [](caf::error& err) { FAIL(describe(err)); });
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 380);
  CHECK(db.query_int("SELECT count(*) FROM log_parts WHERE job_id = 6 "
                     "AND convert_from(content, 'UTF8') LIKE 'second%'")
        == 0);
}

TEST_CASE("logs completed together are stored in one statement, and one "
          "that is not whole gets its own error and changes nothing") {
  pg_database db;
  auto store = open_store(db);
  std::vector<std::pair<int64_t, int32_t>> keys;
  std::vector<std::string> texts;
  for (int64_t job = 1; job <= 50; ++job) {
    auto parts = parts_of(job, 0, 20, "log", 19);
    if (job == 17)
      parts.erase(parts.begin() + 5); // part 5 missing
    REQUIRE(*store.append_log_parts(parts)
            == static_cast<int64_t>(parts.size()));
    keys.emplace_back(job, 1);
    texts.push_back(text_of(parts));
  }
  // Completed before: answers its figures again.
  auto early = store.complete_log(3, 1);
  REQUIRE(early);
  keys.emplace_back(8, 1); // twice in the group
  auto results = store.complete_logs(keys);
  REQUIRE(results.size() == keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    auto job = keys[i].first;
    if (job == 17) {
      REQUIRE(!results[i]);
      CHECK(is_store_failure(results[i].error()));
      CHECK_THAT(describe(results[i].error()),
                 Catch::Contains("complete_log failed: part 5 of job 17 "
                                 "attempt 1 is missing"));
      continue;
    }
    REQUIRE(results[i]);
    CHECK(results[i]->job_id == job);
    CHECK(results[i]->attempt == 1);
    CHECK(results[i]->parts == 20);
    CHECK(results[i]->bytes
          == static_cast<int64_t>(texts[static_cast<size_t>(job - 1)].size()));
  }
  CHECK(results[2]->bytes == early->bytes);
  CHECK(db.query_int("SELECT count(*) FROM logs") == 49);
  CHECK(db.query_int("SELECT count(*) FROM logs WHERE job_id = 17") == 0);
  // Only the parts of the log that is not whole are left, all of them.
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 19);
  CHECK(db.query_int("SELECT count(*) FROM log_parts WHERE job_id = 17")
        == 19);
  for (int64_t job = 1; job <= 50; ++job)
    CHECK(*store.fetch_log(job, 1) == texts[static_cast<size_t>(job - 1)]);
  // The same error as alone; completed once its part comes.
  auto alone = store.complete_log(17, 1);
  REQUIRE(!alone);
  CHECK(describe(alone.error()) == describe(results[16].error()));
  auto missing = parts_of(17, 5, 1, "log", 19);
  REQUIRE(*store.append_log_parts(missing) == 1);
  auto again = store.complete_logs({{17, 1}, {1, 1}});
  REQUIRE(again.size() == 2);
  REQUIRE(again[0]);
  CHECK(again[0]->parts == 20);
  REQUIRE(again[1]);
  CHECK(again[1]->parts == 20);
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 0);
}

TEST_CASE_METHOD(store_actor_fixture,
                 "completions sent together to the store actor are answered "
                 "each with its own result") {
  std::vector<log_part> parts;
  for (int64_t job = 1; job <= 50; ++job) {
    auto xs = parts_of(job, 0, 10, "log", job == 30 ? -1 : 9);
    parts.insert(parts.end(), xs.begin(), xs.end());
  }
  self->request(store, std::chrono::seconds(10), parts)
    .receive([](int64_t n) { CHECK(n == 500); },
             [](caf::error& err) { FAIL(describe(err)); });
  // Sent together, so that they wait together in the mailbox.
  auto complete = [this](int64_t job) {
    return self->request(store, std::chrono::seconds(10),
                         complete_atom::value, job, int32_t{1});
  };
  std::vector<decltype(complete(1))> handles;
  for (int64_t job = 1; job <= 50; ++job)
    handles.push_back(complete(job));
  int completed = 0;
  int failed = 0;
  for (auto& h : handles)
    std::move(h).receive(
      [&completed](const log_completed& done) {
        CHECK(done.parts == 10);
        CHECK(done.job_id != 30);
        ++completed;
      },
      [&failed](caf::error& err) {
        CHECK(is_store_failure(err));
        CHECK_THAT(describe(err), Catch::Contains("no final part after part 9 "
                                                  "of job 30 attempt 1"));
        ++failed;
      });
  CHECK(completed == 49);
  CHECK(failed == 1);
  CHECK(db.query_int("SELECT count(*) FROM logs") == 49);
  CHECK(db.query_int("SELECT count(*) FROM log_parts") == 10);
}
