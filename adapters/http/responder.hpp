#pragma once

#include <functional>
#include <memory>
#include <string>

#include "adapters/http/message.hpp"

namespace conveyor::http {

/// A response body sent piece by piece with `Transfer-Encoding: chunked`
/// (a live log tail, server-sent events). Every member may be called from
/// any thread; the writes are put in order on the connection's strand and
/// each one is flushed as soon as the previous one is on the wire.
class stream {
public:
  virtual ~stream() = default;

  /// Queues `chunk` for sending. Returns false, and sends nothing, once the
  /// stream is closed: the client went away, end() was called, the server is
  /// stopping, or more than server_config::max_stream_buffer_bytes are
  /// waiting for a slow client (then the connection is dropped). An empty
  /// chunk sends nothing.
  virtual bool write(std::string chunk) = 0;

  /// Finishes the response; later calls do nothing. Dropping the last
  /// reference to an unfinished stream ends it the same way.
  virtual void end() = 0;

  /// Whether write() would refuse: client gone, ended, or server stopping.
  virtual bool closed() const = 0;
};

/// Where a responder's answer goes. The server implements it for each
/// request; implement it to test handlers without a socket.
class reply_sink {
public:
  virtual ~reply_sink() = default;

  /// Receives the answer; called at most once, never after open_stream().
  virtual void send(response res) = 0;

  /// Starts a streamed answer; called at most once, never after send().
  virtual std::shared_ptr<stream>
  open_stream(int status, std::string content_type, header_list headers) = 0;

  /// Called once, when every copy of the responder is gone and neither
  /// send() nor open_stream() was called. The server answers 500.
  virtual void abandon() = 0;
};

/// The one way to answer one request. Copyable; copies share the answer.
/// Thread-safe: call it from any thread (an actor's callback, a timer), now
/// or later. The first send() or open_stream() wins, later ones are
/// ignored; if every copy is dropped without answering, the client gets a
/// 500. After the server stopped, answers are dropped silently.
class responder {
public:
  /// A responder answering into `sink`; throws std::invalid_argument on null.
  explicit responder(std::shared_ptr<reply_sink> sink);

  /// Sends `res` (ignored if this request was already answered).
  void send(response res) const;

  /// Starts a chunked answer and returns the stream to write it with; if the
  /// request was already answered, returns a stream that is already closed.
  std::shared_ptr<stream>
  open_stream(int status,
              std::string content_type = "text/plain; charset=utf-8",
              header_list headers = {}) const;

  /// Whether some copy already answered.
  bool answered() const;

private:
  struct state;
  std::shared_ptr<state> state_;
};

/// Handles one request: answer through the responder, at once or later from
/// any thread. An exception escaping it makes the server answer 500. With
/// server_config::threads > 1 it runs on several threads at a time.
using handler = std::function<void(request&, responder)>;

} // namespace conveyor::http
