// The store contract for the actor itself: group commit, metrics, faults and
// a store restarted on the same database.
#include <caf/deep_to_string.hpp>

#include "tests/adapters/store_contract/contract.hpp"

using namespace conveyor;
using namespace conveyor::testing;

STORE_CONTRACT_TEST("writes sent without waiting get their own answers") {
  std::vector<int64_t> jobs;
  for (int i = 0; i < 4; ++i)
    for (const auto& job : create("batch-" + std::to_string(i), "octo/b", 5).jobs)
      jobs.push_back(job.spec.job_id);
  caf::scoped_actor self{*sys};
  using bool_handle = decltype(self->request(store, request_timeout,
                                             job_state_changed{}));
  std::vector<bool_handle> transitions;
  std::vector<bool> expected;
  // Per job: 4 transitions and a duplicate that the one before it in the
  // same batch makes stale.
  for (auto id : jobs)
    for (auto s : {job_state::queued, job_state::received, job_state::received,
                   job_state::started, job_state::passed}) {
      transitions.push_back(self->request(
        store, request_timeout,
        job_state_changed{id, 1, s, 100, s == job_state::passed ? 0 : -1, ""}));
      expected.push_back(transitions.size() % 5 != 3);
    }
  // A failing write amid the others undoes only itself.
  auto parts = self->request(store, request_timeout,
                             std::vector<log_part>{{jobs[0], 1, 0, "x\n", true},
                                                   {jobs[0], 1, 0, "y\n", true}});
  auto gap = self->request(store, request_timeout, complete_atom::value,
                           jobs[1], int32_t{1});
  auto done = self->request(store, request_timeout, complete_atom::value,
                            jobs[0], int32_t{1});
  auto unknown = self->request(store, request_timeout,
                               job_requeue{999999, 1, 10, "lost"});
  auto build = self->request(store, request_timeout,
                             build_state_changed{0, build_state::started, 1});
  for (size_t i = 0; i < transitions.size(); ++i) {
    std::string error;
    std::optional<bool> applied;
    std::move(transitions[i])
      .receive([&applied](bool x) { applied = x; },
               [&error](caf::error& err) { error = describe(err); });
    INFO("transition " << i << " " << error);
    REQUIRE(applied);
    CHECK(*applied == expected[i]);
  }
  std::string error;
  std::move(parts).receive([](int64_t n) { CHECK(n == 1); },
                           [&error](caf::error& err) { error = describe(err); });
  std::move(gap).receive(
    [](log_completed&) { FAIL("completed a log without parts"); },
    [](caf::error& err) { CHECK(is(err, errc::store_failure)); });
  std::move(done).receive([](log_completed& x) { CHECK(x.bytes == 2); },
                          [&error](caf::error& err) { error = describe(err); });
  std::move(unknown).receive(
    [](job_record&) { FAIL("requeued an unknown job"); },
    [](caf::error& err) { CHECK(is(err, errc::unknown_job)); });
  std::move(build).receive([](bool x) { CHECK_FALSE(x); },
                           [&error](caf::error& err) { error = describe(err); });
  CHECK(error.empty());
  for (auto id : jobs)
    CHECK(fetch_job(id).state == job_state::passed);
  CHECK(log_of(jobs[0], 1) == "x\n");
  auto xs = metrics();
  CHECK(sample_of(xs, "conveyor_store_transactions_total", "",
                  {{"kind", "job_transition"}})
        == 100);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "",
                  {{"kind", "complete_log"}})
        == 1);
  CHECK(sample_of(xs, "conveyor_store_errors_total", "",
                  {{"kind", "job_transition"}})
        == 0);
  // Every write of the pipeline went through a batch.
  CHECK(sample_of(xs, "conveyor_store_batch_writes", "_sum") >= 105);
}

STORE_CONTRACT_TEST("a read sees the writes sent before it") {
  auto job_id = create("read-your-writes", "octo/r", 1).jobs[0].spec.job_id;
  caf::scoped_actor self{*sys};
  auto write = self->request(store, request_timeout,
                             job_state_changed{job_id, 1, job_state::queued,
                                               10, -1, ""});
  auto part = self->request(store, request_timeout,
                            std::vector<log_part>{{job_id, 1, 0, "hi\n",
                                                   false}});
  auto read = self->request(store, request_timeout, fetch_atom::value,
                            job_atom::value, job_id);
  auto log = self->request(store, request_timeout, fetch_atom::value,
                           log_atom::value, job_id, int32_t{1});
  std::optional<job_state> state;
  std::optional<std::string> text;
  auto fail = [](caf::error& err) { FAIL(describe(err)); };
  std::move(read).receive([&state](job_record& x) { state = x.state; }, fail);
  std::move(log).receive([&text](std::string& x) { text = x; }, fail);
  CHECK(state == job_state::queued);
  CHECK(text == std::string{"hi\n"});
  std::move(write).receive([](bool x) { CHECK(x); }, fail);
  std::move(part).receive([](int64_t x) { CHECK(x == 1); }, fail);
}

STORE_CONTRACT_TEST("metrics count transactions by kind") {
  auto build = create("metrics");
  CHECK(create("metrics").id == build.id);
  auto id = build.jobs[0].spec.job_id;
  REQUIRE(apply(id, 1, job_state::queued, 10));
  REQUIRE(set_build(build.id, build_state::started, 10));
  REQUIRE(append({{id, 1, 0, "abc", false}, {id, 1, 0, "abc", false}}) == 1);
  REQUIRE(requeue(id, 1, 20, "lost").spec.attempt == 2);
  ask_error<log_completed>(complete_atom::value, id, int32_t{2});
  REQUIRE(ask<bool>(webhook_delivery{"m-1", "push", "", "build", "", 0, 1}));
  fetch_build(build.id);
  auto xs = metrics();
  auto kind = [&xs](const char* name, const char* k) {
    return sample_of(xs, name, "", {{"kind", k}});
  };
  CHECK(kind("conveyor_store_transactions_total", "create_build") == 2);
  CHECK(kind("conveyor_store_transactions_total", "job_transition") == 1);
  CHECK(kind("conveyor_store_transactions_total", "build_transition") == 1);
  CHECK(kind("conveyor_store_transactions_total", "log_parts") == 1);
  CHECK(kind("conveyor_store_transactions_total", "requeue") == 1);
  CHECK(kind("conveyor_store_transactions_total", "complete_log") == 1);
  CHECK(kind("conveyor_store_transactions_total", "delivery") == 1);
  CHECK(kind("conveyor_store_transactions_total", "query") >= 1);
  CHECK(kind("conveyor_store_errors_total", "complete_log") == 1);
  CHECK(kind("conveyor_store_errors_total", "create_build") == 0);
  CHECK(sample_of(xs, "conveyor_store_log_parts_written_total") == 1);
  CHECK(sample_of(xs, "conveyor_store_log_bytes_written_total") == 3);
  CHECK(sample_of(xs, "conveyor_store_transaction_seconds", "_count")
        == sample_of(xs, "conveyor_store_transaction_seconds", "_bucket",
                     {{"le", "+Inf"}}));
  CHECK(sample_of(xs, "conveyor_store_transaction_seconds", "_count") >= 1);
}

STORE_CONTRACT_TEST("an injected crash ends the store and a new one sees every committed write") {
  auto build = create("crash");
  auto id = build.jobs[0].spec.job_id;
  REQUIRE(apply(id, 1, job_state::queued, 10));
  REQUIRE(append(make_parts(id, 1, 2, false)) == 2);
  caf::scoped_actor self{*sys};
  self->monitor(store);
  caf::anon_send(caf::actor_cast<caf::actor>(store), crash_atom::value);
  caf::error reason;
  self->receive([&reason](caf::down_msg& msg) { reason = msg.reason; },
                caf::after(request_timeout) >> [] {});
  CHECK(reason == caf::sec::runtime_error);
  CHECK_THAT(caf::to_string(reason), Catch::Contains("injected fault"));
  store = spawn_store();
  CHECK(fetch_job(id).state == job_state::queued);
  CHECK(log_of(id, 1) == text_of(make_parts(id, 1, 2, false)));
  CHECK(open_logs().size() == 1);
  CHECK(create("after-crash").number == 2);
}

STORE_CONTRACT_TEST("a store stopped and started again finds everything") {
  auto build = create("durable");
  auto id = build.jobs[0].spec.job_id;
  REQUIRE(apply(id, 1, job_state::queued, 1000));
  REQUIRE(set_build(build.id, build_state::started, 900));
  REQUIRE(append({{id, 1, 0, "done\n", true}}) == 1);
  REQUIRE(ask<log_completed>(complete_atom::value, id, int32_t{1}).parts == 1);
  REQUIRE(append({{id, 2, 0, "open", false}}) == 1);
  stop(store);
  store = spawn_store();
  auto fetched = fetch_build(build.id);
  CHECK(fetched.state == build_state::started);
  CHECK(fetched.started_at_ms == 900);
  CHECK(fetched.jobs.at(0).state == job_state::queued);
  CHECK(fetched.request.commit_message == build.request.commit_message);
  CHECK(log_of(id, 1) == "done\n");
  CHECK(log_of(id, 2) == "open");
  CHECK(create("next").number == 2);
}
