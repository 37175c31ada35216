#include "actors/gatekeeper/gatekeeper_actor.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <caf/actor_system.hpp>
#include <caf/send.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <spdlog/spdlog.h>

#include "actors/gatekeeper/approval.hpp"
#include "actors/gatekeeper/build_plan.hpp"
#include "actors/gatekeeper/mirror.hpp"
#include "actors/gatekeeper/plan_cache.hpp"
#include "actors/gatekeeper/repository_cache.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

// -- helpers ------------------------------------------------------------------

using recover_atom = caf::atom_constant<caf::atom("recover")>;

std::shared_ptr<spdlog::logger> gatekeeper_logger() {
  static const char* name = "gatekeeper";
  if (auto log = spdlog::get(name))
    return log;
  // A clone of the default logger writes where the application sends logs
  // (stderr for `conveyor run`, whose stdout is the build's output).
  auto created = spdlog::default_logger()->clone(name);
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Another gatekeeper registered the name between get and register.
    return spdlog::get(name);
  }
  return created;
}

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

// -- state --------------------------------------------------------------------

struct gatekeeper_state {
  gatekeeper_config cfg;
  store_actor store;
  scheduler_actor scheduler;
  // Not thread-safe, so one per actor; the actor is detached and owns a thread.
  boost::uuids::random_generator uuids;
  std::shared_ptr<spdlog::logger> log;
  // Opening a repository and parsing its config dominate a request; both are
  // kept for the next request (not thread-safe either).
  repository_cache repos;
  plan_cache plans;
  /// Requests whose build is being stored, by key: answered with an error if
  /// the gatekeeper fails, so that their senders can ask again at once (the
  /// store makes one build per request id, however often it is asked).
  std::map<uint64_t, caf::typed_response_promise<build_record>> owed;
  uint64_t next_owed = 1;

  static inline const char* name = "gatekeeper";
};

/// The gatekeeper as spawned: its interface plus recovery and fault injection.
using gatekeeper_impl
  = gatekeeper_actor::extend<caf::reacts_to<recover_atom>,
                             caf::reacts_to<crash_atom>>;
using gatekeeper_pointer = gatekeeper_impl::stateful_pointer<gatekeeper_state>;

constexpr auto recovery_retry = std::chrono::seconds(1);

// -- planning -----------------------------------------------------------------

build_record plan(gatekeeper_state& st, const resolved_request& x) {
  if (x.config.name.empty())
    return plan_build(x.request, x.config, st.cfg.limits, now_ms());
  return plan_build(x.request, x.config, *st.plans.plan(x.config),
                    st.cfg.limits, now_ms());
}

// -- configs read through the code host's API --------------------------------

// What reading a request's config through `remote_files` gave: the request
// completed with its config (none if both files are missing), or why the
// config could not be read.
struct remote_config {
  resolved_request resolved;
  std::string error;
};

std::optional<remote_config> read_remote_config(gatekeeper_state& st,
                                                const build_request& x) {
  if (!st.cfg.remote_files || x.slug.empty() || x.sha.empty()
      || !is_repository_url(x.repo))
    return std::nullopt;
  remote_config out;
  auto& req = out.resolved.request;
  req = x;
  // As resolve_request does for a webhook's sha: the ref names the branch.
  if (req.branch.empty() && req.tag.empty()) {
    auto names = names_of_ref(req.ref);
    req.branch = names.branch;
    req.tag = names.tag;
  }
  if (req.event.empty())
    req.event = "push";
  // Travis reads the commit message before the config: a skipped commit
  // costs no call (plan_build rejects it first).
  if (skips_ci(req.commit_message))
    return out;
  for (const char* name : config_file_names) {
    auto file = st.cfg.remote_files({req.repo, req.slug, name, req.sha,
                                     req.request_id});
    switch (file.status) {
      case remote_file_status::not_served:
        return std::nullopt;
      case remote_file_status::failed:
        out.error = std::move(file.error);
        return out;
      case remote_file_status::missing:
        continue;
      case remote_file_status::found: {
        auto id = blob_id_of(file.content);
        out.resolved.config = config_file{name, std::move(file.content),
                                          std::move(id)};
        return out;
      }
    }
  }
  return out;
}

// The build of a request whose config could not be read: errored, with the
// reason, so that the request is recorded rather than lost.
build_record fetch_failed_build(const build_request& req,
                                const std::string& why) {
  build_record build;
  build.request = req;
  build.state = build_state::errored;
  build.created_at_ms = now_ms();
  build.finished_at_ms = build.created_at_ms;
  build.messages.push_back({"error", "", "config_fetch_failed",
                            "could not fetch config from GitHub: " + why, 0,
                            0});
  return build;
}

// Names what was looked for, and where, in the "no config" finding.
void explain_no_config(build_record& build) {
  for (auto& msg : build.messages)
    if (msg.code == "no_config")
      msg.message = "no .conveyor.yml or .travis.yml found in "
                    + build.request.slug + " at commit " + build.request.sha
                    + " (read through the GitHub contents API)";
}

// -- event handlers -----------------------------------------------------------

void store_build(gatekeeper_pointer self, build_record build,
                 caf::typed_response_promise<build_record> promise) {
  auto& st = self->state;
  auto key = st.next_owed++;
  st.owed.emplace(key, promise);
  // Answers once, unless the gatekeeper's failure answered already.
  auto answer = [self, key](auto&& x) {
    auto& owed = self->state.owed;
    if (auto i = owed.find(key); i != owed.end()) {
      i->second.deliver(std::forward<decltype(x)>(x));
      owed.erase(i);
    }
  };
  auto request_id = build.request.request_id;
  if (!st.store) {
    st.log->error("no store request_id={}", request_id);
    answer(make_error(errc::store_failure, "the gatekeeper has no store"));
    return;
  }
  auto timeout = st.cfg.store_timeout.count() > 0
                   ? caf::duration{st.cfg.store_timeout}
                   : caf::duration{caf::infinite};
  self->request(st.store, timeout, create_atom::value, std::move(build))
    .then(
      [self, answer](build_record& stored) mutable {
        auto& st = self->state;
        st.log->info("build stored request_id={} build_id={} number={} "
                     "state={} jobs={}",
                     stored.request.request_id, stored.id, stored.number,
                     to_string(stored.state), stored.jobs.size());
        if (stored.state != build_state::errored && st.scheduler)
          caf::anon_send(st.scheduler, enqueue_atom::value, stored);
        answer(std::move(stored));
      },
      [self, answer, request_id](caf::error& err) mutable {
        self->state.log->error("store failed request_id={} error=\"{}\"",
                               request_id, describe(err));
        answer(std::move(err));
      });
}

caf::result<build_record> on_request(gatekeeper_pointer self,
                                     build_request x) {
  auto& st = self->state;
  auto rp = self->make_response_promise<build_record>();
  if (x.request_id.empty())
    x.request_id = boost::uuids::to_string(st.uuids());
  st.log->info("request received request_id={} source={} repo={} ref={} "
               "sha={} event={}",
               x.request_id, x.source, x.repo, x.ref, x.sha, x.event);
  auto request_id = x.request_id;
  build_record build;
  if (auto remote = read_remote_config(st, x)) {
    if (!remote->error.empty()) {
      st.log->warn("config fetch failed request_id={} slug={} sha={} "
                   "error=\"{}\"",
                   request_id, x.slug, x.sha, remote->error);
      build = fetch_failed_build(remote->resolved.request, remote->error);
    } else {
      st.log->info("config read through the API request_id={} slug={} "
                   "config={}",
                   request_id, x.slug,
                   remote->resolved.config.name.empty()
                     ? "none"
                     : remote->resolved.config.name);
      build = plan(st, remote->resolved);
      if (remote->resolved.config.name.empty())
        explain_no_config(build);
    }
  } else {
    // Private repositories on the code host: the mirror fetch authenticates.
    std::optional<scoped_fetch_tokens> tokens;
    if (st.cfg.fetch_tokens)
      tokens.emplace(st.cfg.fetch_tokens);
    auto resolved = resolve_request(std::move(x), st.cfg.mirror_root,
                                    st.repos);
    if (!resolved) {
      st.log->warn("request rejected request_id={} error=\"{}\"", request_id,
                   describe(resolved.error()));
      rp.deliver(std::move(resolved.error()));
      return rp;
    }
    build = plan(st, *resolved);
  }
  st.log->info("build planned request_id={} sha={} branch={} tag={} "
               "config={} state={} jobs={} messages={}",
               request_id, build.request.sha, build.request.branch,
               build.request.tag, build.config.empty() ? "none" : build.config,
               to_string(build.state), build.jobs.size(),
               build.messages.size());
  for (const auto& msg : build.messages)
    st.log->log(msg.level == "error" ? spdlog::level::warn
                                     : spdlog::level::info,
                "config finding request_id={} {}", request_id, to_string(msg));
  store_build(self, std::move(build), rp);
  return rp;
}

// A build stored by a predecessor that failed before handing it on (or whose
// scheduler failed before taking it) is handed to the scheduler again: it
// ignores builds it already has.
void recover(gatekeeper_pointer self) {
  auto& st = self->state;
  if (!st.store || !st.scheduler)
    return;
  self->request(st.store, std::chrono::seconds(30), fetch_atom::value,
                unfinished_atom::value)
    .then(
      [self](const std::vector<build_record>& builds) {
        auto& st = self->state;
        size_t handed = 0;
        // Only builds no scheduler has touched: it queues every job first.
        auto untouched = [](const build_record& build) {
          return std::all_of(build.jobs.begin(), build.jobs.end(),
                             [](const job_record& job) {
                               return job.state == job_state::created;
                             });
        };
        for (auto& build : builds)
          if (build.state == build_state::created && untouched(build)) {
            caf::anon_send(st.scheduler, enqueue_atom::value, build);
            ++handed;
          }
        st.log->info("recovered builds_handed_to_scheduler={}", handed);
      },
      [self](const caf::error& err) {
        self->state.log->error("recovery failed, retrying error=\"{}\"",
                               describe(err));
        self->delayed_send(self, recovery_retry, recover_atom::value);
      });
}

gatekeeper_impl::behavior_type
gatekeeper(gatekeeper_pointer self, gatekeeper_config cfg, store_actor store,
           scheduler_actor scheduler) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.store = std::move(store);
  st.scheduler = std::move(scheduler);
  st.log = gatekeeper_logger();
  self->set_exception_handler([self](std::exception_ptr& eptr) -> caf::error {
    auto what = describe(eptr);
    auto& st = self->state;
    st.log->error("failing error=\"{}\" requests_in_flight={}", what,
                  st.owed.size());
    for (auto& [key, rp] : st.owed)
      rp.deliver(make_error(errc::unavailable,
                            "the gatekeeper failed; ask again"));
    st.owed.clear();
    return exit_reason_of(eptr);
  });
  recover(self);
  return {
    [self](build_request& x) -> caf::result<build_record> {
      return on_request(self, std::move(x));
    },
    [self](recover_atom) { recover(self); },
    [](crash_atom) { throw std::runtime_error("injected fault in gatekeeper"); },
  };
}

} // namespace

gatekeeper_actor spawn_gatekeeper(caf::actor_system& sys, gatekeeper_config cfg,
                                  store_actor store,
                                  scheduler_actor scheduler) {
  return caf::actor_cast<gatekeeper_actor>(
    sys.spawn<caf::detached>(gatekeeper, std::move(cfg), std::move(store),
                             std::move(scheduler)));
}

} // namespace conveyor
