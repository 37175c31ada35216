#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <map>
#include <string>

#include "adapters/http/responder.hpp"

namespace conveyor::http {

/// Observer of every finished exchange, for metrics: method, the route
/// pattern if a router matched (else the path), status, and seconds from
/// the request's header to the last byte of the answer. Requests rejected
/// before parsing (400, 413, 503) report what is known ("" otherwise).
/// Called on server threads: keep it fast and thread-safe.
using completion_observer =
  std::function<void(const std::string& method, const std::string& route,
                     int status, double seconds)>;

/// How a server listens and what it tolerates.
struct server_config {
  /// Address to listen on (IPv4 or IPv6 literal, or a resolvable name).
  std::string host = "127.0.0.1";
  /// TCP port; 0 picks a free one (see server::port()).
  uint16_t port = 8080;
  /// Threads running the connections (and the handlers called on them).
  size_t threads = 1;
  /// Largest accepted request body; a larger one gets 413 without being read.
  size_t max_body_bytes = 1 << 20;
  /// Other limits for exact paths, e.g. {"/webhooks/github", 25 MiB}.
  std::map<std::string, size_t> body_limits;
  /// Time a client gets to send a whole request (and to take each write of
  /// the answer); an idle keep-alive connection is closed after it too.
  std::chrono::milliseconds read_timeout{30000};
  /// Open connections beyond this get 503 and are closed.
  size_t max_connections = 1024;
  /// Unsent bytes a stream may hold for a slow client before it is dropped.
  size_t max_stream_buffer_bytes = 8 << 20;
  /// How long stop() waits for answers already being worked on.
  std::chrono::milliseconds stop_grace{5000};
  /// Called when each exchange finishes (may be empty).
  completion_observer on_complete;
};

/// An HTTP/1.1 server on its own io_context threads. Keep-alive; one request
/// at a time per connection (pipelined requests wait their turn). Every
/// answer carries X-Request-Id. Malformed requests get 400, oversized
/// bodies 413, a throwing handler 500; the server carries on in all cases.
class server {
public:
  /// Binds, listens and starts the threads; `on_request` handles every
  /// request (a `router` fits). Throws std::system_error when the address
  /// cannot be resolved or bound (e.g. the port is in use), and
  /// std::invalid_argument for an empty handler or zero threads.
  static std::unique_ptr<server> start(server_config config,
                                       handler on_request);

  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Stops (see stop()).
  ~server();

  /// The port actually listened on (useful with port 0).
  uint16_t port() const;

  /// Stops accepting, closes idle connections and streams at once, gives
  /// answers in progress up to `stop_grace`, closes the rest and joins the
  /// threads. Idempotent. Must not be called from a handler (it would join
  /// its own thread): throws std::logic_error then. Responders and streams
  /// that outlive the server are harmless no-ops.
  void stop();

private:
  server();

  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace conveyor::http
