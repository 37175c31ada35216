#include "app/http_api.hpp"

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <optional>
#include <sstream>
#include <iterator>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include "adapters/http/router.hpp"
#include "adapters/http/server.hpp"
#include "app/json_views.hpp"
#include "app/prometheus.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto module_timeout = 10s;
constexpr auto submit_timeout = 60s;

// -- responses ----------------------------------------------------------------

http::response json_response(int status, const json& body) {
  http::response result;
  result.status = status;
  result.content_type = "application/json";
  // Commit messages and logs may hold any bytes: never throw on them.
  result.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return result;
}

http::response error_response(const http::request& req, int status,
                              const std::string& message) {
  return http::json_error(status, message, req.request_id);
}

int status_of(const caf::error& err) {
  if (err.category() == errc_category) {
    switch (static_cast<errc>(err.code())) {
      case errc::unknown_build:
      case errc::unknown_job:
      case errc::unknown_child:
        return 404;
      case errc::invalid_config:
      case errc::no_config:
      case errc::unknown_repository:
      case errc::unknown_ref:
        return 400;
      case errc::conflict:
        return 409;
      case errc::unavailable:
        return 503;
      default:
        return 500;
    }
  }
  if (err == caf::sec::request_timeout)
    return 504;
  if (err == caf::sec::request_receiver_down)
    return 503;
  return 500;
}

http::response error_response(const http::request& req, const caf::error& err) {
  return error_response(req, status_of(err), describe(err));
}

// The error handler of a request to a module: answers the error as JSON.
auto reply_error(const http::request& req, const http::responder& out) {
  return [req, out](const caf::error& err) { out.send(error_response(req, err)); };
}

// -- request parsing ----------------------------------------------------------

std::optional<int64_t> positive_id(const std::string& text) {
  if (text.empty() || text.size() > 18
      || text.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto value = std::stoll(text);
  if (value <= 0)
    return std::nullopt;
  return value;
}

std::optional<std::string> query_value(const http::request& req,
                                       const std::string& key) {
  auto i = req.query.find(key);
  if (i == req.query.end())
    return std::nullopt;
  return i->second;
}

// Compares without an early exit, so the time taken tells nothing of where
// the strings differ.
bool same_secret(const std::string& x, const std::string& y) {
  unsigned char diff = x.size() == y.size() ? 0 : 1;
  for (size_t i = 0; i < x.size(); ++i)
    diff |= static_cast<unsigned char>(x[i] ^ y[i % (y.empty() ? 1 : y.size())]);
  return diff == 0;
}

// -- supervision --------------------------------------------------------------

metric_families supervision_metrics(const supervision_report& tree) {
  metric_family restarts{"conveyor_supervisor_child_restarts_total",
                         "Restarts of each supervised child.", "counter", {}};
  metric_family up{"conveyor_supervisor_child_up",
                   "1 if the supervised child runs, 0 if not.", "gauge", {}};
  for (auto& child : tree) {
    restarts.samples.push_back({"", {{"child", child.path}},
                                static_cast<double>(child.restarts)});
    up.samples.push_back({"", {{"child", child.path}},
                          child.state == "running" ? 1.0 : 0.0});
  }
  return {restarts, up};
}

json to_json(const supervised_child& x) {
  json exit = nullptr;
  if (x.last_exit_ms > 0)
    exit = {{"reason", x.last_exit_reason}, {"at_ms", x.last_exit_ms}};
  return {{"path", x.path},
          {"id", x.path.substr(x.path.rfind('/') + 1)},
          {"supervisor", x.path.substr(0, x.path.rfind('/'))},
          {"strategy", x.strategy},
          {"restart", x.restart},
          {"is_supervisor", x.supervisor},
          {"dynamic", x.dynamic},
          {"state", x.state},
          {"restarts", x.restarts},
          {"last_exit", exit}};
}

// Finds the child a user names: its path below the root ("core/scheduler")
// or, if unambiguous, its id alone ("scheduler").
std::optional<std::string> resolve_child(const supervision_report& tree,
                                         const std::string& name) {
  std::optional<std::string> found;
  for (auto& child : tree) {
    auto path = child.path.substr(child.path.find('/') + 1);
    if (path == name)
      return path;
    if (path.substr(path.rfind('/') + 1) == name) {
      if (found)
        return std::nullopt;
      found = path;
    }
  }
  return found;
}

// -- process metrics ----------------------------------------------------------

metric_families process_metrics() {
  double rss = 0;
  double cpu = 0;
  std::ifstream stat{"/proc/self/stat"};
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  // Fields after the command name, which may hold spaces: see proc(5).
  auto close = text.rfind(')');
  if (close != std::string::npos) {
    std::istringstream in{text.substr(close + 2)};
    std::vector<std::string> fields{std::istream_iterator<std::string>(in), {}};
    auto ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    if (fields.size() > 22) {
      cpu = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
      rss = std::stod(fields[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
    }
  }
  return {
    {"process_resident_memory_bytes", "Resident memory size in bytes.",
     "gauge", {{"", {}, rss}}},
    {"process_cpu_seconds_total", "User and system CPU time in seconds.",
     "counter", {{"", {}, cpu}}},
  };
}

// -- the live tail ------------------------------------------------------------

using tick_atom = caf::atom_constant<caf::atom("tick")>;
using follower_actor = log_listener_actor::extend<caf::reacts_to<tick_atom>>;

struct follower_state {
  static inline const char* name = "log_follower";

  std::shared_ptr<http::stream> out;
  node modules;
  int64_t job_id = 0;
  int32_t attempt = 0;
  int32_t next = -1;           ///< first live part to write; -1: not caught up
  std::vector<log_part> early; ///< live parts that came before catching up
  int idle_ticks = 0;
  size_t written = 0;          ///< bytes of the log sent so far
  caf::actor_addr sequencer;   ///< the incarnation that took the subscription

  bool send(const std::string& text) {
    written += text.size();
    return text.empty() || out->write(text);
  }

  // Writes a part if it is the next one; answers false once the tail ends.
  bool write(const log_part& part) {
    if (part.number != next)
      return true;
    ++next;
    idle_ticks = 0;
    return send(part.content) && !part.final;
  }
};

using follower_ptr = follower_actor::stateful_pointer<follower_state>;

void end_tail(follower_ptr self) {
  self->state.out->end();
  self->quit();
}

void catch_up(follower_ptr self, int32_t first_live) {
  auto& st = self->state;
  auto on_text = [self, first_live](const std::string& text) {
    auto& st = self->state;
    // After a resubscription, part of it has been sent already.
    if (text.size() > st.written && !st.send(text.substr(st.written))) {
      self->quit();
      return;
    }
    if (first_live < 0) {
      end_tail(self);
      return;
    }
    st.next = first_live;
    std::sort(st.early.begin(), st.early.end(),
              [](const log_part& x, const log_part& y) {
                return x.number < y.number;
              });
    for (auto& part : st.early)
      if (!st.write(part)) {
        end_tail(self);
        return;
      }
    st.early.clear();
  };
  auto on_error = [self](const caf::error&) { end_tail(self); };
  if (first_live < 0)
    self->request(st.modules.store, module_timeout, fetch_atom::value,
                  log_atom::value, st.job_id, st.attempt)
      .then(on_text, on_error);
  else
    self->request(st.modules.store, module_timeout, fetch_atom::value,
                  log_atom::value, st.job_id, st.attempt, first_live)
      .then(on_text, on_error);
}

// Ends a tail whose log will get no more parts: a newer attempt took over, or
// the job has ended. What the store holds beyond what was sent (parts still
// on their way when the job ended) is sent first.
void check_progress(follower_ptr self) {
  auto& st = self->state;
  if (st.out->closed()) {
    self->quit();
    return;
  }
  if (++st.idle_ticks < 3)
    return;
  self->request(st.modules.store, module_timeout, fetch_atom::value,
                job_atom::value, st.job_id)
    .then(
      [self](const job_record& job) {
        auto& st = self->state;
        if (job.spec.attempt == st.attempt && !is_terminal(job.state))
          return;
        self->request(st.modules.store, module_timeout, fetch_atom::value,
                      log_atom::value, st.job_id, st.attempt)
          .then(
            [self](const std::string& text) {
              auto& st = self->state;
              if (text.size() > st.written)
                st.send(text.substr(st.written));
              end_tail(self);
            },
            [self](const caf::error&) { end_tail(self); });
      },
      [self](const caf::error&) { end_tail(self); });
}

void subscribe(follower_ptr self) {
  auto& st = self->state;
  auto me = caf::actor_cast<log_listener_actor>(self);
  self->request(st.modules.sequencer, module_timeout, subscribe_atom::value,
                log_atom::value, st.job_id, st.attempt, me)
    .then(
      [self](int32_t first_live) {
        if (auto sequencer = caf::actor_cast<caf::actor>(self->current_sender())) {
          self->state.sequencer = sequencer.address();
          self->monitor(sequencer);
        }
        catch_up(self, first_live);
      },
      [self](const caf::error&) { end_tail(self); });
}

follower_actor::behavior_type follower(follower_ptr self,
                                       std::shared_ptr<http::stream> out,
                                       node modules, int64_t job_id,
                                       int32_t attempt) {
  auto& st = self->state;
  st.out = std::move(out);
  st.modules = std::move(modules);
  st.job_id = job_id;
  st.attempt = attempt;
  // A restart of the sequencer ends its subscriptions: subscribe again, and
  // fetch what was stored meanwhile.
  self->set_down_handler([self](const caf::down_msg& msg) {
    auto& st = self->state;
    if (msg.source != st.sequencer)
      return;
    st.next = -1;
    st.early.clear();
    subscribe(self);
  });
  subscribe(self);
  self->delayed_send(self, 1s, tick_atom::value);
  return {
    [self](const log_part& part) {
      auto& st = self->state;
      if (st.next < 0) {
        st.early.push_back(part);
        return;
      }
      if (!st.write(part))
        end_tail(self);
    },
    [self](const log_completed&) {
      if (self->state.next >= 0)
        end_tail(self);
    },
    [self](tick_atom) {
      check_progress(self);
      self->delayed_send(self, 1s, tick_atom::value);
    },
  };
}

} // namespace

// -- the API ------------------------------------------------------------------

struct http_api::impl : std::enable_shared_from_this<http_api::impl> {
  caf::actor_system& sys;
  node modules;
  http_api_config cfg;
  std::shared_ptr<std::atomic<bool>> draining;
  http::router routes;
  std::unique_ptr<http::server> server;

  std::set<std::string> patterns; ///< of the routes, for metric labels
  std::mutex metrics_mtx;
  std::map<std::tuple<std::string, std::string, int>, double> requests;
  std::map<std::string, double> deliveries; ///< webhook outcomes

  impl(caf::actor_system& sys, node modules, http_api_config cfg)
    : sys(sys), modules(std::move(modules)), cfg(std::move(cfg)) {
    draining = this->cfg.draining ? this->cfg.draining
                                  : std::make_shared<std::atomic<bool>>(false);
  }

  // Runs `f` in a fresh one-shot actor: an HTTP thread never waits on one.
  // The actor keeps this state alive until it is done, even past stop().
  template <class F>
  void in_actor(F f) {
    sys.spawn([f, keep = shared_from_this()](caf::event_based_actor* self) mutable {
      self->attach_functor([keep] {});
      f(self);
    });
  }

  bool authorized(const http::request& req, http::responder& out) {
    if (cfg.api_token.empty())
      return true;
    auto given = req.header("authorization");
    const std::string prefix = "Bearer ";
    if (given.compare(0, prefix.size(), prefix) == 0
        && same_secret(given.substr(prefix.size()), cfg.api_token))
      return true;
    auto res = error_response(req, 401, "a valid bearer token is required");
    res.headers.emplace_back("WWW-Authenticate", "Bearer");
    out.send(std::move(res));
    return false;
  }

  // Unmatched paths share one label, so scanners cannot grow the series.
  void count(const std::string& method, const std::string& route, int status) {
    static const std::set<std::string> methods{"GET",    "HEAD",  "POST",
                                               "PUT",    "PATCH", "DELETE",
                                               "OPTIONS"};
    auto label = patterns.count(route) > 0 ? route : "unmatched";
    auto verb = methods.count(method) > 0 ? method : "other";
    std::lock_guard<std::mutex> guard{metrics_mtx};
    requests[{verb, label, status}] += 1;
  }

  void add(std::string method, std::string pattern,
           http::router::route_handler fn) {
    patterns.insert(pattern);
    routes.add(std::move(method), std::move(pattern), std::move(fn));
  }

  metric_family delivery_metrics() {
    metric_family result{"conveyor_webhook_deliveries_total",
                         "GitHub webhook deliveries by outcome.", "counter", {}};
    std::lock_guard<std::mutex> guard{metrics_mtx};
    for (auto& [outcome, value] : deliveries)
      result.samples.push_back({"", {{"outcome", outcome}}, value});
    return result;
  }

  metric_family http_metrics() {
    metric_family result{"conveyor_http_requests_total",
                         "HTTP requests answered, by route and status.",
                         "counter", {}};
    std::lock_guard<std::mutex> guard{metrics_mtx};
    for (auto& [key, value] : requests)
      result.samples.push_back(
        {"",
         {{"method", std::get<0>(key)},
          {"route", std::get<1>(key)},
          {"status", std::to_string(std::get<2>(key))}},
         value});
    return result;
  }

  void add_routes();
};

void http_api::impl::add_routes() {
  auto& r = *this;
  patterns.insert("/webhooks/github");
  patterns.insert("/api/webhooks/deliveries");
  add_github_webhook_routes(routes, sys, modules, cfg.github,
                            [this](const std::string& outcome) {
                              std::lock_guard<std::mutex> guard{metrics_mtx};
                              deliveries[outcome] += 1;
                            });
  r.add("GET", "/healthz",
        [](http::request&, http::route_params&, http::responder out) {
          out.send(json_response(200, {{"status", "ok"}}));
        });

  r.add("GET", "/readyz",
        [this](http::request& req, http::route_params&, http::responder out) {
          auto draining_now = draining->load();
          in_actor([this, req, out, draining_now](caf::event_based_actor* self) mutable {
            // Ready: the scheduler has recovered and the store runs (with
            // PostgreSQL away, the store restarts until it is back).
            self->request(modules.tree, 2s, fetch_atom::value, status_atom::value)
              .then(
                [this, self, req, out, draining_now](const supervision_report& tree) mutable {
                  std::string store_state = "unknown";
                  for (auto& child : tree)
                    if (child.path == "node/store")
                      store_state = child.state;
                  self->request(modules.scheduler, 2s, fetch_atom::value,
                                status_atom::value)
                    .then(
                      [out, draining_now, store_state](const scheduler_status& st) mutable {
                        auto ready = st.recovered && !st.draining && !draining_now
                                     && store_state == "running";
                        json body{{"ready", ready},
                                  {"recovered", st.recovered},
                                  {"draining", st.draining || draining_now},
                                  {"store", store_state},
                                  {"queued", st.queued},
                                  {"running", st.running},
                                  {"worker_slots", st.slots}};
                        out.send(json_response(ready ? 200 : 503, body));
                      },
                      [req, out](const caf::error& err) mutable {
                        out.send(error_response(req, 503, "not ready: " + describe(err)));
                      });
                },
                [req, out](const caf::error& err) mutable {
                  out.send(error_response(req, 503, "not ready: " + describe(err)));
                });
          });
        });

  r.add("POST", "/api/builds",
        [this](http::request& req, http::route_params&, http::responder out) {
          if (!authorized(req, out))
            return;
          if (draining->load()) {
            out.send(error_response(req, 503, "the server is shutting down"));
            return;
          }
          auto body = json::parse(req.body, nullptr, false);
          if (body.is_discarded() || !body.is_object()) {
            out.send(error_response(req, 400, "the body must be a JSON object"));
            return;
          }
          auto repo = body.find("repo");
          if (repo == body.end() || !repo->is_string() || repo->get<std::string>().empty()) {
            out.send(error_response(req, 400, "'repo' must be a non-empty string"));
            return;
          }
          auto ref = body.find("ref");
          if (ref != body.end() && !ref->is_string()) {
            out.send(error_response(req, 400, "'ref' must be a string"));
            return;
          }
          build_request request;
          request.request_id = req.request_id;
          request.source = "api";
          request.event = "api";
          request.repo = repo->get<std::string>();
          request.ref = ref == body.end() ? "HEAD" : ref->get<std::string>();
          if (auto sender = body.find("sender"); sender != body.end() && sender->is_string())
            request.sender = sender->get<std::string>();
          in_actor([this, req, out, request](caf::event_based_actor* self) mutable {
            self->request(modules.gatekeeper, submit_timeout, request)
              .then(
                [out](const build_record& build) mutable {
                  auto res = json_response(201, to_json_view(build, true));
                  res.headers.emplace_back("Location", "/api/builds/"
                                                         + std::to_string(build.id));
                  out.send(std::move(res));
                },
                reply_error(req, out));
          });
        });

  r.add("GET", "/api/builds",
        [this](http::request& req, http::route_params&, http::responder out) {
          build_query query;
          if (auto state = query_value(req, "state")) {
            build_state parsed;
            if (!from_string(*state, parsed)) {
              out.send(error_response(req, 400, "unknown state '" + *state + "'"));
              return;
            }
            query.state = *state;
          }
          if (auto repo = query_value(req, "repo"))
            query.repo = *repo;
          if (auto limit = query_value(req, "limit")) {
            auto n = positive_id(*limit);
            if (!n || *n > 500) {
              out.send(error_response(req, 400, "'limit' must be 1 to 500"));
              return;
            }
            query.limit = static_cast<int32_t>(*n);
          }
          if (auto before = query_value(req, "before")) {
            auto n = positive_id(*before);
            if (!n) {
              out.send(error_response(req, 400, "'before' must be a build id"));
              return;
            }
            query.before_id = *n;
          }
          in_actor([this, req, out, query](caf::event_based_actor* self) mutable {
            self->request(modules.store, module_timeout, fetch_atom::value, query)
              .then(
                [out, query](const std::vector<build_record>& builds) mutable {
                  json list = json::array();
                  for (auto& build : builds)
                    list.push_back(to_json_view(build, false));
                  json next = nullptr;
                  if (!builds.empty()
                      && builds.size() == static_cast<size_t>(query.limit))
                    next = builds.back().id;
                  out.send(json_response(200, {{"builds", list},
                                               {"next_before", next}}));
                },
                reply_error(req, out));
          });
        });

  r.add("GET", "/api/builds/{id}",
        [this](http::request& req, http::route_params& params, http::responder out) {
          auto id = positive_id(params["id"]);
          if (!id) {
            out.send(error_response(req, 404, "no build '" + params["id"] + "'"));
            return;
          }
          in_actor([this, req, out, id](caf::event_based_actor* self) mutable {
            self->request(modules.store, module_timeout, fetch_atom::value,
                          build_atom::value, *id)
              .then(
                [out](const build_record& build) mutable {
                  out.send(json_response(200, to_json_view(build, true)));
                },
                reply_error(req, out));
          });
        });

  r.add("GET", "/api/jobs/{id}",
        [this](http::request& req, http::route_params& params, http::responder out) {
          auto id = positive_id(params["id"]);
          if (!id) {
            out.send(error_response(req, 404, "no job '" + params["id"] + "'"));
            return;
          }
          in_actor([this, req, out, id](caf::event_based_actor* self) mutable {
            self->request(modules.store, module_timeout, fetch_atom::value,
                          job_atom::value, *id)
              .then(
                [out](const job_record& job) mutable {
                  out.send(json_response(200, to_json_view(job)));
                },
                reply_error(req, out));
          });
        });

  r.add("GET", "/api/jobs/{id}/log",
        [this](http::request& req, http::route_params& params, http::responder out) {
          auto id = positive_id(params["id"]);
          if (!id) {
            out.send(error_response(req, 404, "no job '" + params["id"] + "'"));
            return;
          }
          std::optional<int32_t> attempt;
          if (auto text = query_value(req, "attempt")) {
            auto n = positive_id(*text);
            if (!n || *n > 1000000) {
              out.send(error_response(req, 400, "'attempt' must be a positive number"));
              return;
            }
            attempt = static_cast<int32_t>(*n);
          }
          auto follow = query_value(req, "follow");
          auto live = follow && (*follow == "1" || *follow == "true");
          in_actor([this, req, out, id, attempt, live](caf::event_based_actor* self) mutable {
            self->request(modules.store, module_timeout, fetch_atom::value,
                          job_atom::value, *id)
              .then(
                [this, self, req, out, attempt, live](const job_record& job) mutable {
                  auto which = attempt.value_or(job.spec.attempt);
                  if (which > job.spec.attempt) {
                    out.send(error_response(req, 404, "job " + std::to_string(job.spec.job_id)
                                                        + " has no attempt "
                                                        + std::to_string(which)));
                    return;
                  }
                  if (live) {
                    auto stream = out.open_stream(200, "text/plain; charset=utf-8");
                    sys.spawn(follower, stream, modules, job.spec.job_id, which);
                    return;
                  }
                  self->request(modules.store, module_timeout, fetch_atom::value,
                                log_atom::value, job.spec.job_id, which)
                    .then(
                      [out](const std::string& text) mutable {
                        http::response res;
                        res.content_type = "text/plain; charset=utf-8";
                        res.body = text;
                        out.send(std::move(res));
                      },
                      reply_error(req, out));
                },
                reply_error(req, out));
          });
        });

  // Cancels through the scheduler; a build or job it no longer tracks has
  // finished (200, nothing to do) or does not exist (404).
  auto cancel_route = [this](auto what_atom, std::string what) {
    return [this, what_atom, what](http::request& req, http::route_params& params,
                                   http::responder out) {
      if (!authorized(req, out))
        return;
      auto id = positive_id(params["id"]);
      if (!id) {
        out.send(error_response(req, 404, "no " + what + " '" + params["id"] + "'"));
        return;
      }
      in_actor([this, req, out, id, what_atom](caf::event_based_actor* self) mutable {
        self->request(modules.scheduler, module_timeout, cancel_atom::value,
                      what_atom, *id)
          .then(
            [this, self, req, out, id, what_atom](bool canceled) mutable {
              if (canceled) {
                out.send(json_response(202, {{"canceled", true}}));
                return;
              }
              // Not tracked: finished, or the scheduler is still recovering.
              auto answer = [req, out](const auto& record) mutable {
                if (!is_terminal(record.state)) {
                  out.send(error_response(req, 503, "recovering; retry"));
                  return;
                }
                out.send(json_response(200, {{"canceled", false},
                                             {"reason", "already finished"}}));
              };
              auto fail = reply_error(req, out);
              if constexpr (std::is_same<decltype(what_atom), build_atom>::value)
                self->request(modules.store, module_timeout, fetch_atom::value,
                              build_atom::value, *id)
                  .then([answer](const build_record& x) mutable { answer(x); }, fail);
              else
                self->request(modules.store, module_timeout, fetch_atom::value,
                              job_atom::value, *id)
                  .then([answer](const job_record& x) mutable { answer(x); }, fail);
            },
            reply_error(req, out));
      });
    };
  };
  r.add("POST", "/api/builds/{id}/cancel", cancel_route(build_atom::value, "build"));
  r.add("POST", "/api/jobs/{id}/cancel", cancel_route(job_atom::value, "job"));

  r.add("POST", "/api/jobs/{id}/restart",
        [this](http::request& req, http::route_params& params, http::responder out) {
          if (!authorized(req, out))
            return;
          if (draining->load()) {
            out.send(error_response(req, 503, "the server is shutting down"));
            return;
          }
          auto id = positive_id(params["id"]);
          if (!id) {
            out.send(error_response(req, 404, "no job '" + params["id"] + "'"));
            return;
          }
          in_actor([this, req, out, id](caf::event_based_actor* self) mutable {
            self->request(modules.scheduler, module_timeout, restart_atom::value,
                          job_atom::value, *id)
              .then(
                [out](const job_record& job) mutable {
                  out.send(json_response(202, to_json_view(job)));
                },
                reply_error(req, out));
          });
        });

  r.add("GET", "/api/supervision",
        [this](http::request& req, http::route_params&, http::responder out) {
          in_actor([this, req, out](caf::event_based_actor* self) mutable {
            self->request(modules.tree, module_timeout, fetch_atom::value,
                          status_atom::value)
              .then(
                [out](const supervision_report& tree) mutable {
                  json children = json::array();
                  for (auto& child : tree)
                    children.push_back(to_json(child));
                  out.send(json_response(200, {{"root", "node"},
                                               {"strategy", "one_for_one"},
                                               {"children", children}}));
                },
                reply_error(req, out));
          });
        });

  // Fault injection for tests and drills: the child fails as a bug would.
  r.add("POST", "/api/debug/crash",
        [this](http::request& req, http::route_params&, http::responder out) {
          if (!cfg.fault_injection) {
            out.send(error_response(req, 404, "fault injection is off (start "
                                              "with --enable-fault-injection)"));
            return;
          }
          if (cfg.api_token.empty()) {
            out.send(error_response(req, 403, "fault injection needs an admin "
                                              "token (--api-token)"));
            return;
          }
          if (!authorized(req, out))
            return;
          auto body = json::parse(req.body, nullptr, false);
          auto child = body.is_object() ? body.find("child") : body.end();
          if (body.is_discarded() || !body.is_object() || child == body.end()
              || !child->is_string() || child->get<std::string>().empty()) {
            out.send(error_response(req, 400, "the body must be a JSON object "
                                              "with a non-empty 'child'"));
            return;
          }
          auto name = child->get<std::string>();
          in_actor([this, req, out, name](caf::event_based_actor* self) mutable {
            self->request(modules.tree, module_timeout, fetch_atom::value,
                          status_atom::value)
              .then(
                [this, self, req, out, name](const supervision_report& tree) mutable {
                  auto path = resolve_child(tree, name);
                  if (!path) {
                    out.send(error_response(req, 404, "no single supervised child '"
                                                        + name + "'"));
                    return;
                  }
                  self->request(modules.tree, module_timeout, crash_atom::value, *path)
                    .then(
                      [out, path](bool) mutable {
                        out.send(json_response(202, {{"crashed", *path}}));
                      },
                      reply_error(req, out));
                },
                reply_error(req, out));
          });
        });

  r.add("GET", "/metrics",
        [this](http::request& req, http::route_params&, http::responder out) {
          in_actor([this, req, out](caf::event_based_actor* self) mutable {
            auto families = std::make_shared<metric_families>(process_metrics());
            families->push_back(http_metrics());
            families->push_back(delivery_metrics());
            // Sources that answer at once, whatever their module is doing.
            if (cfg.extra_metrics) {
              auto more = cfg.extra_metrics();
              families->insert(families->end(), more.begin(), more.end());
            }
            auto pending = std::make_shared<int>(4);
            auto add = [out, families, pending](metric_families more) mutable {
              families->insert(families->end(), more.begin(), more.end());
              if (--*pending > 0)
                return;
              http::response res;
              res.content_type = "text/plain; version=0.0.4; charset=utf-8";
              res.body = to_prometheus_text(*families);
              out.send(std::move(res));
            };
            // A module that does not answer leaves its metrics out, not the rest.
            auto skip = [add](const caf::error&) mutable { add({}); };
            self->request(modules.scheduler, 2s, fetch_atom::value, metrics_atom::value)
              .then(add, skip);
            self->request(modules.sequencer, 2s, fetch_atom::value, metrics_atom::value)
              .then(add, skip);
            self->request(modules.store, 2s, fetch_atom::value, metrics_atom::value)
              .then(add, skip);
            self->request(modules.tree, 2s, fetch_atom::value, status_atom::value)
              .then([add](const supervision_report& tree) mutable {
                      add(supervision_metrics(tree));
                    },
                    skip);
          });
        });
}

http_api::http_api(std::shared_ptr<impl> ptr) : impl_(std::move(ptr)) {
  // nop
}

http_api::~http_api() {
  stop();
}

caf::expected<std::unique_ptr<http_api>>
http_api::start(caf::actor_system& sys, const node& n, http_api_config cfg) {
  auto state = std::make_shared<impl>(sys, n, cfg);
  state->add_routes();
  http::server_config scfg;
  scfg.host = cfg.host;
  scfg.port = cfg.port;
  scfg.threads = cfg.threads;
  scfg.max_body_bytes = cfg.max_body_bytes;
  scfg.body_limits["/webhooks/github"] = github_webhook_max_body;
  auto* raw = state.get();
  scfg.on_complete = [raw](const std::string& method, const std::string& route,
                           int status, double) { raw->count(method, route, status); };
  try {
    state->server = http::server::start(scfg, http::handler{raw->routes});
  } catch (const std::exception& ex) {
    return caf::make_error(caf::sec::runtime_error, std::string{ex.what()});
  }
  return std::unique_ptr<http_api>{new http_api(std::move(state))};
}

uint16_t http_api::port() const {
  return impl_->server->port();
}

void http_api::drain() {
  impl_->draining->store(true);
}

void http_api::stop() {
  if (impl_ && impl_->server)
    impl_->server->stop();
}

} // namespace conveyor

namespace conveyor {

child_spec http_api_child(const node& n, http_api_config cfg,
                          std::shared_ptr<std::atomic<uint16_t>> port) {
  child_spec spec;
  spec.id = "http";
  spec.start = [n, cfg, port](caf::actor_system& sys) -> caf::expected<caf::actor> {
    auto settings = cfg;
    if (auto first = port->load(); first != 0)
      settings.port = first;
    auto api = http_api::start(sys, n, settings);
    if (!api)
      return caf::make_error(caf::sec::runtime_error,
                             "cannot listen on " + settings.host + ":"
                               + std::to_string(settings.port) + ": "
                               + describe(api.error()));
    port->store((*api)->port());
    std::shared_ptr<http_api> owned = std::move(*api);
    return sys.spawn([owned](caf::event_based_actor* self) -> caf::behavior {
      // However it ends, the port is free again before its successor binds.
      self->attach_functor([owned] { owned->stop(); });
      self->set_exception_handler([owned](std::exception_ptr& eptr) -> caf::error {
        owned->stop();
        return exit_reason_of(eptr);
      });
      return {
        [](crash_atom) { throw std::runtime_error("injected fault in http"); },
      };
    });
  };
  return spec;
}

} // namespace conveyor
