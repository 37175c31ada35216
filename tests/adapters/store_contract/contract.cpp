#include "tests/adapters/store_contract/contract.hpp"

#include <atomic>
#include <filesystem>

#include <caf/scoped_actor.hpp>
#include <unistd.h>

#include "adapters/postgres/postgres_store_actor.hpp"
#include "adapters/sqlite/sqlite_store_actor.hpp"
#include "tests/adapters/postgres/pg_test_database.hpp"

namespace conveyor::testing {

namespace {

// A database file in a fresh temp dir, removed with it.
class sqlite_backend : public backend {
public:
  sqlite_backend() {
    static std::atomic<int> counter{0};
    dir_ = std::filesystem::temp_directory_path()
           / ("conveyor-contract-" + std::to_string(::getpid()) + "-"
              + std::to_string(counter++));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }

  ~sqlite_backend() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  caf::expected<store_actor> spawn(caf::actor_system& sys) override {
    return spawn_sqlite_store(sys, (dir_ / "store.db").string());
  }

private:
  std::filesystem::path dir_;
};

// A fresh database on the test server, dropped at the end.
class postgres_backend : public backend {
public:
  caf::expected<store_actor> spawn(caf::actor_system& sys) override {
    return spawn_postgres_store(sys, db_.url());
  }

private:
  pg_database db_;
};

} // namespace

std::unique_ptr<backend> backend::make(backend_kind k) {
  if (k == backend_kind::sqlite)
    return std::make_unique<sqlite_backend>();
  return std::make_unique<postgres_backend>();
}

// -- free functions -----------------------------------------------------------

build_record sample_build(const std::string& request_id,
                          const std::string& slug, int jobs) {
  build_record x;
  auto& r = x.request;
  r.request_id = request_id;
  r.source = "webhook";
  r.repo = "https://example.com/" + slug + ".git";
  r.slug = slug;
  r.ref = "refs/pull/7/head";
  r.sha = "0123456789abcdef0123456789abcdef01234567";
  r.branch = "main";
  r.tag = "";
  r.event = "pull_request";
  r.commit_message = std::string("Fix \xff\xfe it\0 now\n\nbody", 21);
  r.sender = "octocat";
  r.pull_request = 7;
  r.head_repo = "fork/demo";
  r.head_branch = "feature/\xc3\xa9t\xc3\xa9";
  r.fork = true;
  r.delivery_id = "";
  x.state = build_state::created;
  x.fast_finish = true;
  x.config = ".travis.yml";
  x.messages = {{"warn", "env.jobs", "unknown_key", "unknown key \"jobz\"", 3,
                 5},
                {"info", "", "", std::string("caf\xc3\xa9 \x80\0", 9), 0, 0}};
  x.created_at_ms = 1700000000000;
  for (int i = 1; i <= jobs; ++i) {
    job_record job;
    auto& s = job.spec;
    s.index = i;
    s.name = i == 1 ? "" : "job " + std::to_string(i);
    s.request_id = request_id;
    s.repo = r.repo;
    s.slug = slug;
    s.sha = r.sha;
    s.branch = r.branch;
    s.event = r.event;
    s.commit_message = r.commit_message;
    s.clone = i % 2 == 1;
    s.clone_depth = 3 * i;
    s.env = {{"GLOBAL", "1"},
             {"JOB", std::to_string(i)},
             {"BYTES", std::string("a\0b\xff", 4)},
             {"NUL", std::string("x\0y", 3)}};
    s.phases.before_install = {"echo before_install"};
    s.phases.install = {"make deps"};
    s.phases.before_script = {"echo before_script"};
    s.phases.script = {"make test", "./check.sh " + std::to_string(i)};
    s.phases.after_success = {"echo yay"};
    s.phases.after_failure = {"cat log.txt"};
    s.phases.after_script = {"echo done"};
    s.allow_failure = i == jobs;
    s.limits = {1000 * i, 2000 * i, 3000 * i};
    s.stage = i == jobs ? std::string("D\xc3\xa9ploy \xff", 9) : "test";
    s.stage_index = i == jobs ? 1 : 0;
    s.pull_request = r.pull_request;
    s.pull_request_branch = r.head_branch;
    s.pull_request_slug = r.head_repo;
    job.created_at_ms = 1700000000001;
    x.jobs.push_back(std::move(job));
  }
  return x;
}

std::vector<log_part> make_parts(int64_t job_id, int32_t attempt, int n,
                                 bool last_final) {
  std::vector<log_part> result;
  for (int i = 0; i < n; ++i)
    result.push_back(log_part{job_id, attempt, i,
                              "a" + std::to_string(attempt) + " part "
                                + std::to_string(i) + "\n",
                              last_final && i == n - 1});
  return result;
}

std::string text_of(const std::vector<log_part>& xs, int below) {
  std::string result;
  for (const auto& x : xs)
    if (x.number < below)
      result += x.content;
  return result;
}

double sample_of(const metric_families& xs, const std::string& name,
                 const std::string& suffix,
                 const std::vector<metric_label>& labels) {
  for (const auto& family : xs) {
    if (family.name != name)
      continue;
    for (const auto& sample : family.samples) {
      if (sample.suffix != suffix || sample.labels.size() != labels.size())
        continue;
      auto same = true;
      for (size_t i = 0; i < labels.size(); ++i)
        same = same && sample.labels[i].name == labels[i].name
               && sample.labels[i].value == labels[i].value;
      if (same)
        return sample.value;
    }
  }
  FAIL("no sample " << name << suffix << " with the labels asked for");
  return 0;
}

// -- contract -----------------------------------------------------------------

contract::contract(backend_kind k) : kind(k), db(backend::make(k)) {
  register_message_types(cfg);
  cfg.set("scheduler.max-threads", 2);
  sys = std::make_unique<caf::actor_system>(cfg);
  store = spawn_store();
}

contract::~contract() {
  caf::anon_send_exit(store, caf::exit_reason::user_shutdown);
  store = nullptr;
  // The actor system waits for the store actors before the database goes.
  sys.reset();
}

build_record contract::create(const std::string& request_id,
                              const std::string& slug, int jobs) {
  return ask<build_record>(create_atom::value,
                           sample_build(request_id, slug, jobs));
}

bool contract::apply(int64_t job_id, int32_t attempt, job_state state,
                     int64_t at, int32_t exit_code, std::string reason) {
  return ask<bool>(job_state_changed{job_id, attempt, state, at, exit_code,
                                     std::move(reason)});
}

bool contract::set_build(int64_t build_id, build_state state, int64_t at) {
  return ask<bool>(build_state_changed{build_id, state, at});
}

void contract::start(int64_t job_id, int32_t attempt, int64_t at) {
  auto job = fetch_job(job_id);
  if (job.state == job_state::created)
    REQUIRE(apply(job_id, attempt, job_state::queued, at));
  REQUIRE(apply(job_id, attempt, job_state::received, at + 1));
  REQUIRE(apply(job_id, attempt, job_state::started, at + 2));
}

int64_t contract::append(std::vector<log_part> xs) {
  return ask<int64_t>(std::move(xs));
}

std::string contract::log_of(int64_t job_id, int32_t attempt) {
  return ask<std::string>(fetch_atom::value, log_atom::value, job_id, attempt);
}

std::string contract::log_below(int64_t job_id, int32_t attempt,
                                int32_t below) {
  return ask<std::string>(fetch_atom::value, log_atom::value, job_id, attempt,
                          below);
}

build_record contract::fetch_build(int64_t build_id) {
  return ask<build_record>(fetch_atom::value, build_atom::value, build_id);
}

job_record contract::fetch_job(int64_t job_id) {
  return ask<job_record>(fetch_atom::value, job_atom::value, job_id);
}

std::vector<build_record> contract::list(build_query q) {
  return ask<std::vector<build_record>>(fetch_atom::value, std::move(q));
}

std::vector<build_record> contract::unfinished() {
  return ask<std::vector<build_record>>(fetch_atom::value,
                                        unfinished_atom::value);
}

std::vector<log_progress> contract::open_logs() {
  return ask<std::vector<log_progress>>(fetch_atom::value, log_atom::value,
                                        unfinished_atom::value);
}

metric_families contract::metrics() {
  return ask<metric_families>(fetch_atom::value, metrics_atom::value);
}

job_record contract::requeue(int64_t job_id, int32_t attempt, int64_t at,
                             std::string reason) {
  return ask<job_record>(job_requeue{job_id, attempt, at, std::move(reason)});
}

store_actor contract::spawn_store() {
  return value_of(db->spawn(*sys));
}

void contract::stop(const store_actor& x) {
  caf::scoped_actor self{*sys};
  self->monitor(x);
  caf::anon_send_exit(x, caf::exit_reason::user_shutdown);
  auto down = false;
  self->receive([&down](const caf::down_msg&) { down = true; },
                caf::after(request_timeout) >> [] {});
  REQUIRE(down);
}

} // namespace conveyor::testing
