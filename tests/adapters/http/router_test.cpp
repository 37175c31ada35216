#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "adapters/http/message.hpp"
#include "adapters/http/responder.hpp"
#include "adapters/http/router.hpp"

using namespace conveyor::http;

namespace {

// Records what a handler answered, without any socket.
struct fake_sink : reply_sink {
  std::optional<response> sent;
  bool abandoned = false;

  void send(response res) override {
    sent = std::move(res);
  }

  std::shared_ptr<stream> open_stream(int, std::string, header_list) override {
    return nullptr;
  }

  void abandon() override {
    abandoned = true;
  }
};

response dispatch(const router& r, request& req) {
  auto sink = std::make_shared<fake_sink>();
  r(req, responder{sink});
  REQUIRE(sink->sent);
  return *sink->sent;
}

request make(std::string method, std::string path) {
  request req;
  req.method = std::move(method);
  req.path = std::move(path);
  req.target = req.path;
  req.request_id = "rid-1";
  return req;
}

router sample() {
  router r;
  auto echo = [](std::string tag) {
    return [tag](request& req, route_params& params, responder res) {
      std::string body = tag;
      for (auto& [k, v] : params)
        body += " " + k + "=" + v;
      res.send({200, "text/plain", body, {}});
      (void) req;
    };
  };
  r.add("GET", "/api/builds/{id}", echo("build"));
  r.add("DELETE", "/api/builds/{id}", echo("delete"));
  r.add("GET", "/api/builds/active", echo("active"));
  r.add("GET", "/api/jobs/{job}/log/{attempt}", echo("log"));
  r.add("GET", "/assets/{file...}", echo("asset"));
  r.add("GET", "/", echo("root"));
  return r;
}

} // namespace

TEST_CASE("router picks the most specific route and decodes params") {
  auto r = sample();
  auto req = make("GET", "/api/builds/42");
  CHECK(dispatch(r, req).body == "build id=42");
  CHECK(req.route == "/api/builds/{id}");
  CHECK(req.params.at("id") == "42");
  req = make("GET", "/api/builds/active");
  CHECK(dispatch(r, req).body == "active");
  req = make("GET", "/api/jobs/7/log/2");
  CHECK(dispatch(r, req).body == "log attempt=2 job=7");
  req = make("GET", "/api/builds/a%2Fb%20c");
  CHECK(dispatch(r, req).body == "build id=a/b c");
  req = make("GET", "/assets/css/site%20x.css");
  CHECK(dispatch(r, req).body == "asset file=css/site x.css");
  req = make("GET", "/");
  CHECK(dispatch(r, req).body == "root");
  req = make("HEAD", "/api/builds/1");
  CHECK(dispatch(r, req).body == "build id=1");
}

TEST_CASE("router answers 404 and 405 with JSON") {
  auto r = sample();
  auto req = make("GET", "/api/nothing");
  auto res = dispatch(r, req);
  CHECK(res.status == 404);
  CHECK(res.content_type == "application/json");
  CHECK(res.body == R"({"error":"no route for /api/nothing","request_id":"rid-1"})");
  req = make("GET", "/api/builds/");
  CHECK(dispatch(r, req).status == 404);
  req = make("GET", "/assets");
  CHECK(dispatch(r, req).status == 404);
  req = make("PUT", "/api/builds/3");
  res = dispatch(r, req);
  CHECK(res.status == 405);
  REQUIRE(res.headers.size() == 1);
  CHECK(res.headers[0].first == "Allow");
  CHECK(res.headers[0].second == "DELETE, GET, HEAD");
  CHECK(req.route.empty());
}

TEST_CASE("router reports matches to its observer") {
  auto r = sample();
  std::string seen;
  r.on_match([&seen](const request& req, const std::string& route) {
    seen = req.method + " " + route;
  });
  auto req = make("DELETE", "/api/builds/9");
  CHECK(dispatch(r, req).body == "delete id=9");
  CHECK(seen == "DELETE /api/builds/{id}");
}

TEST_CASE("router rejects malformed patterns") {
  router r;
  auto fn = [](request&, route_params&, responder) {};
  CHECK_THROWS_AS(r.add("GET", "api", fn), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{id", fn), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/x{id}", fn), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{id}/{id}", fn), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a/{rest...}/b", fn), std::invalid_argument);
  CHECK_THROWS_AS(r.add("GET", "/a", router::route_handler{}),
                  std::invalid_argument);
}

TEST_CASE("a responder answers once and reports abandonment") {
  auto sink = std::make_shared<fake_sink>();
  {
    responder a{sink};
    auto b = a;
    b.send({201, "text/plain", "first", {}});
    a.send({500, "text/plain", "second", {}});
    CHECK(a.answered());
    CHECK(a.open_stream(200)->closed());
  }
  REQUIRE(sink->sent);
  CHECK(sink->sent->body == "first");
  CHECK_FALSE(sink->abandoned);
  auto dropped = std::make_shared<fake_sink>();
  {
    responder a{dropped};
    auto b = a;
  }
  CHECK(dropped->abandoned);
  CHECK_FALSE(dropped->sent);
}

TEST_CASE("query strings and JSON errors are encoded properly") {
  auto q = parse_query("a=1&b=x%20y+z&flag&&c=%zz&a=2");
  CHECK(q.at("a") == "2");
  CHECK(q.at("b") == "x y z");
  CHECK(q.at("flag").empty());
  CHECK(q.at("c") == "%zz");
  CHECK(percent_decode("a+b%2B") == "a+b+");
  CHECK(percent_decode("%4") == "%4");
  auto res = json_error(400, "bad \"quote\"\n\x01 \xff", "id");
  CHECK(res.status == 400);
  CHECK(res.body
        == "{\"error\":\"bad \\\"quote\\\"\\n\\u0001 \xef\xbf\xbd\","
           "\"request_id\":\"id\"}");
  request req;
  req.headers = {{"Content-Type", "text/plain"}, {"X-Thing", "1"}};
  CHECK(req.header("content-type") == "text/plain");
  CHECK(req.header("X-THING") == "1");
  CHECK(req.header("missing").empty());
  CHECK(req.has_header("x-thing"));
  CHECK_FALSE(req.has_header("missing"));
}
