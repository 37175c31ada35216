// How long a crashed module takes to serve again: a node (no-op executor) in
// this process; each module is crashed through fault injection, then asked
// through its front until a new incarnation answers. See bench/README.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/scoped_actor.hpp>
#include <spdlog/spdlog.h>

#include "app/node.hpp"
#include "messages/build_request.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace fs = std::filesystem;
using namespace conveyor;
using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "restart_bench: %s\n", what.c_str());
  std::exit(1);
}

double percentile(std::vector<double> xs, double p) {
  std::sort(xs.begin(), xs.end());
  auto rank = static_cast<size_t>(p / 100.0 * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(rank, xs.size() - 1)];
}

/// Asks a module something through its front; answers who answered (an
/// error answer counts too: it comes from the module) and whether it is
/// ready, e.g. the scheduler's `recovered`.
using probe = std::function<std::pair<caf::actor_addr, bool>(caf::scoped_actor&)>;

template <class Handle, class... Ts>
std::pair<caf::actor_addr, bool> ask(caf::scoped_actor& self, const Handle& to,
                                     Ts... xs) {
  std::pair<caf::actor_addr, bool> result;
  self->request(caf::actor_cast<caf::actor>(to), 1s, xs...)
    .receive(
      [&](caf::message&) {
        result = {caf::actor_cast<caf::actor_addr>(self->current_sender()), true};
      },
      [&](caf::error&) {
        result = {caf::actor_cast<caf::actor_addr>(self->current_sender()), true};
      });
  return result;
}

struct figures {
  std::vector<double> serving_ms; ///< crash → a new incarnation answers
  std::vector<double> ready_ms;   ///< crash → it says it is ready
};

figures measure(caf::scoped_actor& self, const node& n, const std::string& path,
                probe ask_module, int rounds) {
  figures result;
  for (int i = 0; i < rounds; ++i) {
    auto before = ask_module(self).first;
    auto t0 = clock_type::now();
    auto crashed = false;
    self->request(n.tree, 5s, crash_atom::value, path)
      .receive([&](bool) { crashed = true; }, [](caf::error&) {});
    if (!crashed)
      die("cannot crash " + path);
    for (;;) {
      auto [who, ready] = ask_module(self);
      if (who && who != before) {
        auto t1 = clock_type::now();
        result.serving_ms.push_back(
          std::chrono::duration<double, std::milli>(t1 - t0).count());
        while (!ready)
          ready = ask_module(self).second;
        result.ready_ms.push_back(std::chrono::duration<double, std::milli>(
                                    clock_type::now() - t0)
                                    .count());
        break;
      }
    }
  }
  return result;
}

} // namespace

int main(int argc, char** argv) {
  int rounds = argc > 1 ? std::atoi(argv[1]) : 200;
  spdlog::set_level(spdlog::level::err);
  char pattern[] = "/tmp/conveyor-restart-bench-XXXXXX";
  if (!mkdtemp(pattern))
    die("mkdtemp failed");
  fs::path dir = pattern;
  caf::actor_system_config cfg;
  configure_node_system(cfg);
  {
    caf::actor_system sys{cfg};
    node_config ncfg;
    ncfg.data_dir = dir;
    ncfg.noop_executor = true;
    ncfg.max_restarts = 1'000'000;
    auto started = start_node(sys, ncfg);
    if (!started)
      die(describe(started.error()));
    auto n = *started;
    caf::scoped_actor self{sys};
    struct target {
      std::string path;
      probe ask_module;
    };
    build_request bogus;
    bogus.repo = (dir / "no-such-repo").string();
    std::vector<target> targets{
      {"core/scheduler",
       [&n](caf::scoped_actor& s) {
         std::pair<caf::actor_addr, bool> result;
         s->request(n.scheduler, 1s, fetch_atom::value, status_atom::value)
           .receive(
             [&](const scheduler_status& st) {
               result = {caf::actor_cast<caf::actor_addr>(s->current_sender()),
                         st.recovered};
             },
             [](caf::error&) {});
         return result;
       }},
      {"core/log_sequencer",
       [&n](caf::scoped_actor& s) {
         return ask(s, n.sequencer, fetch_atom::value, metrics_atom::value);
       }},
      {"core/gatekeeper",
       [&n, bogus](caf::scoped_actor& s) { return ask(s, n.gatekeeper, bogus); }},
      {"store",
       [&n](caf::scoped_actor& s) {
         return ask(s, n.store, fetch_atom::value, metrics_atom::value);
       }},
    };
    std::printf("| module | crashes | serving again p50 ms | p99 ms | max ms "
                "| ready p50 ms | ready p99 ms |\n|---|---|---|---|---|---|---|\n");
    for (auto& t : targets) {
      auto f = measure(self, n, t.path, t.ask_module, rounds);
      std::printf("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2f |\n",
                  t.path.c_str(), rounds, percentile(f.serving_ms, 50),
                  percentile(f.serving_ms, 99),
                  *std::max_element(f.serving_ms.begin(), f.serving_ms.end()),
                  percentile(f.ready_ms, 50), percentile(f.ready_ms, 99));
    }
    stop_node(n);
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}
