// The SSH user CA: certificate encoding, verification of untrusted blobs, and interoperability
// with OpenSSH's own ssh-keygen (which parses and checks the signature of every certificate).
#include <fcntl.h>
#include <sodium.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "conduit/vault/ssh_ca.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using conduit::core::ErrorCode;
using conduit::core::TimePoint;
using conduit::test::runCommand;
using conduit::test::TempDir;
using namespace conduit::vault;
using namespace std::chrono_literals;

namespace {

using Bytes = std::vector<unsigned char>;

// 2030-01-01T00:00:00Z and five minutes later: fixed, so ssh-keygen's output can be compared.
constexpr TimePoint kStart{std::chrono::seconds(1893456000)};
constexpr TimePoint kEnd = kStart + std::chrono::minutes(5);

Ed25519KeyPair newKey() {
  auto key = generateEd25519();
  REQUIRE(key.ok());
  return std::move(key).value();
}

CertificateRequest sampleRequest(const Ed25519KeyPair& subject) {
  CertificateRequest request;
  request.subjectPublicKey = subject.publicKey;
  request.keyId = "session-42";
  request.serial = 42;
  request.principals = {"operator"};
  request.validAfter = kStart;
  request.validBefore = kEnd;
  request.sourceAddress = "192.0.2.10/32";
  request.permitPty = true;
  request.permitPortForwarding = true;
  return request;
}

// An independent SSH wire encoder/decoder, so the tests do not trust the code under test.
void putU32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<unsigned char>(v >> shift));
}
void putString(Bytes& out, const Bytes& bytes) {
  putU32(out, static_cast<std::uint32_t>(bytes.size()));
  out.insert(out.end(), bytes.begin(), bytes.end());
}
void putString(Bytes& out, const std::string& text) {
  putString(out, Bytes(text.begin(), text.end()));
}

struct Cursor {
  const Bytes& bytes;
  std::size_t at = 0;
  std::uint32_t u32() {
    REQUIRE(bytes.size() - at >= 4);
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | bytes[at++];
    return v;
  }
  std::uint64_t u64() {
    const std::uint64_t high = u32();
    return (high << 32) | u32();
  }
  Bytes string() {
    const std::uint32_t n = u32();
    REQUIRE(bytes.size() - at >= n);
    Bytes out(bytes.begin() + static_cast<std::ptrdiff_t>(at),
              bytes.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
    return out;
  }
};

// The blob's fields in PROTOCOL.certkeys order.
struct Fields {
  Bytes type, nonce, key;
  std::uint64_t serial = 0;
  std::uint32_t certType = 0;
  Bytes keyId, principals;
  std::uint64_t validAfter = 0, validBefore = 0;
  Bytes critical, extensions, reserved, signatureKey;
  std::size_t signedLength = 0;
  Bytes signature;
};

Fields parse(const Bytes& blob) {
  Cursor c{blob};
  Fields f;
  f.type = c.string();
  f.nonce = c.string();
  f.key = c.string();
  f.serial = c.u64();
  f.certType = c.u32();
  f.keyId = c.string();
  f.principals = c.string();
  f.validAfter = c.u64();
  f.validBefore = c.u64();
  f.critical = c.string();
  f.extensions = c.string();
  f.reserved = c.string();
  f.signatureKey = c.string();
  f.signedLength = c.at;
  f.signature = c.string();
  REQUIRE(c.at == blob.size());
  return f;
}

// Re-encodes fields and signs them with `ca`, as a hostile or buggy CA could.
Bytes encodeAndSign(const Fields& f, const Ed25519KeyPair& ca) {
  Bytes out;
  putString(out, f.type);
  putString(out, f.nonce);
  putString(out, f.key);
  putU32(out, static_cast<std::uint32_t>(f.serial >> 32));
  putU32(out, static_cast<std::uint32_t>(f.serial));
  putU32(out, f.certType);
  putString(out, f.keyId);
  putString(out, f.principals);
  putU32(out, static_cast<std::uint32_t>(f.validAfter >> 32));
  putU32(out, static_cast<std::uint32_t>(f.validAfter));
  putU32(out, static_cast<std::uint32_t>(f.validBefore >> 32));
  putU32(out, static_cast<std::uint32_t>(f.validBefore));
  putString(out, f.critical);
  putString(out, f.extensions);
  putString(out, f.reserved);
  putString(out, f.signatureKey);
  Bytes signature(crypto_sign_BYTES);
  crypto_sign_detached(signature.data(), nullptr, out.data(), out.size(),
                       ca.secretKey.reveal().data());
  Bytes signatureBlob;
  putString(signatureBlob, std::string("ssh-ed25519"));
  putString(signatureBlob, signature);
  putString(out, signatureBlob);
  return out;
}

Bytes extensionsSection(const std::vector<std::string>& names) {
  Bytes out;
  for (const auto& name : names) {
    putString(out, name);
    putString(out, Bytes{});
  }
  return out;
}

// A file only its owner may read: ssh and ssh-keygen refuse private keys with wider modes.
void writePrivateFile(const std::filesystem::path& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
  ::close(fd);
}

Bytes bytesOf(const std::string& text) {
  return Bytes(text.begin(), text.end());
}

std::string certificateLine(const Bytes& blob) {
  std::string encoded(sodium_base64_ENCODED_LEN(blob.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(encoded.data(), encoded.size(), blob.data(), blob.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  encoded.pop_back();  // the terminating NUL
  return "ssh-ed25519-cert-v01@openssh.com " + encoded + " test\n";
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return text;
}

// The indented lines under "Extensions:" in `ssh-keygen -L` output.
std::set<std::string> listedExtensions(const std::string& output) {
  std::set<std::string> names;
  std::istringstream in(output);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.find("Extensions:") != std::string::npos) {
      inside = true;
      continue;
    }
    if (!inside) continue;
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || first < 16) break;  // 16 spaces: a list entry
    names.insert(line.substr(first));
  }
  return names;
}

}  // namespace

TEST_CASE("a signed certificate verifies and round-trips every field") {
  const auto ca = newKey();
  const auto subject = newKey();
  auto request = sampleRequest(subject);
  request.principals = {"operator", "maint"};
  request.permitAgentForwarding = true;
  request.permitUserRc = true;

  const auto cert = signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  const auto back = verifyUserCertificate(cert->blob, ca.publicKey);
  REQUIRE(back.ok());
  CHECK(back->subjectPublicKey == subject.publicKey);
  CHECK(back->keyId == "session-42");
  CHECK(back->serial == 42);
  CHECK(back->principals == std::vector<std::string>{"operator", "maint"});
  CHECK(back->validAfter == kStart);
  CHECK(back->validBefore == kEnd);
  REQUIRE(back->sourceAddress.has_value());
  CHECK(*back->sourceAddress == "192.0.2.10/32");
  CHECK(back->permitPty);
  CHECK(back->permitPortForwarding);
  CHECK(back->permitAgentForwarding);
  CHECK(back->permitUserRc);
  CHECK_FALSE(back->permitX11Forwarding);

  const auto f = parse(cert->blob);
  CHECK(f.type == bytesOf("ssh-ed25519-cert-v01@openssh.com"));
  CHECK(f.nonce.size() == 32);
  CHECK(f.certType == 1);  // user
  CHECK(f.reserved.empty());

  CHECK_THAT(cert->line, Catch::StartsWith("ssh-ed25519-cert-v01@openssh.com AAAA"));
  CHECK_THAT(cert->line, Catch::EndsWith(" session-42"));
}

TEST_CASE("no options and no extensions round-trip as such") {
  const auto ca = newKey();
  auto request = sampleRequest(newKey());
  request.sourceAddress.reset();
  request.permitPty = false;
  request.permitPortForwarding = false;
  const auto cert = signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  const auto f = parse(cert->blob);
  CHECK(f.critical.empty());
  CHECK(f.extensions.empty());
  const auto back = verifyUserCertificate(cert->blob, ca.publicKey);
  REQUIRE(back.ok());
  CHECK_FALSE(back->sourceAddress.has_value());
  CHECK_FALSE(back->permitPty);
}

TEST_CASE("each certificate gets a fresh random nonce") {
  const auto ca = newKey();
  const auto request = sampleRequest(newKey());
  const auto a = signUserCertificate(request, ca);
  const auto b = signUserCertificate(request, ca);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(parse(a->blob).nonce != parse(b->blob).nonce);
  CHECK(a->blob != b->blob);
}

TEST_CASE("extensions are encoded sorted by name with empty values") {
  const auto ca = newKey();
  auto request = sampleRequest(newKey());
  request.permitPty = true;
  request.permitPortForwarding = true;
  request.permitAgentForwarding = true;
  request.permitX11Forwarding = true;
  request.permitUserRc = true;
  const auto all = signUserCertificate(request, ca);
  REQUIRE(all.ok());
  // Byte order, as OpenSSH sorts: upper-case 'X' comes before every lower-case letter.
  CHECK(parse(all->blob).extensions ==
        extensionsSection({"permit-X11-forwarding", "permit-agent-forwarding",
                           "permit-port-forwarding", "permit-pty", "permit-user-rc"}));

  request.permitPortForwarding = false;
  request.permitAgentForwarding = false;
  request.permitX11Forwarding = false;
  const auto some = signUserCertificate(request, ca);
  REQUIRE(some.ok());
  CHECK(parse(some->blob).extensions == extensionsSection({"permit-pty", "permit-user-rc"}));
}

TEST_CASE("the source-address critical option is a string that holds a string") {
  const auto ca = newKey();
  auto request = sampleRequest(newKey());
  request.sourceAddress = "10.0.0.0/8,2001:db8::/32";
  const auto cert = signUserCertificate(request, ca);
  REQUIRE(cert.ok());
  Bytes value;
  putString(value, std::string("10.0.0.0/8,2001:db8::/32"));
  Bytes expected;
  putString(expected, std::string("source-address"));
  putString(expected, value);
  CHECK(parse(cert->blob).critical == expected);
}

TEST_CASE("a flipped byte anywhere in the blob fails verification") {
  const auto ca = newKey();
  const auto cert = signUserCertificate(sampleRequest(newKey()), ca);
  REQUIRE(cert.ok());
  REQUIRE(verifyUserCertificate(cert->blob, ca.publicKey).ok());
  for (std::size_t i = 0; i < cert->blob.size(); ++i) {
    for (const unsigned char mask : std::initializer_list<unsigned char>{0x01, 0x80}) {
      auto damaged = cert->blob;
      damaged[i] ^= mask;
      const auto result = verifyUserCertificate(damaged, ca.publicKey);
      INFO("byte " << i << " mask " << int{mask});
      REQUIRE_FALSE(result.ok());
      const auto code = result.error().code;
      CHECK((code == ErrorCode::invalid_argument || code == ErrorCode::corrupt));
    }
  }
}

TEST_CASE("truncated or extended blobs fail cleanly") {
  const auto ca = newKey();
  const auto cert = signUserCertificate(sampleRequest(newKey()), ca);
  REQUIRE(cert.ok());
  for (std::size_t n = 0; n < cert->blob.size(); ++n) {
    // A copy of exactly n bytes, so AddressSanitizer catches any read past the end.
    const Bytes prefix(cert->blob.begin(), cert->blob.begin() + static_cast<std::ptrdiff_t>(n));
    const auto result = verifyUserCertificate(prefix, ca.publicKey);
    INFO("length " << n);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  }
  auto longer = cert->blob;
  longer.push_back(0);
  const auto result = verifyUserCertificate(longer, ca.publicKey);
  REQUIRE_FALSE(result.ok());
  CHECK_THAT(result.error().message, Catch::Contains("trailing"));
}

TEST_CASE("a certificate is refused under another CA's key") {
  const auto ca = newKey();
  const auto other = newKey();
  const auto cert = signUserCertificate(sampleRequest(newKey()), ca);
  REQUIRE(cert.ok());
  const auto result = verifyUserCertificate(cert->blob, other.publicKey);
  REQUIRE_FALSE(result.ok());
  CHECK(result.error().code == ErrorCode::corrupt);

  // A blob that names our CA as signer but carries another key's signature.
  auto f = parse(cert->blob);
  const auto forged = encodeAndSign(f, other);
  const auto forgedResult = verifyUserCertificate(forged, ca.publicKey);
  REQUIRE_FALSE(forgedResult.ok());
  CHECK(forgedResult.error().code == ErrorCode::corrupt);
}

TEST_CASE("properly signed but malformed certificates are refused") {
  const auto ca = newKey();
  const auto cert = signUserCertificate(sampleRequest(newKey()), ca);
  REQUIRE(cert.ok());
  const auto base = parse(cert->blob);
  // The re-encoder is faithful: an unchanged re-encode verifies.
  REQUIRE(verifyUserCertificate(encodeAndSign(base, ca), ca.publicKey).ok());

  auto refused = [&](const Fields& f, const std::string& why) {
    const auto result = verifyUserCertificate(encodeAndSign(f, ca), ca.publicKey);
    INFO(why);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  };
  {
    auto f = base;
    f.extensions = extensionsSection({"permit-pty", "permit-port-forwarding"});
    refused(f, "unsorted extensions");
  }
  {
    auto f = base;
    f.extensions = extensionsSection({"permit-pty", "permit-pty"});
    refused(f, "duplicate extension");
  }
  {
    auto f = base;
    f.critical.clear();
    putString(f.critical, std::string("force-command"));
    Bytes value;
    putString(value, std::string("/bin/true"));
    putString(f.critical, value);
    refused(f, "a critical option this CA does not know");
  }
  {
    auto f = base;
    f.certType = 2;
    refused(f, "a host certificate");
  }
  {
    auto f = base;
    f.principals.clear();
    refused(f, "no principals (OpenSSH: any user)");
  }
  {
    auto f = base;
    f.principals.clear();
    putString(f.principals, Bytes{'r', 'o', 0, 't'});
    refused(f, "a NUL inside a principal");
  }
  {
    auto f = base;
    f.key.pop_back();
    refused(f, "a 31-byte subject key");
  }
  {
    // Unknown extensions are skipped, as OpenSSH does; they grant nothing.
    auto f = base;
    f.extensions = extensionsSection({"permit-port-forwarding", "permit-pty", "zz@example.com"});
    CHECK(verifyUserCertificate(encodeAndSign(f, ca), ca.publicKey).ok());
  }
}

TEST_CASE("invalid requests are refused before signing") {
  const auto ca = newKey();
  const auto subject = newKey();
  auto refused = [&](const CertificateRequest& r) {
    const auto result = signUserCertificate(r, ca);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  };
  SECTION("no principals") {
    auto r = sampleRequest(subject);
    r.principals.clear();
    refused(r);
  }
  SECTION("an empty or multi-line principal") {
    auto r = sampleRequest(subject);
    r.principals = {""};
    refused(r);
    r.principals = {"root\nother"};
    refused(r);
  }
  SECTION("validity that ends before or when it starts") {
    auto r = sampleRequest(subject);
    r.validBefore = r.validAfter;
    refused(r);
    r.validBefore = r.validAfter - 1s;
    refused(r);
  }
  SECTION("an empty key id") {
    auto r = sampleRequest(subject);
    r.keyId.clear();
    refused(r);
  }
  SECTION("source-address lists that sshd would not accept") {
    auto r = sampleRequest(subject);
    for (const char* bad : {"", "10.9.9.9/24", "10.0.0.0/33", "2001:db8::/129", "host.example",
                            "10.0.0.1,", ",10.0.0.1", "10.0.0.1/", "fe80::1%eth0", "10.0.0.1 "}) {
      INFO(bad);
      r.sourceAddress = bad;
      refused(r);
    }
  }
  SECTION("a CA key pair whose halves do not match") {
    const auto other = newKey();
    Ed25519KeyPair mixed{other.publicKey, PrivateKey::fromBytes(ca.secretKey.reveal())};
    const auto result = signUserCertificate(sampleRequest(subject), mixed);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::invalid_argument);
  }
}

TEST_CASE("source-address lists that sshd accepts are signed") {
  const auto ca = newKey();
  auto r = sampleRequest(newKey());
  for (const char* good : {"192.0.2.10", "192.0.2.10/32", "10.0.0.0/8,192.168.1.0/24",
                           "2001:db8::/32", "::1", "0.0.0.0/0"}) {
    INFO(good);
    r.sourceAddress = good;
    const auto cert = signUserCertificate(r, ca);
    REQUIRE(cert.ok());
    const auto back = verifyUserCertificate(cert->blob, ca.publicKey);
    REQUIRE(back.ok());
    CHECK(back->sourceAddress == std::optional<std::string>(good));
  }
}

TEST_CASE("ssh-keygen -L shows exactly what was requested") {
  TempDir dir;
  const auto ca = newKey();
  const auto cert = signUserCertificate(sampleRequest(newKey()), ca);
  REQUIRE(cert.ok());
  conduit::test::writeText(dir / "id-cert.pub", cert->line + "\n");

  const auto [rc, out] =
      runCommand({"env", "TZ=UTC", "ssh-keygen", "-L", "-f", (dir / "id-cert.pub").string()});
  INFO(out);
  REQUIRE(rc == 0);
  CHECK_THAT(out, Catch::Contains("Type: ssh-ed25519-cert-v01@openssh.com user certificate"));
  CHECK_THAT(out, Catch::Contains("Key ID: \"session-42\""));
  CHECK_THAT(out, Catch::Contains("Serial: 42"));
  CHECK_THAT(out, Catch::Contains("Valid: from 2030-01-01T00:00:00 to 2030-01-01T00:05:00"));
  CHECK_THAT(out, Catch::Contains("Principals: \n                operator\n"));
  CHECK_THAT(out, Catch::Contains("source-address 192.0.2.10/32"));
  CHECK(listedExtensions(out) == std::set<std::string>{"permit-port-forwarding", "permit-pty"});

  // The fingerprint of the signing CA is the one of our CA key.
  conduit::test::writeText(dir / "ca.pub", ed25519PublicKeyLine(ca.publicKey, "ca") + "\n");
  const auto [fpRc, fp] = runCommand({"ssh-keygen", "-l", "-f", (dir / "ca.pub").string()});
  REQUIRE(fpRc == 0);
  const auto sha = fp.substr(fp.find("SHA256:"), 50);
  CHECK_THAT(out, Catch::Contains("Signing CA: ED25519 " + sha));
}

TEST_CASE("ssh-keygen refuses a certificate whose signature was tampered with") {
  TempDir dir;
  const auto ca = newKey();
  auto cert = signUserCertificate(sampleRequest(newKey()), ca);
  REQUIRE(cert.ok());
  // The same encoding path for both lines, so only the flipped signature bit differs.
  conduit::test::writeText(dir / "good-cert.pub", certificateLine(cert->blob));
  cert->blob.back() ^= 0x01;
  conduit::test::writeText(dir / "bad-cert.pub", certificateLine(cert->blob));

  const auto [goodRc, goodOut] =
      runCommand({"ssh-keygen", "-L", "-f", (dir / "good-cert.pub").string()});
  INFO(goodOut);
  CHECK(goodRc == 0);
  const auto [badRc, badOut] =
      runCommand({"ssh-keygen", "-L", "-f", (dir / "bad-cert.pub").string()});
  INFO(badOut);
  CHECK(badRc != 0);
}

TEST_CASE("a certificate made by ssh-keygen with our CA key verifies") {
  TempDir dir;
  const auto ca = newKey();
  const auto caText = openSshPrivateKeyText(ca, "conduit-ca");
  REQUIRE(caText.ok());
  writePrivateFile(dir / "ca", caText->revealText());
  const auto subject = newKey();
  conduit::test::writeText(dir / "id.pub", ed25519PublicKeyLine(subject.publicKey, "s") + "\n");

  const auto [rc, out] = runCommand({"env",
                                     "TZ=UTC",
                                     "ssh-keygen",
                                     "-q",
                                     "-s",
                                     (dir / "ca").string(),
                                     "-I",
                                     "ref-id",
                                     "-n",
                                     "alice,bob",
                                     "-z",
                                     "7",
                                     "-V",
                                     "20300101000000:20300102000000",
                                     "-O",
                                     "clear",
                                     "-O",
                                     "permit-pty",
                                     "-O",
                                     "permit-X11-forwarding",
                                     "-O",
                                     "source-address=10.0.0.0/8",
                                     (dir / "id.pub").string()});
  INFO(out);
  REQUIRE(rc == 0);
  const auto line = trimmed(conduit::test::readText(dir / "id-cert.pub"));
  const auto first = line.find(' ');
  const auto second = line.find(' ', first + 1);
  const auto encoded = line.substr(first + 1, second - first - 1);
  Bytes blob(encoded.size());
  std::size_t length = 0;
  REQUIRE(sodium_base642bin(blob.data(), blob.size(), encoded.data(), encoded.size(), nullptr,
                            &length, nullptr, sodium_base64_VARIANT_ORIGINAL) == 0);
  blob.resize(length);

  const auto back = verifyUserCertificate(blob, ca.publicKey);
  REQUIRE(back.ok());
  CHECK(back->subjectPublicKey == subject.publicKey);
  CHECK(back->keyId == "ref-id");
  CHECK(back->serial == 7);
  CHECK(back->principals == std::vector<std::string>{"alice", "bob"});
  CHECK(back->validAfter == TimePoint{std::chrono::seconds(1893456000)});
  CHECK(back->validBefore == TimePoint{std::chrono::seconds(1893456000 + 86400)});
  CHECK(back->sourceAddress == std::optional<std::string>("10.0.0.0/8"));
  CHECK(back->permitPty);
  CHECK(back->permitX11Forwarding);
  CHECK_FALSE(back->permitPortForwarding);
  CHECK_FALSE(back->permitAgentForwarding);
  CHECK_FALSE(back->permitUserRc);

  const auto other = newKey();
  CHECK_FALSE(verifyUserCertificate(blob, other.publicKey).ok());
}

TEST_CASE("the private key text is accepted by ssh-keygen and yields the same public key") {
  TempDir dir;
  const auto key = newKey();
  const auto text = openSshPrivateKeyText(key, "session-42");
  REQUIRE(text.ok());
  const auto view = text->revealText();
  CHECK_THAT(std::string(view), Catch::StartsWith("-----BEGIN OPENSSH PRIVATE KEY-----\n"));
  CHECK_THAT(std::string(view), Catch::EndsWith("-----END OPENSSH PRIVATE KEY-----\n"));
  std::istringstream lines{std::string(view)};
  for (std::string line; std::getline(lines, line);) CHECK(line.size() <= 70);

  writePrivateFile(dir / "id", view);
  const auto [rc, out] = runCommand({"ssh-keygen", "-y", "-f", (dir / "id").string()});
  INFO(out);
  REQUIRE(rc == 0);
  CHECK(trimmed(out) == ed25519PublicKeyLine(key.publicKey, "session-42"));
}

TEST_CASE("a key pair has matching halves and a public line without control characters") {
  const auto a = newKey();
  const auto b = newKey();
  CHECK(a.publicKey != b.publicKey);
  REQUIRE(a.secretKey.size() == 64);
  Ed25519PublicKey derived{};
  REQUIRE(crypto_sign_ed25519_sk_to_pk(derived.data(), a.secretKey.reveal().data()) == 0);
  CHECK(derived == a.publicKey);

  const auto line = ed25519PublicKeyLine(a.publicKey, "evil\nssh-ed25519 AAAA attacker");
  CHECK(line.find('\n') == std::string::npos);
  CHECK_THAT(line, Catch::StartsWith("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI"));
  CHECK(ed25519PublicKeyLine(a.publicKey, "").find(' ', 12) == std::string::npos);
}

TEST_CASE("secrets print as <secret>") {
  const auto key = newKey();
  std::ostringstream keyOut;
  keyOut << key.secretKey;
  CHECK(keyOut.str() == "<secret>");
  const auto text = openSshPrivateKeyText(key, "c");
  REQUIRE(text.ok());
  std::ostringstream textOut;
  textOut << *text;
  CHECK(textOut.str() == "<secret>");
  CHECK(Catch::Detail::stringify(key.secretKey) == "<secret>");
}
