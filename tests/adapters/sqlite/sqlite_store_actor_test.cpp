// The store actor in a real actor system, driven by a scoped actor.
#include <chrono>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "adapters/sqlite/sqlite_store_actor.hpp"
#include "messages/type_ids.hpp"
#include "tests/adapters/sqlite/test_support.hpp"

using namespace conveyor;
using namespace conveyor::testing;

namespace {

constexpr auto timeout = std::chrono::seconds(30);

struct fixture {
  temp_dir dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  // Sends `xs` to `store` and answers the reply, failing the test on an error.
  template <class T, class... Ts>
  T ask(const store_actor& store, Ts... xs) {
    caf::scoped_actor self{*sys};
    std::optional<T> result;
    std::string error;
    self->request(store, timeout, std::move(xs)...)
      .receive([&result](T& x) { result = std::move(x); },
               [&error](caf::error& err) { error = describe(err); });
    INFO(error);
    REQUIRE(result);
    return std::move(*result);
  }

  // Sends `xs` to `store` and answers the error, failing the test on a reply.
  template <class T, class... Ts>
  caf::error ask_error(const store_actor& store, Ts... xs) {
    caf::scoped_actor self{*sys};
    caf::error result;
    self->request(store, timeout, std::move(xs)...)
      .receive([](T&) { FAIL("expected an error"); },
               [&result](caf::error& err) { result = std::move(err); });
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(fixture, "the store actor answers every request of store_actor") {
  auto store = value_of(spawn_sqlite_store(*sys, dir.file("actor.db")));
  auto created = ask<build_record>(store, create_atom::value,
                                   sample_build("actor-1"));
  CHECK(created.id > 0);
  CHECK(created.number == 1);
  REQUIRE(created.jobs.size() == 2);
  auto retried = ask<build_record>(store, create_atom::value,
                                   sample_build("actor-1"));
  CHECK(retried.id == created.id);
  auto job_id = created.jobs[0].spec.job_id;
  auto job = [job_id](job_state s, int64_t at) {
    return job_state_changed{job_id, 1, s, at, s == job_state::passed ? 0 : -1,
                             ""};
  };
  CHECK(ask<bool>(store, job(job_state::queued, 10)));
  CHECK(ask<bool>(store, job(job_state::received, 20)));
  CHECK_FALSE(ask<bool>(store, job(job_state::received, 21)));
  CHECK(ask<bool>(store, job(job_state::started, 30)));
  CHECK(ask<bool>(store, build_state_changed{created.id, build_state::started,
                                             30}));
  CHECK_FALSE(ask<bool>(store, build_state_changed{created.id,
                                                   build_state::started, 31}));
  std::vector<log_part> parts{{job_id, 1, 1, "world\n", true},
                              {job_id, 1, 0, std::string("hello\0", 6), false},
                              {job_id, 1, 1, "world\n", true}};
  CHECK(ask<int64_t>(store, parts) == 2);
  CHECK(ask<std::string>(store, fetch_atom::value, log_atom::value, job_id,
                         int32_t{1})
        == std::string("hello\0world\n", 12));
  auto done = ask<log_completed>(store, complete_atom::value, job_id,
                                 int32_t{1});
  CHECK(done.parts == 2);
  CHECK(done.bytes == 12);
  CHECK(ask<log_completed>(store, complete_atom::value, job_id, int32_t{1})
          .bytes
        == 12);
  CHECK(ask<bool>(store, job(job_state::passed, 40)));
  CHECK(ask<bool>(store, build_state_changed{created.id, build_state::passed,
                                             41}));
  auto fetched = ask<build_record>(store, fetch_atom::value, build_atom::value,
                                   created.id);
  CHECK(fetched.state == build_state::passed);
  CHECK(fetched.finished_at_ms == 41);
  CHECK(fetched.jobs[0].state == job_state::passed);
  CHECK(fetched.jobs[0].exit_code == 0);
  CHECK(fetched.jobs[0].started_at_ms == 30);
  CHECK(fetched.jobs[0].finished_at_ms == 40);
  CHECK(fetched.jobs[1].state == job_state::created);
  auto unknown = ask_error<build_record>(store, fetch_atom::value,
                                         build_atom::value, int64_t{12345});
  CHECK(is(unknown, errc::unknown_build));
  auto gap = ask_error<log_completed>(store, complete_atom::value, job_id,
                                      int32_t{7});
  CHECK(is(gap, errc::store_failure));
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "the store actor lists, requeues and reports metrics") {
  auto store = value_of(spawn_sqlite_store(*sys, dir.file("actor2.db")));
  using builds = std::vector<build_record>;
  auto first = ask<build_record>(store, create_atom::value,
                                 sample_build("list-1", "octo/a"));
  auto second = ask<build_record>(store, create_atom::value,
                                  sample_build("list-2", "octo/b"));
  auto listed = ask<builds>(store, fetch_atom::value, build_query{});
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].id == second.id);
  CHECK(listed[1].id == first.id);
  CHECK(listed[1].jobs.size() == 2);
  auto in_a = ask<builds>(store, fetch_atom::value,
                          build_query{"", "octo/a", 20, 0});
  REQUIRE(in_a.size() == 1);
  CHECK(in_a[0].id == first.id);
  CHECK(ask<builds>(store, fetch_atom::value,
                    build_query{"", "", 20, second.id})
          .size()
        == 1);
  auto job_id = first.jobs[0].spec.job_id;
  auto job = ask<job_record>(store, fetch_atom::value, job_atom::value, job_id);
  CHECK(job.spec.job_id == job_id);
  CHECK(job.spec.build_id == first.id);
  CHECK(is(ask_error<job_record>(store, fetch_atom::value, job_atom::value,
                                 int64_t{999}),
           errc::unknown_job));
  CHECK(ask<builds>(store, fetch_atom::value, unfinished_atom::value).size()
        == 2);
  CHECK(ask<bool>(store, job_state_changed{job_id, 1, job_state::queued, 10,
                                           -1, ""}));
  std::vector<log_part> parts{{job_id, 1, 0, "one\n", false},
                              {job_id, 1, 1, "two\n", false}};
  CHECK(ask<int64_t>(store, parts) == 2);
  CHECK(ask<std::string>(store, fetch_atom::value, log_atom::value, job_id,
                         int32_t{1}, int32_t{1})
        == "one\n");
  auto requeued = ask<job_record>(store, job_requeue{job_id, 1, 20, "lost"});
  CHECK(requeued.spec.attempt == 2);
  CHECK(requeued.state == job_state::queued);
  auto stale = ask<job_record>(store, job_requeue{job_id, 1, 30, "again"});
  CHECK(stale.spec.attempt == 2);
  CHECK(is(ask_error<job_record>(store, job_requeue{999, 1, 30, "x"}),
           errc::unknown_job));
  CHECK(ask<std::string>(store, fetch_atom::value, log_atom::value, job_id,
                         int32_t{1}, int32_t{10})
        == "one\ntwo\n");
  auto xs = ask<metric_families>(store, fetch_atom::value,
                                 metrics_atom::value);
  CHECK(transactions_of(xs, "create_build") == 2);
  CHECK(transactions_of(xs, "requeue") == 3);
  CHECK(sample_of(xs, "conveyor_store_log_parts_written_total") == 2);
  CHECK(sample_of(xs, "conveyor_store_transaction_seconds", "_count")
        == sample_of(xs, "conveyor_store_transaction_seconds", "_bucket",
                     {{"le", "+Inf"}}));
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
}

TEST_CASE_METHOD(fixture, "spawning on a bad path fails at once") {
  auto err = error_of(spawn_sqlite_store(*sys, "/nonexistent/dir/actor.db"));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("open failed: "));
}
