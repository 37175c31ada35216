#include "adapters/github/app_auth.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <spdlog/spdlog.h>

#include "adapters/github/base64.hpp"
#include "adapters/github/github_client.hpp"

namespace conveyor::github {

namespace {

using std::chrono::seconds;
using std::chrono::system_clock;

struct bio_deleter {
  void operator()(BIO* x) const {
    BIO_free(x);
  }
};

struct pkey_deleter {
  void operator()(EVP_PKEY* x) const {
    EVP_PKEY_free(x);
  }
};

struct md_ctx_deleter {
  void operator()(EVP_MD_CTX* x) const {
    EVP_MD_CTX_free(x);
  }
};

// Never prompt on a terminal for the passphrase of an encrypted key.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::unique_ptr<EVP_PKEY, pkey_deleter> read_private_key(const std::string& pem) {
  if (pem.empty() || pem.size() > static_cast<std::size_t>(INT_MAX))
    return nullptr;
  std::unique_ptr<BIO, bio_deleter> bio{
    BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
  if (!bio)
    return nullptr;
  return std::unique_ptr<EVP_PKEY, pkey_deleter>{
    PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr)};
}

std::optional<std::string> sign_rs256(EVP_PKEY* key, const std::string& data) {
  std::unique_ptr<EVP_MD_CTX, md_ctx_deleter> ctx{EVP_MD_CTX_new()};
  std::size_t size = 0;
  if (!ctx
      || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key)
           != 1
      || EVP_DigestSign(ctx.get(), nullptr, &size,
                        reinterpret_cast<const unsigned char*>(data.data()),
                        data.size())
           != 1)
    return std::nullopt;
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(),
                     reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()),
                     data.size())
      != 1)
    return std::nullopt;
  signature.resize(size);
  return signature;
}

bool all_digits(const std::string& x) {
  return !x.empty() && x.size() < 19
         && std::all_of(x.begin(), x.end(), [](char c) {
              return std::isdigit(static_cast<unsigned char>(c));
            });
}

std::optional<int> digits_at(const std::string& x, std::size_t pos,
                             std::size_t n) {
  if (pos + n > x.size())
    return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(x[i])))
      return std::nullopt;
    value = value * 10 + (x[i] - '0');
  }
  return value;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

std::shared_ptr<spdlog::logger> github_logger() {
  if (auto log = spdlog::get("github"))
    return log;
  auto created = spdlog::default_logger()->clone("github");
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get("github");
  }
  return created;
}

} // namespace

// -- token sources --------------------------------------------------------------

void token_source::refused(const std::string&) {
  // nop
}

static_token_source::static_token_source(std::string token)
  : token_(std::move(token)) {
  // nop
}

token_result static_token_source::token() {
  if (token_.empty())
    return {{}, "no GitHub token is configured"};
  return {token_, {}};
}

// -- JWT ------------------------------------------------------------------------

jwt_result make_app_jwt(const std::string& app_id,
                        const std::string& private_key_pem,
                        system_clock::time_point now) {
  if (app_id.empty())
    return {{}, "the GitHub App id is empty"};
  auto key = read_private_key(private_key_pem);
  if (!key || EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    ERR_clear_error();
    return {{}, "the GitHub App private key is not an RSA private key in PEM"};
  }
  auto secs = std::chrono::duration_cast<seconds>(now.time_since_epoch())
                .count();
  nlohmann::json claims;
  // Back-dated a minute against clock drift; GitHub allows ten minutes.
  claims["iat"] = secs - 60;
  claims["exp"] = secs + 540;
  if (all_digits(app_id))
    claims["iss"] = std::stoll(app_id);
  else
    claims["iss"] = app_id;
  auto input = base64url_encode(R"({"alg":"RS256","typ":"JWT"})") + "."
               + base64url_encode(claims.dump(
                 -1, ' ', false, nlohmann::json::error_handler_t::replace));
  auto signature = sign_rs256(key.get(), input);
  if (!signature) {
    ERR_clear_error();
    return {{}, "could not sign the GitHub App JWT"};
  }
  return {input + "." + base64url_encode(*signature), {}};
}

std::optional<system_clock::time_point> parse_iso8601(const std::string& text) {
  // "2016-07-11T22:14:10Z", maybe with ".123" and/or "+02:00".
  auto year = digits_at(text, 0, 4);
  auto month = digits_at(text, 5, 2);
  auto day = digits_at(text, 8, 2);
  auto hour = digits_at(text, 11, 2);
  auto minute = digits_at(text, 14, 2);
  auto second = digits_at(text, 17, 2);
  if (!year || !month || !day || !hour || !minute || !second
      || text[4] != '-' || text[7] != '-'
      || (text[10] != 'T' && text[10] != 't' && text[10] != ' ')
      || text[13] != ':' || text[16] != ':')
    return std::nullopt;
  if (*month < 1 || *month > 12 || *day < 1 || *day > 31 || *hour > 23
      || *minute > 59 || *second > 60)
    return std::nullopt;
  std::size_t pos = 19;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    while (pos < text.size()
           && std::isdigit(static_cast<unsigned char>(text[pos])))
      ++pos;
  }
  int64_t offset = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    auto oh = digits_at(text, pos + 1, 2);
    auto om = digits_at(text, pos + 4, 2);
    if (!oh || !om || pos + 3 >= text.size() || text[pos + 3] != ':')
      return std::nullopt;
    offset = (text[pos] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size())
    return std::nullopt;
  auto days = days_from_civil(*year, static_cast<unsigned>(*month),
                              static_cast<unsigned>(*day));
  auto secs = days * 86400 + *hour * 3600 + *minute * 60 + *second - offset;
  return system_clock::time_point{seconds{secs}};
}

// -- installation_token_source ----------------------------------------------------

installation_token_source::installation_token_source(
  app_credentials credentials, std::shared_ptr<github_client> client,
  wall_clock now, std::chrono::seconds refresh_before)
  : credentials_(std::move(credentials)),
    client_(std::move(client)),
    now_(std::move(now)),
    refresh_before_(refresh_before) {
  if (!now_)
    now_ = [] { return system_clock::now(); };
}

installation_token_source::~installation_token_source() = default;

token_result installation_token_source::token() {
  std::lock_guard<std::mutex> guard{mtx_};
  auto now = now_();
  if (!token_.empty() && now < refresh_at_)
    return {token_, {}};
  return exchange(now);
}

void installation_token_source::refused(const std::string& token) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!token_.empty() && token == token_)
    token_.clear();
}

uint64_t installation_token_source::exchanges() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return exchanges_;
}

token_result installation_token_source::exchange(system_clock::time_point now) {
  static const std::string failed
    = "could not get an installation token from GitHub: ";
  ++exchanges_;
  token_.clear();
  if (!client_)
    return {{}, failed + "no client to ask"};
  if (credentials_.installation_id == 0)
    return {{}, failed + "the installation id is not set"};
  auto jwt = make_app_jwt(credentials_.app_id, credentials_.private_key_pem,
                          now);
  if (!jwt.ok())
    return {{}, failed + jwt.error};
  api_request req;
  req.method = "POST";
  req.target = "/app/installations/"
               + std::to_string(credentials_.installation_id)
               + "/access_tokens";
  req.authorization = "Bearer " + jwt.jwt;
  req.what = "get an installation token from GitHub";
  auto result = client_->call(req);
  if (!result.ok())
    return {{}, result.error.message};
  auto body = nlohmann::json::parse(result.response.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("token")
      || !body["token"].is_string() || body["token"].get<std::string>().empty())
    return {{}, failed + "the answer holds no token"};
  std::optional<system_clock::time_point> expires;
  if (body.contains("expires_at") && body["expires_at"].is_string())
    expires = parse_iso8601(body["expires_at"].get<std::string>());
  // Installation tokens live an hour; assume so if the answer does not say.
  auto expiry = expires ? *expires : now + std::chrono::hours{1};
  auto left = expiry - now;
  refresh_at_ = left > refresh_before_ ? expiry - refresh_before_
                                       : now + left / 2;
  token_ = body["token"].get<std::string>();
  github_logger()->info(
    "installation token obtained installation_id={} valid_for_s={}",
    credentials_.installation_id,
    std::chrono::duration_cast<seconds>(left).count());
  return {token_, {}};
}

} // namespace conveyor::github
