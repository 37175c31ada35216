// base64 and base64url as GitHub's contents API and JWTs use them.
#include <catch2/catch.hpp>

#include <string>

#include "adapters/github/base64.hpp"

using namespace conveyor::github;

TEST_CASE("base64 encodes the RFC 4648 test vectors") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foob") == "Zm9vYg==");
  CHECK(base64_encode("fooba") == "Zm9vYmE=");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
}

TEST_CASE("base64url uses - and _ and no padding") {
  std::string bytes{"\xfb\xff\xbf", 3};
  CHECK(base64_encode(bytes) == "+/+/");
  CHECK(base64url_encode(bytes) == "-_-_");
  CHECK(base64url_encode("f") == "Zg");
  CHECK(base64url_encode("fo") == "Zm8");
}

TEST_CASE("base64 decodes both alphabets with or without padding") {
  CHECK(base64_decode("Zm9vYmFy") == std::string{"foobar"});
  CHECK(base64_decode("Zm9vYg==") == std::string{"foob"});
  CHECK(base64_decode("Zm9vYg") == std::string{"foob"});
  CHECK(base64_decode("-_-_") == std::string{"\xfb\xff\xbf", 3});
  CHECK(base64_decode("+/+/") == std::string{"\xfb\xff\xbf", 3});
  CHECK(base64_decode("") == std::string{});
}

TEST_CASE("base64 decoding skips line breaks") {
  CHECK(base64_decode("Zm9v\nYmFy\n") == std::string{"foobar"});
  CHECK(base64_decode("Zm9v\r\nYg==\n") == std::string{"foob"});
}

TEST_CASE("malformed base64 is refused") {
  CHECK_FALSE(base64_decode("Zm9v!"));
  CHECK_FALSE(base64_decode("Z"));
  CHECK_FALSE(base64_decode("Zg=x"));
  CHECK_FALSE(base64_decode("Zg==="));
  CHECK_FALSE(base64_decode("Zm9=v"));
}

TEST_CASE("base64 round-trips every byte value") {
  std::string all;
  for (int i = 0; i < 256; ++i)
    all += static_cast<char>(i);
  for (std::size_t n = 0; n < all.size(); n += 37) {
    auto part = all.substr(n);
    CHECK(base64_decode(base64_encode(part)) == part);
    CHECK(base64_decode(base64url_encode(part)) == part);
  }
}
