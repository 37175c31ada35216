#include "adapters/github/status_reporter.hpp"

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <spdlog/spdlog.h>

#include "adapters/github/github_client.hpp"
#include "adapters/github/status_outbox.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor::github {

namespace {

using round_atom = caf::atom_constant<caf::atom("round")>;

constexpr auto store_timeout = std::chrono::seconds(10);

std::shared_ptr<spdlog::logger> logger() {
  static auto result = [] {
    if (auto existing = spdlog::get("github"))
      return existing;
    auto created = spdlog::default_logger()->clone("github");
    try {
      spdlog::register_logger(created);
    } catch (const spdlog::spdlog_ex&) {
      return spdlog::get("github");
    }
    return created;
  }();
  return result;
}

status_state status_of(build_state x) {
  switch (x) {
    case build_state::created:
    case build_state::started:
      return status_state::pending;
    case build_state::passed:
      return status_state::success;
    case build_state::failed:
      return status_state::failure;
    default:
      return status_state::error;
  }
}

std::string description_of(const build_record& build) {
  auto number = "Build #" + std::to_string(build.number);
  switch (build.state) {
    case build_state::created:
      return number + " is queued";
    case build_state::started:
      return number + " is running";
    case build_state::passed:
      return number + " passed";
    case build_state::failed:
      return number + " failed";
    case build_state::canceled:
      return number + " was canceled";
    default:
      return number + " errored";
  }
}

struct reporter_state {
  static inline const char* name = "github_status_reporter";

  status_reporter_config cfg;
  store_actor store;
  std::shared_ptr<github_client> client;
};

using reporter_ptr = caf::stateful_actor<reporter_state>*;

void next_round(reporter_ptr self, bool at_once) {
  if (at_once)
    self->send(self, round_atom::value);
  else
    self->delayed_send(self, self->state.cfg.poll_interval, round_atom::value);
}

// Posts what is due, in build order; stops at the first failure (GitHub is
// likely down: the rest waits for the next round, after the poll interval).
void round(reporter_ptr self) {
  auto& st = self->state;
  self->request(st.store, store_timeout, fetch_atom::value, outbox_atom::value,
                st.cfg.batch)
    .then(
      [self](const std::vector<build_record>& due) {
        auto& st = self->state;
        st.cfg.stats->backlog = static_cast<int32_t>(due.size());
        size_t done = 0;
        for (auto& build : due) {
          auto state = status_of(build.state);
          auto context = build.request.event == "pull_request"
                           ? "conveyor/pr"
                           : "conveyor/push";
          auto url = st.cfg.public_url.empty()
                       ? std::string{}
                       : st.cfg.public_url + "/api/builds/"
                           + std::to_string(build.id);
          auto result = st.client->post_status(build.request.slug,
                                               build.request.sha, state,
                                               context, description_of(build),
                                               url, build.request.request_id);
          if (!result.ok()) {
            logger()->warn("commit status not sent, kept in the outbox "
                           "request_id={} build_id={} state={} error=\"{}\"",
                           build.request.request_id, build.id,
                           to_string(state), result.error.message);
            break;
          }
          logger()->info("commit status sent request_id={} build_id={} "
                         "repo={} sha={} state={} context={}",
                         build.request.request_id, build.id,
                         build.request.slug, build.request.sha,
                         to_string(state), context);
          ++done;
          st.cfg.stats->sent.fetch_add(1);
          self->request(st.store, store_timeout, outbox_atom::value, build.id,
                        to_string(state))
            .then([](bool) {},
                  [id = build.id](const caf::error& err) {
                    // Sent again next round: GitHub keeps the latest.
                    logger()->warn("could not note a sent status build_id={} "
                                   "error=\"{}\"",
                                   id, describe(err));
                  });
        }
        next_round(self, done == due.size() && !due.empty()
                           && due.size() == static_cast<size_t>(st.cfg.batch));
      },
      [self](const caf::error& err) {
        logger()->warn("reading the status outbox failed error=\"{}\"",
                       describe(err));
        next_round(self, false);
      });
}

caf::behavior reporter(reporter_ptr self, status_reporter_config cfg,
                       store_actor store, std::shared_ptr<github_client> client) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.store = std::move(store);
  st.client = std::move(client);
  next_round(self, true);
  return {
    [self](round_atom) { round(self); },
    [self](fetch_atom, metrics_atom) {
      auto& st = self->state;
      auto result = to_metric_families(st.client->stats());
      for (auto& family : to_metric_families(*st.cfg.stats))
        result.push_back(std::move(family));
      return result;
    },
    [](crash_atom) {
      throw std::runtime_error("injected fault in github status reporter");
    },
  };
}

} // namespace

metric_families to_metric_families(const status_reporter_stats& stats) {
  return {{"conveyor_github_status_outbox",
           "Commit statuses due at the last round (at most a batch).",
           "gauge",
           {metric_sample{"", {}, static_cast<double>(stats.backlog.load())}}},
          {"conveyor_github_statuses_sent_total",
           "Commit statuses posted to GitHub.",
           "counter",
           {metric_sample{"", {}, static_cast<double>(stats.sent.load())}}}};
}

caf::actor spawn_status_reporter(caf::actor_system& sys,
                                 status_reporter_config cfg, store_actor store,
                                 std::shared_ptr<github_client> client) {
  if (!cfg.stats)
    cfg.stats = std::make_shared<status_reporter_stats>();
  return sys.spawn<caf::detached>(reporter, std::move(cfg), std::move(store),
                                  std::move(client));
}

} // namespace conveyor::github
