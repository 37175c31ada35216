#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include "adapters/http/client.hpp"
#include "adapters/http/router.hpp"
#include "adapters/http/server.hpp"

using namespace conveyor::http;
using namespace std::chrono_literals;

namespace {

const std::string localhost = "127.0.0.1";

// A plain TCP connection for what the client cannot do: keep-alive,
// pipelining, malformed requests, hanging around idle.
class raw_conn {
public:
  explicit raw_conn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
            == 0);
  }

  ~raw_conn() {
    ::close(fd_);
  }

  void send(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      auto n = ::send(fd_, bytes.data() + done, bytes.size() - done,
                      MSG_NOSIGNAL);
      REQUIRE(n > 0);
      done += static_cast<size_t>(n);
    }
  }

  // Reads more bytes into the buffer; false on EOF, error or timeout.
  bool fill(std::chrono::milliseconds timeout = 5s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0)
      return false;
    char tmp[4096];
    auto n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0)
      return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  // Reads one response with a Content-Length body: status and whole text.
  std::pair<int, std::string> response() {
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill())
        throw std::runtime_error("no response header, got: " + buf_);
    auto head = buf_.substr(0, end + 4);
    size_t length = 0;
    auto cl = head.find("Content-Length: ");
    if (cl != std::string::npos)
      length = std::stoul(head.substr(cl + 16));
    while (buf_.size() < end + 4 + length)
      if (!fill())
        throw std::runtime_error("short body");
    auto text = buf_.substr(0, end + 4 + length);
    buf_.erase(0, end + 4 + length);
    return {std::stoi(text.substr(9, 3)), text};
  }

  // Reads until `marker` has arrived; returns everything up to it.
  std::string until(const std::string& marker) {
    size_t at;
    while ((at = buf_.find(marker)) == std::string::npos)
      if (!fill())
        throw std::runtime_error("no '" + marker + "' in: " + buf_);
    auto text = buf_.substr(0, at + marker.size());
    buf_.erase(0, at + marker.size());
    return text;
  }

  // Whether the server closes the connection within `timeout`.
  bool closed_within(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) > 0) {
        char tmp[4096];
        if (::recv(fd_, tmp, sizeof(tmp), 0) <= 0)
          return true;
      }
    }
    return false;
  }

private:
  int fd_ = -1;
  std::string buf_;
};

server_config test_config() {
  server_config cfg;
  cfg.port = 0;
  cfg.read_timeout = 5s;
  return cfg;
}

// Threads that answer later; joined when the test ends.
struct helpers {
  std::vector<std::thread> threads;

  template <class F>
  void later(F f) {
    threads.emplace_back(std::move(f));
  }

  ~helpers() {
    for (auto& t : threads)
      t.join();
  }
};

handler echo_handler() {
  return [](request& req, responder res) {
    res.send({200, "text/plain", req.method + " " + req.path, {}});
  };
}

} // namespace

TEST_CASE("routes with params over real HTTP, with metrics labels") {
  std::mutex mtx;
  std::vector<std::string> completed;
  auto cfg = test_config();
  cfg.on_complete = [&](const std::string& method, const std::string& route,
                        int status, double seconds) {
    std::lock_guard<std::mutex> guard{mtx};
    completed.push_back(method + " " + route + " " + std::to_string(status));
    CHECK(seconds >= 0);
  };
  router r;
  r.add("GET", "/api/builds/{id}",
        [](request& req, route_params& params, responder res) {
          res.send({200, "text/plain",
                    "build " + params["id"] + " verbose=" + req.query["verbose"],
                    {{"X-Extra", "yes"}}});
        });
  r.add("POST", "/api/builds", [](request& req, route_params&, responder res) {
    res.send({201, "application/json", req.body, {}});
  });
  auto srv = server::start(cfg, r);
  auto res = fetch(localhost, srv->port(), "GET",
                   "/api/builds/12?verbose=a%20b");
  CHECK(res.status == 200);
  CHECK(res.body == "build 12 verbose=a b");
  CHECK(res.headers["x-extra"] == "yes");
  CHECK(res.headers["content-type"] == "text/plain");
  res = fetch(localhost, srv->port(), "POST", "/api/builds", R"({"repo":"x"})",
              {{"Content-Type", "application/json"}});
  CHECK(res.status == 201);
  CHECK(res.body == R"({"repo":"x"})");
  res = fetch(localhost, srv->port(), "GET", "/nope");
  CHECK(res.status == 404);
  CHECK(res.headers["content-type"] == "application/json");
  CHECK(res.body.find("\"request_id\":\"" + res.headers["x-request-id"] + "\"")
        != std::string::npos);
  res = fetch(localhost, srv->port(), "DELETE", "/api/builds/3");
  CHECK(res.status == 405);
  CHECK(res.headers["allow"] == "GET, HEAD");
  res = fetch(localhost, srv->port(), "HEAD", "/api/builds/5");
  CHECK(res.status == 200);
  CHECK(res.body.empty());
  CHECK(res.headers["content-length"] == "16");
  srv->stop();
  std::lock_guard<std::mutex> guard{mtx};
  CHECK(completed
        == std::vector<std::string>{"GET /api/builds/{id} 200",
                                    "POST /api/builds 201", "GET /nope 404",
                                    "DELETE /api/builds/3 405",
                                    "HEAD /api/builds/{id} 200"});
}

TEST_CASE("an oversized body gets 413 and the server carries on") {
  auto cfg = test_config();
  cfg.max_body_bytes = 1024;
  auto srv = server::start(cfg, echo_handler());
  auto res = fetch(localhost, srv->port(), "POST", "/upload",
                   std::string(1025, 'x'));
  CHECK(res.status == 413);
  CHECK(res.headers["content-type"] == "application/json");
  res = fetch(localhost, srv->port(), "POST", "/upload",
              std::string(256 * 1024, 'x'));
  CHECK(res.status == 413);
  res = fetch(localhost, srv->port(), "POST", "/upload",
              std::string(1024, 'x'));
  CHECK(res.status == 200);
  CHECK(res.body == "POST /upload");
  // A chunked body has no length up front: cut off when it gets too big.
  raw_conn conn{srv->port()};
  std::string chunk(800, 'y');
  conn.send("POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            "\r\n320\r\n" + chunk + "\r\n320\r\n" + chunk + "\r\n0\r\n\r\n");
  auto [status, text] = conn.response();
  CHECK(status == 413);
  CHECK(text.find("Connection: close") != std::string::npos);
  CHECK(fetch(localhost, srv->port(), "GET", "/again").status == 200);
}

TEST_CASE("Expect: 100-continue is honoured, and refused when too big") {
  auto cfg = test_config();
  cfg.max_body_bytes = 1024;
  auto srv = server::start(cfg, [](request& req, responder res) {
    res.send({200, "text/plain", req.body, {}});
  });
  raw_conn ok{srv->port()};
  ok.send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
          "Expect: 100-continue\r\n\r\n");
  CHECK(ok.until("\r\n\r\n") == "HTTP/1.1 100 Continue\r\n\r\n");
  ok.send("hello");
  auto [status, text] = ok.response();
  CHECK(status == 200);
  CHECK(text.substr(text.size() - 5) == "hello");
  raw_conn big{srv->port()};
  big.send("PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n"
           "Expect: 100-continue\r\n\r\n");
  CHECK(big.response().first == 413);
}

TEST_CASE("HTTP/1.0 clients get their connection closed") {
  auto srv = server::start(test_config(), echo_handler());
  raw_conn conn{srv->port()};
  conn.send("GET /old HTTP/1.0\r\n\r\n");
  auto [status, text] = conn.response();
  CHECK(status == 200);
  CHECK(text.find("Connection: close") != std::string::npos);
  CHECK(conn.closed_within(5s));
}

TEST_CASE("malformed requests get 400") {
  auto srv = server::start(test_config(), echo_handler());
  {
    raw_conn conn{srv->port()};
    conn.send("THIS IS NOT HTTP\r\n\r\n");
    auto [status, text] = conn.response();
    CHECK(status == 400);
    CHECK(text.find("X-Request-Id: ") != std::string::npos);
    CHECK(conn.closed_within(5s));
  }
  {
    raw_conn conn{srv->port()};
    conn.send("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n");
    CHECK(conn.response().first == 400);
  }
  {
    raw_conn conn{srv->port()};
    conn.send("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a')
              + "\r\n\r\n");
    CHECK(conn.response().first == 431);
  }
  CHECK(fetch(localhost, srv->port(), "GET", "/fine").status == 200);
}

TEST_CASE("handlers may answer later, from another thread") {
  helpers pool;
  auto srv = server::start(test_config(), [&pool](request& req, responder res) {
    pool.later([&req, res] {
      std::this_thread::sleep_for(50ms);
      // The request stays valid while a responder lives.
      res.send({200, "text/plain", "late " + req.path, {}});
    });
  });
  auto res = fetch(localhost, srv->port(), "GET", "/slow");
  CHECK(res.status == 200);
  CHECK(res.body == "late /slow");
}

TEST_CASE("a dropped responder gives 500, a throwing handler too") {
  helpers pool;
  auto srv = server::start(test_config(), [&pool](request& req, responder res) {
    if (req.path == "/drop")
      return;
    if (req.path == "/drop-later") {
      pool.later([res] { std::this_thread::sleep_for(30ms); });
      return;
    }
    if (req.path == "/throw")
      throw std::runtime_error("boom");
    res.send({200, "text/plain", "ok", {}});
  });
  auto port = srv->port();
  auto res = fetch(localhost, port, "GET", "/drop");
  CHECK(res.status == 500);
  CHECK(res.headers["content-type"] == "application/json");
  CHECK(fetch(localhost, port, "GET", "/drop-later").status == 500);
  res = fetch(localhost, port, "GET", "/throw");
  CHECK(res.status == 500);
  CHECK(res.body.find("\"error\"") != std::string::npos);
  CHECK(fetch(localhost, port, "GET", "/ok").body == "ok");
  // On a kept-alive connection too.
  raw_conn conn{port};
  conn.send("GET /throw HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(conn.response().first == 500);
  conn.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(conn.response().first == 200);
}

TEST_CASE("X-Request-Id is echoed when sane, generated otherwise") {
  auto srv = server::start(test_config(), [](request& req, responder res) {
    res.send({200, "text/plain", req.request_id, {}});
  });
  auto res = fetch(localhost, srv->port(), "GET", "/", {},
                   {{"X-Request-Id", "abc-123_x.y"}});
  CHECK(res.headers["x-request-id"] == "abc-123_x.y");
  CHECK(res.body == "abc-123_x.y");
  res = fetch(localhost, srv->port(), "GET", "/", {},
              {{"X-Request-Id", "no spaces allowed"}});
  auto id = res.headers["x-request-id"];
  CHECK(id.size() == 36);
  CHECK(id[8] == '-');
  CHECK(res.body == id);
  res = fetch(localhost, srv->port(), "GET", "/", {},
              {{"X-Request-Id", std::string(101, 'a')}});
  CHECK(res.headers["x-request-id"].size() == 36);
  auto other = fetch(localhost, srv->port(), "GET", "/");
  CHECK(other.headers["x-request-id"].size() == 36);
  CHECK(other.headers["x-request-id"] != id);
}

TEST_CASE("keep-alive and pipelining on one connection") {
  std::atomic<int> remotes_seen{0};
  std::string first_remote;
  std::mutex mtx;
  auto srv = server::start(test_config(), [&](request& req, responder res) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      if (first_remote.empty())
        first_remote = req.remote;
      if (req.remote == first_remote)
        ++remotes_seen;
    }
    res.send({200, "text/plain", req.path, {}});
  });
  raw_conn conn{srv->port()};
  conn.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n");
  auto [s1, t1] = conn.response();
  CHECK(s1 == 200);
  CHECK(t1.substr(t1.size() - 4) == "/one");
  CHECK(t1.find("Connection: close") == std::string::npos);
  conn.send("GET /two HTTP/1.1\r\nHost: x\r\n\r\n");
  auto [s2, t2] = conn.response();
  CHECK(s2 == 200);
  CHECK(t2.substr(t2.size() - 4) == "/two");
  // Three requests in one write: answered one by one, in order.
  conn.send("GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
            "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
            "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto [s3, t3] = conn.response();
  CHECK(t3.substr(t3.size() - 2) == "/a");
  auto [s4, t4] = conn.response();
  CHECK(t4.substr(t4.size() - 2) == "/b");
  auto [s5, t5] = conn.response();
  CHECK(t5.substr(t5.size() - 2) == "/c");
  CHECK(t5.find("Connection: close") != std::string::npos);
  CHECK(conn.closed_within(5s));
  CHECK(remotes_seen == 5);
}

TEST_CASE("a chunked stream written from another thread arrives in pieces") {
  helpers pool;
  std::atomic<bool> ended{false};
  std::atomic<bool> writes_ok{true};
  std::promise<bool> refused_after_end;
  std::atomic<int> streams{0};
  auto srv = server::start(test_config(), [&](request& req, responder res) {
    if (req.path == "/plain") {
      res.send({200, "text/plain", "plain", {}});
      return;
    }
    auto out = res.open_stream(200, "text/plain",
                               {{"Cache-Control", "no-cache"}});
    bool first = ++streams == 1;
    pool.later([&, out, first] {
      for (int i = 0; i < 4; ++i) {
        if (!out->write("line " + std::to_string(i) + "\n"))
          writes_ok = false;
        std::this_thread::sleep_for(100ms);
      }
      ended = true;
      out->end();
      if (first)
        refused_after_end.set_value(out->closed() && !out->write("too late"));
    });
  });
  std::vector<std::string> pieces;
  bool first_before_end = false;
  auto res = fetch_stream(localhost, srv->port(), "GET", "/tail",
                          [&](std::string_view chunk) {
                            if (pieces.empty())
                              first_before_end = !ended.load();
                            pieces.emplace_back(chunk);
                            return true;
                          });
  CHECK(res.status == 200);
  CHECK(res.headers["transfer-encoding"] == "chunked");
  CHECK(res.headers["cache-control"] == "no-cache");
  CHECK(first_before_end);
  CHECK(pieces.size() >= 2);
  std::string all;
  for (auto& p : pieces)
    all += p;
  CHECK(all == "line 0\nline 1\nline 2\nline 3\n");
  CHECK(writes_ok);
  CHECK(refused_after_end.get_future().get());
  // After a stream, the connection carries the next request.
  raw_conn conn{srv->port()};
  conn.send("GET /tail HTTP/1.1\r\nHost: x\r\n\r\n");
  auto text = conn.until("\r\n0\r\n\r\n");
  CHECK(text.find("Transfer-Encoding: chunked") != std::string::npos);
  CHECK(text.find("7\r\nline 3\n\r\n") != std::string::npos);
  conn.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  auto [status, plain] = conn.response();
  CHECK(status == 200);
  CHECK(plain.substr(plain.size() - 5) == "plain");
}

TEST_CASE("a client leaving mid-stream makes write return false") {
  std::promise<std::shared_ptr<stream>> opened;
  auto srv = server::start(test_config(), [&opened](request&, responder res) {
    auto out = res.open_stream(200, "text/event-stream");
    out->write("data: hello\n\n");
    opened.set_value(out);
  });
  auto res = fetch_stream(localhost, srv->port(), "GET", "/events",
                          [](std::string_view chunk) {
                            (void) chunk;
                            return false; // hang up
                          });
  CHECK(res.status == 200);
  auto out = opened.get_future().get();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  bool refused = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!out->write("data: tick\n\n")) {
      refused = true;
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  CHECK(refused);
  CHECK(out->closed());
}

TEST_CASE("stop() closes idle connections promptly") {
  auto cfg = test_config();
  cfg.read_timeout = 60s;
  auto srv = server::start(cfg, echo_handler());
  raw_conn idle{srv->port()};
  raw_conn used{srv->port()};
  used.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(used.response().first == 200);
  auto start = std::chrono::steady_clock::now();
  srv->stop();
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(idle.closed_within(2s));
  CHECK(used.closed_within(2s));
  srv->stop(); // idempotent
}

TEST_CASE("stop() lets an answer in progress finish and ends streams") {
  helpers pool;
  std::promise<std::shared_ptr<stream>> opened;
  std::promise<void> slow_arrived;
  auto srv = server::start(test_config(), [&](request& req, responder res) {
    if (req.path == "/stream") {
      opened.set_value(res.open_stream(200));
      return;
    }
    slow_arrived.set_value();
    pool.later([res] {
      std::this_thread::sleep_for(300ms);
      res.send({200, "text/plain", "finished", {}});
    });
  });
  auto port = srv->port();
  std::atomic<bool> stream_cut{false};
  std::thread streamer([port, &stream_cut] {
    try {
      fetch_stream(localhost, port, "GET", "/stream",
                   [](std::string_view) { return true; });
    } catch (const std::runtime_error&) {
      stream_cut = true;
    }
  });
  auto out = opened.get_future().get();
  auto slow = std::async(std::launch::async, [port] {
    return fetch(localhost, port, "GET", "/slow");
  });
  slow_arrived.get_future().get();
  srv->stop();
  CHECK(out->closed());
  CHECK_FALSE(out->write("after stop"));
  CHECK(slow.get().body == "finished");
  streamer.join();
  CHECK(stream_cut);
  srv.reset(); // responders and streams outliving the server are harmless
  out->end();
}

TEST_CASE("responders outliving a stopped server are harmless") {
  std::promise<responder> kept;
  auto cfg = test_config();
  cfg.stop_grace = 100ms;
  auto srv = server::start(cfg, [&kept](request&, responder res) {
    kept.set_value(res);
  });
  auto port = srv->port();
  auto call = std::async(std::launch::async, [port] {
    try {
      fetch(localhost, port, "GET", "/never");
      return false;
    } catch (const std::runtime_error&) {
      return true; // the server hung up
    }
  });
  auto res = kept.get_future().get();
  auto start = std::chrono::steady_clock::now();
  srv->stop();
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(call.get());
  res.send({200, "text/plain", "too late", {}});
  srv.reset();
  auto out = res.open_stream(200);
  CHECK(out->closed());
}

TEST_CASE("slow clients time out") {
  auto cfg = test_config();
  cfg.read_timeout = 200ms;
  auto srv = server::start(cfg, echo_handler());
  raw_conn slow{srv->port()};
  slow.send("GET /x HTTP/1.1\r\nHo");
  CHECK(slow.closed_within(5s));
  raw_conn idle{srv->port()};
  CHECK(idle.closed_within(5s));
}

TEST_CASE("50 concurrent clients are all answered") {
  helpers pool;
  std::mutex pool_mtx;
  auto cfg = test_config();
  cfg.threads = 2;
  auto srv = server::start(cfg, [&](request& req, responder res) {
    if (req.query["n"].back() % 2 == 0) {
      res.send({200, "text/plain", req.query["n"], {}});
      return;
    }
    std::lock_guard<std::mutex> guard{pool_mtx};
    pool.later([&req, res] {
      std::this_thread::sleep_for(20ms);
      res.send({200, "text/plain", req.query["n"], {}});
    });
  });
  std::vector<std::future<client_response>> calls;
  for (int i = 0; i < 50; ++i)
    calls.push_back(std::async(std::launch::async, [i, port = srv->port()] {
      return fetch(localhost, port, "GET", "/n?n=" + std::to_string(i));
    }));
  for (int i = 0; i < 50; ++i) {
    auto res = calls[i].get();
    CHECK(res.status == 200);
    CHECK(res.body == std::to_string(i));
  }
}

TEST_CASE("connections beyond the limit get 503") {
  auto cfg = test_config();
  cfg.max_connections = 1;
  auto srv = server::start(cfg, echo_handler());
  raw_conn first{srv->port()};
  first.send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(first.response().first == 200);
  CHECK(fetch(localhost, srv->port(), "GET", "/y").status == 503);
}

TEST_CASE("start fails clearly when the port is taken") {
  auto srv = server::start(test_config(), echo_handler());
  auto cfg = test_config();
  cfg.port = srv->port();
  CHECK_THROWS_AS(server::start(cfg, echo_handler()), std::system_error);
  CHECK_THROWS_AS(server::start(test_config(), handler{}),
                  std::invalid_argument);
}

TEST_CASE("the client reports failures as runtime_error") {
  uint16_t port;
  {
    auto srv = server::start(test_config(), echo_handler());
    port = srv->port();
  }
  CHECK_THROWS_AS(fetch(localhost, port, "GET", "/"), std::runtime_error);
  helpers pool;
  auto srv = server::start(test_config(), [&pool](request&, responder res) {
    pool.later([res] {
      std::this_thread::sleep_for(1s);
      res.send({});
    });
  });
  try {
    fetch(localhost, srv->port(), "GET", "/", {}, {}, 100ms);
    FAIL("no timeout");
  } catch (const std::runtime_error& e) {
    CHECK(std::string{e.what()}.find("timed out") != std::string::npos);
  }
}
