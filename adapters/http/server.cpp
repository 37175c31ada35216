#include "adapters/http/server.hpp"

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "adapters/http/connection.hpp"

namespace conveyor::http {

namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;

std::shared_ptr<spdlog::logger> http_logger() {
  if (auto log = spdlog::get("http"))
    return log;
  // A clone writes where the application sends its logs.
  auto created = spdlog::default_logger()->clone("http");
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered it between our two calls.
    return spdlog::get("http");
  }
  return created;
}

// The server whose io_context runs on this thread, if any.
thread_local const void* current_server = nullptr;

std::system_error bind_error(const boost::system::error_code& ec,
                             const std::string& what,
                             const server_config& config) {
  return std::system_error(std::error_code(ec),
                           "http: cannot " + what + " " + config.host + ":"
                             + std::to_string(config.port));
}

} // namespace

struct server::impl final : detail::server_core {
  explicit impl(size_t thread_count)
    : ioc(static_cast<int>(thread_count)) {
    // nop
  }

  // -- detail::server_core --------------------------------------------------

  void forget(uint64_t id) override {
    std::shared_ptr<detail::connection> gone;
    std::lock_guard<std::mutex> guard{mtx};
    if (auto i = conns.find(id); i != conns.end()) {
      gone = std::move(i->second);
      conns.erase(i);
    }
    if (conns.empty())
      drained.notify_all();
  }

  // -- accept loop (on the acceptor's strand) -------------------------------

  void accept() {
    acceptor.async_accept(net::make_strand(ioc),
                          [this](boost::system::error_code ec,
                                 tcp::socket socket) {
                            on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(boost::system::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor.is_open())
      return;
    if (ec) {
      // E.g. out of file descriptors: back off instead of spinning.
      log->warn("accept failed: {}", ec.message());
      retry.expires_after(std::chrono::milliseconds(100));
      retry.async_wait([this](boost::system::error_code ec) {
        if (!ec && acceptor.is_open())
          accept();
      });
      return;
    }
    std::shared_ptr<detail::connection> conn;
    bool reject = false;
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (stopping)
        return;
      reject = conns.size() >= config.max_connections;
      conn = detail::make_connection(*this, ++next_id, std::move(socket));
      conns.emplace(next_id, conn);
    }
    conn->start(reject);
    accept();
  }

  std::vector<std::shared_ptr<detail::connection>> snapshot() {
    std::vector<std::shared_ptr<detail::connection>> result;
    std::lock_guard<std::mutex> guard{mtx};
    for (auto& entry : conns)
      result.push_back(entry.second);
    return result;
  }

  bool wait_drained(std::chrono::milliseconds timeout) {
    std::unique_lock<std::mutex> guard{mtx};
    return drained.wait_for(guard, timeout, [this] { return conns.empty(); });
  }

  // Declared first, destroyed last: everything below uses it.
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{
    ioc.get_executor()};
  tcp::acceptor acceptor{net::make_strand(ioc)};
  net::steady_timer retry{acceptor.get_executor()};
  std::vector<std::thread> threads;
  uint16_t port = 0;

  std::mutex mtx;
  std::condition_variable drained;
  std::map<uint64_t, std::shared_ptr<detail::connection>> conns;
  uint64_t next_id = 0;
  bool stopping = false;

  std::mutex stop_mtx;
  bool stopped = false;
};

server::server() = default;

server::~server() {
  if (!impl_)
    return;
  try {
    stop();
  } catch (const std::exception& e) {
    impl_->log->critical("http server destroyed badly: {}", e.what());
  }
}

std::unique_ptr<server> server::start(server_config config,
                                      handler on_request) {
  if (!on_request)
    throw std::invalid_argument("http::server::start: empty handler");
  if (config.threads == 0)
    throw std::invalid_argument("http::server::start: zero threads");
  std::unique_ptr<server> result{new server};
  result->impl_ = std::make_unique<impl>(config.threads);
  auto& s = *result->impl_;
  s.config = std::move(config);
  s.on_request = std::move(on_request);
  s.log = http_logger();
  boost::system::error_code ec;
  tcp::endpoint endpoint;
  auto address = net::ip::make_address(s.config.host, ec);
  if (!ec) {
    endpoint = tcp::endpoint{address, s.config.port};
  } else {
    tcp::resolver resolver{s.ioc};
    auto found = resolver.resolve(s.config.host, std::to_string(s.config.port),
                                  ec);
    if (ec || found.empty())
      throw bind_error(ec, "resolve", s.config);
    endpoint = found.begin()->endpoint();
  }
  s.acceptor.open(endpoint.protocol(), ec);
  if (ec)
    throw bind_error(ec, "open a socket for", s.config);
  s.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  s.acceptor.bind(endpoint, ec);
  if (ec)
    throw bind_error(ec, "bind", s.config);
  s.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    throw bind_error(ec, "listen on", s.config);
  s.port = s.acceptor.local_endpoint().port();
  s.accept();
  for (size_t i = 0; i < s.config.threads; ++i) {
    s.threads.emplace_back([&s] {
      current_server = &s;
      for (;;) {
        try {
          s.ioc.run();
          return;
        } catch (const std::exception& e) {
          s.log->error("io thread caught: {}", e.what());
        } catch (...) {
          s.log->error("io thread caught an unknown exception");
        }
      }
    });
  }
  s.log->info("listening host={} port={} threads={}", s.config.host, s.port,
              s.config.threads);
  return result;
}

uint16_t server::port() const {
  return impl_->port;
}

void server::stop() {
  if (!impl_)
    return;
  auto& s = *impl_;
  if (current_server == &s)
    throw std::logic_error("http::server::stop called on one of its threads");
  std::lock_guard<std::mutex> once{s.stop_mtx};
  if (s.stopped)
    return;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    s.stopping = true;
  }
  // Stop accepting first; wait (briefly, the threads might be busy) so that
  // no connection slips in after the snapshot below.
  std::promise<void> closed;
  auto acceptor_closed = closed.get_future();
  net::post(s.acceptor.get_executor(), [&s, &closed] {
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
    s.retry.cancel();
    closed.set_value();
  });
  bool acceptor_done = s.threads.empty()
                       || acceptor_closed.wait_for(std::chrono::seconds(1))
                            == std::future_status::ready;
  for (auto& conn : s.snapshot())
    conn->shutdown();
  if (!s.wait_drained(s.config.stop_grace)) {
    auto rest = s.snapshot();
    s.log->warn("stop: closing {} connections still answering", rest.size());
    for (auto& conn : rest)
      conn->close();
    s.wait_drained(std::chrono::seconds(1));
  }
  s.work.reset();
  s.ioc.stop();
  for (auto& thread : s.threads)
    thread.join();
  s.threads.clear();
  if (!acceptor_done) {
    // The posted close never ran; `closed` must not be touched any more.
    boost::system::error_code ignored;
    s.acceptor.close(ignored);
  }
  {
    // From now on responders and streams post nothing.
    std::lock_guard<std::mutex> guard{s.posting->mtx};
    s.posting->open = false;
  }
  std::map<uint64_t, std::shared_ptr<detail::connection>> rest;
  {
    std::lock_guard<std::mutex> guard{s.mtx};
    rest.swap(s.conns);
  }
  rest.clear();
  s.stopped = true;
  s.log->info("stopped port={}", s.port);
}

} // namespace conveyor::http
