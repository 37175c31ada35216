// The client's https path against a TLS echo server on loopback (raw
// OpenSSL) with a self-signed certificate made in the test: trusted through
// the CA file option it works and sends SNI; untrusted, for another name, or
// with nobody listening, it fails cleanly and at once.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "adapters/github/github_client.hpp"
#include "test_hooks.hpp"

using namespace conveyor::github;
using namespace conveyor::github::testing;
using namespace std::chrono_literals;

namespace {

struct tls_identity {
  std::string cert_pem;
  std::string key_pem;
};

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  auto n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

void add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  REQUIRE(ext != nullptr);
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A self-signed certificate for DNS name "localhost" only (no IP address).
tls_identity make_self_signed() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  REQUIRE(key != nullptr);
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 86400);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(
                               "conveyor test"),
                             -1, -1, 0);
  X509_set_issuer_name(cert, name);
  add_extension(cert, NID_basic_constraints, "critical,CA:TRUE");
  add_extension(cert, NID_subject_alt_name, "DNS:localhost");
  REQUIRE(X509_sign(cert, key, EVP_sha256()) > 0);
  tls_identity out;
  BIO* c = BIO_new(BIO_s_mem());
  BIO* k = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(c, cert);
  PEM_write_bio_PrivateKey(k, key, nullptr, nullptr, 0, nullptr, nullptr);
  out.cert_pem = bio_text(c);
  out.key_pem = bio_text(k);
  BIO_free(c);
  BIO_free(k);
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

// A file that removes itself.
struct temp_file {
  std::filesystem::path path;
  explicit temp_file(const std::string& text) {
    path = std::filesystem::temp_directory_path()
           / ("conveyor-github-ca-" + std::to_string(::getpid()) + ".pem");
    std::ofstream{path} << text;
  }
  ~temp_file() {
    std::error_code ignored;
    std::filesystem::remove(path, ignored);
  }
};

// Answers each request with "sni=<server name>\n" and the request's head.
class tls_echo_server {
public:
  explicit tls_echo_server(const tls_identity& id) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    REQUIRE(ctx_ != nullptr);
    BIO* c = BIO_new_mem_buf(id.cert_pem.data(),
                             static_cast<int>(id.cert_pem.size()));
    BIO* k = BIO_new_mem_buf(id.key_pem.data(),
                             static_cast<int>(id.key_pem.size()));
    X509* cert = PEM_read_bio_X509(c, nullptr, nullptr, nullptr);
    EVP_PKEY* key = PEM_read_bio_PrivateKey(k, nullptr, nullptr, nullptr);
    REQUIRE(SSL_CTX_use_certificate(ctx_, cert) == 1);
    REQUIRE(SSL_CTX_use_PrivateKey(ctx_, key) == 1);
    X509_free(cert);
    EVP_PKEY_free(key);
    BIO_free(c);
    BIO_free(k);
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr))
            == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof(addr);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread{[this] { loop(); }};
  }

  ~tls_echo_server() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
    SSL_CTX_free(ctx_);
  }

  uint16_t port() const {
    return port_;
  }

  int answered() const {
    return answered_;
  }

  int failed_handshakes() const {
    return failed_handshakes_;
  }

private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0)
        continue;
      int conn = ::accept(fd_, nullptr, nullptr);
      if (conn < 0)
        continue;
      timeval tv{2, 0};
      ::setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
      serve(conn);
      ::close(conn);
    }
  }

  void serve(int conn) {
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, conn);
    if (SSL_accept(ssl) != 1) {
      ++failed_handshakes_;
      ERR_clear_error();
      SSL_free(ssl);
      return;
    }
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      auto n = SSL_read(ssl, buf, sizeof(buf));
      if (n <= 0)
        break;
      head.append(buf, static_cast<std::size_t>(n));
    }
    const char* sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    auto body = "sni=" + std::string{sni ? sni : ""} + "\n" + head;
    auto answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                  "Connection: close\r\nContent-Length: "
                  + std::to_string(body.size()) + "\r\n\r\n" + body;
    SSL_write(ssl, answer.data(), static_cast<int>(answer.size()));
    ++answered_;
    SSL_shutdown(ssl);
    SSL_free(ssl);
  }

  SSL_CTX* ctx_ = nullptr;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> answered_{0};
  std::atomic<int> failed_handshakes_{0};
  std::thread thread_;
};

const tls_identity& identity() {
  static const tls_identity id = make_self_signed();
  return id;
}

client_settings tls_settings(const std::string& host, uint16_t port) {
  client_settings s;
  s.base_url = "https://" + host + ":" + std::to_string(port);
  s.timeout = 2s;
  s.retry.max_attempts = 3;
  return s;
}

std::shared_ptr<token_source> pat() {
  return std::make_shared<static_token_source>("ghp_tls_token");
}

} // namespace

TEST_CASE("https works with a certificate trusted through the CA file") {
  tls_echo_server server{identity()};
  temp_file ca{identity().cert_pem};
  auto settings = tls_settings("localhost", server.port());
  settings.ca_file = ca.path.string();
  github_client client{settings, pat()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  REQUIRE(got.status == fetch_status::found);
  CHECK(got.content.rfind("sni=localhost\n", 0) == 0);
  CHECK(got.content.find(
          "GET /repos/octo/demo/contents/.travis.yml?ref=abc HTTP/1.1\r\n")
        != std::string::npos);
  CHECK(got.content.find("Authorization: Bearer ghp_tls_token\r\n")
        != std::string::npos);
  CHECK(got.content.find("Host: localhost:" + std::to_string(server.port())
                         + "\r\n")
        != std::string::npos);
  CHECK(server.answered() == 1);
}

TEST_CASE("an untrusted certificate fails the handshake without retries") {
  tls_echo_server server{identity()};
  manual_time time;
  github_client client{tls_settings("localhost", server.port()), pat(),
                       time.hooks()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::transport);
  CHECK(got.attempts == 1);
  CHECK(time.sleeps().empty());
  CHECK(got.error.message.find("TLS handshake with localhost:"
                               + std::to_string(server.port()) + " failed")
        != std::string::npos);
  CHECK(got.error.message.find("certificate verify failed")
        != std::string::npos);
  CHECK(server.answered() == 0);
}

TEST_CASE("a trusted certificate for another host name is refused") {
  tls_echo_server server{identity()};
  temp_file ca{identity().cert_pem};
  auto settings = tls_settings("127.0.0.1", server.port());
  settings.ca_file = ca.path.string();
  github_client client{settings, pat()};
  auto got = client.fetch_file("octo/demo", ".travis.yml", "abc");
  CHECK(got.error.kind == call_failure::transport);
  CHECK(got.error.message.find("TLS handshake") != std::string::npos);
  CHECK(server.answered() == 0);
}

TEST_CASE("https to a closed port fails cleanly") {
  // A port that was free a moment ago.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto port = ntohs(addr.sin_port);
  ::close(fd);
  github_client client{tls_settings("127.0.0.1", port), pat()};
  auto got = client.post_status("octo/demo", "abc", status_state::success,
                                "ci", "", "");
  CHECK(got.error.kind == call_failure::transport);
  CHECK(got.attempts == 1);
  CHECK(got.error.message
        == "could not post status ci=success for octo/demo@abc to GitHub: "
           "could not connect to 127.0.0.1:"
             + std::to_string(port) + ": Connection refused (1 attempt)");
}
