#include "adapters/http/connection.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <string>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <spdlog/spdlog.h>

namespace conveyor::http::detail {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

constexpr uint32_t header_limit = 16 * 1024;
// Pipelined bytes read while a stream runs, before we stop looking.
constexpr size_t watch_limit = 64 * 1024;
// How long a closing connection drains what the client still sends, so that
// it reads our answer instead of a reset.
constexpr auto linger_time = std::chrono::seconds(2);

std::string new_request_id() {
  // random_generator is not thread-safe: one per thread.
  thread_local boost::uuids::random_generator generate;
  return boost::uuids::to_string(generate());
}

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 100)
    return false;
  for (auto c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok)
      return false;
  }
  return true;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && beast::iequals(a, b);
}

// A header name we write ourselves, or one that would break the framing.
bool reserved_header(std::string_view name) {
  return iequals(name, "content-length") || iequals(name, "transfer-encoding")
         || iequals(name, "connection") || iequals(name, "x-request-id");
}

bool token(std::string_view name) {
  if (name.empty())
    return false;
  for (auto c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || std::string_view{"!#$%&'*+-.^_`|~"}.find(c)
                   != std::string_view::npos;
    if (!ok)
      return false;
  }
  return true;
}

// Header values from handlers must not smuggle in lines of their own.
std::string clean_value(std::string_view value) {
  std::string result;
  result.reserve(value.size());
  for (auto c : value)
    if (c != '\r' && c != '\n' && c != '\0')
      result += c;
  return result;
}

std::string reason(int status) {
  auto text = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  if (text.empty() || text.front() == '<')
    return "Unknown";
  return std::string{text};
}

bool is_http_error(const beast::error_code& ec) {
  return &ec.category()
         == &bhttp::make_error_code(bhttp::error::bad_method).category();
}

bool bodyless(int status) {
  return status == 204 || status == 304;
}

class conn_impl;

/// Shared by a stream handle and its connection.
struct stream_state {
  std::atomic<bool> closed{false};
  std::atomic<size_t> pending{0};
};

// Runs `fn(conn)` on the connection's strand, unless the connection or the
// whole server is gone (then the call is dropped).
template <class F>
void post_to(const std::weak_ptr<conn_impl>& weak,
             const std::shared_ptr<gate>& posting, F fn);

class conn_impl final : public connection,
                        public std::enable_shared_from_this<conn_impl> {
public:
  conn_impl(server_core& core, uint64_t id, tcp::socket socket)
    : core_(core), id_(id), socket_(std::move(socket)),
      timer_(socket_.get_executor()) {
    // nop
  }

  net::any_io_executor executor() {
    return socket_.get_executor();
  }

  // -- connection ----------------------------------------------------------

  void start(bool reject) override {
    net::post(executor(), [self = shared_from_this(), reject] {
      self->on_start(reject);
    });
  }

  void shutdown() override {
    net::post(executor(), [self = shared_from_this()] { self->on_shutdown(); });
  }

  void close() override {
    net::post(executor(), [self = shared_from_this()] { self->close_now(); });
  }

  // -- answers (on the strand, posted by exchanges and streams) -------------

  void deliver(uint64_t exchange, response res) {
    if (exchange != exchange_ || phase_ != phase::handling)
      return;
    if (res.status < 200 || res.status > 599) {
      core_.log->error("handler answered with status {} request_id={}",
                       res.status, request_id_);
      res = json_error(500, "the handler gave an invalid status", request_id_);
    }
    status_ = res.status;
    auto out = head(res.status, res.content_type, res.headers,
                    bodyless(res.status) ? std::nullopt
                                         : std::optional{res.body.size()},
                    false);
    if (!head_only_ && !bodyless(res.status))
      out += res.body;
    phase_ = phase::writing;
    complete_ = true;
    enqueue(std::move(out));
  }

  void abandoned(uint64_t exchange) {
    if (exchange != exchange_ || phase_ != phase::handling)
      return;
    core_.log->warn("handler dropped its responder without answering "
                    "method={} path={} request_id={}",
                    method_, path_, request_id_);
    deliver(exchange, json_error(500, "the request was not answered",
                                 request_id_));
  }

  void begin_stream(uint64_t exchange, int status, std::string content_type,
                    header_list headers, std::shared_ptr<stream_state> st) {
    if (exchange != exchange_ || phase_ != phase::handling) {
      st->closed = true;
      return;
    }
    if (status < 200 || status > 599) {
      core_.log->error("handler opened a stream with status {} request_id={}",
                       status, request_id_);
      st->closed = true;
      deliver(exchange, json_error(500, "the handler gave an invalid status",
                                   request_id_));
      return;
    }
    status_ = status;
    stream_ = std::move(st);
    if (head_only_ || bodyless(status)) {
      stream_->closed = true;
      phase_ = phase::writing;
      complete_ = true;
      enqueue(head(status, content_type, headers, std::nullopt, false));
      return;
    }
    // HTTP/1.0 knows no chunks: the body ends where the connection does.
    chunked_ = !http10_;
    if (!chunked_)
      close_after_ = true;
    phase_ = phase::streaming;
    enqueue(head(status, content_type, headers, std::nullopt, chunked_));
    watch();
  }

  void stream_write(uint64_t exchange, std::string chunk) {
    if (exchange != exchange_ || phase_ != phase::streaming)
      return;
    out_stream_bytes_ += chunk.size();
    if (!chunked_) {
      enqueue(std::move(chunk));
      return;
    }
    char size[20];
    auto n = std::snprintf(size, sizeof(size), "%zx\r\n", chunk.size());
    std::string framed;
    framed.reserve(chunk.size() + n + 2);
    framed.append(size, n);
    framed += chunk;
    framed += "\r\n";
    enqueue(std::move(framed));
  }

  void stream_end(uint64_t exchange) {
    if (exchange != exchange_ || phase_ != phase::streaming)
      return;
    phase_ = phase::writing;
    complete_ = true;
    if (chunked_)
      enqueue("0\r\n\r\n");
    else if (!write_pending_)
      on_drained();
  }

  void stream_abort(uint64_t exchange) {
    if (exchange != exchange_ || phase_ != phase::streaming)
      return;
    core_.log->warn("stream dropped: client too slow request_id={}",
                    request_id_);
    close_now();
  }

private:
  enum class phase { reading, handling, writing, streaming, lingering, closed };

  // -- reading a request ----------------------------------------------------

  void on_start(bool reject) {
    beast::error_code ec;
    socket_.set_option(tcp::no_delay(true), ec);
    auto peer = socket_.remote_endpoint(ec);
    if (!ec)
      remote_ = peer.address().to_string() + ":" + std::to_string(peer.port());
    if (reject) {
      core_.log->warn("too many connections, rejecting remote={}", remote_);
      fail_request(503, "too many connections");
      return;
    }
    read_request();
  }

  void read_request() {
    if (stopping_) {
      close_now();
      return;
    }
    phase_ = phase::reading;
    method_.clear();
    path_.clear();
    route_.clear();
    request_id_.clear();
    status_ = 0;
    head_only_ = false;
    complete_ = false;
    stream_.reset();
    parser_.emplace();
    parser_->header_limit(header_limit);
    body_limit_ = core_.config.max_body_bytes;
    parser_->body_limit(body_limit_);
    arm(core_.config.read_timeout);
    bhttp::async_read_header(socket_, buffer_, *parser_,
                             [self = shared_from_this()](beast::error_code ec,
                                                         size_t) {
                               self->on_header(ec);
                             });
  }

  void on_header(beast::error_code ec) {
    if (phase_ != phase::reading)
      return;
    if (ec) {
      on_read_error(ec);
      return;
    }
    auto& msg = parser_->get();
    method_ = std::string{msg.method_string()};
    auto target = msg.target();
    path_ = std::string{target.substr(0, target.find('?'))};
    auto client_id = msg["X-Request-Id"];
    request_id_ = sane_request_id(client_id) ? std::string{client_id}
                                             : new_request_id();
    started_ = clock_type::now();
    http10_ = msg.version() < 11;
    close_after_ = !msg.keep_alive() || stopping_;
    head_only_ = msg.method() == bhttp::verb::head;
    if (auto i = core_.config.body_limits.find(path_);
        i != core_.config.body_limits.end()) {
      body_limit_ = i->second;
      parser_->body_limit(body_limit_);
    }
    auto length = parser_->content_length();
    if (length && *length > body_limit_) {
      fail_request(413, "request body exceeds " + std::to_string(body_limit_)
                          + " bytes");
      return;
    }
    if (parser_->is_done()) {
      on_body({});
      return;
    }
    if (!http10_ && iequals(msg[bhttp::field::expect], "100-continue")) {
      static const std::string go_on = "HTTP/1.1 100 Continue\r\n\r\n";
      net::async_write(socket_, net::buffer(go_on),
                       [self = shared_from_this()](beast::error_code ec,
                                                   size_t) {
                         if (ec)
                           self->close_now();
                         else if (self->phase_ == phase::reading)
                           self->read_body();
                       });
      return;
    }
    read_body();
  }

  void read_body() {
    bhttp::async_read(socket_, buffer_, *parser_,
                      [self = shared_from_this()](beast::error_code ec,
                                                  size_t) {
                        self->on_body(ec);
                      });
  }

  void on_body(beast::error_code ec) {
    if (phase_ != phase::reading)
      return;
    if (ec) {
      on_read_error(ec);
      return;
    }
    disarm();
    dispatch();
  }

  void on_read_error(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      fail_request(413, "request body exceeds " + std::to_string(body_limit_)
                          + " bytes");
    } else if (ec == bhttp::error::header_limit) {
      fail_request(431, "request header exceeds "
                          + std::to_string(header_limit) + " bytes");
    } else if (is_http_error(ec) && ec != bhttp::error::end_of_stream
               && ec != bhttp::error::partial_message) {
      fail_request(400, "malformed request: " + ec.message());
    } else {
      // The client closed, reset, or timed out: nobody to answer.
      close_now();
    }
  }

  // -- handling -------------------------------------------------------------

  void dispatch();

  // Answers an error before any handler saw the request, then closes: the
  // rest of what the client sends is not a request we could find.
  void fail_request(int status, std::string message) {
    if (request_id_.empty())
      request_id_ = new_request_id();
    if (method_.empty())
      started_ = clock_type::now();
    status_ = status;
    reported_ = false;
    close_after_ = true;
    head_only_ = false;
    phase_ = phase::writing;
    complete_ = true;
    core_.log->info("rejected request status={} reason=\"{}\" remote={} "
                    "request_id={}",
                    status, message, remote_, request_id_);
    auto res = json_error(status, message, request_id_);
    auto out = head(status, res.content_type, res.headers, res.body.size(),
                    false);
    out += res.body;
    enqueue(std::move(out));
  }

  std::string head(int status, const std::string& content_type,
                   const header_list& headers, std::optional<size_t> length,
                   bool chunked) {
    std::string out = "HTTP/1.1 ";
    out += std::to_string(status);
    out += ' ';
    out += reason(status);
    out += "\r\n";
    bool typed = !content_type.empty() && !bodyless(status);
    if (typed) {
      out += "Content-Type: ";
      out += clean_value(content_type);
      out += "\r\n";
    }
    for (auto& [name, value] : headers) {
      if (!token(name) || reserved_header(name)
          || (typed && iequals(name, "content-type")))
        continue;
      out += name;
      out += ": ";
      out += clean_value(value);
      out += "\r\n";
    }
    out += "X-Request-Id: ";
    out += request_id_;
    out += "\r\n";
    if (length) {
      out += "Content-Length: ";
      out += std::to_string(*length);
      out += "\r\n";
    }
    if (chunked)
      out += "Transfer-Encoding: chunked\r\n";
    if (close_after_)
      out += "Connection: close\r\n";
    else if (http10_)
      out += "Connection: keep-alive\r\n";
    out += "\r\n";
    return out;
  }

  // -- writing --------------------------------------------------------------

  void enqueue(std::string bytes) {
    if (phase_ == phase::closed)
      return;
    out_.push_back(std::move(bytes));
    if (!write_pending_)
      pump();
  }

  void pump() {
    if (out_.empty()) {
      on_drained();
      return;
    }
    if (out_.size() == 1) {
      writing_ = std::move(out_.front());
    } else {
      writing_.clear();
      for (auto& piece : out_)
        writing_ += piece;
    }
    out_.clear();
    writing_stream_bytes_ = out_stream_bytes_;
    out_stream_bytes_ = 0;
    write_pending_ = true;
    arm(core_.config.read_timeout);
    net::async_write(socket_, net::buffer(writing_),
                     [self = shared_from_this()](beast::error_code ec,
                                                 size_t) {
                       self->on_written(ec);
                     });
  }

  void on_written(beast::error_code ec) {
    write_pending_ = false;
    if (stream_)
      stream_->pending -= writing_stream_bytes_;
    writing_stream_bytes_ = 0;
    if (phase_ == phase::closed)
      return;
    disarm();
    if (ec) {
      core_.log->debug("write failed: {} request_id={}", ec.message(),
                       request_id_);
      close_now();
      return;
    }
    pump();
  }

  void on_drained() {
    if (complete_ && phase_ == phase::writing)
      finish_exchange();
  }

  void finish_exchange() {
    report();
    if (stream_)
      stream_->closed = true;
    stream_.reset();
    if (close_after_ || stopping_ || peer_gone_) {
      linger();
      return;
    }
    phase_ = phase::reading;
    if (watch_pending_) {
      // The stream's watch read must finish before the parser reads.
      resume_read_ = true;
      beast::error_code ignored;
      socket_.cancel(ignored);
      return;
    }
    read_request();
  }

  void report() {
    if (reported_)
      return;
    reported_ = true;
    auto seconds
      = std::chrono::duration<double>(clock_type::now() - started_).count();
    auto& label = route_.empty() ? path_ : route_;
    core_.log->debug("method={} path={} status={} ms={:.1f} remote={} "
                     "request_id={}",
                     method_, path_, status_, seconds * 1000, remote_,
                     request_id_);
    if (!core_.config.on_complete)
      return;
    try {
      core_.config.on_complete(method_, label, status_, seconds);
    } catch (const std::exception& e) {
      core_.log->error("on_complete observer threw: {}", e.what());
    } catch (...) {
      core_.log->error("on_complete observer threw");
    }
  }

  // -- watching the client while streaming, draining while closing ----------

  void watch() {
    if (watch_pending_ || phase_ == phase::closed)
      return;
    watch_pending_ = true;
    if (phase_ == phase::lingering) {
      socket_.async_read_some(net::buffer(drain_),
                              [self = shared_from_this()](
                                beast::error_code ec, size_t) {
                                self->on_watch(ec, 0);
                              });
      return;
    }
    socket_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](beast::error_code ec,
                                                        size_t n) {
                              self->on_watch(ec, n);
                            });
  }

  void on_watch(beast::error_code ec, size_t n) {
    watch_pending_ = false;
    if (!ec)
      buffer_.commit(n);
    switch (phase_) {
      case phase::streaming:
        if (ec) {
          // EOF or reset: whoever reads the stream is gone.
          core_.log->debug("stream client left request_id={}", request_id_);
          peer_gone_ = true;
          close_now();
        } else if (buffer_.size() < watch_limit) {
          watch();
        }
        return;
      case phase::writing:
        if (ec && ec != net::error::operation_aborted)
          peer_gone_ = true;
        return;
      case phase::reading:
        if (resume_read_) {
          resume_read_ = false;
          read_request();
        }
        return;
      case phase::lingering:
        buffer_.clear();
        if (ec)
          close_now();
        else
          watch();
        return;
      default:
        return;
    }
  }

  void linger() {
    phase_ = phase::lingering;
    resume_read_ = false;
    beast::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) {
      close_now();
      return;
    }
    arm(linger_time);
    watch();
  }

  // -- closing and timeouts -------------------------------------------------

  void on_shutdown() {
    stopping_ = true;
    switch (phase_) {
      case phase::reading:
      case phase::streaming:
      case phase::lingering:
        close_now();
        return;
      case phase::handling:
      case phase::writing:
        close_after_ = true;
        return;
      case phase::closed:
        return;
    }
  }

  void close_now() {
    if (phase_ == phase::closed)
      return;
    bool answering = phase_ == phase::writing || phase_ == phase::streaming;
    phase_ = phase::closed;
    disarm();
    if (stream_)
      stream_->closed = true;
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    if (answering && status_ != 0)
      report();
    core_.forget(id_);
  }

  void arm(clock_type::duration timeout) {
    auto generation = ++timer_generation_;
    timer_.expires_after(timeout);
    timer_.async_wait(
      [self = shared_from_this(), generation](beast::error_code ec) {
        if (!ec && generation == self->timer_generation_)
          self->on_timeout();
      });
  }

  void disarm() {
    ++timer_generation_;
    timer_.cancel();
  }

  void on_timeout() {
    if (phase_ != phase::lingering)
      core_.log->debug("connection timed out remote={} request_id={}",
                       remote_, request_id_);
    close_now();
  }

  // -- state ----------------------------------------------------------------

  server_core& core_;
  uint64_t id_;
  tcp::socket socket_;
  net::steady_timer timer_;
  uint64_t timer_generation_ = 0;
  std::string remote_;
  phase phase_ = phase::reading;
  bool stopping_ = false;
  bool peer_gone_ = false;

  // Reading.
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::array<char, 4096> drain_;
  bool watch_pending_ = false;
  bool resume_read_ = false;

  // The exchange in progress.
  uint64_t exchange_ = 0;
  std::string method_;
  std::string path_;
  std::string route_;
  std::string request_id_;
  int status_ = 0;
  clock_type::time_point started_;
  bool http10_ = false;
  bool head_only_ = false;
  size_t body_limit_ = 0; ///< of the request being read
  bool close_after_ = false;
  bool complete_ = false;
  bool reported_ = true;
  bool chunked_ = true;
  std::shared_ptr<stream_state> stream_;

  // Writing.
  std::deque<std::string> out_;
  std::string writing_;
  bool write_pending_ = false;
  size_t out_stream_bytes_ = 0;
  size_t writing_stream_bytes_ = 0;
};

template <class F>
void post_to(const std::weak_ptr<conn_impl>& weak,
             const std::shared_ptr<gate>& posting, F fn) {
  std::lock_guard<std::mutex> guard{posting->mtx};
  if (!posting->open)
    return;
  auto conn = weak.lock();
  if (!conn)
    return;
  auto ex = conn->executor();
  net::post(ex, [conn = std::move(conn), fn = std::move(fn)]() mutable {
    fn(*conn);
  });
}

/// The stream handed to a handler; writes hop onto the connection's strand.
class stream_impl final : public stream {
public:
  stream_impl(std::weak_ptr<conn_impl> conn, std::shared_ptr<gate> posting,
              uint64_t exchange, std::shared_ptr<stream_state> st, size_t cap)
    : conn_(std::move(conn)), posting_(std::move(posting)),
      exchange_(exchange), state_(std::move(st)), cap_(cap) {
    // nop
  }

  ~stream_impl() override {
    end();
  }

  bool write(std::string chunk) override {
    if (state_->closed.load())
      return false;
    if (chunk.empty())
      return true;
    auto size = chunk.size();
    if (state_->pending.fetch_add(size) + size > cap_) {
      state_->closed = true;
      post_to(conn_, posting_,
              [ex = exchange_](conn_impl& c) { c.stream_abort(ex); });
      return false;
    }
    post_to(conn_, posting_,
            [ex = exchange_, chunk = std::move(chunk)](conn_impl& c) mutable {
              c.stream_write(ex, std::move(chunk));
            });
    return true;
  }

  void end() override {
    if (ended_.exchange(true))
      return;
    state_->closed = true;
    post_to(conn_, posting_,
            [ex = exchange_](conn_impl& c) { c.stream_end(ex); });
  }

  bool closed() const override {
    return state_->closed.load();
  }

private:
  std::weak_ptr<conn_impl> conn_;
  std::shared_ptr<gate> posting_;
  uint64_t exchange_;
  std::shared_ptr<stream_state> state_;
  size_t cap_;
  std::atomic<bool> ended_{false};
};

/// The server side of one responder: owns the request while anyone can
/// still answer it.
class exchange final : public reply_sink {
public:
  exchange(std::weak_ptr<conn_impl> conn, std::shared_ptr<gate> posting,
           uint64_t id, std::shared_ptr<request> req, size_t stream_cap)
    : conn_(std::move(conn)), posting_(std::move(posting)), id_(id),
      req_(std::move(req)), stream_cap_(stream_cap) {
    // nop
  }

  void send(response res) override {
    post_to(conn_, posting_,
            [id = id_, res = std::move(res)](conn_impl& c) mutable {
              c.deliver(id, std::move(res));
            });
  }

  std::shared_ptr<stream> open_stream(int status, std::string content_type,
                                      header_list headers) override {
    auto st = std::make_shared<stream_state>();
    auto handle = std::make_shared<stream_impl>(conn_, posting_, id_, st,
                                                stream_cap_);
    post_to(conn_, posting_,
            [id = id_, status, content_type = std::move(content_type),
             headers = std::move(headers), st](conn_impl& c) mutable {
              c.begin_stream(id, status, std::move(content_type),
                             std::move(headers), std::move(st));
            });
    return handle;
  }

  void abandon() override {
    post_to(conn_, posting_, [id = id_](conn_impl& c) { c.abandoned(id); });
  }

private:
  std::weak_ptr<conn_impl> conn_;
  std::shared_ptr<gate> posting_;
  uint64_t id_;
  std::shared_ptr<request> req_;
  size_t stream_cap_;
};

void conn_impl::dispatch() {
  auto& msg = parser_->get();
  auto req = std::make_shared<request>();
  req->method = method_;
  req->target = std::string{msg.target()};
  req->path = path_;
  if (auto q = req->target.find('?'); q != std::string::npos)
    req->query = parse_query(std::string_view{req->target}.substr(q + 1));
  for (auto& field : msg)
    req->headers.emplace_back(std::string{field.name_string()},
                              std::string{field.value()});
  req->body = std::move(msg.body());
  req->request_id = request_id_;
  req->remote = remote_;
  parser_.reset();
  phase_ = phase::handling;
  reported_ = false;
  ++exchange_;
  {
    responder res{std::make_shared<exchange>(weak_from_this(), core_.posting,
                                             exchange_, req,
                                             core_.config.max_stream_buffer_bytes)};
    try {
      core_.on_request(*req, res);
    } catch (const std::exception& e) {
      core_.log->error("handler threw: {} method={} path={} request_id={}",
                       e.what(), method_, path_, request_id_);
      res.send(json_error(500, "internal server error", request_id_));
    } catch (...) {
      core_.log->error("handler threw method={} path={} request_id={}",
                       method_, path_, request_id_);
      res.send(json_error(500, "internal server error", request_id_));
    }
  }
  // Answers arrive by post, so none has been written yet: the label is
  // settled before the exchange is reported.
  route_ = req->route;
}

} // namespace

std::shared_ptr<connection> make_connection(server_core& core, uint64_t id,
                                            tcp::socket socket) {
  return std::make_shared<conn_impl>(core, id, std::move(socket));
}

} // namespace conveyor::http::detail
