#include <catch2/catch.hpp>

#include "conduit/portal/tls_certificate.hpp"

TEST_CASE("a self-signed certificate is PEM with a matching key") {
  auto pem =
      conduit::portal::makeSelfSignedCertificate("localhost", {"localhost"}, {"127.0.0.1"}, 30);
  REQUIRE(pem.ok());
  CHECK_THAT(pem->certificate, Catch::StartsWith("-----BEGIN CERTIFICATE-----"));
  CHECK_THAT(pem->privateKey, Catch::StartsWith("-----BEGIN PRIVATE KEY-----"));
}

TEST_CASE("a bad IP address for the certificate is refused") {
  auto pem = conduit::portal::makeSelfSignedCertificate("x", {}, {"300.1.1.1"}, 30);
  REQUIRE_FALSE(pem.ok());
  CHECK_THAT(pem.error().message, Catch::Contains("300.1.1.1"));
}
