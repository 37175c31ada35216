#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

namespace conveyor::http {

/// What a server answered.
struct client_response {
  /// Status code.
  int status = 0;
  /// The whole body (empty for fetch_stream, which hands it out in pieces).
  std::string body;
  /// Header fields by lower-case name; repeated fields are joined by ", ".
  std::map<std::string, std::string> headers;
};

/// Request header fields to send, by name.
using client_headers = std::map<std::string, std::string>;

/// Sends one request on a new connection and reads the whole answer.
/// Synchronous; meant for tests and tools. `timeout` bounds the whole
/// exchange. Throws std::runtime_error naming the request and the step that
/// failed (resolve, connect, write, read, timed out).
client_response fetch(const std::string& host, uint16_t port,
                      const std::string& method, const std::string& target,
                      std::string body = {}, const client_headers& headers = {},
                      std::chrono::milliseconds timeout
                      = std::chrono::seconds(10));

/// Like fetch, but hands out the body as it arrives: `on_chunk` gets each
/// piece read from the socket (for a live tail: before the answer ends) and
/// returns false to hang up early. `timeout` bounds connecting and each wait
/// for more data. The returned body is empty.
client_response
fetch_stream(const std::string& host, uint16_t port, const std::string& method,
             const std::string& target,
             std::function<bool(std::string_view chunk)> on_chunk,
             std::string body = {}, const client_headers& headers = {},
             std::chrono::milliseconds timeout = std::chrono::seconds(10));

} // namespace conveyor::http
