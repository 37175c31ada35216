#include "adapters/http/client.hpp"

#include <cctype>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

namespace conveyor::http {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

// One connection driven synchronously: each step starts an async operation
// and runs the private io_context until it completes, so that tcp_stream's
// timeouts apply (plain blocking reads could wait forever).
class exchange {
public:
  exchange(const std::string& host, uint16_t port, const std::string& method,
           const std::string& target)
    : host_(host), port_(port),
      what_(method + " http://" + host + ":" + std::to_string(port) + target) {
    // nop
  }

  [[noreturn]] void fail(const char* step, const beast::error_code& ec) {
    auto why = ec == beast::error::timeout ? std::string{"timed out"}
                                           : ec.message();
    throw std::runtime_error("http " + what_ + ": " + step + ": " + why);
  }

  template <class Start>
  beast::error_code run(Start start) {
    beast::error_code result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    ioc_.restart();
    ioc_.run();
    return result;
  }

  void connect(std::chrono::milliseconds timeout) {
    tcp::resolver resolver{ioc_};
    beast::error_code ec;
    auto found = resolver.resolve(host_, std::to_string(port_), ec);
    if (ec)
      fail("resolve", ec);
    stream_.expires_after(timeout);
    ec = run([&](auto handler) { stream_.async_connect(found, handler); });
    if (ec)
      fail("connect", ec);
  }

  void write(const std::string& method, const std::string& target,
             std::string body, const client_headers& headers) {
    bhttp::request<bhttp::string_body> req;
    auto verb = bhttp::string_to_verb(method);
    if (verb == bhttp::verb::unknown)
      req.method_string(method);
    else
      req.method(verb);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, host_ + ":" + std::to_string(port_));
    req.set(bhttp::field::user_agent, "conveyor-http");
    for (auto& [name, value] : headers)
      req.set(name, value);
    req.keep_alive(false);
    bool has_body = !body.empty();
    req.body() = std::move(body);
    if (has_body || verb == bhttp::verb::post || verb == bhttp::verb::put
        || verb == bhttp::verb::patch)
      req.prepare_payload();
    write_error_
      = run([&](auto handler) { bhttp::async_write(stream_, req, handler); });
  }

  // A server may answer early (413) and stop reading: then the write fails
  // but the answer is there. Only when nothing can be read is the write's
  // error the one to report.
  [[noreturn]] void fail_read(const beast::error_code& ec) {
    if (write_error_)
      fail("write", write_error_);
    fail("read", ec);
  }

  template <class Body>
  void read_header(bhttp::response_parser<Body>& parser) {
    // Not boost::none: Beast 1.74 then rejects every Content-Length body.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    auto ec = run([&](auto handler) {
      bhttp::async_read_header(stream_, buffer_, parser, handler);
    });
    if (ec)
      fail_read(ec);
  }

  void read(bhttp::response_parser<bhttp::string_body>& parser) {
    auto ec = run([&](auto handler) {
      bhttp::async_read(stream_, buffer_, parser, handler);
    });
    if (ec)
      fail_read(ec);
  }

  // Reads what is there of the body (at least one byte unless it ended).
  size_t read_some(bhttp::response_parser<bhttp::buffer_body>& parser,
                   char* data, size_t size) {
    auto& body = parser.get().body();
    body.data = data;
    body.size = size;
    auto ec = run([&](auto handler) {
      bhttp::async_read_some(stream_, buffer_, parser, handler);
    });
    if (ec == bhttp::error::need_buffer)
      ec = {};
    if (ec)
      fail("read", ec);
    return size - body.size;
  }

  void expires_after(std::chrono::milliseconds timeout) {
    stream_.expires_after(timeout);
  }

  void expires_at(std::chrono::steady_clock::time_point deadline) {
    stream_.expires_at(deadline);
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

private:
  std::string host_;
  uint16_t port_;
  std::string what_;
  net::io_context ioc_;
  beast::tcp_stream stream_{ioc_};
  beast::flat_buffer buffer_;
  beast::error_code write_error_;
};

template <class Fields>
void copy_head(const Fields& fields, client_response& out) {
  for (auto& field : fields) {
    std::string name{field.name_string()};
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto& slot = out.headers[name];
    if (!slot.empty())
      slot += ", ";
    slot += std::string{field.value()};
  }
}

} // namespace

client_response fetch(const std::string& host, uint16_t port,
                      const std::string& method, const std::string& target,
                      std::string body, const client_headers& headers,
                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  exchange ex{host, port, method, target};
  ex.connect(timeout);
  ex.expires_at(deadline);
  ex.write(method, target, std::move(body), headers);
  bhttp::response_parser<bhttp::string_body> parser;
  // A HEAD answer announces a body it does not carry.
  parser.skip(method == "HEAD");
  ex.expires_at(deadline);
  ex.read_header(parser);
  ex.read(parser);
  client_response result;
  result.status = static_cast<int>(parser.get().result_int());
  copy_head(parser.get().base(), result);
  result.body = std::move(parser.get().body());
  ex.close();
  return result;
}

client_response
fetch_stream(const std::string& host, uint16_t port, const std::string& method,
             const std::string& target,
             std::function<bool(std::string_view chunk)> on_chunk,
             std::string body, const client_headers& headers,
             std::chrono::milliseconds timeout) {
  exchange ex{host, port, method, target};
  ex.connect(timeout);
  ex.expires_after(timeout);
  ex.write(method, target, std::move(body), headers);
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.skip(method == "HEAD");
  ex.expires_after(timeout);
  ex.read_header(parser);
  client_response result;
  result.status = static_cast<int>(parser.get().result_int());
  copy_head(parser.get().base(), result);
  char data[16 * 1024];
  while (!parser.is_done()) {
    ex.expires_after(timeout);
    auto n = ex.read_some(parser, data, sizeof(data));
    if (n > 0 && on_chunk && !on_chunk(std::string_view{data, n}))
      break;
  }
  ex.close();
  return result;
}

} // namespace conveyor::http
