// Group commit: the store actor's batches of writes, and write_batch alone.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "adapters/sqlite/sqlite_store.hpp"
#include "adapters/sqlite/sqlite_store_actor.hpp"
#include "messages/type_ids.hpp"
#include "tests/adapters/sqlite/test_support.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

constexpr auto timeout = std::chrono::seconds(60);

using response_handle
  = decltype(std::declval<caf::scoped_actor&>()->request(
    std::declval<store_actor&>(), timeout, job_state_changed{}));

struct fixture {
  temp_dir dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::string path;
  store_actor store;

  fixture() {
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    path = dir.file("batch.db");
    store = value_of(spawn_sqlite_store(*sys, path));
  }

  ~fixture() {
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  }

  // Receives the answer to `h`: the value, or the error's text in `error`.
  template <class T, class Handle>
  static std::optional<T> get(Handle& h, std::string& error) {
    std::optional<T> result;
    std::move(h).receive([&result](T& x) { result = std::move(x); },
                         [&error](caf::error& err) { error = describe(err); });
    return result;
  }

  // Receives the error answering `h`, failing the test on a value.
  template <class T, class Handle>
  static caf::error get_error(Handle& h) {
    caf::error result;
    std::move(h).receive([](T&) { FAIL("expected an error"); },
                         [&result](caf::error& err) { result = std::move(err); });
    return result;
  }

  template <class T, class... Ts>
  T ask(Ts... xs) {
    caf::scoped_actor self{*sys};
    auto h = self->request(store, timeout, std::move(xs)...);
    std::string error;
    auto result = get<T>(h, error);
    INFO(error);
    REQUIRE(result);
    return std::move(*result);
  }

  metric_families metrics() {
    return ask<metric_families>(fetch_atom::value, metrics_atom::value);
  }

  // Creates `builds` builds of `jobs` jobs each; answers the job ids.
  std::vector<int64_t> make_jobs(int builds, int jobs,
                                 const std::string& prefix = "batch-") {
    std::vector<int64_t> result;
    for (int i = 0; i < builds; ++i) {
      auto b = ask<build_record>(create_atom::value,
                                 sample_build(prefix + std::to_string(i),
                                              "octo/demo", jobs));
      for (const auto& job : b.jobs)
        result.push_back(job.spec.job_id);
    }
    return result;
  }
};

double batches_of(const metric_families& xs) {
  return sample_of(xs, "conveyor_store_batch_writes", "_count");
}

double errors_of(const metric_families& xs, const std::string& kind) {
  return sample_of(xs, "conveyor_store_errors_total", "", {{"kind", kind}});
}

// Holds SQLite's write lock from a second connection, so that the store's
// writes pile up in its mailbox until `release`.
class write_lock {
public:
  explicit write_lock(const std::string& path)
    : db_(sqlite::database::open(path)) {
    db_.exec("BEGIN IMMEDIATE");
  }

  void release() {
    db_.exec("COMMIT");
  }

  sqlite::database& db() {
    return db_;
  }

private:
  sqlite::database db_;
};

job_state_changed news(int64_t job_id, job_state s) {
  return job_state_changed{job_id, 1, s, 100, s == job_state::passed ? 0 : -1,
                           ""};
}

} // namespace

TEST_CASE_METHOD(fixture, "writes sent without waiting share a few "
                          "transactions and get their own answers") {
  auto jobs = make_jobs(25, 5); // 125 jobs
  REQUIRE(jobs.size() == 125);
  auto before = metrics();
  caf::scoped_actor self{*sys};
  std::vector<response_handle> transitions;
  std::vector<decltype(self->request(store, timeout,
                                     std::vector<log_part>{}))>
    parts;
  std::vector<bool> expected;
  write_lock lock{path};
  // Per job: 4 transitions and a duplicate that the one before it in the
  // same batch makes stale; 16 log parts, one message each.
  for (auto job_id : jobs) {
    for (auto s : {job_state::queued, job_state::received, job_state::received,
                   job_state::started, job_state::passed}) {
      transitions.push_back(self->request(store, timeout, news(job_id, s)));
      expected.push_back(transitions.size() % 5 != 3);
    }
  }
  for (int32_t n = 0; n < 16; ++n)
    for (auto job_id : jobs)
      parts.push_back(self->request(
        store, timeout,
        std::vector<log_part>{{job_id, 1, n, "line " + std::to_string(n) + "\n",
                               n == 15}}));
  lock.release();
  REQUIRE(transitions.size() == 625);
  REQUIRE(parts.size() == 2000);
  for (size_t i = 0; i < transitions.size(); ++i) {
    std::string error;
    auto applied = get<bool>(transitions[i], error);
    INFO("transition " << i << " " << error);
    REQUIRE(applied);
    CHECK(*applied == expected[i]);
  }
  for (auto& h : parts) {
    std::string error;
    auto added = get<int64_t>(h, error);
    INFO(error);
    REQUIRE(added);
    CHECK(*added == 1);
  }
  auto after = metrics();
  CHECK(transactions_of(after, "job_transition")
          - transactions_of(before, "job_transition")
        == 625);
  CHECK(transactions_of(after, "log_parts")
          - transactions_of(before, "log_parts")
        == 2000);
  auto batches = batches_of(after) - batches_of(before);
  // The first write's batch waits for the lock alone (with whatever came
  // with it); the rest was waiting then: batches of at most 1000.
  CHECK(batches >= 3);
  CHECK(batches <= 4);
  CHECK(sample_of(after, "conveyor_store_batch_writes", "_sum")
          - sample_of(before, "conveyor_store_batch_writes", "_sum")
        == 2625);
  CHECK(sample_of(after, "conveyor_store_log_parts_written_total") == 2000);
  auto job = ask<job_record>(fetch_atom::value, job_atom::value, jobs.back());
  CHECK(job.state == job_state::passed);
  CHECK(ask<std::string>(fetch_atom::value, log_atom::value, jobs.front(),
                         int32_t{1})
          .size()
        == 10 * 7 + 6 * 8);
  CHECK(query_int(path, "SELECT COUNT(*) FROM job_transitions") == 125 * 5);
}

TEST_CASE_METHOD(fixture, "a failing write in a batch answers its own error "
                          "and leaves the others alone") {
  auto jobs = make_jobs(1, 2);
  auto a = jobs[0];
  auto b = jobs[1];
  caf::scoped_actor self{*sys};
  write_lock lock{path};
  // complete_log of job b fails after it stored the log: its savepoint
  // undoes that.
  lock.db().exec("CREATE TRIGGER keep_parts BEFORE DELETE ON log_parts "
                 "BEGIN SELECT RAISE(ABORT, 'parts are kept'); END");
  // A first write waits for the lock, so that the ones after it pile up and
  // share the next batch.
  auto h0 = self->request(store, timeout, news(a, job_state::created));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  auto h1 = self->request(store, timeout, news(a, job_state::queued));
  auto h2 = self->request(store, timeout,
                          std::vector<log_part>{{b, 1, 0, "only\n", true}});
  auto h3 = self->request(store, timeout, complete_atom::value, b, int32_t{1});
  auto h4 = self->request(store, timeout, job_requeue{9999, 1, 10, "lost"});
  auto h5 = self->request(store, timeout, complete_atom::value, a, int32_t{1});
  auto h6 = self->request(store, timeout, news(a, job_state::received));
  auto h7 = self->request(store, timeout, news(b, job_state::received));
  lock.release();
  std::string error;
  CHECK(get<bool>(h0, error) == false);
  CHECK(get<bool>(h1, error) == true);
  CHECK(get<int64_t>(h2, error) == 1);
  auto failed = get_error<log_completed>(h3);
  CHECK(is(failed, errc::store_failure));
  CHECK_THAT(describe(failed), Catch::Contains("parts are kept"));
  CHECK(is(get_error<job_record>(h4), errc::unknown_job));
  CHECK(is(get_error<log_completed>(h5), errc::store_failure));
  CHECK(get<bool>(h6, error) == true);
  CHECK(get<bool>(h7, error) == false); // b was never queued
  INFO(error);
  CHECK(query_int(path, "SELECT COUNT(*) FROM logs") == 0);
  CHECK(query_int(path, "SELECT COUNT(*) FROM log_parts") == 1);
  auto xs = metrics();
  CHECK(errors_of(xs, "complete_log") == 2);
  CHECK(errors_of(xs, "requeue") == 0);
  CHECK(errors_of(xs, "job_transition") == 0);
  CHECK(ask<job_record>(fetch_atom::value, job_atom::value, a).state
        == job_state::received);
}

TEST_CASE_METHOD(fixture, "a read sees the writes sent before it") {
  auto job_id = make_jobs(1, 1).front();
  caf::scoped_actor self{*sys};
  auto write = self->request(store, timeout, news(job_id, job_state::queued));
  auto part = self->request(store, timeout,
                            std::vector<log_part>{{job_id, 1, 0, "hi\n",
                                                   false}});
  auto read = self->request(store, timeout, fetch_atom::value, job_atom::value,
                            job_id);
  auto log = self->request(store, timeout, fetch_atom::value, log_atom::value,
                           job_id, int32_t{1});
  std::string error;
  auto job = get<job_record>(read, error); // before the writes' answers
  INFO(error);
  REQUIRE(job);
  CHECK(job->state == job_state::queued);
  CHECK(get<std::string>(log, error) == std::string{"hi\n"});
  CHECK(get<bool>(write, error) == true);
  CHECK(get<int64_t>(part, error) == 1);
}

TEST_CASE_METHOD(fixture, "writes held when the store stops are committed") {
  auto job_id = make_jobs(1, 1).front();
  caf::scoped_actor self{*sys};
  auto write = self->request(store, timeout, news(job_id, job_state::queued));
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  std::string error;
  auto applied = get<bool>(write, error);
  // The exit may overtake the write: then it is refused, never half done.
  if (applied) {
    CHECK(*applied);
    CHECK(query_int(path, "SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
          == 1);
  } else {
    CHECK(query_int(path, "SELECT COUNT(*) FROM jobs WHERE state = 'queued'")
          == 0);
  }
}

// -- write_batch alone --------------------------------------------------------

TEST_CASE("write_batch commits its writes once, each with its own answer") {
  temp_dir dir;
  auto path = dir.file("direct.db");
  auto store = value_of(sqlite_store::open(path));
  auto build = value_of(store.create_build(sample_build("direct-1")));
  auto job_id = build.jobs[0].spec.job_id;
  std::vector<caf::expected<bool>> answers;
  std::optional<caf::expected<log_completed>> completed;
  auto err = store.write_batch(4, [&](size_t i) {
    if (i == 0)
      answers.push_back(store.apply(news(job_id, job_state::queued)));
    else if (i == 1)
      completed = store.complete_log(job_id, 1); // no parts: fails
    else if (i == 2)
      answers.push_back(store.apply(news(job_id, job_state::queued)));
    else
      answers.push_back(store.apply(news(job_id, job_state::received)));
    // Nothing is visible to others before the COMMIT.
    CHECK(query_int(path, "SELECT COUNT(*) FROM jobs WHERE state = 'created'")
          == 2);
  });
  CHECK_FALSE(err);
  REQUIRE(answers.size() == 3);
  CHECK(value_of(std::move(answers[0])));
  CHECK_FALSE(value_of(std::move(answers[1])));
  CHECK(value_of(std::move(answers[2])));
  REQUIRE(completed);
  CHECK(is(error_of(std::move(*completed)), errc::store_failure));
  CHECK(value_of(store.fetch_job(job_id)).state == job_state::received);
  auto xs = store.metrics();
  CHECK(transactions_of(xs, "job_transition") == 3);
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_count") == 1);
  CHECK(sample_of(xs, "conveyor_store_transaction_seconds", "_count") == 2);
}

TEST_CASE("a batch that SQLite abandons stores nothing and answers an error") {
  temp_dir dir;
  auto path = dir.file("abandoned.db");
  auto store = value_of(sqlite_store::open(path));
  auto build = value_of(store.create_build(sample_build("direct-2")));
  auto job_id = build.jobs[0].spec.job_id;
  {
    auto db = sqlite::database::open(path);
    db.exec("CREATE TRIGGER give_up BEFORE INSERT ON log_parts "
            "BEGIN SELECT RAISE(ROLLBACK, 'give up'); END");
  }
  size_t applied = 0;
  auto err = store.write_batch(3, [&](size_t i) {
    ++applied;
    if (i == 0)
      CHECK(value_of(store.apply(news(job_id, job_state::queued))));
    else
      store.append_log_parts({{job_id, 1, 0, "x", false}});
  });
  REQUIRE(err);
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("write_batch failed: "));
  CHECK(applied == 2); // the write after the abandon did not run
  CHECK(value_of(store.fetch_job(job_id)).state == job_state::created);
  auto xs = store.metrics();
  CHECK(errors_of(xs, "job_transition") == 1);
  CHECK(errors_of(xs, "log_parts") == 1);
}

// -- benchmark (hidden: run with "[.bench]") ----------------------------------

TEST_CASE_METHOD(fixture, "bench: 10,000 job transitions via the actor",
                 "[.bench]") {
  auto jobs = make_jobs(250, 10); // 2,500 jobs, 4 transitions each
  caf::scoped_actor self{*sys};
  auto start = std::chrono::steady_clock::now();
  std::vector<response_handle> hs;
  for (auto s : {job_state::queued, job_state::received, job_state::started,
                 job_state::passed})
    for (auto job_id : jobs)
      hs.push_back(self->request(store, timeout, news(job_id, s)));
  size_t applied = 0;
  for (auto& h : hs) {
    std::string error;
    applied += get<bool>(h, error).value_or(false) ? 1 : 0;
  }
  std::chrono::duration<double> pipelined = std::chrono::steady_clock::now()
                                            - start;
  CHECK(applied == 10000);
  // One at a time: every write is its own batch.
  auto xs = metrics();
  auto batches = batches_of(xs);
  auto seconds = sample_of(xs, "conveyor_store_transaction_seconds", "_sum");
  auto more = make_jobs(250, 10, "more-");
  start = std::chrono::steady_clock::now();
  applied = 0;
  for (auto s : {job_state::queued, job_state::received, job_state::started,
                 job_state::passed})
    for (auto job_id : more)
      applied += ask<bool>(news(job_id, s)) ? 1 : 0;
  std::chrono::duration<double> sequential = std::chrono::steady_clock::now()
                                             - start;
  CHECK(applied == 10000);
  std::printf("bench: 10000 transitions pipelined %.3f s (store: %.0f "
              "batches, %.3f s in transactions), one at a time %.3f s\n",
              pipelined.count(), batches, seconds, sequential.count());
}
