#include "app/github_webhooks.hpp"

#include <chrono>
#include <optional>

#include <caf/actor_system.hpp>
#include <caf/event_based_actor.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "adapters/github/webhook_event.hpp"
#include "adapters/github/webhook_signature.hpp"
#include "adapters/http/router.hpp"
#include "app/json_views.hpp"
#include "messages/error.hpp"
#include "messages/type_ids.hpp"

namespace conveyor {

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

constexpr auto submit_timeout = 60s;

int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch())
    .count();
}

http::response json_answer(int status, const json& body) {
  http::response result;
  result.status = status;
  result.content_type = "application/json";
  result.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return result;
}

int status_of(const caf::error& err) {
  if (err.category() == errc_category) {
    switch (static_cast<errc>(err.code())) {
      case errc::unknown_repository:
      case errc::unknown_ref:
      case errc::no_config:
      case errc::invalid_config:
        return 422;
      default:
        return 503;
    }
  }
  return 503;
}

std::shared_ptr<spdlog::logger> logger() {
  static auto result = [] {
    if (auto existing = spdlog::get("webhooks"))
      return existing;
    auto created = spdlog::default_logger()->clone("webhooks");
    spdlog::register_logger(created);
    return created;
  }();
  return result;
}

/// Everything one delivery's handling needs, shared by its steps.
struct delivery_context {
  delivery_context(node modules, http::request req, http::responder out,
                   std::function<void(const std::string&)> count)
    : modules(std::move(modules)), req(std::move(req)), out(std::move(out)),
      count(std::move(count)) {
    // nop
  }

  node modules;
  http::request req;
  http::responder out;
  std::function<void(const std::string&)> count;
  webhook_delivery record;

  // Stores the record (a redelivery's record changes nothing), then answers.
  void finish(caf::event_based_actor* self, http::response res) {
    count(record.outcome);
    logger()->info("delivery delivery_id={} event={} action={} outcome={} "
                   "build_id={} reason=\"{}\" request_id={}",
                   record.delivery_id, record.event, record.action,
                   record.outcome, record.build_id, record.reason,
                   req.request_id);
    auto out_copy = out;
    self->request(modules.store, 10s, record)
      .then([out_copy, res](bool) mutable { out_copy.send(res); },
            [out_copy, res](const caf::error& err) mutable {
              logger()->error("recording a delivery failed error=\"{}\"",
                              describe(err));
              out_copy.send(res);
            });
  }
};

void submit(caf::event_based_actor* self, std::shared_ptr<delivery_context> ctx,
            build_request request) {
  self->request(ctx->modules.gatekeeper, submit_timeout, std::move(request))
    .then(
      [self, ctx](const build_record& build) {
        // The store answers the first build of a delivery id again.
        auto duplicate = build.request.request_id != ctx->req.request_id;
        ctx->record.outcome = "build";
        ctx->record.build_id = build.id;
        json body{{"build", to_json_view(build, false)},
                  {"duplicate", duplicate}};
        ctx->finish(self, json_answer(duplicate ? 200 : 201, body));
      },
      [self, ctx](const caf::error& err) {
        ctx->record.outcome = "rejected";
        ctx->record.reason = describe(err);
        auto status = status_of(err);
        if (status == 503) {
          // The node could not take it now: GitHub may deliver it again, so
          // nothing is recorded that would make that a duplicate.
          ctx->count("failed");
          ctx->out.send(http::json_error(503, ctx->record.reason,
                                         ctx->req.request_id));
          return;
        }
        ctx->finish(self, http::json_error(status, ctx->record.reason,
                                           ctx->req.request_id));
      });
}

void on_delivery(caf::actor_system& sys, const node& modules,
                 const github_webhook_config& cfg,
                 const std::function<void(const std::string&)>& count,
                 http::request& req, http::responder out) {
  auto fail = [&req, &out, &count](int status, const std::string& message) {
    count("invalid");
    out.send(http::json_error(status, message, req.request_id));
  };
  auto event = req.header("x-github-event");
  auto delivery = req.header("x-github-delivery");
  if (event.empty() || delivery.empty()) {
    fail(400, "X-GitHub-Event and X-GitHub-Delivery are required");
    return;
  }
  if (!cfg.secrets.empty()) {
    auto header = req.header("x-hub-signature-256");
    auto check = github::verify_signature(
      header.empty() ? std::nullopt : std::optional<std::string_view>{header},
      req.body, cfg.secrets);
    if (check.status != github::signature_status::ok) {
      logger()->warn("delivery refused delivery_id={} event={} signature={} "
                     "remote={}",
                     delivery, event, github::to_string(check.status),
                     req.remote);
      auto res = http::json_error(401, "invalid webhook signature ("
                                         + github::to_string(check.status)
                                         + ")",
                                  req.request_id);
      count("unauthorized");
      out.send(std::move(res));
      return;
    }
  }
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) {
    fail(400, "the body must be a JSON object");
    return;
  }
  auto outcome = github::interpret_payload(event, delivery, body);
  if (outcome.action == github::webhook_action::invalid) {
    fail(400, outcome.reason);
    return;
  }
  auto ctx = std::make_shared<delivery_context>(modules, req, out, count);
  ctx->record.delivery_id = delivery;
  ctx->record.event = event;
  if (auto action = body.find("action");
      action != body.end() && action->is_string())
    ctx->record.action = action->get<std::string>();
  ctx->record.received_at_ms = now_ms();
  auto request = std::move(outcome.request);
  request.request_id = req.request_id;
  request.source = "webhook";
  sys.spawn([ctx, outcome, request](caf::event_based_actor* self) mutable {
    switch (outcome.action) {
      case github::webhook_action::pong:
        ctx->record.outcome = "pong";
        ctx->finish(self, json_answer(200, {{"pong", true}}));
        return;
      case github::webhook_action::ignored:
        ctx->record.outcome = "ignored";
        ctx->record.reason = outcome.reason;
        ctx->finish(self, json_answer(202, {{"ignored", true},
                                            {"reason", outcome.reason}}));
        return;
      default:
        submit(self, ctx, std::move(request));
    }
  });
}

} // namespace

void add_github_webhook_routes(http::router& routes, caf::actor_system& sys,
                               const node& modules, github_webhook_config cfg,
                               std::function<void(const std::string&)> count) {
  if (cfg.secrets.empty())
    logger()->warn("GitHub webhooks are accepted unsigned: set "
                   "CONVEYOR_GITHUB_WEBHOOK_SECRET or "
                   "--github-webhook-secret-file");
  routes.add("POST", "/webhooks/github",
             [&sys, modules, cfg, count](http::request& req,
                                         http::route_params&,
                                         http::responder out) {
               on_delivery(sys, modules, cfg, count, req, std::move(out));
             });
  routes.add("GET", "/api/webhooks/deliveries",
             [&sys, modules](http::request& req, http::route_params&,
                             http::responder out) {
               int32_t limit = 50;
               if (auto i = req.query.find("limit"); i != req.query.end()) {
                 auto text = i->second;
                 if (text.empty() || text.size() > 3
                     || text.find_first_not_of("0123456789") != std::string::npos
                     || std::stoi(text) < 1 || std::stoi(text) > 500) {
                   out.send(http::json_error(400, "'limit' must be 1 to 500",
                                             req.request_id));
                   return;
                 }
                 limit = std::stoi(text);
               }
               sys.spawn([modules, req, out, limit](caf::event_based_actor* self) {
                 self->request(modules.store, 10s, fetch_atom::value,
                               delivery_atom::value, limit)
                   .then(
                     [out](const std::vector<webhook_delivery>& xs) mutable {
                       json list = json::array();
                       for (auto& x : xs)
                         list.push_back({{"delivery_id", x.delivery_id},
                                         {"event", x.event},
                                         {"action", x.action},
                                         {"outcome", x.outcome},
                                         {"reason", x.reason},
                                         {"build_id", x.build_id == 0
                                                        ? json(nullptr)
                                                        : json(x.build_id)},
                                         {"received_at", x.received_at_ms}});
                       out.send(json_answer(200, {{"deliveries", list}}));
                     },
                     [req, out](const caf::error& err) mutable {
                       out.send(http::json_error(503, describe(err),
                                                 req.request_id));
                     });
               });
             });
}

} // namespace conveyor
