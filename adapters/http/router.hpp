#pragma once

#include <functional>
#include <memory>
#include <string>

#include "adapters/http/message.hpp"
#include "adapters/http/responder.hpp"

namespace conveyor::http {

/// Dispatches requests to handlers by method and path pattern. Add every
/// route before handing the router to a server (it is copied into a
/// `handler`; copies share their routes, which must not change afterwards).
///
/// Dispatch: the most specific matching pattern wins (a literal segment
/// beats `{param}`, which beats `{rest...}`); GET routes also answer HEAD.
/// No pattern matches the path: 404 JSON. A pattern matches but not with
/// this method: 405 JSON with an `Allow` header.
class router {
public:
  /// A route's handler; `params` is `req.params`.
  using route_handler =
    std::function<void(request& req, route_params& params, responder res)>;

  /// Observer of matches, e.g. for metrics labels: gets the request and the
  /// matched pattern just before the route's handler runs.
  using match_observer =
    std::function<void(const request& req, const std::string& route)>;

  router();

  /// Adds a route. `pattern` starts with '/' and has literal segments,
  /// `{name}` segments (one non-empty segment) and optionally a last
  /// `{name...}` segment (the rest of the path, one or more segments).
  /// Throws std::invalid_argument on a malformed pattern or an empty handler.
  void add(std::string method, std::string pattern, route_handler fn);

  /// Sets the observer of matches (replacing any previous one).
  void on_match(match_observer fn);

  /// Dispatches one request: sets `req.route` and `req.params` and calls the
  /// route's handler, or answers 404/405. Usable as a server `handler`.
  void operator()(request& req, responder res) const;

private:
  struct table;
  std::shared_ptr<table> table_;
};

} // namespace conveyor::http
