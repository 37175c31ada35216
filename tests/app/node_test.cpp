// A whole node in-process: real store file, real workers and processes, the
// scheduler's and the sequencer's behaviour observed as a listener would.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>

#include "app/node.hpp"
#include "tests/app/test_support.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace fs = std::filesystem;
using namespace conveyor;

namespace {

struct fixture {
  fs::path dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  node n;

  explicit fixture(size_t workers = 2) {
    char pattern[] = "/tmp/conveyor-node-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    node_config ncfg;
    ncfg.data_dir = dir / "data";
    ncfg.workers = workers;
    ncfg.kill_grace = std::chrono::milliseconds(200);
    auto started = start_node(*sys, ncfg);
    REQUIRE(started);
    n = *started;
  }

  ~fixture() {
    stop_node(n);
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  /// Makes a git repository whose .travis.yml is `config`.
  std::string make_repo(const std::string& config) {
    return test::config_repo(config, dir);
  }

  build_record submit(const std::string& repo) {
    caf::scoped_actor self{*sys};
    build_record result;
    build_request req;
    req.source = "api";
    req.repo = repo;
    self->request(n.gatekeeper, std::chrono::seconds(30), req)
      .receive([&](build_record& x) { result = std::move(x); },
               [&](const caf::error& err) { FAIL(describe(err)); });
    return result;
  }
};

/// Collects what the scheduler tells its listeners.
struct event_log {
  std::vector<std::string> events; ///< "job <id> <state>" / "build <state>"

  /// Receives until `done` holds for the events so far (or 30 s passed).
  template <class Predicate>
  void receive_until(caf::scoped_actor& self, Predicate done) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!done(*this)) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      self->receive(
        [this](const job_state_changed& x) {
          events.push_back("job " + std::to_string(x.job_id) + " "
                           + to_string(x.state));
        },
        [this](const build_state_changed& x) {
          events.push_back("build " + to_string(x.state));
        },
        caf::after(std::chrono::milliseconds(100)) >> [] {});
    }
  }

  bool has(const std::string& event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }

  size_t index_of(const std::string& event) const {
    return static_cast<size_t>(
      std::find(events.begin(), events.end(), event) - events.begin());
  }
};

std::string job_event(const build_record& build, size_t i, const char* state) {
  return "job " + std::to_string(build.jobs.at(i).spec.job_id) + " " + state;
}

} // namespace

TEST_CASE("fast_finish decides the build before an allowed failure ends") {
  fixture f;
  auto repo = f.make_repo(R"(
env:
  - ROLE=quick
  - ROLE=slow
jobs:
  fast_finish: true
  allow_failures:
    - env: ROLE=slow
script:
  - if [ "$ROLE" = slow ]; then sleep 2; false; fi
)");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  REQUIRE(build.jobs.size() == 2);
  CHECK(build.fast_finish);
  event_log log;
  auto slow_failed = job_event(build, 1, "failed");
  log.receive_until(self, [&](const event_log& x) { return x.has(slow_failed); });
  CHECK(log.has(job_event(build, 0, "passed")));
  REQUIRE(log.has("build passed"));
  CHECK(log.index_of("build passed") < log.index_of(slow_failed));
}

TEST_CASE("without fast_finish the build waits for its allowed failures") {
  fixture f;
  auto repo = f.make_repo(R"(
env: [ROLE=quick, ROLE=slow]
jobs:
  allow_failures: [{env: ROLE=slow}]
script: if [ "$ROLE" = slow ]; then sleep 1; false; fi
)");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  event_log log;
  log.receive_until(self, [](const event_log& x) { return x.has("build passed"); });
  CHECK(log.index_of(job_event(build, 1, "failed")) < log.index_of("build passed"));
}

TEST_CASE("canceling a running job stops it and cancels the build") {
  fixture f;
  auto repo = f.make_repo(R"(
env: [A=1, A=2]
script: if [ "$A" = 1 ]; then echo started; sleep 600; fi
)");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  auto first = build.jobs.at(0).spec.job_id;
  event_log log;
  log.receive_until(self, [&](const event_log& x) {
    return x.has(job_event(build, 0, "started"))
           && x.has(job_event(build, 1, "passed"));
  });
  auto answer = [&](int64_t job_id) {
    auto result = false;
    self->request(f.n.scheduler, std::chrono::seconds(5), cancel_atom::value,
                  job_atom::value, job_id)
      .receive([&](bool x) { result = x; },
               [&](const caf::error& err) { FAIL(describe(err)); });
    return result;
  };
  CHECK(answer(first));
  log.receive_until(self, [](const event_log& x) { return x.has("build canceled"); });
  CHECK(log.has(job_event(build, 0, "canceled")));
  CHECK_FALSE(answer(first));
  self->request(f.n.store, std::chrono::seconds(5), fetch_atom::value,
                build_atom::value, build.id)
    .receive(
      [&](const build_record& stored) {
        CHECK(stored.state == build_state::canceled);
        CHECK(stored.jobs.at(0).state == job_state::canceled);
        CHECK(stored.jobs.at(1).state == job_state::passed);
      },
      [&](const caf::error& err) { FAIL(describe(err)); });
}

TEST_CASE("a queued job that is canceled never reaches a worker") {
  fixture f{1};
  auto repo = f.make_repo(R"(
env: [A=1, A=2]
script: sleep 1
)");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  event_log log;
  log.receive_until(self, [&](const event_log& x) {
    return x.has(job_event(build, 0, "started"))
           && x.has(job_event(build, 1, "queued"));
  });
  auto canceled = false;
  self->request(f.n.scheduler, std::chrono::seconds(5), cancel_atom::value,
                job_atom::value, build.jobs.at(1).spec.job_id)
    .receive([&](bool x) { canceled = x; },
             [&](const caf::error& err) { FAIL(describe(err)); });
  CHECK(canceled);
  log.receive_until(self, [](const event_log& x) { return x.has("build canceled"); });
  CHECK(log.has(job_event(build, 0, "passed")));
  CHECK(log.has(job_event(build, 1, "canceled")));
  CHECK_FALSE(log.has(job_event(build, 1, "received")));
}

TEST_CASE("a job canceled right after its build is accepted ends canceled") {
  fixture f{1};
  auto repo = f.make_repo("script: sleep 5\n");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  // The cancel races the job's queued transition on its way to the store
  // (or, a little later, its run): either way the job ends canceled and its
  // worker slot is free again.
  auto canceled = false;
  self->request(f.n.scheduler, std::chrono::seconds(5), cancel_atom::value,
                job_atom::value, build.jobs.at(0).spec.job_id)
    .receive([&](bool x) { canceled = x; },
             [&](const caf::error& err) { FAIL(describe(err)); });
  CHECK(canceled);
  event_log log;
  log.receive_until(self, [](const event_log& x) { return x.has("build canceled"); });
  CHECK(log.has(job_event(build, 0, "canceled")));
  CHECK_FALSE(log.has(job_event(build, 0, "passed")));
  auto next = f.submit(repo);
  log.receive_until(self, [&](const event_log& x) {
    return x.has(job_event(next, 0, "started"));
  });
}

TEST_CASE("build stages run one after the other") {
  fixture f{3}; // a slot is free for the second stage all along
  auto repo = f.make_repo(R"(
jobs:
  include:
    - stage: test
      script: sleep 1
    - script: "true"
    - stage: deploy
      script: echo "$TRAVIS_BUILD_STAGE_NAME"
)");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  REQUIRE(build.jobs.size() == 3);
  CHECK(build.jobs[0].spec.stage == "test");
  CHECK(build.jobs[1].spec.stage_index == 0);
  CHECK(build.jobs[2].spec.stage == "deploy");
  CHECK(build.jobs[2].spec.stage_index == 1);
  event_log log;
  log.receive_until(self, [](const event_log& x) { return x.has("build passed"); });
  auto deploy_queued = log.index_of(job_event(build, 2, "queued"));
  REQUIRE(deploy_queued < log.events.size());
  CHECK(log.index_of(job_event(build, 0, "passed")) < deploy_queued);
  CHECK(log.index_of(job_event(build, 1, "passed")) < deploy_queued);
  CHECK(log.index_of(job_event(build, 2, "passed")) < log.index_of("build passed"));
}

TEST_CASE("node: a failing job of the first stage cancels the second") {
  fixture f{3};
  auto repo = f.make_repo(R"(
jobs:
  include:
    - stage: test
      script: "false"
    - script: sleep 1
    - name: flaky
      script: "false"
    - stage: deploy
      script: "true"
  allow_failures:
    - name: flaky
)");
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.scheduler, subscribe_atom::value,
                 caf::actor_cast<build_listener_actor>(self));
  auto build = f.submit(repo);
  REQUIRE(build.jobs.size() == 4);
  REQUIRE(build.jobs[3].spec.stage == "deploy");
  event_log log;
  log.receive_until(self, [](const event_log& x) { return x.has("build failed"); });
  CHECK(log.has(job_event(build, 0, "failed")));
  CHECK(log.has(job_event(build, 1, "passed")));
  CHECK(log.has(job_event(build, 3, "canceled")));
  CHECK_FALSE(log.has(job_event(build, 3, "queued")));
  CHECK_FALSE(log.has(job_event(build, 3, "received")));
  // Canceled at once, while the rest of the first stage still ran.
  CHECK(log.index_of(job_event(build, 3, "canceled"))
        < log.index_of(job_event(build, 1, "passed")));
  self->request(f.n.store, std::chrono::seconds(5), fetch_atom::value,
                build_atom::value, build.id)
    .receive(
      [&](const build_record& stored) {
        CHECK(stored.state == build_state::failed);
        CHECK(stored.jobs.at(3).state == job_state::canceled);
        CHECK(stored.jobs.at(3).reason == "an earlier stage failed");
        CHECK(stored.jobs.at(3).spec.stage_index == 1);
      },
      [&](const caf::error& err) { FAIL(describe(err)); });
}

TEST_CASE("the sequencer stores shuffled, repeated parts once and tells them in order") {
  fixture f;
  caf::scoped_actor self{*f.sys};
  caf::anon_send(f.n.sequencer, subscribe_atom::value,
                 caf::actor_cast<log_listener_actor>(self));
  constexpr int32_t parts = 300;
  std::vector<log_part> input;
  for (int32_t i = 0; i < parts; ++i) {
    log_part part{4242, 1, i, "line " + std::to_string(i) + "\n", i == parts - 1};
    input.push_back(part);
    if (i % 7 == 0)
      input.push_back(part);
  }
  std::shuffle(input.begin(), input.end(), std::mt19937{7});
  for (auto& part : input)
    caf::anon_send(f.n.sequencer, part);
  std::vector<int32_t> seen;
  auto completed = false;
  while (!completed) {
    self->receive(
      [&](const log_part& part) { seen.push_back(part.number); },
      [&](const log_completed& done) {
        completed = true;
        CHECK(done.parts == parts);
      },
      caf::after(std::chrono::seconds(30)) >> [] { FAIL("log never completed"); });
  }
  REQUIRE(seen.size() == static_cast<size_t>(parts));
  for (int32_t i = 0; i < parts; ++i)
    CHECK(seen[i] == i);
  std::string expected;
  for (int32_t i = 0; i < parts; ++i)
    expected += "line " + std::to_string(i) + "\n";
  self->request(f.n.store, std::chrono::seconds(5), fetch_atom::value,
                log_atom::value, int64_t{4242}, int32_t{1})
    .receive([&](const std::string& text) { CHECK(text == expected); },
             [&](const caf::error& err) { FAIL(describe(err)); });
  // Late copies of a finished log change nothing.
  caf::anon_send(f.n.sequencer, log_part{4242, 1, 3, "late copy\n", false});
  self->receive([](const log_part&) { FAIL("a late copy was told"); },
                caf::after(std::chrono::milliseconds(300)) >> [] {});
}
