// Target-side credentials and inputs that are checked before any packet is sent: printing never
// shows a secret, malformed pins/keys/certificates are refused locally, generated passwords.
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <sstream>
#include <string>

#include "conduit/core/clock.hpp"
#include "conduit/ssh/host_key.hpp"
#include "conduit/ssh/target.hpp"
#include "conduit/vault/ssh_ca.hpp"

using namespace conduit;
using namespace conduit::ssh;
using namespace std::chrono_literals;
using core::ErrorCode;

namespace {

constexpr const char* kPassword = "Corr3ct-Horse-Battery";

template <typename T>
std::string streamed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// A port on which nothing listens: anything that gets as far as the network fails there with
// `unavailable`, so a different error proves the call stopped before connecting.
TargetEndpoint closedEndpoint(std::string pin) {
  return TargetEndpoint{"127.0.0.1", 1, "operator", std::move(pin)};
}

std::string somePin() {
  auto key = generateHostKey("pin");
  REQUIRE(key.ok());
  return key->publicKey;
}

vault::Ed25519KeyPair newKey() {
  auto key = vault::generateEd25519();
  REQUIRE(key.ok());
  return std::move(key).value();
}

vault::Certificate certificateFor(const vault::Ed25519KeyPair& subject,
                                  const vault::Ed25519KeyPair& ca) {
  const auto now = core::SystemClock().now();
  vault::CertificateRequest request;
  request.subjectPublicKey = subject.publicKey;
  request.keyId = "unit";
  request.serial = 7;
  request.principals = {"operator"};
  request.validAfter = now - 5min;
  request.validBefore = now + 5min;
  auto cert = vault::signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  return std::move(cert).value();
}

vault::PrivateKey privateKeyText(const vault::Ed25519KeyPair& key) {
  auto text = vault::openSshPrivateKeyText(key, "unit");
  REQUIRE(text.ok());
  return std::move(text).value();
}

}  // namespace

TEST_CASE("printing a credential never shows its secret") {
  const PasswordCredential password{vault::Password::fromText(kPassword)};
  const auto text = streamed(password);
  CHECK(text.find(kPassword) == std::string::npos);
  CHECK(text.find("<secret>") != std::string::npos);
  // Catch prints values in failure messages through the same operator.
  CHECK(Catch::Detail::stringify(password).find(kPassword) == std::string::npos);

  const TargetCredential variant{PasswordCredential{vault::Password::fromText(kPassword)}};
  CHECK(streamed(variant).find(kPassword) == std::string::npos);
  CHECK(streamed(variant).find("PasswordCredential") != std::string::npos);

  const auto key = newKey();
  const auto keyText = privateKeyText(key);
  const std::string pem(keyText.revealText());
  const KeyCredential keyCredential{vault::PrivateKey::fromText(pem)};
  CHECK(streamed(keyCredential).find("OPENSSH PRIVATE KEY") == std::string::npos);
  CHECK(streamed(keyCredential).find("<secret>") != std::string::npos);

  const auto cert = certificateFor(key, newKey());
  const CertificateCredential certCredential{vault::PrivateKey::fromText(pem), cert.line};
  const auto certText = streamed(
      TargetCredential{CertificateCredential{vault::PrivateKey::fromText(pem), cert.line}});
  CHECK(certText.find("OPENSSH PRIVATE KEY") == std::string::npos);
  CHECK(certText.find("ssh-ed25519-cert-v01@openssh.com") != std::string::npos);
  CHECK(streamed(certCredential) == certText);
}

TEST_CASE("generated passwords are long, from the unambiguous alphabet, and differ") {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const auto password = generatePassword();
    const std::string text(password.revealText());
    CHECK(text.size() == kGeneratedPasswordLength);
    CHECK(text.find_first_not_of(kPasswordAlphabet) == std::string::npos);
    seen.insert(text);
  }
  CHECK(seen.size() == 50);
  for (const char c : std::string("0O1lI:")) {
    CHECK(kPasswordAlphabet.find(c) == std::string_view::npos);
  }
}

TEST_CASE("an empty pin is refused before connecting") {
  const auto result =
      connectTarget(closedEndpoint(""), PasswordCredential{vault::Password::fromText(kPassword)});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::permission_denied);
  CHECK(result.error().message.find("no host key is pinned for 127.0.0.1:1") != std::string::npos);
}

TEST_CASE("malformed endpoints and pins are refused before connecting") {
  const TargetCredential password{PasswordCredential{vault::Password::fromText(kPassword)}};
  for (const std::string pin : {"garbage", "ssh-ed25519 !!!notbase64", "ssh-foo AAAA"}) {
    const auto result = connectTarget(closedEndpoint(pin), password);
    INFO(pin);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  }
  // A certificate is not a host key pin.
  const auto key = newKey();
  const auto cert = certificateFor(key, newKey());
  CHECK(connectTarget(closedEndpoint(cert.line), password).error().code ==
        ErrorCode::invalid_argument);

  auto ep = closedEndpoint(somePin());
  ep.host = "evil@127.0.0.1";  // libssh would read a user name out of it
  CHECK(connectTarget(ep, password).error().code == ErrorCode::invalid_argument);
  ep = closedEndpoint(somePin());
  ep.account = "root\nother";
  CHECK(connectTarget(ep, password).error().code == ErrorCode::invalid_argument);
  ep = closedEndpoint(somePin());
  ep.port = 0;
  CHECK(connectTarget(ep, password).error().code == ErrorCode::invalid_argument);

  ConnectOptions rsaOnly;
  rsaOnly.hostKeyAlgorithms = "rsa-sha2-512";  // the ed25519 pin's algorithm is not allowed
  CHECK(connectTarget(closedEndpoint(somePin()), password, rsaOnly).error().code ==
        ErrorCode::invalid_argument);
}

TEST_CASE("a bad key or certificate is refused before connecting, without echoing it") {
  const auto pin = somePin();
  const std::string notAKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LXNlY3JldA==\n";
  const auto bad =
      connectTarget(closedEndpoint(pin), KeyCredential{vault::PrivateKey::fromText(notAKey)});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::invalid_argument);
  CHECK(bad.error().message.find("c2VjcmV0") == std::string::npos);

  const auto subject = newKey();
  const auto other = newKey();
  const auto ca = newKey();
  const auto cert = certificateFor(subject, ca);

  SECTION("a certificate for another key") {
    const auto result =
        connectTarget(closedEndpoint(pin), CertificateCredential{privateKeyText(other), cert.line});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
    CHECK(result.error().message.find("does not certify") != std::string::npos);
  }
  SECTION("a plain public key where a certificate belongs") {
    const auto result =
        connectTarget(closedEndpoint(pin),
                      CertificateCredential{privateKeyText(subject),
                                            vault::ed25519PublicKeyLine(subject.publicKey, "x")});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  }
  SECTION("a matching certificate passes the local checks and fails only at the network") {
    const auto result = connectTarget(closedEndpoint(pin),
                                      CertificateCredential{privateKeyText(subject), cert.line});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::unavailable);
  }
  SECTION("an empty password") {
    const auto result = connectTarget(closedEndpoint(pin), PasswordCredential{});
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  }
}

TEST_CASE("a closed port is unavailable, quickly") {
  const auto start = std::chrono::steady_clock::now();
  const auto result = connectTarget(closedEndpoint(somePin()),
                                    PasswordCredential{vault::Password::fromText(kPassword)});
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::unavailable);
  CHECK(result.error().message.find("127.0.0.1:1") != std::string::npos);
  CHECK(result.error().message.find(kPassword) == std::string::npos);
  CHECK(std::chrono::steady_clock::now() - start < 5s);

  const auto scan = scanHostKey("127.0.0.1", 1, 5s);
  REQUIRE_FALSE(scan.ok());
  CHECK(scan.error().code == ErrorCode::unavailable);
}
