// Every message type survives CAF's binary serializer unchanged.
#include <catch2/catch.hpp>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/binary_deserializer.hpp>
#include <caf/binary_serializer.hpp>
#include <caf/deep_to_string.hpp>

#include "messages/error.hpp"
#include "messages/type_ids.hpp"

using namespace conveyor;

namespace {

struct fixture {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;

  fixture() {
    register_message_types(cfg);
    cfg.set("scheduler.max-threads", 1);
    sys = std::make_unique<caf::actor_system>(cfg);
  }

  template <class T>
  T round_trip(const T& x) {
    std::vector<char> buf;
    caf::binary_serializer sink{*sys, buf};
    auto copy = x;
    REQUIRE(!sink(copy));
    T result;
    caf::binary_deserializer source{*sys, buf};
    REQUIRE(!source(result));
    return result;
  }

  // Compares by CAF's rendering, which lists every field the inspector sees.
  template <class T>
  void check(const T& x) {
    auto y = round_trip(x);
    CHECK(caf::deep_to_string(y) == caf::deep_to_string(x));
  }
};

job_spec sample_job() {
  job_spec x;
  x.job_id = 42;
  x.build_id = 7;
  x.build_number = 3;
  x.index = 2;
  x.attempt = 2;
  x.name = "lint";
  x.request_id = "4a1c8b52-5a4e-4c53-9a55-2b1f8e1f9d10";
  x.repo = "/srv/repos/demo";
  x.slug = "octo/demo";
  x.sha = "0123456789abcdef0123456789abcdef01234567";
  x.branch = "main";
  x.event = "push";
  x.commit_message = "Fix the thing\n\nwith a body";
  x.env = {{"FOO", "a"}, {"BAR", "b c"}};
  x.phases.install = {"make deps"};
  x.phases.script = {"make test", "./check.sh"};
  x.phases.after_script = {"echo done"};
  x.allow_failure = true;
  x.limits.timeout_ms = 1234;
  return x;
}

} // namespace

TEST_CASE_METHOD(fixture, "messages round-trip through the binary serializer") {
  build_request req{"uuid-1", "cli", "/tmp/r", "o/r", "HEAD", "abc",
                    "main", "", "push", "msg", "me"};
  check(req);
  auto job = sample_job();
  check(job);
  auto rt_job = round_trip(job);
  CHECK(rt_job.env == job.env);
  CHECK(rt_job.phases.script == job.phases.script);
  CHECK(rt_job.limits.timeout_ms == 1234);
  CHECK(rt_job.name == "lint");
  check(job_state_changed{42, 2, job_state::failed, 1700000000000, 1, "why"});
  check(build_state_changed{7, build_state::errored, 1700000000001});
  log_part part{42, 2, 5, std::string("line\n\0binary", 12), true};
  CHECK(round_trip(part) == part);
  check(std::vector<log_part>{part, part});
  check(log_completed{42, 2, 6, 1000});
  build_record build;
  build.id = 7;
  build.number = 3;
  build.request = req;
  build.state = build_state::started;
  build.fast_finish = true;
  build.config = ".travis.yml";
  build.messages = {{"error", "env", "syntax_error", "bad", 3, 5}};
  build.jobs = {job_record{job, job_state::started, -1, "", 1, 2, 0}};
  auto rt_build = round_trip(build);
  CHECK(caf::deep_to_string(rt_build) == caf::deep_to_string(build));
  CHECK(rt_build.jobs.at(0).spec.phases.install == job.phases.install);
  CHECK(rt_build.messages.at(0).column == 5);
}

TEST_CASE("job state machine allows only forward transitions") {
  using s = job_state;
  CHECK(is_allowed(s::created, s::queued));
  CHECK(is_allowed(s::queued, s::received));
  CHECK(is_allowed(s::received, s::started));
  CHECK(is_allowed(s::started, s::passed));
  CHECK(is_allowed(s::started, s::failed));
  CHECK(is_allowed(s::queued, s::canceled));
  CHECK(is_allowed(s::started, s::errored));
  CHECK_FALSE(is_allowed(s::created, s::started));
  // A repeated report may overtake an earlier one: skipping ahead is fine.
  CHECK(is_allowed(s::queued, s::passed));
  CHECK(is_allowed(s::received, s::failed));
  CHECK_FALSE(is_allowed(s::started, s::received));
  CHECK_FALSE(is_allowed(s::started, s::queued));
  CHECK_FALSE(is_allowed(s::passed, s::failed));
  CHECK_FALSE(is_allowed(s::canceled, s::queued));
  CHECK_FALSE(is_allowed(s::started, s::started));
  job_state parsed;
  REQUIRE(from_string("errored", parsed));
  CHECK(parsed == s::errored);
  CHECK_FALSE(from_string("bogus", parsed));
}

TEST_CASE("domain errors carry their detail") {
  auto err = make_error(errc::unknown_ref, "no ref 'nope' in /tmp/r");
  CHECK(err.category() == errc_category);
  CHECK(describe(err) == "no ref 'nope' in /tmp/r");
  config_message msg{"error", "", "syntax_error", "mapping values are not allowed", 3, 7};
  CHECK(to_string(msg)
        == "error: line 3, column 7: mapping values are not allowed [syntax_error]");
}
