#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string>
#include <vector>

#include "conduit/notify/signature.hpp"

using namespace conduit;

namespace {

std::span<const unsigned char> bytes(const std::string& s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

/// HMAC-SHA256 by OpenSSL: an implementation independent of the one under test.
std::string opensslHmacHex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

}  // namespace

TEST_CASE("notify: HMAC-SHA256 matches RFC 4231 test case 2") {
  CHECK(notify::hmacSha256Hex(bytes("Jefe"), "what do ya want for nothing?") ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("notify: HMAC-SHA256 matches RFC 4231 test case 6 (a key longer than the block)") {
  const std::string key(131, '\xaa');
  CHECK(
      notify::hmacSha256Hex(bytes(key), "Test Using Larger Than Block-Size Key - Hash Key First") ==
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST_CASE("notify: the signature header signs timestamp, a dot, then the body") {
  const std::string secret = "0123456789abcdef0123456789abcdef";
  const std::string body = R"({"event":"request.pending","request_id":7})";
  const std::string header = notify::signatureHeader(bytes(secret), "1764145800", body);
  CHECK(header == "sha256=" + opensslHmacHex(secret, "1764145800." + body));
  // Any change to timestamp or body changes the signature.
  CHECK(header != notify::signatureHeader(bytes(secret), "1764145801", body));
  CHECK(header != notify::signatureHeader(bytes(secret), "1764145800", body + " "));
}

TEST_CASE("notify: delivery ids are stable per (what, webhook) and differ otherwise") {
  const auto id = notify::deliveryId("audit:42:abc", "chat");
  CHECK(id.size() == 32);
  CHECK(id.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(id == notify::deliveryId("audit:42:abc", "chat"));
  CHECK(id != notify::deliveryId("audit:42:abc", "tickets"));
  CHECK(id != notify::deliveryId("audit:43:abc", "chat"));
  // Length-prefixed: moving a character between the parts gives a different id.
  CHECK(notify::deliveryId("ab", "c") != notify::deliveryId("a", "bc"));
}
