#include "app/serve_command.hpp"

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

#include "adapters/github/app_auth.hpp"
#include "adapters/github/clone_credentials.hpp"
#include "adapters/github/github_client.hpp"
#include "adapters/github/status_reporter.hpp"
#include "adapters/postgres/leader_lock.hpp"
#include "app/http_api.hpp"
#include "app/leadership.hpp"
#include "app/logging.hpp"
#include "app/node.hpp"
#include "app/serve_settings.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

std::atomic<int> stop_requests{0};

// Set once another node took this node's leader lock: it must stop leading,
// draining included (app/leadership.hpp).
std::atomic<bool> lost_lead{false};

extern "C" void on_stop_signal(int) {
  stop_requests.fetch_add(1);
}

node_config node_config_of(const serve_settings& s) {
  node_config result;
  result.data_dir = s.data_dir;
  result.db_url = s.db_url;
  result.workers = s.workers;
  result.limits = s.limits;
  result.kill_grace = s.kill_grace;
  result.max_attempts = s.max_attempts;
  result.noop_executor = s.noop_executor;
  result.max_restarts = s.max_restarts;
  result.restart_window = s.restart_window;
  return result;
}

// Asks the scheduler to drain (and maybe cancel what runs); answers how many
// jobs still run, or -1 if it did not answer.
int32_t drain(caf::scoped_actor& self, const node& n, bool cancel_running) {
  int32_t running = -1;
  self->request(n.scheduler, std::chrono::seconds(5), drain_atom::value,
                cancel_running)
    .receive([&running](const scheduler_status& st) { running = st.running; },
             [](const caf::error&) {});
  return running;
}

// Lets running jobs finish within the grace period, then cancels them and
// waits until their cancellation is stored.
void drain_jobs(caf::scoped_actor& self, const node& n,
                const serve_settings& settings) {
  auto log = spdlog::default_logger();
  auto deadline = std::chrono::steady_clock::now() + settings.shutdown_grace;
  auto running = drain(self, n, false);
  log->info("shutting down: running_jobs={} grace_ms={}", running,
            settings.shutdown_grace.count());
  while (running > 0 && std::chrono::steady_clock::now() < deadline
         && stop_requests.load() < 2 && !lost_lead) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    running = drain(self, n, false);
  }
  if (running <= 0 || lost_lead)
    return; // the new leader has requeued what still runs
  log->warn("shutting down: canceling running_jobs={}", running);
  running = drain(self, n, true);
  auto cancel_deadline = std::chrono::steady_clock::now() + settings.kill_grace
                         + std::chrono::seconds(5);
  while (running > 0 && std::chrono::steady_clock::now() < cancel_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    running = drain(self, n, false);
  }
}

// The GitHub API client, if a token or App is configured. Shared by every
// incarnation of the status reporter, so its breakers outlive restarts.
std::shared_ptr<github::github_client>
make_github_client(const serve_settings& settings,
                   std::shared_ptr<github::token_source>* tokens_out = nullptr) {
  if (settings.github_token.empty() && settings.github_app_id.empty())
    return nullptr;
  github::client_settings cs;
  cs.base_url = settings.github_api_url;
  cs.timeout = settings.github_timeout;
  cs.breaker.failure_threshold = settings.github_breaker_failures;
  cs.breaker.cool_down = settings.github_breaker_open_for;
  std::shared_ptr<github::token_source> tokens;
  if (!settings.github_app_id.empty()) {
    // The token exchange runs on a client of its own, without a token.
    auto exchange = std::make_shared<github::github_client>(cs);
    tokens = std::make_shared<github::installation_token_source>(
      github::app_credentials{settings.github_app_id, settings.github_app_key,
                              settings.github_app_installation},
      exchange);
  } else {
    tokens = std::make_shared<github::static_token_source>(
      settings.github_token);
  }
  if (tokens_out != nullptr)
    *tokens_out = tokens;
  return std::make_shared<github::github_client>(cs, tokens);
}

// "could not fetch .travis.yml of o/r@sha from GitHub: why" without the
// words the gatekeeper puts in front of it ("could not fetch config from
// GitHub: ").
std::string config_fetch_reason(const std::string& message) {
  std::string result = message;
  const std::string lead = "could not fetch ";
  if (result.compare(0, lead.size(), lead) == 0)
    result.erase(0, lead.size());
  const std::string from = " from GitHub: ";
  if (auto at = result.find(from); at != std::string::npos)
    result.replace(at, from.size(), ": ");
  return result;
}

// The token of a private repository's URL on the GitHub host; empty if the
// URL is elsewhere or there is none (then the fetch or clone goes without,
// and fails if the repository is private).
std::string clone_token(const github::clone_credentials& creds,
                        const std::string& url) {
  auto token = creds.token_for(url);
  if (!token.ok()) {
    spdlog::default_logger()->warn("no token for cloning url={} error=\"{}\"",
                                   url, token.error);
    return {};
  }
  return token.token;
}

// The node's GitHub ports: build configs through the contents API for
// repositories on the GitHub host, and the token for clones and mirror
// fetches of private ones.
void wire_github_ports(node_config& ncfg, const serve_settings& settings,
                       std::shared_ptr<github::github_client> client,
                       std::shared_ptr<github::token_source> tokens) {
  auto creds = std::make_shared<github::clone_credentials>(
    settings.github_api_url, std::move(tokens));
  // The gatekeeper waits for a config on its one thread, and every request
  // behind it too: a short budget, not the statuses' patient one.
  github::api_request budget;
  budget.timeout = std::min(settings.github_timeout,
                            std::chrono::milliseconds{5000});
  budget.retry = github::retry_settings{};
  budget.retry->max_attempts = 3;
  budget.retry->max_delay = std::chrono::milliseconds{2000};
  budget.retry->max_rate_limit_wait = std::chrono::milliseconds{10000};
  ncfg.remote_files = [client, creds, budget](const remote_file_query& q) {
    remote_file out;
    if (!creds->covers(q.repo))
      return out; // not_served: the mirror is read
    auto found = client->fetch_file(q.slug, q.path, q.sha, q.request_id,
                                    budget);
    switch (found.status) {
      case github::fetch_status::found:
        out.status = remote_file_status::found;
        out.content = std::move(found.content);
        break;
      case github::fetch_status::no_such_file:
        out.status = remote_file_status::missing;
        break;
      case github::fetch_status::failed:
        out.status = remote_file_status::failed;
        out.error = config_fetch_reason(found.error.message);
        break;
    }
    return out;
  };
  ncfg.fetch_tokens = [creds](const std::string& url) {
    return clone_token(*creds, url);
  };
  ncfg.clone_auth = [creds](const std::string& url) {
    auto token = clone_token(*creds, url);
    return token.empty() ? token : github::clone_auth_header(token);
  };
}

// The commit-status reporter, a child of the node's integrations.
std::function<child_spec(const node&)>
github_reporter_child(const serve_settings& settings,
                      std::shared_ptr<github::github_client> client,
                      std::shared_ptr<github::status_reporter_stats> stats,
                      std::shared_ptr<std::atomic<uint16_t>> port) {
  auto host = settings.http_host;
  auto public_url = settings.public_url;
  return [client, stats, port, host, public_url](const node& modules) {
    child_spec spec;
    spec.id = "github_status_reporter";
    spec.start = [client, stats, port, host, public_url, store = modules.store](
                   caf::actor_system& sys) -> caf::expected<caf::actor> {
      github::status_reporter_config rc;
      rc.stats = stats;
      rc.public_url = !public_url.empty()
                        ? public_url
                        : "http://" + host + ":" + std::to_string(port->load());
      return github::spawn_status_reporter(sys, rc, store, client);
    };
    return spec;
  };
}

int serve(const serve_settings& settings) {
  // On PostgreSQL, the node that holds the leader lock leads; the others
  // stand by until it is free (app/leadership.hpp).
  std::unique_ptr<leader_lock> lock;
  std::shared_ptr<leadership_watch> watch;
  auto http_port = settings.http_port;
  // Taken before standing by: a standby on the leader's data directory would
  // only fail when it takes over.
  auto data_lock = lock_data_dir(settings.data_dir);
  if (!data_lock) {
    std::fprintf(stderr, "conveyor serve: %s\n",
                 describe(data_lock.error()).c_str());
    return 1;
  }
  if (!settings.db_url.empty()) {
    lock = std::make_unique<leader_lock>(settings.db_url, leader_name());
    standby_config standby;
    standby.host = settings.http_host;
    standby.port = settings.http_port;
    auto port = stand_by(*lock, standby,
                         [] { return stop_requests.load() > 0; });
    if (!port) {
      std::fprintf(stderr, "conveyor serve: %s\n",
                   describe(port.error()).c_str());
      return 1;
    }
    if (!*port)
      return 0; // asked to stop while standing by
    http_port = **port;
    watch = std::make_shared<leadership_watch>(*lock,
                                               [] { lost_lead = true; });
  }
  caf::actor_system_config cfg;
  configure_node_system(cfg);
  caf::actor_system sys{cfg};
  http_api_config api_cfg;
  api_cfg.host = settings.http_host;
  api_cfg.port = http_port;
  api_cfg.max_body_bytes = settings.max_body_bytes;
  api_cfg.api_token = settings.api_token;
  api_cfg.fault_injection = settings.fault_injection;
  api_cfg.github.secrets = settings.webhook_secrets;
  api_cfg.draining = std::make_shared<std::atomic<bool>>(false);
  auto port = std::make_shared<std::atomic<uint16_t>>(0);
  auto ncfg = node_config_of(settings);
  ncfg.data_lock = *data_lock;
  std::shared_ptr<github::token_source> github_tokens;
  if (auto client = make_github_client(settings, &github_tokens)) {
    wire_github_ports(ncfg, settings, client, github_tokens);
    auto stats = std::make_shared<github::status_reporter_stats>();
    ncfg.integrations.push_back(
      github_reporter_child(settings, client, stats, port));
    api_cfg.extra_metrics = [client, stats] {
      auto families = github::to_metric_families(client->stats());
      for (auto& family : github::to_metric_families(*stats))
        families.push_back(std::move(family));
      return families;
    };
  }
  if (watch) {
    api_cfg.extra_metrics = [watch, more = api_cfg.extra_metrics] {
      auto families = watch->metrics();
      if (more)
        for (auto& family : more())
          families.push_back(std::move(family));
      return families;
    };
  }
  ncfg.edge.push_back([api_cfg, port](const node& modules) {
    return http_api_child(modules, api_cfg, port);
  });
  auto started = start_node(sys, ncfg);
  if (!started) {
    std::fprintf(stderr, "conveyor serve: %s\n", describe(started.error()).c_str());
    return 1;
  }
  auto& n = *started;
  std::printf("conveyor serve: listening on http://%s:%u (data: %s, store: "
              "%s, workers: %zu)\n",
              settings.http_host.c_str(), port->load(),
              settings.data_dir.c_str(),
              settings.db_url.empty() ? "sqlite" : settings.db_url.c_str(),
              settings.workers);
  if (settings.fault_injection)
    std::printf("conveyor serve: fault injection is on "
                "(POST /api/debug/crash)\n");
  std::fflush(stdout);
  caf::scoped_actor self{sys};
  self->monitor(n.supervisor);
  auto node_failed = false;
  while (stop_requests.load() == 0 && !node_failed && !lost_lead) {
    self->receive(
      [&](const caf::down_msg& msg) {
        std::fprintf(stderr,
                     "conveyor serve: the node gave up after repeated "
                     "failures and stopped: %s\n",
                     describe(msg.reason).c_str());
        node_failed = true;
      },
      caf::after(std::chrono::milliseconds(100)) >> [] {});
  }
  if (lost_lead) {
    // Another node leads and has requeued what runs here: stop at once.
    stop_node(n);
    std::fprintf(stderr, "conveyor serve: another node took the leader lock; "
                         "stopped so that only one node leads\n");
    return 3;
  }
  if (!node_failed) {
    api_cfg.draining->store(true);
    drain_jobs(self, n, settings);
  }
  stop_node(n);
  if (lost_lead) {
    std::fprintf(stderr, "conveyor serve: another node took the leader lock "
                         "while this one shut down\n");
    return 3;
  }
  spdlog::default_logger()->info("stopped");
  return node_failed ? 1 : 0;
}

} // namespace

int serve_command(const std::vector<std::string>& args) {
  auto loaded = load_serve_settings(args, [](const char* name) {
    return std::getenv(name);
  });
  if (!loaded) {
    std::fprintf(stderr, "conveyor serve: %s\n(see conveyor serve --help)\n",
                 describe(loaded.error()).c_str());
    return 2;
  }
  if (loaded->help) {
    std::fputs(serve_usage().c_str(), stdout);
    return 0;
  }
  auto& settings = loaded->settings;
  if (auto err = setup_logging(settings.log_level); !err.empty()) {
    std::fprintf(stderr, "conveyor serve: %s\n", err.c_str());
    return 2;
  }
  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  std::signal(SIGPIPE, SIG_IGN);
  return serve(settings);
}

} // namespace conveyor
