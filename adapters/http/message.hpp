#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace conveyor::http {

/// Header fields in the order they were sent; duplicates are kept.
using header_list = std::vector<std::pair<std::string, std::string>>;

/// Path parameters of a matched route by name (`{id}` gives "id"), URL-decoded.
using route_params = std::map<std::string, std::string>;

/// One HTTP request as a handler sees it. The server keeps it alive as long
/// as any copy of the request's responder lives, so a handler that answers
/// later may keep a reference to it until then.
struct request {
  /// Method as sent, e.g. "GET".
  std::string method;
  /// Raw request target, e.g. "/api/builds/7?verbose=1".
  std::string target;
  /// The target without its query, not decoded (route params are decoded).
  std::string path;
  /// Query arguments, URL-decoded; for a repeated name the last one wins.
  std::map<std::string, std::string> query;
  /// Header fields as sent; look them up with header().
  header_list headers;
  /// The whole request body (at most server_config::max_body_bytes).
  std::string body;
  /// The client's X-Request-Id when it is sane, otherwise a fresh UUID; the
  /// response carries it too. Put it on every log line about this request.
  std::string request_id;
  /// Peer address as "ip:port".
  std::string remote;
  /// Pattern of the route that matched (set by the router), e.g.
  /// "/api/builds/{id}"; empty when no router matched.
  std::string route;
  /// Parameters of the matched route (set by the router).
  route_params params;

  /// Value of the first header field called `name` (case-insensitive), or ""
  /// when there is none.
  std::string header(std::string_view name) const;

  /// Whether a header field called `name` (case-insensitive) was sent.
  bool has_header(std::string_view name) const;
};

/// An answer to a request. The server adds Content-Length, Connection,
/// Transfer-Encoding and X-Request-Id itself and ignores them in `headers`.
struct response {
  /// Status code, 200 to 599.
  int status = 200;
  /// Content-Type of the body; empty sends none.
  std::string content_type = "application/json";
  /// The body (not sent for HEAD requests and 204/304 answers).
  std::string body;
  /// Further header fields, e.g. {"Allow", "GET, POST"}.
  header_list headers;
};

/// A JSON error answer: `{"error": message, "request_id": request_id}`, with
/// both texts escaped (invalid UTF-8 is replaced, never thrown on).
response json_error(int status, std::string_view message,
                    std::string_view request_id);

/// Decodes %XX escapes (malformed ones stay as they are); with
/// `plus_is_space`, '+' becomes ' ' as in query strings and form bodies.
std::string percent_decode(std::string_view text, bool plus_is_space = false);

/// Parses "a=1&b=x%20y" (a query string or a form body) into decoded pairs;
/// a name without '=' maps to "", a repeated name keeps its last value.
std::map<std::string, std::string> parse_query(std::string_view text);

} // namespace conveyor::http
