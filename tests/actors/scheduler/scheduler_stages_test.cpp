// The scheduler with a real (SQLite) store and fake worker slots: build
// stages run in order, a broken stage cancels the later ones, and a restarted
// scheduler keeps the later stages waiting.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <caf/send.hpp>
#include <caf/typed_event_based_actor.hpp>

#include "actors/scheduler/scheduler_actor.hpp"
#include "adapters/sqlite/sqlite_store_actor.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace fs = std::filesystem;
using namespace conveyor;
using namespace std::chrono_literals;

namespace {

// A worker slot that runs nothing: it tells `observer` what it is given and
// answers the recovery's question with `holds`.
worker_actor::behavior_type fake_worker(worker_actor::pointer self,
                                        caf::actor observer,
                                        worker_status holds) {
  return {
    [self, observer](run_atom, const job_spec& job) {
      caf::anon_send(observer, run_atom::value, job);
    },
    [](cancel_atom, int64_t, int32_t) {},
    [holds](fetch_atom, status_atom) { return holds; },
  };
}

struct fixture {
  fs::path dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  store_actor store;
  scheduler_actor scheduler;
  std::vector<worker_actor> workers;
  std::unique_ptr<caf::scoped_actor> self;
  std::vector<std::string> events; ///< "run <id> <attempt>", "job <id> <state>"
  std::vector<job_state_changed> job_events;

  fixture() {
    char pattern[] = "/tmp/conveyor-stages-test-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 2);
    sys = std::make_unique<caf::actor_system>(cfg);
    auto opened = spawn_sqlite_store(*sys, (dir / "store.db").string());
    REQUIRE(opened);
    store = *opened;
    self = std::make_unique<caf::scoped_actor>(*sys);
  }

  ~fixture() {
    if (scheduler)
      caf::anon_send_exit(scheduler, caf::exit_reason::user_shutdown);
    for (auto& w : workers)
      caf::anon_send_exit(w, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
    // A detached actor's thread ends once no handle to it is left.
    scheduler = nullptr;
    workers.clear();
    store = nullptr;
    self.reset();
    sys.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  worker_actor add_worker(worker_status holds = {}) {
    auto w = sys->spawn(fake_worker, caf::actor_cast<caf::actor>(*self), holds);
    workers.push_back(w);
    return w;
  }

  void start_scheduler(std::vector<worker_actor> recovering = {}) {
    scheduler_config scfg;
    scfg.workers = std::move(recovering);
    scheduler = spawn_scheduler(*sys, scfg, store);
    caf::anon_send(scheduler, subscribe_atom::value,
                   caf::actor_cast<build_listener_actor>(*self));
  }

  void register_workers(size_t n) {
    for (size_t i = 0; i < n; ++i)
      caf::anon_send(scheduler, register_atom::value, add_worker());
  }

  /// Two jobs in stage "test", one in stage "deploy".
  build_record create_build(const std::string& request_id) {
    build_record x;
    x.request.request_id = request_id;
    x.request.source = "api";
    x.request.repo = "/srv/demo";
    x.request.slug = "octo/demo";
    x.request.sha = "0123456789abcdef0123456789abcdef01234567";
    x.request.branch = "main";
    x.request.event = "push";
    x.config = ".travis.yml";
    const char* stages[] = {"test", "test", "deploy"};
    for (int i = 0; i < 3; ++i) {
      job_record job;
      job.spec.index = i + 1;
      job.spec.request_id = request_id;
      job.spec.repo = x.request.repo;
      job.spec.slug = x.request.slug;
      job.spec.sha = x.request.sha;
      job.spec.branch = "main";
      job.spec.event = "push";
      job.spec.phases.script = {"true"};
      job.spec.stage = stages[i];
      job.spec.stage_index = i < 2 ? 0 : 1;
      x.jobs.push_back(std::move(job));
    }
    build_record result;
    (*self)
      ->request(store, 10s, create_atom::value, x)
      .receive([&result](build_record& stored) { result = std::move(stored); },
               [](const caf::error& err) { FAIL(describe(err)); });
    REQUIRE(result.jobs.size() == 3);
    return result;
  }

  /// Writes a transition straight into the store (what a scheduler stored
  /// before it stopped).
  void store_state(int64_t job_id, int32_t attempt, job_state state) {
    (*self)
      ->request(store, 10s, job_state_changed{job_id, attempt, state, 1, -1, ""})
      .receive([](bool applied) { REQUIRE(applied); },
               [](const caf::error& err) { FAIL(describe(err)); });
  }

  /// Reports a transition to the scheduler as a worker does.
  void report(int64_t job_id, int32_t attempt, job_state state) {
    (*self)
      ->request(scheduler, 10s,
                job_state_changed{job_id, attempt, state, 2,
                                  state == job_state::failed ? 1 : 0, ""})
      .receive([](bool) {}, [](const caf::error& err) { FAIL(describe(err)); });
  }

  /// Receives until `done` holds (or fails after 30 s).
  template <class Predicate>
  void receive_until(Predicate done) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!done()) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      receive_once(100ms);
    }
  }

  /// Receives whatever comes for `d`.
  void receive_for(std::chrono::milliseconds d) {
    auto deadline = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < deadline)
      receive_once(20ms);
  }

  void receive_once(std::chrono::milliseconds timeout) {
    (*self)->receive(
      [this](run_atom, const job_spec& job) {
        events.push_back("run " + std::to_string(job.job_id) + " "
                         + std::to_string(job.attempt));
      },
      [this](const job_state_changed& x) {
        job_events.push_back(x);
        events.push_back("job " + std::to_string(x.job_id) + " "
                         + to_string(x.state));
      },
      [this](const build_state_changed& x) {
        events.push_back("build " + to_string(x.state));
      },
      caf::after(timeout) >> [] {});
  }

  bool has(const std::string& event) const {
    return std::find(events.begin(), events.end(), event) != events.end();
  }

  size_t index_of(const std::string& event) const {
    return static_cast<size_t>(
      std::find(events.begin(), events.end(), event) - events.begin());
  }

  job_record fetch_job(int64_t job_id) {
    job_record result;
    (*self)
      ->request(store, 10s, fetch_atom::value, job_atom::value, job_id)
      .receive([&result](job_record& x) { result = std::move(x); },
               [](const caf::error& err) { FAIL(describe(err)); });
    return result;
  }

  build_record fetch_build(int64_t build_id) {
    build_record result;
    (*self)
      ->request(store, 10s, fetch_atom::value, build_atom::value, build_id)
      .receive([&result](build_record& x) { result = std::move(x); },
               [](const caf::error& err) { FAIL(describe(err)); });
    return result;
  }
};

std::string run(const build_record& b, size_t i, int attempt = 1) {
  return "run " + std::to_string(b.jobs.at(i).spec.job_id) + " "
         + std::to_string(attempt);
}

std::string job(const build_record& b, size_t i, const char* state) {
  return "job " + std::to_string(b.jobs.at(i).spec.job_id) + " " + state;
}

int64_t id_of(const build_record& b, size_t i) {
  return b.jobs.at(i).spec.job_id;
}

} // namespace

TEST_CASE_METHOD(fixture, "the second stage starts only after the first ended",
                 "[scheduler][stages]") {
  start_scheduler();
  register_workers(3); // a free slot for stage 2 all along
  auto b = create_build("two-stages");
  caf::anon_send(scheduler, enqueue_atom::value, b);
  receive_until([&] { return has(run(b, 0)) && has(run(b, 1)); });
  receive_for(300ms);
  CHECK_FALSE(has(job(b, 2, "queued")));
  CHECK_FALSE(has(run(b, 2)));
  report(id_of(b, 0), 1, job_state::started);
  report(id_of(b, 0), 1, job_state::passed);
  receive_for(300ms);
  CHECK(has(job(b, 0, "passed")));
  CHECK_FALSE(has(run(b, 2)));
  CHECK(fetch_job(id_of(b, 2)).state == job_state::created);
  report(id_of(b, 1), 1, job_state::passed);
  receive_until([&] { return has(run(b, 2)); });
  CHECK(index_of(job(b, 1, "passed")) < index_of(job(b, 2, "queued")));
  CHECK(index_of(job(b, 2, "queued")) < index_of(run(b, 2)));
  report(id_of(b, 2), 1, job_state::passed);
  receive_until([&] { return has("build passed"); });
  CHECK(fetch_build(b.id).state == build_state::passed);
}

TEST_CASE_METHOD(fixture, "a failing job of the first stage cancels the second",
                 "[scheduler][stages]") {
  start_scheduler();
  register_workers(3);
  auto b = create_build("stage-fails");
  caf::anon_send(scheduler, enqueue_atom::value, b);
  receive_until([&] { return has(run(b, 0)) && has(run(b, 1)); });
  report(id_of(b, 0), 1, job_state::failed);
  // Stage 2 is canceled at once; the rest of stage 1 still runs.
  receive_until([&] { return has(job(b, 2, "canceled")); });
  auto canceled = fetch_job(id_of(b, 2));
  CHECK(canceled.state == job_state::canceled);
  CHECK(canceled.reason == "an earlier stage failed");
  CHECK_FALSE(has("build failed"));
  report(id_of(b, 1), 1, job_state::passed);
  receive_until([&] { return has("build failed"); });
  CHECK_FALSE(has(run(b, 2)));
  CHECK_FALSE(has("build canceled"));
  CHECK(fetch_build(b.id).state == build_state::failed);
  // The failed job can still be restarted; the canceled stage stays so.
  job_record restarted;
  (*self)
    ->request(scheduler, 10s, restart_atom::value, job_atom::value, id_of(b, 0))
    .receive([&restarted](job_record& x) { restarted = std::move(x); },
             [](const caf::error& err) { FAIL(describe(err)); });
  CHECK(restarted.spec.attempt == 2);
  CHECK(restarted.spec.stage_index == 0);
  receive_until([&] { return has(run(b, 0, 2)); });
  report(id_of(b, 0), 2, job_state::passed);
  receive_until([&] { return fetch_job(id_of(b, 0)).state == job_state::passed; });
  receive_for(300ms);
  CHECK_FALSE(has(run(b, 2)));
}

TEST_CASE_METHOD(fixture, "a restarted scheduler keeps the later stages waiting",
                 "[scheduler][stages]") {
  auto b = create_build("recovered");
  // As a scheduler left it: job 1 running, job 2 passed, stage 2 waiting.
  store_state(id_of(b, 0), 1, job_state::queued);
  store_state(id_of(b, 0), 1, job_state::started);
  store_state(id_of(b, 1), 1, job_state::queued);
  store_state(id_of(b, 1), 1, job_state::passed);
  SECTION("a slot still runs the first stage") {
    auto busy = add_worker(worker_status{true, id_of(b, 0), 1});
    auto idle = add_worker();
    start_scheduler({busy, idle});
    receive_for(500ms);
    CHECK_FALSE(has(run(b, 0)));
    CHECK_FALSE(has(run(b, 2)));
    CHECK(fetch_job(id_of(b, 2)).state == job_state::created);
    report(id_of(b, 0), 1, job_state::passed);
    receive_until([&] { return has(run(b, 2)); });
    report(id_of(b, 2), 1, job_state::passed);
    receive_until([&] { return has("build passed"); });
  }
  SECTION("the run of the first stage was lost") {
    auto idle = add_worker();
    auto other = add_worker();
    start_scheduler({idle, other});
    receive_until([&] { return has(run(b, 0, 2)); });
    receive_for(300ms);
    CHECK_FALSE(has(run(b, 2)));
    CHECK(fetch_job(id_of(b, 2)).state == job_state::created);
    report(id_of(b, 0), 2, job_state::passed);
    receive_until([&] { return has(run(b, 2)); });
  }
}

TEST_CASE_METHOD(fixture, "a restarted scheduler moves on a stage that ended "
                          "before it stopped",
                 "[scheduler][stages]") {
  auto passed = create_build("stage-passed");
  auto failed = create_build("stage-failed");
  for (auto& [b, last] : {std::pair{passed, job_state::passed},
                          std::pair{failed, job_state::failed}}) {
    store_state(id_of(b, 0), 1, job_state::queued);
    store_state(id_of(b, 0), 1, job_state::passed);
    store_state(id_of(b, 1), 1, job_state::queued);
    store_state(id_of(b, 1), 1, last);
  }
  start_scheduler();
  register_workers(2);
  receive_until([&] {
    return has(run(passed, 2)) && has(job(failed, 2, "canceled"))
           && has("build failed");
  });
  CHECK_FALSE(has(run(failed, 2)));
  CHECK(fetch_job(id_of(failed, 2)).reason == "an earlier stage failed");
  CHECK(fetch_build(failed.id).state == build_state::failed);
}
