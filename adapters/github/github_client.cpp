#include "adapters/github/github_client.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <nlohmann/json.hpp>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include "adapters/github/base64.hpp"

namespace conveyor::github {

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using steady = std::chrono::steady_clock;

constexpr const char* api_version = "2022-11-28";
constexpr std::size_t max_description = 140; // GitHub's limit, in characters

std::shared_ptr<spdlog::logger> github_logger() {
  if (auto log = spdlog::get("github"))
    return log;
  // A clone writes where the application sends its logs.
  auto created = spdlog::default_logger()->clone("github");
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    // Another thread registered it between our two calls.
    return spdlog::get("github");
  }
  return created;
}

// -- text helpers -------------------------------------------------------------

std::string lower(std::string_view x) {
  std::string out{x};
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool unreserved(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.'
         || c == '_' || c == '~';
}

// Percent-encodes everything but unreserved characters (and '/' if asked).
std::string percent_encode(std::string_view x, bool keep_slash) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (auto c : x) {
    if (unreserved(c) || (keep_slash && c == '/')) {
      out += c;
    } else {
      auto byte = static_cast<unsigned char>(c);
      out += '%';
      out += digits[byte >> 4];
      out += digits[byte & 0x0f];
    }
  }
  return out;
}

// "owner/name" with GitHub's characters only.
bool valid_owner_repo(std::string_view x) {
  auto slash = x.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == x.size()
      || x.find('/', slash + 1) != std::string_view::npos)
    return false;
  return std::all_of(x.begin(), x.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_'
           || c == '.' || c == '/';
  });
}

bool has_control_chars(std::string_view x) {
  return std::any_of(x.begin(), x.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

// "20s", "200ms", "1500ms".
std::string describe(milliseconds x) {
  if (x.count() % 1000 == 0)
    return std::to_string(x.count() / 1000) + "s";
  return std::to_string(x.count()) + "ms";
}

std::string attempts_text(int n) {
  return "(" + std::to_string(n) + (n == 1 ? " attempt)" : " attempts)");
}

// Replaces every occurrence of each non-empty secret by "[redacted]".
std::string redact(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    if (secret.empty())
      continue;
    for (auto pos = text.find(secret); pos != std::string::npos;
         pos = text.find(secret, pos))
      text.replace(pos, secret.size(), "[redacted]");
  }
  return text;
}

// The `message` GitHub puts in its JSON error bodies, cut to a sane size.
std::string github_message(const std::string& body) {
  auto json = nlohmann::json::parse(body, nullptr, false);
  if (json.is_discarded() || !json.is_object())
    return {};
  auto i = json.find("message");
  if (i == json.end() || !i->is_string())
    return {};
  auto text = i->get<std::string>();
  if (text.size() > 200)
    text = text.substr(0, 200) + "...";
  return text;
}

// Cuts `x` to `n` UTF-8 characters, ending in "…" when it cuts.
std::string cut_utf8(std::string_view x, std::size_t n) {
  std::size_t chars = 0;
  std::size_t keep = 0; // bytes of the first n - 1 characters
  for (std::size_t i = 0; i < x.size(); ++i) {
    if ((static_cast<unsigned char>(x[i]) & 0xc0) == 0x80)
      continue; // a continuation byte
    if (chars == n - 1)
      keep = i;
    if (++chars > n)
      return std::string{x.substr(0, keep)} + "\xe2\x80\xa6";
  }
  return std::string{x};
}

bool is_rate_limited(int status, const header_list& headers) {
  if (status == 429)
    return true;
  if (status != 403)
    return false;
  auto remaining = find_header(headers, "x-ratelimit-remaining");
  return find_header(headers, "retry-after").has_value()
         || (remaining && *remaining == "0");
}

// -- one attempt on the wire ---------------------------------------------------

struct wire_result {
  transport_error error = transport_error::none;
  std::string detail; // what failed, when `error` is not `none`
  api_response response;
};

using outgoing = bhttp::request<bhttp::string_body>;

wire_result fail(transport_error kind, std::string detail) {
  wire_result result;
  result.error = kind;
  result.detail = std::move(detail);
  return result;
}

// Maps a failed step to the retry policy's view of it.
wire_result fail(const beast::error_code& ec, const std::string& step,
                 const std::string& authority) {
  if (ec == beast::error::timeout)
    return fail(transport_error::timeout, step + " " + authority
                                            + ": timed out");
  if (ec == net::error::connection_reset || ec == net::error::eof
      || ec == net::error::broken_pipe || ec == net::error::connection_aborted
      || ec == bhttp::error::end_of_stream
      || ec == bhttp::error::partial_message
      || ec == ssl::error::stream_truncated)
    return fail(transport_error::connection_reset,
                "connection reset by " + authority + " (" + step + ")");
  if (ec == bhttp::error::body_limit)
    return fail(transport_error::other, "the answer of " + authority
                                          + " is larger than allowed");
  return fail(transport_error::other,
              "could not " + step + " " + authority + ": " + ec.message());
}

// Runs the io_context until the operation started by `start` completes;
// tcp_stream's expiry bounds every operation on the stream.
template <class Start>
beast::error_code run(net::io_context& ioc, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result;
}

template <class Stream>
wire_result talk(net::io_context& ioc, Stream& stream,
                 const tcp::resolver::results_type& found, outgoing& req,
                 steady::time_point deadline, std::size_t body_limit,
                 const api_endpoint& ep) {
  constexpr bool tls = !std::is_same_v<Stream, beast::tcp_stream>;
  auto authority = ep.authority();
  auto& lowest = beast::get_lowest_layer(stream);
  lowest.expires_at(deadline);
  auto ec = run(ioc, [&](auto handler) { lowest.async_connect(found, handler); });
  if (ec)
    return fail(ec, "connect to", authority);
  if constexpr (tls) {
    lowest.expires_at(deadline);
    ec = run(ioc, [&](auto handler) {
      stream.async_handshake(ssl::stream_base::client, handler);
    });
    if (ec) {
      auto result = fail(ec, "connect to", authority);
      if (result.error == transport_error::other)
        result.detail = "TLS handshake with " + authority
                        + " failed: " + ec.message();
      return result;
    }
  }
  lowest.expires_at(deadline);
  ec = run(ioc, [&](auto handler) { bhttp::async_write(stream, req, handler); });
  if (ec)
    return fail(ec, "send the request to", authority);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(body_limit);
  parser.skip(req.method() == bhttp::verb::head);
  lowest.expires_at(deadline);
  ec = run(ioc, [&](auto handler) {
    bhttp::async_read(stream, buffer, parser, handler);
  });
  if (ec)
    return fail(ec, "read the answer of", authority);
  wire_result result;
  auto& msg = parser.get();
  result.response.status = static_cast<int>(msg.result_int());
  for (const auto& field : msg.base())
    result.response.headers.emplace_back(std::string{field.name_string()},
                                         std::string{field.value()});
  result.response.body = std::move(msg.body());
  // No TLS close_notify exchange: the request said `Connection: close`, and
  // waiting for a peer's close_notify can only add latency here.
  beast::error_code ignored;
  lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
  lowest.close();
  return result;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

wire_result send_once(const api_endpoint& ep, ssl::context* tls_ctx,
                      outgoing& req, milliseconds timeout,
                      std::size_t body_limit) {
  auto deadline = steady::now() + timeout;
  net::io_context ioc;
  tcp::resolver resolver{ioc};
  tcp::resolver::results_type found;
  beast::error_code ec;
  bool resolved = false;
  resolver.async_resolve(ep.host, std::to_string(ep.port),
                         [&](const beast::error_code& e,
                             tcp::resolver::results_type r) {
                           ec = e;
                           found = std::move(r);
                           resolved = true;
                         });
  ioc.run_until(deadline);
  if (!resolved) {
    resolver.cancel();
    ioc.restart();
    ioc.run();
    return fail(transport_error::timeout, "resolving " + ep.host
                                            + " timed out");
  }
  if (ec)
    return fail(transport_error::other,
                "could not resolve " + ep.host + ": " + ec.message());
  if (tls_ctx == nullptr) {
    beast::tcp_stream stream{ioc};
    return talk(ioc, stream, found, req, deadline, body_limit, ep);
  }
  beast::ssl_stream<beast::tcp_stream> stream{ioc, *tls_ctx};
  // SNI is for names only (RFC 6066); the certificate is checked either way.
  if (!is_ip_literal(ep.host)
      && !SSL_set_tlsext_host_name(stream.native_handle(), ep.host.c_str()))
    return fail(transport_error::other, "could not set the TLS server name "
                                          + ep.host);
  stream.set_verify_mode(ssl::verify_peer);
  stream.set_verify_callback(ssl::host_name_verification(ep.host));
  return talk(ioc, stream, found, req, deadline, body_limit, ep);
}

double default_random_unit() {
  thread_local std::mt19937_64 engine{std::random_device{}()};
  return std::uniform_real_distribution<double>{0.0, 1.0}(engine);
}

} // namespace

// -- free functions -----------------------------------------------------------

std::string to_string(call_failure x) {
  switch (x) {
    case call_failure::none:
      return "none";
    case call_failure::invalid_argument:
      return "invalid_argument";
    case call_failure::breaker_open:
      return "breaker_open";
    case call_failure::no_token:
      return "no_token";
    case call_failure::timeout:
      return "timeout";
    case call_failure::connection_reset:
      return "connection_reset";
    case call_failure::transport:
      return "transport";
    case call_failure::status:
      return "status";
    case call_failure::rate_limited:
      return "rate_limited";
  }
  return "unknown";
}

std::string api_endpoint::authority() const {
  auto name = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return name + ":" + std::to_string(port);
}

std::optional<api_endpoint> parse_api_url(std::string_view url) {
  api_endpoint ep;
  auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos)
    return std::nullopt;
  auto scheme = lower(url.substr(0, scheme_end));
  if (scheme == "https")
    ep.tls = true;
  else if (scheme == "http")
    ep.tls = false;
  else
    return std::nullopt;
  auto rest = url.substr(scheme_end + 3);
  if (rest.find_first_of("?#@") != std::string_view::npos)
    return std::nullopt;
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  auto path = slash == std::string_view::npos ? std::string_view{}
                                              : rest.substr(slash);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return std::nullopt;
    ep.host = std::string{authority.substr(1, close - 1)};
    auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':')
        return std::nullopt;
      port_text = after.substr(1);
      if (port_text.empty())
        return std::nullopt;
    }
  } else {
    auto colon = authority.find(':');
    ep.host = std::string{authority.substr(0, colon)};
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty())
        return std::nullopt;
    }
  }
  if (ep.host.empty())
    return std::nullopt;
  ep.port = ep.tls ? 443 : 80;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, err] = std::from_chars(port_text.data(),
                                      port_text.data() + port_text.size(),
                                      value);
    if (err != std::errc{} || end != port_text.data() + port_text.size()
        || value == 0 || value > 65535)
      return std::nullopt;
    ep.port = static_cast<uint16_t>(value);
  }
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  ep.prefix = std::string{path};
  return ep;
}

// -- github_client ------------------------------------------------------------

struct github_client::impl {
  client_settings settings;
  api_endpoint ep;
  std::shared_ptr<token_source> tokens;
  client_hooks hooks;
  retry_policy policy;
  std::unique_ptr<ssl::context> tls_ctx;
  std::shared_ptr<spdlog::logger> log;

  mutable std::mutex mtx; // guards what follows
  host_breakers breakers;
  client_stats totals;

  impl(client_settings s, std::shared_ptr<token_source> t, client_hooks h)
    : settings(std::move(s)),
      tokens(std::move(t)),
      hooks(std::move(h)),
      policy(settings.retry),
      log(github_logger()),
      breakers(settings.breaker) {
    auto parsed = parse_api_url(settings.base_url);
    if (!parsed)
      throw std::invalid_argument("invalid GitHub API URL '"
                                  + settings.base_url
                                  + "': expected http(s)://host[:port][/path]");
    ep = *parsed;
    if (settings.timeout <= milliseconds{0})
      throw std::invalid_argument("the GitHub API timeout must be positive");
    if (!hooks.sleep)
      hooks.sleep = [](milliseconds x) { std::this_thread::sleep_for(x); };
    if (!hooks.steady_now)
      hooks.steady_now = [] { return steady::now(); };
    if (!hooks.wall_now)
      hooks.wall_now = [] { return std::chrono::system_clock::now(); };
    if (!hooks.random_unit)
      hooks.random_unit = default_random_unit;
    if (ep.tls)
      make_tls_context();
  }

  void make_tls_context() {
    tls_ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    tls_ctx->set_options(ssl::context::default_workarounds
                         | ssl::context::no_sslv2 | ssl::context::no_sslv3
                         | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    tls_ctx->set_verify_mode(ssl::verify_peer);
    beast::error_code ec;
    if (settings.ca_file.empty()) {
      tls_ctx->set_default_verify_paths(ec);
      if (ec)
        throw std::invalid_argument("cannot load the system's trusted "
                                    "certificates: "
                                    + ec.message());
    } else {
      tls_ctx->load_verify_file(settings.ca_file, ec);
      if (ec)
        throw std::invalid_argument("cannot read the CA file '"
                                    + settings.ca_file + "': " + ec.message());
    }
  }

  // -- the pieces of a call ---------------------------------------------------

  outgoing make_request(const api_request& req,
                        const std::optional<std::string>& auth) const {
    outgoing msg;
    auto verb = bhttp::string_to_verb(req.method);
    if (verb == bhttp::verb::unknown)
      msg.method_string(req.method);
    else
      msg.method(verb);
    msg.target(ep.prefix + req.target);
    msg.version(11);
    auto default_port = ep.tls ? 443 : 80;
    auto host = ep.host.find(':') != std::string::npos ? "[" + ep.host + "]"
                                                       : ep.host;
    if (ep.port != default_port)
      host += ":" + std::to_string(ep.port);
    msg.set(bhttp::field::host, host);
    msg.set(bhttp::field::user_agent, "conveyor");
    msg.set(bhttp::field::accept, "application/vnd.github+json");
    msg.set("X-GitHub-Api-Version", api_version);
    if (auth)
      msg.set(bhttp::field::authorization, *auth);
    if (!req.body.empty())
      msg.set(bhttp::field::content_type, "application/json");
    for (const auto& [name, value] : req.headers)
      msg.set(name, value);
    msg.keep_alive(false);
    msg.body() = req.body;
    if (!req.body.empty() || verb == bhttp::verb::post
        || verb == bhttp::verb::put || verb == bhttp::verb::patch)
      msg.prepare_payload();
    return msg;
  }

  // Asks the breaker; on refusal returns its consecutive failures.
  std::optional<uint32_t> breaker_refuses(const std::string& log_id) {
    breaker_admission admission;
    uint32_t failures = 0;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto& breaker = breakers.of(ep.authority());
      admission = breaker.admit(hooks.steady_now());
      if (admission.allowed)
        ++totals.requests;
      else
        ++totals.rejected;
      failures = breaker.consecutive_failures();
    }
    if (admission.transition)
      log_transition(*admission.transition, log_id);
    if (admission.allowed)
      return std::nullopt;
    return failures;
  }

  // Tells the breaker how an attempt went; `reason` says why it failed.
  void report(bool failed, const std::string& reason,
              const std::string& log_id) {
    std::optional<breaker_transition> changed;
    {
      std::lock_guard<std::mutex> guard{mtx};
      auto& breaker = breakers.of(ep.authority());
      if (failed)
        changed = breaker.record_failure(hooks.steady_now(), reason);
      else
        changed = breaker.record_success(hooks.steady_now());
    }
    if (changed)
      log_transition(*changed, log_id);
  }

  // One line per change of state, outside the lock: the breaker reports
  // each change to exactly one caller.
  void log_transition(const breaker_transition& x, const std::string& log_id) {
    auto ms = [](std::chrono::steady_clock::duration d) {
      return std::chrono::duration_cast<milliseconds>(d).count();
    };
    switch (x.to) {
      case breaker_state::open:
        log->error("breaker opened host={} from={} consecutive_failures={} "
                   "last_failure=\"{}\" open_for_ms={} request_id={}",
                   ep.authority(), to_string(x.from), x.consecutive_failures,
                   x.last_failure, ms(x.open_for), log_id);
        break;
      case breaker_state::half_open:
        log->info("breaker half-open host={} from={} consecutive_failures={} "
                  "last_failure=\"{}\" was_open_ms={} request_id={}",
                  ep.authority(), to_string(x.from), x.consecutive_failures,
                  x.last_failure, ms(x.open_for), log_id);
        break;
      case breaker_state::closed:
        log->info("breaker closed host={} from={} request_id={}",
                  ep.authority(), to_string(x.from), log_id);
        break;
    }
  }

  token_result fetch_token() {
    auto result = tokens->token();
    if (result.ok() && (result.token.empty() || has_control_chars(result.token)))
      return {{}, "the token is empty or contains control characters"};
    return result;
  }

  call_result call(const api_request& req) {
    {
      std::lock_guard<std::mutex> guard{mtx};
      ++totals.calls;
    }
    auto what = req.what;
    if (what.empty()) {
      auto path = req.target.substr(0, req.target.find('?'));
      what = "call GitHub (" + req.method + " " + path + ")";
    }
    call_result result;
    std::vector<std::string> secrets;
    auto finish = [&](call_failure kind, const std::string& why) {
      result.error.kind = kind;
      result.error.status = result.response.status;
      result.error.message = redact("could not " + what + ": " + why, secrets);
      {
        std::lock_guard<std::mutex> guard{mtx};
        ++totals.failures;
      }
      log->warn("call failed method={} target={} host={} kind={} "
                "attempts={} error=\"{}\" request_id={}",
                req.method, req.target, ep.authority(), to_string(kind),
                result.attempts, result.error.message, req.log_id);
      return result;
    };
    // The credential alone too: a JWT or token echoed without its scheme.
    auto set_secrets = [&secrets](const std::optional<std::string>& auth) {
      secrets.clear();
      if (!auth)
        return;
      secrets.push_back(*auth);
      auto space = auth->find(' ');
      if (space != std::string::npos)
        secrets.push_back(auth->substr(space + 1));
    };
    std::optional<std::string> auth = req.authorization;
    std::string token;
    bool token_refreshed = false;
    auto authorize = [&]() -> std::optional<std::string> {
      auto got = fetch_token();
      if (!got.ok())
        return "no token: " + got.error;
      token = got.token;
      auth = settings.auth_scheme + " " + token;
      set_secrets(auth);
      return std::nullopt;
    };
    set_secrets(auth);
    if (auth && has_control_chars(*auth))
      return finish(call_failure::invalid_argument,
                    "the Authorization value contains control characters");
    if (!auth && tokens)
      if (auto why = authorize())
        return finish(call_failure::no_token, *why);
    auto timeout = req.timeout.value_or(settings.timeout);
    std::optional<retry_policy> own_policy;
    if (req.retry)
      own_policy.emplace(*req.retry);
    const auto& retries = own_policy ? *own_policy : policy;
    for (int attempt = 1;; ++attempt) {
      if (auto failures = breaker_refuses(req.log_id)) {
        auto why = "the circuit breaker for " + ep.authority()
                   + " is open after " + std::to_string(*failures)
                   + " consecutive failures, so no request was sent";
        if (result.attempts > 0)
          why += " " + attempts_text(result.attempts);
        return finish(call_failure::breaker_open, why);
      }
      if (attempt > 1) {
        std::lock_guard<std::mutex> guard{mtx};
        ++totals.retries;
      }
      auto msg = make_request(req, auth);
      auto wire = send_once(ep, tls_ctx.get(), msg, timeout,
                            settings.max_response_bytes);
      result.attempts = attempt;
      auto status = wire.response.status;
      auto failed = wire.error != transport_error::none || status >= 500;
      report(failed,
             wire.error != transport_error::none
               ? redact(wire.detail, secrets)
               : "GitHub answered " + std::to_string(status),
             req.log_id);
      if (wire.error == transport_error::none)
        result.response = std::move(wire.response);
      auto expected = std::find(req.expected_statuses.begin(),
                                req.expected_statuses.end(), status)
                      != req.expected_statuses.end();
      if (wire.error == transport_error::none
          && ((status > 0 && status < 400) || expected))
        return result;
      // An installation token may be revoked or expired early: one new one.
      if (wire.error == transport_error::none && status == 401 && tokens
          && !req.authorization && !token_refreshed) {
        token_refreshed = true;
        auto refused = token;
        tokens->refused(refused);
        if (auto why = authorize())
          return finish(call_failure::no_token, *why);
        // A fixed token (a PAT) comes back unchanged: asking again is futile.
        if (token != refused) {
          log->warn("token refused, retrying with a new one method={} "
                    "target={} request_id={}",
                    req.method, req.target, req.log_id);
          continue;
        }
      }
      attempt_result seen{wire.error, status, result.response.headers};
      if (wire.error != transport_error::none)
        seen.headers.clear();
      auto decision = retries.decide(seen, attempt, hooks.wall_now(),
                                     hooks.random_unit());
      if (decision.verdict == retry_verdict::give_up)
        return give_up(wire, decision, result, timeout, finish);
      log->warn("retrying method={} target={} host={} attempt={} "
                "delay_ms={} reason=\"{}\" request_id={}",
                req.method, req.target, ep.authority(), attempt,
                decision.delay.count(), redact(decision.reason, secrets),
                req.log_id);
      hooks.sleep(decision.delay);
    }
  }

  template <class Finish>
  call_result give_up(const wire_result& wire, const retry_decision& decision,
                      const call_result& result,
                      std::chrono::milliseconds timeout, Finish& finish) {
    auto tries = attempts_text(result.attempts);
    switch (wire.error) {
      case transport_error::timeout:
        return finish(call_failure::timeout,
                      "timed out after " + describe(timeout) + " " + tries);
      case transport_error::connection_reset:
        return finish(call_failure::connection_reset,
                      wire.detail + " " + tries);
      case transport_error::other:
        return finish(call_failure::transport, wire.detail + " " + tries);
      case transport_error::none:
        break;
    }
    const auto& res = result.response;
    auto answered = "GitHub answered " + std::to_string(res.status);
    if (is_rate_limited(res.status, res.headers)) {
      // The policy's reason, without what this text says anyway.
      auto reason = decision.reason;
      auto colon = reason.find(": ");
      if (reason.rfind("status ", 0) == 0 && colon != std::string::npos)
        reason = reason.substr(colon + 2);
      auto used = reason.find("; ");
      if (used != std::string::npos && reason.find("attempts used", used)
                                         != std::string::npos)
        reason = reason.substr(0, used);
      return finish(call_failure::rate_limited,
                    answered + ", " + reason + " " + tries);
    }
    auto detail = github_message(res.body);
    if (!detail.empty())
      answered += ": " + detail;
    return finish(call_failure::status, answered + " " + tries);
  }

  call_result invalid(const std::string& what, const std::string& why) {
    std::lock_guard<std::mutex> guard{mtx};
    ++totals.calls;
    ++totals.failures;
    call_result result;
    result.error.kind = call_failure::invalid_argument;
    result.error.message = "could not " + what + ": " + why;
    return result;
  }
};

github_client::github_client(client_settings settings,
                             std::shared_ptr<token_source> tokens,
                             client_hooks hooks)
  : impl_(std::make_unique<impl>(std::move(settings), std::move(tokens),
                                 std::move(hooks))) {
  // nop
}

github_client::~github_client() = default;

call_result github_client::call(const api_request& req) {
  return impl_->call(req);
}

fetch_result github_client::fetch_file(std::string_view owner_repo,
                                       std::string_view path,
                                       std::string_view sha,
                                       std::string_view log_id,
                                       const api_request& budget) {
  while (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  auto what = "fetch " + std::string{path} + " of " + std::string{owner_repo}
              + "@" + std::string{sha} + " from GitHub";
  fetch_result out;
  auto reject = [&](const std::string& why) {
    auto failed = impl_->invalid(what, why);
    out.error = std::move(failed.error);
    return out;
  };
  if (!valid_owner_repo(owner_repo))
    return reject("the repository is not owner/name");
  if (path.empty())
    return reject("the path is empty");
  if (sha.empty())
    return reject("the commit is empty");
  api_request req;
  req.method = "GET";
  req.target = "/repos/" + std::string{owner_repo} + "/contents/"
               + percent_encode(path, true)
               + "?ref=" + percent_encode(sha, false);
  req.headers.emplace_back("Accept", "application/vnd.github.raw");
  req.expected_statuses = {404};
  req.what = what;
  req.log_id = std::string{log_id};
  req.timeout = budget.timeout;
  req.retry = budget.retry;
  auto result = impl_->call(req);
  out.attempts = result.attempts;
  if (!result.ok()) {
    out.error = std::move(result.error);
    return out;
  }
  auto& res = result.response;
  if (res.status == 404) {
    out.status = fetch_status::no_such_file;
    return out;
  }
  // A server that ignores the raw media type sends the JSON description:
  // base64 content for a file, an array for a directory.
  auto type = lower(find_header(res.headers, "content-type").value_or(""));
  if (type.find("json") != std::string::npos
      && type.find("vnd.github.raw") == std::string::npos) {
    auto json = nlohmann::json::parse(res.body, nullptr, false);
    if (json.is_array()) {
      out.error = {call_failure::status, res.status,
                   "could not " + what + ": it is a directory"};
      return out;
    }
    if (json.is_object() && json.value("encoding", "") == "base64"
        && json.contains("content") && json["content"].is_string()) {
      auto decoded = base64_decode(json["content"].get<std::string>());
      if (!decoded) {
        out.error = {call_failure::status, res.status,
                     "could not " + what + ": its base64 content is invalid"};
        return out;
      }
      out.status = fetch_status::found;
      out.content = std::move(*decoded);
      return out;
    }
  }
  out.status = fetch_status::found;
  out.content = std::move(res.body);
  return out;
}

call_result github_client::post_status(std::string_view owner_repo,
                                       std::string_view sha,
                                       status_state state,
                                       std::string_view context,
                                       std::string_view description,
                                       std::string_view target_url,
                                       std::string_view log_id) {
  auto what = "post status " + std::string{context} + "="
              + to_string(state) + " for " + std::string{owner_repo} + "@"
              + std::string{sha} + " to GitHub";
  if (!valid_owner_repo(owner_repo))
    return impl_->invalid(what, "the repository is not owner/name");
  if (sha.empty())
    return impl_->invalid(what, "the commit is empty");
  if (context.empty())
    return impl_->invalid(what, "the context is empty");
  nlohmann::json body;
  body["state"] = to_string(state);
  body["context"] = std::string{context};
  body["description"] = cut_utf8(description, max_description);
  if (!target_url.empty())
    body["target_url"] = std::string{target_url};
  api_request req;
  req.method = "POST";
  req.target = "/repos/" + std::string{owner_repo} + "/statuses/"
               + percent_encode(sha, false);
  // Invalid UTF-8 in a description must not throw out of a status post.
  req.body = body.dump(-1, ' ', false,
                       nlohmann::json::error_handler_t::replace);
  req.what = what;
  req.log_id = std::string{log_id};
  return impl_->call(req);
}

client_stats github_client::stats() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  auto result = impl_->totals;
  for (const auto& [host, breaker] : impl_->breakers.all())
    result.hosts.push_back({host, breaker.state(),
                            breaker.consecutive_failures(),
                            breaker.counters()});
  return result;
}

const api_endpoint& github_client::endpoint() const {
  return impl_->ep;
}

metric_families to_metric_families(const client_stats& stats) {
  auto counter = [](std::string name, std::string help, double value) {
    return metric_family{std::move(name), std::move(help), "counter",
                         {metric_sample{"", {}, value}}};
  };
  metric_families out;
  out.push_back(counter("conveyor_github_calls_total",
                        "GitHub API calls started",
                        static_cast<double>(stats.calls)));
  out.push_back(counter("conveyor_github_call_failures_total",
                        "GitHub API calls that failed",
                        static_cast<double>(stats.failures)));
  out.push_back(counter("conveyor_github_requests_total",
                        "HTTP requests sent to the GitHub API",
                        static_cast<double>(stats.requests)));
  out.push_back(counter("conveyor_github_retries_total",
                        "HTTP requests that retried a GitHub API call",
                        static_cast<double>(stats.retries)));
  metric_family rejections{"conveyor_github_breaker_rejections_total",
                           "GitHub API calls failed fast by an open breaker",
                           "counter",
                           {}};
  metric_family states{"conveyor_github_breaker_state",
                       "State of the circuit breaker of each GitHub host",
                       "gauge",
                       {}};
  metric_family opened{"conveyor_github_breaker_opened_total",
                       "Times the circuit breaker of each GitHub host opened",
                       "counter",
                       {}};
  metric_family failing{"conveyor_github_breaker_consecutive_failures",
                        "Consecutive failed requests to each GitHub host",
                        "gauge",
                        {}};
  for (const auto& host : stats.hosts) {
    rejections.samples.push_back(
      {"", {{"host", host.host}},
       static_cast<double>(host.counters.rejections)});
    for (auto state : {breaker_state::closed, breaker_state::open,
                       breaker_state::half_open})
      states.samples.push_back(
        {"", {{"host", host.host}, {"state", to_string(state)}},
         host.state == state ? 1.0 : 0.0});
    opened.samples.push_back(
      {"", {{"host", host.host}},
       static_cast<double>(host.counters.times_opened)});
    failing.samples.push_back(
      {"", {{"host", host.host}},
       static_cast<double>(host.consecutive_failures)});
  }
  out.push_back(std::move(rejections));
  out.push_back(std::move(states));
  out.push_back(std::move(opened));
  out.push_back(std::move(failing));
  return out;
}

} // namespace conveyor::github
