#include "app/run_command.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "app/logging.hpp"
#include "app/node.hpp"
#include "app/options.hpp"
#include "app/run_printer.hpp"
#include "app/subscription.hpp"
#include "app/summary.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

constexpr int exit_passed = 0;
constexpr int exit_failed = 1;
constexpr int exit_other = 2;

std::atomic<int> interrupts{0};

extern "C" void on_interrupt(int) {
  interrupts.fetch_add(1);
}

struct run_settings {
  std::filesystem::path repo;
  std::string ref = "HEAD";
  node_config node;
  bool temporary_data = true;
  std::string log_level = "warn";
};

caf::expected<run_settings> settings_from(const parsed_args& args) {
  run_settings result;
  if (args.positional.size() > 1)
    return caf::make_error(caf::sec::invalid_argument,
                           "expected at most one repository directory");
  std::error_code ec;
  result.repo = std::filesystem::absolute(
    args.positional.empty() ? "." : args.positional.front(), ec);
  if (!std::filesystem::is_directory(result.repo, ec))
    return caf::make_error(caf::sec::invalid_argument,
                           "no such directory: " + result.repo.string());
  if (auto ref = args.get("ref"))
    result.ref = *ref;
  result.node.workers = std::max<size_t>(2, std::thread::hardware_concurrency());
  if (auto text = args.get("jobs")) {
    auto n = parse_count(*text);
    if (!n)
      return n.error();
    result.node.workers = static_cast<size_t>(*n);
  }
  auto& limits = result.node.limits;
  struct limit_flag {
    const char* name;
    int64_t* target;
    caf::expected<int64_t> (*parse)(const std::string&);
  };
  for (auto& flag : {limit_flag{"timeout", &limits.timeout_ms, parse_duration_ms},
                     limit_flag{"no-output-timeout", &limits.no_output_timeout_ms,
                                parse_duration_ms},
                     limit_flag{"max-log-size", &limits.max_log_bytes, parse_size}}) {
    if (auto text = args.get(flag.name)) {
      auto value = flag.parse(*text);
      if (!value)
        return value.error();
      *flag.target = *value;
    }
  }
  if (auto text = args.get("kill-grace")) {
    auto value = parse_duration_ms(*text);
    if (!value)
      return value.error();
    result.node.kill_grace = std::chrono::milliseconds(*value);
  }
  if (auto data = args.get("data")) {
    result.node.data_dir = std::filesystem::absolute(*data);
    result.temporary_data = false;
  }
  result.node.keep_workspaces = args.has("keep-workspaces");
  if (auto level = args.get("log-level"))
    result.log_level = *level;
  return result;
}

int exit_code_of(build_state state) {
  switch (state) {
    case build_state::passed: return exit_passed;
    case build_state::failed: return exit_failed;
    default: return exit_other;
  }
}

// Waits until the printer has seen the whole build; the first Ctrl-C cancels
// the build, the second gives up waiting, and so does a failed node. Answers
// whether the build was seen to the end.
bool wait_for_build(caf::scoped_actor& self, const node& n, int64_t build_id) {
  auto finished = false;
  auto cancel_sent = false;
  auto node_alive = true;
  // If a module restarted, the printer may have missed news: the store has
  // the last word, and a finished build is waited for only a little longer.
  auto next_check = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  std::optional<std::chrono::steady_clock::time_point> give_up;
  while (!finished) {
    auto now = std::chrono::steady_clock::now();
    if (give_up && now > *give_up) {
      std::fprintf(stderr, "conveyor: some output may be missing (a module "
                           "restarted)\n");
      break;
    }
    if (!give_up && now > next_check) {
      next_check = now + std::chrono::seconds(2);
      self->request(n.store, std::chrono::seconds(5), fetch_atom::value,
                    build_atom::value, build_id)
        .receive(
          [&](const build_record& build) {
            auto done = is_terminal(build.state);
            for (auto& job : build.jobs)
              done = done && is_terminal(job.state);
            if (done)
              give_up = now + std::chrono::seconds(3);
          },
          [](const caf::error&) {});
    }
    self->receive(
      [&finished](complete_atom, int64_t) { finished = true; },
      [&](const caf::down_msg& msg) {
        std::fprintf(stderr, "conveyor: the node stopped: %s\n",
                     describe(msg.reason).c_str());
        finished = true;
        node_alive = false;
      },
      caf::after(std::chrono::milliseconds(100)) >> [&] {
        auto count = interrupts.load();
        if (count >= 2)
          finished = true;
        if (count == 1 && !cancel_sent) {
          cancel_sent = true;
          std::fprintf(stderr, "conveyor: canceling the build "
                               "(press Ctrl-C again to stop waiting)\n");
          self->send(n.scheduler, cancel_atom::value, build_atom::value,
                     build_id);
        }
      });
  }
  return node_alive && interrupts.load() < 2;
}

int run_build(const run_settings& settings) {
  caf::actor_system_config cfg;
  configure_node_system(cfg);
  caf::actor_system sys{cfg};
  auto started = start_node(sys, settings.node);
  if (!started) {
    std::fprintf(stderr, "conveyor: %s\n", describe(started.error()).c_str());
    return exit_other;
  }
  auto& n = *started;
  caf::scoped_actor self{sys};
  self->monitor(n.supervisor);
  auto printer = spawn_run_printer(sys, self, stdout);
  auto printer_handle = caf::actor_cast<caf::actor>(printer);
  keep_subscribed(sys, caf::actor_cast<caf::actor>(n.scheduler),
                  caf::make_message(subscribe_atom::value,
                                    caf::actor_cast<build_listener_actor>(
                                      printer)),
                  printer_handle);
  keep_subscribed(sys, caf::actor_cast<caf::actor>(n.sequencer),
                  caf::make_message(subscribe_atom::value,
                                    caf::actor_cast<log_listener_actor>(
                                      printer)),
                  printer_handle);
  build_request request;
  request.source = "cli";
  request.repo = settings.repo.string();
  request.ref = settings.ref;
  request.sender = std::getenv("USER") ? std::getenv("USER") : "";
  auto code = exit_other;
  self->request(n.gatekeeper, std::chrono::minutes(2), request)
    .receive(
      [&](build_record& build) {
        print_build_header(stdout, build);
        if (is_terminal(build.state)) {
          code = exit_code_of(build.state);
          return;
        }
        caf::anon_send(printer, build);
        if (!wait_for_build(self, n, build.id))
          return;
        self->request(n.store, std::chrono::seconds(30), fetch_atom::value,
                      build_atom::value, build.id)
          .receive(
            [&](const build_record& final_build) {
              print_summary(stdout, final_build);
              code = exit_code_of(final_build.state);
            },
            [&](const caf::error& err) {
              std::fprintf(stderr, "conveyor: %s\n", describe(err).c_str());
            });
      },
      [&](const caf::error& err) {
        std::fprintf(stderr, "conveyor: %s\n", describe(err).c_str());
      });
  self->send_exit(printer, caf::exit_reason::user_shutdown);
  stop_node(n);
  return code;
}

} // namespace

std::string run_usage() {
  return R"(usage: conveyor run [DIR] [options]

Builds the commit of the git repository DIR (default: the current directory)
once, with its .conveyor.yml or .travis.yml, prints every job's log live and a
summary. Exit status: 0 passed, 1 failed, 2 errored, canceled or bad usage.

options:
  --ref REF                 branch, tag or commit to build (default: HEAD)
  --jobs N                  jobs run at once (default: the number of cores, at least 2)
  --timeout DURATION        hard time limit per job (default: 50m)
  --no-output-timeout DURATION
                            limit on a job's silence (default: 10m)
  --max-log-size SIZE       limit on a job's log (default: 4MiB)
  --kill-grace DURATION     time between TERM and KILL on cancel (default: 5s)
  --data DIR                keep the store and workspaces in DIR (default: a
                            temporary directory, removed afterwards)
  --keep-workspaces         keep each job's workspace under DIR/work/
  --log-level LEVEL         trace, debug, info, warn (default), error or off
  --help                    show this text

Durations: 90, 90s, 1m30s, 500ms, 2h. Sizes: 4096, 64KiB, 4MiB.
Ctrl-C cancels the build (its jobs are stopped); a second Ctrl-C stops waiting.
)";
}

int run_command(const std::vector<std::string>& args) {
  auto parsed = parse_args(args,
                           {"ref", "jobs", "timeout", "no-output-timeout",
                            "max-log-size", "kill-grace", "data", "log-level"},
                           {"keep-workspaces", "help"});
  if (parsed && parsed->has("help")) {
    std::fputs(run_usage().c_str(), stdout);
    return 0;
  }
  auto settings = parsed ? settings_from(*parsed)
                         : caf::expected<run_settings>{parsed.error()};
  if (!settings) {
    std::fprintf(stderr, "conveyor run: %s\n(see conveyor run --help)\n",
                 describe(settings.error()).c_str());
    return exit_other;
  }
  if (auto err = setup_logging(settings->log_level); !err.empty()) {
    std::fprintf(stderr, "conveyor run: %s\n", err.c_str());
    return exit_other;
  }
  if (settings->temporary_data) {
    char pattern[] = "/tmp/conveyor-run-XXXXXX";
    if (!mkdtemp(pattern)) {
      std::perror("conveyor run: cannot create a temporary directory");
      return exit_other;
    }
    settings->node.data_dir = pattern;
  }
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  auto code = run_build(*settings);
  if (settings->temporary_data) {
    std::error_code ec;
    std::filesystem::remove_all(settings->node.data_dir, ec);
  }
  return code;
}

} // namespace conveyor
