#pragma once

#include <functional>
#include <string>
#include <vector>

#include <caf/fwd.hpp>

#include "app/node.hpp"

namespace conveyor {

namespace http {
class router;
} // namespace http

/// Settings of the GitHub webhook receiver.
struct github_webhook_config {
  /// Secrets a delivery may be signed with (several during a rotation);
  /// empty: deliveries are not checked (a warning is logged at start).
  std::vector<std::string> secrets;
};

/// Largest webhook body accepted (GitHub caps payloads at 25 MB).
constexpr size_t github_webhook_max_body = 25 * 1024 * 1024;

/// Adds `POST /webhooks/github` and `GET /api/webhooks/deliveries` to
/// `routes`. A delivery's signature (`X-Hub-Signature-256`) is checked
/// against the secrets (401 when missing or wrong), its JSON parsed (400),
/// then: `ping` → 200; a push or pull request that builds → the gatekeeper
/// (201 with the build; 200 with `"duplicate": true` for a redelivery, which
/// the store maps to the first build); anything else → 202 with the reason.
/// Every delivery is recorded in the store with its outcome. `count` is
/// told each delivery's outcome, for metrics.
void add_github_webhook_routes(http::router& routes, caf::actor_system& sys,
                               const node& modules, github_webhook_config cfg,
                               std::function<void(const std::string&)> count);

} // namespace conveyor
