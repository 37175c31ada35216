#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <caf/expected.hpp>
#include <caf/fwd.hpp>

#include "app/github_webhooks.hpp"
#include "app/node.hpp"

namespace conveyor {

/// Settings of the admin HTTP API.
struct http_api_config {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;          ///< 0: any free port
  size_t max_body_bytes = 1024 * 1024;
  std::string api_token;         ///< bearer token for mutating calls; empty: none
  size_t threads = 1;            ///< Asio threads
  bool fault_injection = false;  ///< allow POST /api/debug/crash (with token)
  github_webhook_config github;  ///< the webhook receiver's settings
  /// More metrics, read on every scrape from any thread (e.g. the GitHub
  /// client's counters and breakers); empty: none.
  std::function<metric_families()> extra_metrics;
  /// Shared by the API's incarnations (and whoever drains the node); unset:
  /// the API's own.
  std::shared_ptr<std::atomic<bool>> draining;
};

/// The HTTP API as a child of the node's edge supervisor: each incarnation
/// listens on the port the first one got (so a restart keeps the address)
/// and stops listening when it ends. `port` is set once it listens.
child_spec http_api_child(const node& n, http_api_config cfg,
                          std::shared_ptr<std::atomic<uint16_t>> port);

/// The admin HTTP API of a node (JSON): health, readiness, builds, jobs, logs
/// with a live tail, cancel and restart, and Prometheus metrics. Handlers
/// never block an HTTP thread: each request is answered by a short-lived
/// actor that talks to the node's modules.
class http_api {
public:
  /// Starts listening; fails if the address cannot be bound.
  static caf::expected<std::unique_ptr<http_api>>
  start(caf::actor_system& sys, const node& n, http_api_config cfg);

  ~http_api();

  /// The port it listens on.
  uint16_t port() const;

  /// From now on refuses new builds (503) and reports not ready.
  void drain();

  /// Stops listening and closes the connections.
  void stop();

  struct impl;

private:
  explicit http_api(std::shared_ptr<impl> ptr);

  std::shared_ptr<impl> impl_;
};

} // namespace conveyor
