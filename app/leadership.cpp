#include "app/leadership.hpp"

#include <mutex>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/http/server.hpp"
#include "adapters/postgres/leader_lock.hpp"
#include "app/prometheus.hpp"
#include "messages/error.hpp"

namespace conveyor {

namespace {

using json = nlohmann::json;

metric_family leader_gauge(bool leads) {
  return {"conveyor_leader",
          "1 while this node holds the leader lock of its database",
          "gauge",
          {{"", {}, leads ? 1.0 : 0.0}}};
}

// What the standby answers, whoever asks: it only knows who leads.
class standby_answers {
public:
  void set_leader(std::string name) {
    std::lock_guard<std::mutex> guard{mtx_};
    leader_ = std::move(name);
  }

  void operator()(http::request& req, http::responder res) const {
    std::string leader;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      leader = leader_;
    }
    if (req.method == "GET" && req.path == "/healthz") {
      res.send({200, "application/json",
                json{{"status", "ok"}, {"role", "standby"}}.dump(), {}});
    } else if (req.method == "GET" && req.path == "/readyz") {
      res.send({503, "application/json",
                json{{"ready", false}, {"role", "standby"}, {"leader", leader}}
                  .dump(),
                {}});
    } else if (req.method == "GET" && req.path == "/metrics") {
      res.send({200, "text/plain; version=0.0.4",
                to_prometheus_text({leader_gauge(false)}),
                {}});
    } else {
      auto who = leader.empty() ? std::string{"no node leads right now"}
                                : "the leader is " + leader;
      res.send(http::json_error(
        503, "this node is a standby and serves nothing until it leads ("
               + who + ")",
        req.request_id));
    }
  }

private:
  mutable std::mutex mtx_;
  std::string leader_;
};

} // namespace

std::string leader_name() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0)
    host[0] = '\0';
  return "conveyor " + std::string{host} + " pid "
         + std::to_string(getpid());
}

caf::expected<std::optional<uint16_t>>
stand_by(leader_lock& lock, const standby_config& cfg,
         const std::function<bool()>& stop_requested) {
  auto log = spdlog::default_logger();
  auto first = lock.try_acquire();
  if (!first)
    return std::move(first.error());
  if (*first)
    return std::optional<uint16_t>{cfg.port};
  // Who leads is known before the first answer.
  std::string leader;
  auto answers = std::make_shared<standby_answers>();
  if (auto holder = lock.current_holder()) {
    leader = *holder;
    answers->set_leader(leader);
    log->info("standby: waiting for the leader lock; leader=\"{}\"", leader);
  }
  http::server_config scfg;
  scfg.host = cfg.host;
  scfg.port = cfg.port;
  std::unique_ptr<http::server> server;
  try {
    server = http::server::start(scfg, [answers](http::request& req,
                                                 http::responder res) {
      (*answers)(req, std::move(res));
    });
  } catch (const std::exception& e) {
    return make_error(errc::unavailable,
                      "cannot listen on " + cfg.host + ":"
                        + std::to_string(cfg.port) + ": " + e.what());
  }
  auto port = server->port();
  std::printf("conveyor serve: standby, listening on http://%s:%u until the "
              "leader lock is free\n",
              cfg.host.c_str(), port);
  std::fflush(stdout);
  auto db_was_down = false;
  auto since = std::chrono::steady_clock::now();
  while (!stop_requested()) {
    if (db_was_down) {
      // Back only once the holder can be read; then the old leader gets its
      // head start.
      if (!lock.current_holder()) {
        std::this_thread::sleep_for(cfg.poll);
        continue;
      }
      db_was_down = false;
      log->info("standby: PostgreSQL is back; leaving the leader {} ms to "
                "take its lock back",
                cfg.settle.count());
      std::this_thread::sleep_for(cfg.settle);
      continue;
    }
    auto taken = lock.try_acquire();
    if (!taken) {
      log->warn("standby: {}", describe(taken.error()));
      db_was_down = true;
      std::this_thread::sleep_for(cfg.poll);
      continue;
    }
    if (*taken) {
      std::chrono::duration<double, std::milli> waited
        = std::chrono::steady_clock::now() - since;
      log->info("took the leader lock after standing by for {:.0f} ms; "
                "previous leader=\"{}\"",
                waited.count(), leader);
      server->stop();
      return std::optional<uint16_t>{port};
    }
    auto holder = lock.current_holder();
    if (holder && *holder != leader) {
      leader = *holder;
      answers->set_leader(leader);
      log->info("standby: waiting for the leader lock; leader=\"{}\"",
                leader);
    }
    std::this_thread::sleep_for(cfg.poll);
  }
  return std::optional<uint16_t>{};
}

leadership_watch::leadership_watch(leader_lock& lock,
                                   std::function<void()> on_lost,
                                   std::chrono::milliseconds interval)
  : lock_(lock), on_lost_(std::move(on_lost)), interval_(interval) {
  thread_ = std::thread{[this] { run(); }};
}

leadership_watch::~leadership_watch() {
  stopping_ = true;
  thread_.join();
}

metric_families leadership_watch::metrics() const {
  return {leader_gauge(holding_.load()),
          {"conveyor_leader_lock_losses_total",
           "Times the session holding the leader lock was lost",
           "counter",
           {{"", {}, static_cast<double>(losses_.load())}}}};
}

void leadership_watch::run() {
  auto log = spdlog::default_logger();
  // Sleeps in short steps so that the destructor never waits long.
  auto pause = [this](std::chrono::milliseconds total) {
    auto until = std::chrono::steady_clock::now() + total;
    while (!stopping_ && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  };
  while (!stopping_) {
    pause(interval_);
    if (stopping_ || lock_.still_held())
      continue;
    holding_ = false;
    losses_.fetch_add(1);
    log->warn("lost the session holding the leader lock; taking it back as "
              "soon as PostgreSQL answers");
    while (!stopping_) {
      auto taken = lock_.try_acquire();
      if (taken && *taken) {
        holding_ = true;
        log->info("took the leader lock back");
        break;
      }
      if (taken) {
        auto holder = lock_.current_holder();
        log->error("another node took the leader lock (leader=\"{}\"): this "
                   "node stops leading",
                   holder ? *holder : std::string{"unknown"});
        on_lost_();
        return;
      }
      pause(std::chrono::milliseconds(100));
    }
  }
}

} // namespace conveyor
