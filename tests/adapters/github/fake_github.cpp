#include "fake_github.hpp"

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "adapters/github/base64.hpp"

namespace conveyor::github::testing {

namespace {

using json = nlohmann::json;

struct bio_ptr {
  BIO* p;
  bio_ptr() : p(BIO_new(BIO_s_mem())) {
  }
  explicit bio_ptr(const std::string& text)
    : p(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))) {
  }
  ~bio_ptr() {
    BIO_free(p);
  }
  std::string text() const {
    char* data = nullptr;
    auto n = BIO_get_mem_data(p, &data);
    return std::string(data, static_cast<std::size_t>(n));
  }
};

http::response json_answer(int status, const json& body) {
  http::response res;
  res.status = status;
  res.body = body.dump();
  return res;
}

// base64 broken into lines of 60 characters, as the contents API sends it.
std::string github_base64(const std::string& data) {
  auto flat = base64_encode(data);
  std::string out;
  for (std::size_t i = 0; i < flat.size(); i += 60)
    out += flat.substr(i, 60) + "\n";
  return out;
}

} // namespace

// -- OpenSSL helpers ------------------------------------------------------------

rsa_key_pair generate_rsa_key() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  if (key == nullptr)
    throw std::runtime_error("EVP_RSA_gen failed");
  rsa_key_pair out;
  bio_ptr priv;
  bio_ptr pub;
  auto ok = PEM_write_bio_PrivateKey_traditional(priv.p, key, nullptr, nullptr,
                                                 0, nullptr, nullptr)
              == 1
            && PEM_write_bio_PUBKEY(pub.p, key) == 1;
  EVP_PKEY_free(key);
  if (!ok)
    throw std::runtime_error("writing the key in PEM failed");
  out.private_pem = priv.text();
  out.public_pem = pub.text();
  return out;
}

std::optional<verified_jwt> verify_jwt(const std::string& jwt,
                                       const std::string& public_pem) {
  auto dot1 = jwt.find('.');
  auto dot2 = dot1 == std::string::npos ? dot1 : jwt.find('.', dot1 + 1);
  if (dot2 == std::string::npos || jwt.find('.', dot2 + 1) != std::string::npos)
    return std::nullopt;
  auto header = base64_decode(jwt.substr(0, dot1));
  auto claims = base64_decode(jwt.substr(dot1 + 1, dot2 - dot1 - 1));
  auto signature = base64_decode(jwt.substr(dot2 + 1));
  if (!header || !claims || !signature)
    return std::nullopt;
  bio_ptr bio{public_pem};
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.p, nullptr, nullptr, nullptr);
  if (key == nullptr)
    return std::nullopt;
  auto* ctx = EVP_MD_CTX_new();
  auto input = jwt.substr(0, dot2);
  auto ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1
            && EVP_DigestVerify(
                 ctx, reinterpret_cast<const unsigned char*>(signature->data()),
                 signature->size(),
                 reinterpret_cast<const unsigned char*>(input.data()),
                 input.size())
                 == 1;
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
  if (!ok)
    return std::nullopt;
  verified_jwt out;
  out.header = json::parse(*header, nullptr, false);
  out.claims = json::parse(*claims, nullptr, false);
  if (out.header.is_discarded() || out.claims.is_discarded())
    return std::nullopt;
  return out;
}

std::string format_iso8601(std::chrono::system_clock::time_point t) {
  auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// -- fake_github ------------------------------------------------------------------

fake_github::fake_github() {
  router_.add("GET", "/repos/{owner}/{repo}/contents/{path...}",
              [this](http::request& req, http::route_params&,
                     http::responder res) { get_contents(req, res); });
  router_.add("POST", "/repos/{owner}/{repo}/statuses/{sha}",
              [this](http::request& req, http::route_params&,
                     http::responder res) { post_status(req, res); });
  router_.add("POST", "/app/installations/{id}/access_tokens",
              [this](http::request& req, http::route_params&,
                     http::responder res) { issue_token(req, res); });
  start();
}

fake_github::~fake_github() {
  std::unique_ptr<http::server> server;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
    server = std::move(server_);
  }
  wake_.notify_all();
  // Once the server stopped, no handler adds a thread to delayed_.
  if (server)
    server->stop();
  for (auto& t : delayed_)
    t.join();
}

void fake_github::start() {
  http::server_config config;
  config.host = "127.0.0.1";
  config.port = port_;
  config.threads = 2;
  config.stop_grace = std::chrono::milliseconds{200};
  server_ = http::server::start(config,
                                [this](http::request& req,
                                       http::responder res) {
                                  handle(req, std::move(res));
                                });
  port_ = server_->port();
}

std::string fake_github::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port());
}

uint16_t fake_github::port() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return port_;
}

void fake_github::add_file(const std::string& repo, const std::string& sha,
                           const std::string& path,
                           const std::string& content) {
  std::lock_guard<std::mutex> guard{mtx_};
  files_[{repo, sha, path}] = content;
}

void fake_github::serve_repository(const std::string& slug,
                                   const std::string& bare_dir) {
  auto cmd = "git -C '" + bare_dir + "' update-server-info";
  if (std::system(cmd.c_str()) != 0)
    throw std::runtime_error("git update-server-info failed in " + bare_dir);
  std::lock_guard<std::mutex> guard{mtx_};
  repositories_["/" + slug + ".git"] = bare_dir;
}

void fake_github::serve_base64_only(bool on) {
  std::lock_guard<std::mutex> guard{mtx_};
  base64_only_ = on;
}

void fake_github::require_token(std::string token) {
  std::lock_guard<std::mutex> guard{mtx_};
  required_token_ = std::move(token);
}

void fake_github::enable_app(std::string app_id, uint64_t installation_id,
                             std::string public_pem) {
  std::lock_guard<std::mutex> guard{mtx_};
  app_id_ = std::move(app_id);
  installation_id_ = installation_id;
  public_pem_ = std::move(public_pem);
}

void fake_github::set_installation_token(std::string token,
                                         std::string expires_at) {
  std::lock_guard<std::mutex> guard{mtx_};
  installation_token_ = std::move(token);
  expires_at_ = std::move(expires_at);
}

void fake_github::fail_next(int n, int status) {
  scripted_answer answer;
  answer.status = status;
  answer_next(n, answer);
}

void fake_github::answer_next(int n, scripted_answer answer) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (int i = 0; i < n; ++i)
    scripted_.push_back(answer);
}

void fake_github::set_delay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> guard{mtx_};
  delay_ = delay;
}

void fake_github::go_down() {
  std::unique_ptr<http::server> gone;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    gone = std::move(server_);
  }
  if (gone)
    gone->stop();
}

void fake_github::come_back() {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!server_)
    start();
}

std::vector<posted_status> fake_github::statuses() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return statuses_;
}

std::vector<seen_request> fake_github::requests() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

std::size_t fake_github::request_count() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_.size();
}

std::size_t fake_github::tokens_issued() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return tokens_issued_;
}

// -- request handling ---------------------------------------------------------------

void fake_github::handle(http::request& req, http::responder res) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    requests_.push_back({req.method, req.target, req.header("Authorization"),
                         req.header("Accept"), req.header("User-Agent"),
                         req.header("X-GitHub-Api-Version"),
                         req.header("Host")});
    if (stopping_)
      return;
    if (delay_.count() > 0) {
      // Late answers come from a thread of their own, which the destructor
      // wakes (the responder then answers nothing).
      auto delay = delay_;
      auto* r = &req;
      delayed_.emplace_back([this, delay, r, res] {
        {
          std::unique_lock<std::mutex> lock{mtx_};
          if (wake_.wait_for(lock, delay, [this] { return stopping_; }))
            return;
        }
        dispatch(*r, res);
      });
      return;
    }
  }
  dispatch(req, std::move(res));
}

bool fake_github::serve_git_file(const http::request& req,
                                 http::responder& res) {
  if (req.method != "GET" && req.method != "HEAD")
    return false;
  std::string dir;
  std::string file;
  std::string required;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [prefix, bare] : repositories_)
      if (req.path.compare(0, prefix.size() + 1, prefix + "/") == 0) {
        dir = bare;
        file = req.path.substr(prefix.size() + 1);
      }
    required = required_token_;
  }
  if (dir.empty())
    return false;
  if (!required.empty()
      && req.header("Authorization")
           != "basic " + base64_encode("x-access-token:" + required)
      && req.header("Authorization")
           != "Basic " + base64_encode("x-access-token:" + required)) {
    http::response denied;
    denied.status = 401;
    denied.content_type = "text/plain";
    denied.body = "Authentication required\n";
    denied.headers.push_back({"WWW-Authenticate", "Basic realm=\"GitHub\""});
    res.send(std::move(denied));
    return true;
  }
  http::response answer;
  std::ifstream in;
  if (file.find("..") == std::string::npos)
    in.open(dir + "/" + file, std::ios::binary);
  if (!in) {
    answer.status = 404;
    answer.content_type = "text/plain";
    answer.body = "Not Found\n";
  } else {
    std::ostringstream body;
    body << in.rdbuf();
    answer.content_type = "application/octet-stream";
    answer.body = body.str();
  }
  res.send(std::move(answer));
  return true;
}

void fake_github::dispatch(http::request& req, http::responder res) {
  if (serve_git_file(req, res))
    return;
  std::optional<scripted_answer> scripted;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!scripted_.empty()) {
      scripted = std::move(scripted_.front());
      scripted_.pop_front();
    }
  }
  if (scripted) {
    http::response answer;
    answer.status = scripted->status;
    answer.headers = scripted->headers;
    answer.body = scripted->body;
    res.send(std::move(answer));
    return;
  }
  router_(req, std::move(res));
}

bool fake_github::authorized(const http::request& req,
                             const http::responder& res) {
  std::string required;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    required = required_token_;
  }
  auto auth = req.header("Authorization");
  if (required.empty() || auth == "Bearer " + required
      || auth == "token " + required)
    return true;
  res.send(json_answer(401, {{"message", "Bad credentials"}}));
  return false;
}

void fake_github::get_contents(http::request& req, http::responder res) {
  if (!authorized(req, res))
    return;
  auto repo = req.params["owner"] + "/" + req.params["repo"];
  auto ref = req.query.count("ref") ? req.query["ref"] : std::string{"HEAD"};
  std::optional<std::string> content;
  bool base64_only = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = files_.find({repo, ref, req.params["path"]});
    if (i != files_.end())
      content = i->second;
    base64_only = base64_only_;
  }
  if (!content) {
    res.send(json_answer(404, {{"message", "Not Found"}}));
    return;
  }
  if (!base64_only
      && req.header("Accept").find("application/vnd.github.raw")
           != std::string::npos) {
    http::response answer;
    answer.content_type = "application/vnd.github.raw; charset=utf-8";
    answer.body = *content;
    res.send(std::move(answer));
    return;
  }
  auto name = req.params["path"].substr(req.params["path"].rfind('/') + 1);
  res.send(json_answer(200, {{"type", "file"},
                             {"encoding", "base64"},
                             {"path", req.params["path"]},
                             {"name", name},
                             {"content", github_base64(*content)}}));
}

void fake_github::post_status(http::request& req, http::responder res) {
  if (!authorized(req, res))
    return;
  auto body = json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("state")) {
    res.send(json_answer(422, {{"message", "Validation Failed"}}));
    return;
  }
  posted_status status;
  status.repo = req.params["owner"] + "/" + req.params["repo"];
  status.sha = req.params["sha"];
  status.state = body.value("state", "");
  status.context = body.value("context", "default");
  status.description = body.value("description", "");
  status.target_url = body.value("target_url", "");
  status.authorization = req.header("Authorization");
  {
    std::lock_guard<std::mutex> guard{mtx_};
    statuses_.push_back(status);
  }
  res.send(json_answer(201, {{"id", 1},
                             {"state", status.state},
                             {"context", status.context}}));
}

void fake_github::issue_token(http::request& req, http::responder res) {
  std::string app_id;
  uint64_t installation_id = 0;
  std::string public_pem;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    app_id = app_id_;
    installation_id = installation_id_;
    public_pem = public_pem_;
  }
  if (app_id.empty()
      || req.params["id"] != std::to_string(installation_id)) {
    res.send(json_answer(404, {{"message", "Not Found"}}));
    return;
  }
  auto auth = req.header("Authorization");
  std::optional<verified_jwt> jwt;
  if (auth.rfind("Bearer ", 0) == 0)
    jwt = verify_jwt(auth.substr(7), public_pem);
  auto valid = jwt && jwt->header == json{{"alg", "RS256"}, {"typ", "JWT"}}
               && jwt->claims.contains("iss")
               && (jwt->claims["iss"].is_number()
                     ? std::to_string(jwt->claims["iss"].get<int64_t>())
                     : jwt->claims["iss"].get<std::string>())
                    == app_id
               && jwt->claims["exp"].get<int64_t>()
                      - jwt->claims["iat"].get<int64_t>()
                    <= 600;
  if (!valid) {
    res.send(json_answer(
      401, {{"message", "A JSON web token could not be decoded"}}));
    return;
  }
  std::string token;
  std::string expires_at;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ++tokens_issued_;
    token = installation_token_;
    expires_at = expires_at_;
  }
  res.send(json_answer(201, {{"token", token}, {"expires_at", expires_at}}));
}

} // namespace conveyor::github::testing
