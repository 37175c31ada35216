#pragma once

// Internal to conveyor_http: the seam between the accept loop (server.cpp)
// and the per-connection state machine (connection.cpp). Includes Asio, so
// only these two files include it; Beast stays inside connection.cpp.

#include <cstdint>
#include <memory>
#include <mutex>

#include <boost/asio/ip/tcp.hpp>

#include "adapters/http/server.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace conveyor::http::detail {

/// Lets other threads post onto the io_context only while it exists: the
/// server closes it (under the mutex) before destroying the io_context.
struct gate {
  std::mutex mtx;
  bool open = true;
};

/// What connections share with their server; outlives every connection's
/// running code (the server joins its threads before destroying it).
class server_core {
public:
  virtual ~server_core() = default;

  /// Called (on the connection's strand) when connection `id` has closed.
  virtual void forget(uint64_t id) = 0;

  server_config config;
  handler on_request;
  std::shared_ptr<spdlog::logger> log;
  std::shared_ptr<gate> posting = std::make_shared<gate>();
};

/// One accepted connection. Every member posts onto its strand, so any
/// thread may call them.
class connection {
public:
  virtual ~connection() = default;

  /// Starts reading requests; with `reject`, answers 503 and closes.
  virtual void start(bool reject) = 0;

  /// The server is stopping: close now if idle or streaming, otherwise after
  /// the answer in progress.
  virtual void shutdown() = 0;

  /// Closes at once.
  virtual void close() = 0;
};

/// Makes a connection on `socket`, whose executor must be a strand.
std::shared_ptr<connection> make_connection(server_core& core, uint64_t id,
                                            boost::asio::ip::tcp::socket socket);

} // namespace conveyor::http::detail
