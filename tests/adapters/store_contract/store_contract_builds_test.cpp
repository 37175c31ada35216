// The store contract for builds, jobs and webhook deliveries.
#include <set>
#include <thread>

#include <caf/deep_to_string.hpp>

#include "tests/adapters/store_contract/contract.hpp"

using namespace conveyor;
using namespace conveyor::testing;

// -- create -------------------------------------------------------------------

STORE_CONTRACT_TEST("create stores every field and fills in ids and numbers") {
  auto x = sample_build("round-trip", "octo/demo", 3);
  x.state = build_state::errored;
  x.started_at_ms = 1700000000100;
  x.finished_at_ms = 1700000000200;
  x.request.delivery_id = "delivery-1";
  x.jobs[1].state = job_state::canceled;
  x.jobs[1].exit_code = 3;
  x.jobs[1].reason = std::string("config\0error \xff", 14);
  x.jobs[1].started_at_ms = 1700000000300;
  x.jobs[1].finished_at_ms = 1700000000400;
  x.jobs[1].spec.attempt = 2;
  x.jobs[1].spec.tag = "v1.0";
  x.jobs[2].spec.index = 0; // the store gives it its position
  auto stored = ask<build_record>(create_atom::value, x);
  CHECK(stored.id > 0);
  CHECK(stored.number == 1);
  REQUIRE(stored.jobs.size() == 3);
  auto expected = x;
  expected.id = stored.id;
  expected.number = 1;
  expected.jobs[2].spec.index = 3;
  std::set<int64_t> job_ids;
  for (size_t i = 0; i < expected.jobs.size(); ++i) {
    expected.jobs[i].spec.job_id = stored.jobs[i].spec.job_id;
    expected.jobs[i].spec.build_id = stored.id;
    expected.jobs[i].spec.build_number = 1;
    CHECK(stored.jobs[i].spec.job_id > 0);
    job_ids.insert(stored.jobs[i].spec.job_id);
  }
  CHECK(job_ids.size() == 3);
  CHECK(caf::deep_to_string(stored) == caf::deep_to_string(expected));
  auto fetched = fetch_build(stored.id);
  CHECK(caf::deep_to_string(fetched) == caf::deep_to_string(expected));
  // What a rendering could hide.
  CHECK(fetched.request.commit_message == x.request.commit_message);
  CHECK(fetched.request.commit_message.size() == 21);
  CHECK(fetched.request.pull_request == 7);
  CHECK(fetched.request.head_repo == "fork/demo");
  CHECK(fetched.request.head_branch == x.request.head_branch);
  CHECK(fetched.request.fork);
  CHECK(fetched.request.delivery_id == "delivery-1");
  CHECK(fetched.messages.at(1).message == x.messages.at(1).message);
  CHECK(fetched.messages.at(0).column == 5);
  CHECK(fetched.jobs.at(0).spec.env.at(3).value == std::string("x\0y", 3));
  CHECK(fetched.jobs.at(1).reason == x.jobs[1].reason);
  CHECK(fetched.jobs.at(1).spec.attempt == 2);
  CHECK(fetched.jobs.at(2).spec.limits.max_log_bytes == 9000);
  CHECK(job_number(fetched.jobs.at(2).spec) == "1.3");
}

STORE_CONTRACT_TEST("create is idempotent on the request id") {
  auto first = create("same");
  auto retry = sample_build("same");
  retry.config = ".conveyor.yml";
  retry.jobs.pop_back();
  auto second = ask<build_record>(create_atom::value, retry);
  CHECK(second.id == first.id);
  CHECK(caf::deep_to_string(second) == caf::deep_to_string(first));
  CHECK(list(build_query{}).size() == 1);
  CHECK(create("other").number == 2);
}

STORE_CONTRACT_TEST("a redelivered webhook answers the build of its first delivery") {
  auto x = sample_build("request-1");
  x.request.delivery_id = "d-1";
  auto first = ask<build_record>(create_atom::value, x);
  auto redelivery = sample_build("request-2");
  redelivery.request.delivery_id = "d-1";
  auto second = ask<build_record>(create_atom::value, redelivery);
  CHECK(second.id == first.id);
  CHECK(second.request.request_id == "request-1");
  CHECK(list(build_query{}).size() == 1);
  auto other = sample_build("request-3");
  other.request.delivery_id = "d-2";
  CHECK(ask<build_record>(create_atom::value, other).number == 2);
}

STORE_CONTRACT_TEST("builds are numbered per repository") {
  CHECK(create("a1", "octo/a").number == 1);
  CHECK(create("a2", "octo/a").number == 2);
  CHECK(create("b1", "octo/b").number == 1);
  CHECK(create("a3", "octo/a").number == 3);
  // Without a slug, the repo path names the repository.
  auto local = sample_build("l1", "");
  local.request.repo = "/srv/repos/demo";
  CHECK(ask<build_record>(create_atom::value, local).number == 1);
  local.request.request_id = "l2";
  CHECK(ask<build_record>(create_atom::value, local).number == 2);
}

STORE_CONTRACT_TEST("zero timestamps at creation mean now") {
  auto x = sample_build("now");
  x.created_at_ms = 0;
  for (auto& job : x.jobs)
    job.created_at_ms = 0;
  auto stored = ask<build_record>(create_atom::value, x);
  CHECK(stored.created_at_ms > 1600000000000);
  CHECK(stored.jobs.at(0).created_at_ms == stored.created_at_ms);
}

STORE_CONTRACT_TEST("a build without request_id is refused") {
  auto err = ask_error<build_record>(create_atom::value, sample_build(""));
  CHECK(is(err, errc::store_failure));
  CHECK_THAT(describe(err), Catch::StartsWith("create_build failed: "));
  CHECK(list(build_query{}).empty());
}

STORE_CONTRACT_TEST("concurrent creates with one request id make one build") {
  // Sent without waiting: they meet in one batch of one store.
  caf::scoped_actor self{*sys};
  using handle = decltype(self->request(store, request_timeout, create_atom::value,
                                        build_record{}));
  std::vector<handle> same;
  std::vector<handle> others;
  for (int i = 0; i < 10; ++i) {
    same.push_back(self->request(store, request_timeout, create_atom::value,
                                 sample_build("same", "octo/race", 1)));
    others.push_back(self->request(store, request_timeout, create_atom::value,
                                   sample_build("other-" + std::to_string(i),
                                                "octo/race", 1)));
  }
  std::set<int64_t> same_ids;
  std::set<int64_t> numbers;
  auto collect = [&numbers](handle& h, std::set<int64_t>& ids) {
    std::string error;
    std::move(h).receive(
      [&ids, &numbers](build_record& b) {
        ids.insert(b.id);
        numbers.insert(b.number);
      },
      [&error](caf::error& err) { error = describe(err); });
    INFO(error);
    CHECK(error.empty());
  };
  for (auto& h : same)
    collect(h, same_ids);
  std::set<int64_t> other_ids;
  for (auto& h : others)
    collect(h, other_ids);
  CHECK(same_ids.size() == 1);
  CHECK(other_ids.size() == 10);
  CHECK(numbers.size() == 11);
  CHECK(*numbers.rbegin() == 11);
  // Two stores (two connections) creating the same requests at once.
  auto second = spawn_store();
  const int n = 25;
  std::vector<std::vector<int64_t>> ids(2, std::vector<int64_t>(n, 0));
  std::vector<std::string> errors(2);
  auto creator = [this, &ids, &errors, n](int t, store_actor to) {
    caf::scoped_actor me{*sys};
    for (int k = 0; k < n; ++k) {
      auto i = t == 0 ? k : n - 1 - k;
      me->request(to, request_timeout, create_atom::value,
                  sample_build("shared-" + std::to_string(i), "octo/shared", 1))
        .receive([&ids, t, i](build_record& b) { ids[t][i] = b.id; },
                 [&errors, t](caf::error& err) { errors[t] = describe(err); });
    }
  };
  std::thread first_thread{creator, 0, store};
  std::thread second_thread{creator, 1, second};
  first_thread.join();
  second_thread.join();
  CHECK(errors[0].empty());
  CHECK(errors[1].empty());
  CHECK(ids[0] == ids[1]);
  auto shared = list(build_query{"", "octo/shared", 100, 0});
  CHECK(shared.size() == static_cast<size_t>(n));
  std::set<int64_t> shared_numbers;
  for (const auto& b : shared)
    shared_numbers.insert(b.number);
  CHECK(shared_numbers.size() == static_cast<size_t>(n));
  CHECK(*shared_numbers.rbegin() == n);
  stop(second);
}

// -- job and build transitions ------------------------------------------------

STORE_CONTRACT_TEST("a job follows its state machine and each transition applies once") {
  auto build = create("jobs");
  auto id = build.jobs.at(0).spec.job_id;
  CHECK(apply(id, 1, job_state::queued, 1000));
  CHECK_FALSE(apply(id, 1, job_state::queued, 1001));
  CHECK(apply(id, 1, job_state::received, 2000));
  CHECK_FALSE(apply(id, 1, job_state::received, 2001));
  CHECK(apply(id, 1, job_state::started, 3000));
  CHECK_FALSE(apply(id, 1, job_state::started, 3001));
  CHECK(apply(id, 1, job_state::failed, 4000, 2, "script failed"));
  CHECK_FALSE(apply(id, 1, job_state::failed, 4001, 2, "script failed"));
  auto stored = fetch_job(id);
  CHECK(stored.state == job_state::failed);
  CHECK(stored.exit_code == 2);
  CHECK(stored.reason == "script failed");
  CHECK(stored.created_at_ms == build.jobs[0].created_at_ms);
  CHECK(stored.started_at_ms == 3000);
  CHECK(stored.finished_at_ms == 4000);
  // The other job is untouched.
  CHECK(fetch_job(build.jobs.at(1).spec.job_id).state == job_state::created);
}

STORE_CONTRACT_TEST("stale and disallowed job news change nothing") {
  auto build = create("stale");
  auto id = build.jobs.at(0).spec.job_id;
  REQUIRE(apply(id, 1, job_state::queued, 1000));
  auto before = caf::deep_to_string(fetch_build(build.id));
  CHECK_FALSE(apply(id, 0, job_state::received, 1200)); // older attempt
  CHECK_FALSE(apply(id, 2, job_state::received, 1300)); // not current
  CHECK_FALSE(apply(id, 1, job_state::created, 1400));  // backwards
  CHECK_FALSE(apply(id + 1000, 1, job_state::queued, 1600)); // unknown job
  CHECK(caf::deep_to_string(fetch_build(build.id)) == before);
  // A finished job accepts nothing more.
  CHECK(apply(id, 1, job_state::canceled, 1700, -1, "user request"));
  CHECK_FALSE(apply(id, 1, job_state::errored, 1800, -1, "late"));
  CHECK_FALSE(apply(id, 1, job_state::started, 1900));
  auto stored = fetch_job(id);
  CHECK(stored.state == job_state::canceled);
  CHECK(stored.reason == "user request");
  CHECK(stored.finished_at_ms == 1700);
  CHECK(stored.started_at_ms == 0);
}

STORE_CONTRACT_TEST("transitions of a later attempt apply to that attempt only") {
  auto x = sample_build("attempt-2");
  x.jobs[0].spec.attempt = 2;
  auto job = ask<build_record>(create_atom::value, x).jobs.at(0);
  CHECK_FALSE(apply(job.spec.job_id, 1, job_state::queued, 1000));
  CHECK(apply(job.spec.job_id, 2, job_state::queued, 1000));
  CHECK(fetch_job(job.spec.job_id).state == job_state::queued);
}

STORE_CONTRACT_TEST("a build moves forward once and stops when finished") {
  auto id = create("build").id;
  CHECK_FALSE(set_build(id, build_state::created, 500));
  CHECK(set_build(id, build_state::started, 1000));
  CHECK_FALSE(set_build(id, build_state::started, 1100));
  auto started = fetch_build(id);
  CHECK(started.state == build_state::started);
  CHECK(started.started_at_ms == 1000);
  CHECK(started.finished_at_ms == 0);
  CHECK(set_build(id, build_state::passed, 2000));
  CHECK_FALSE(set_build(id, build_state::passed, 2100));
  CHECK_FALSE(set_build(id, build_state::failed, 3000));
  CHECK_FALSE(set_build(id, build_state::started, 3100));
  auto done = fetch_build(id);
  CHECK(done.state == build_state::passed);
  CHECK(done.started_at_ms == 1000);
  CHECK(done.finished_at_ms == 2000);
  CHECK_FALSE(set_build(id + 1000, build_state::started, 1));
}

STORE_CONTRACT_TEST("unknown builds and jobs answer their errors") {
  auto build = ask_error<build_record>(fetch_atom::value, build_atom::value,
                                       int64_t{4242});
  CHECK(is(build, errc::unknown_build));
  CHECK_THAT(describe(build), Catch::Contains("4242"));
  auto job = ask_error<job_record>(fetch_atom::value, job_atom::value,
                                   int64_t{4343});
  CHECK(is(job, errc::unknown_job));
  CHECK_THAT(describe(job), Catch::Contains("4343"));
}

STORE_CONTRACT_TEST("fetch_job answers a job as its build shows it") {
  auto build = create("job-view", "octo/demo", 3);
  REQUIRE(apply(build.jobs[1].spec.job_id, 1, job_state::queued, 10));
  auto shown = fetch_build(build.id);
  for (const auto& job : shown.jobs)
    CHECK(caf::deep_to_string(fetch_job(job.spec.job_id))
          == caf::deep_to_string(job));
}

// -- webhook deliveries -------------------------------------------------------

STORE_CONTRACT_TEST("webhook deliveries are recorded once and listed newest first") {
  using deliveries = std::vector<webhook_delivery>;
  webhook_delivery d1{"d-1", "push", "", "build", "", 17, 100};
  webhook_delivery d2{"d-2", "ping", "", "pong", "", 0, 300};
  webhook_delivery d3{"d-3", "pull_request", "labeled", "ignored",
                      std::string("not \0handled \xff", 15), 0, 200};
  CHECK(ask<bool>(d1));
  CHECK(ask<bool>(d2));
  CHECK(ask<bool>(d3));
  auto again = d1;
  again.outcome = "rejected";
  again.received_at_ms = 400;
  CHECK_FALSE(ask<bool>(again));
  auto all = ask<deliveries>(fetch_atom::value, delivery_atom::value,
                             int32_t{10});
  REQUIRE(all.size() == 3);
  CHECK(caf::deep_to_string(all[0]) == caf::deep_to_string(d2));
  CHECK(caf::deep_to_string(all[1]) == caf::deep_to_string(d3));
  CHECK(caf::deep_to_string(all[2]) == caf::deep_to_string(d1));
  CHECK(all[1].reason.size() == 15);
  CHECK(ask<deliveries>(fetch_atom::value, delivery_atom::value, int32_t{2})
          .size()
        == 2);
}

// -- commit status outbox -----------------------------------------------------

STORE_CONTRACT_TEST("the status outbox lists webhook builds whose status is due") {
  using builds = std::vector<build_record>;
  auto outbox = [this](int32_t limit) {
    std::vector<int64_t> result;
    for (const auto& x : ask<builds>(fetch_atom::value, outbox_atom::value,
                                     limit))
      result.push_back(x.id);
    return result;
  };
  auto a = create("outbox-a");
  auto b = create("outbox-b");
  auto cli = sample_build("outbox-cli");
  cli.request.source = "cli";
  ask<build_record>(create_atom::value, cli);
  // Created: "pending" is due for both webhook builds, never for the CLI's.
  CHECK(outbox(10) == std::vector<int64_t>{a.id, b.id});
  CHECK(outbox(1) == std::vector<int64_t>{a.id});
  auto listed = ask<builds>(fetch_atom::value, outbox_atom::value, int32_t{1});
  REQUIRE(listed.size() == 1);
  CHECK(caf::deep_to_string(listed[0]) == caf::deep_to_string(fetch_build(a.id)));
  CHECK(ask<bool>(outbox_atom::value, a.id, std::string{"pending"}));
  CHECK(ask<bool>(outbox_atom::value, a.id, std::string{"pending"}));
  CHECK(outbox(10) == std::vector<int64_t>{b.id});
  // Started is still pending; passed makes "success" due.
  REQUIRE(set_build(a.id, build_state::started, 10));
  CHECK(outbox(10) == std::vector<int64_t>{b.id});
  REQUIRE(set_build(a.id, build_state::passed, 20));
  CHECK(outbox(10) == std::vector<int64_t>{a.id, b.id});
  CHECK(ask<bool>(outbox_atom::value, a.id, std::string{"success"}));
  CHECK(ask<bool>(outbox_atom::value, b.id, std::string{"pending"}));
  CHECK(outbox(10).empty());
}
