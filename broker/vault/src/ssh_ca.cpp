// The SSH user CA. libssh 0.10 can use a certificate as a client but has no API to create or sign
// one, so certificates (and the OpenSSH private key file format) are built byte by byte here, per
// OpenSSH's PROTOCOL.certkeys and PROTOCOL.key, and signed with libsodium's Ed25519.
#include "conduit/vault/ssh_ca.hpp"

#include <arpa/inet.h>
#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <limits>
#include <utility>

#include "ssh_wire.hpp"

namespace conduit::vault {

namespace {

using core::ErrorCode;
using core::fail;

constexpr std::string_view kKeyType = "ssh-ed25519";
constexpr std::string_view kCertType = "ssh-ed25519-cert-v01@openssh.com";
constexpr std::uint32_t kUserCertType = 1;  // SSH2_CERT_TYPE_USER; 2 would be a host certificate
constexpr std::size_t kNonceBytes = 32;
constexpr std::size_t kSignatureBytes = crypto_sign_BYTES;
constexpr std::string_view kSourceAddress = "source-address";

static_assert(crypto_sign_PUBLICKEYBYTES == kEd25519PublicKeyBytes);
static_assert(crypto_sign_SECRETKEYBYTES == kEd25519SecretKeyBytes);

// The extensions this CA issues, sorted by name as PROTOCOL.certkeys requires (byte order:
// "permit-X11-forwarding" sorts first because 'X' < 'a').
struct Extension {
  std::string_view name;
  bool CertificateRequest::*flag;
};
constexpr std::array<Extension, 5> kExtensions = {{
    {"permit-X11-forwarding", &CertificateRequest::permitX11Forwarding},
    {"permit-agent-forwarding", &CertificateRequest::permitAgentForwarding},
    {"permit-port-forwarding", &CertificateRequest::permitPortForwarding},
    {"permit-pty", &CertificateRequest::permitPty},
    {"permit-user-rc", &CertificateRequest::permitUserRc},
}};
static_assert(std::is_sorted(kExtensions.begin(), kExtensions.end(),
                             [](const Extension& a, const Extension& b) {
                               return a.name < b.name;
                             }));

std::span<const unsigned char> bytesOf(std::string_view text) {
  return {reinterpret_cast<const unsigned char*>(text.data()), text.size()};
}

bool equalBytes(std::span<const unsigned char> a, std::span<const unsigned char> b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin());
}

bool hasControlCharacter(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

std::string withoutControlCharacters(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) c = '?';
  }
  return out;
}

std::string base64(std::span<const unsigned char> bytes) {
  const std::size_t size = sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  std::string out(size, '\0');
  sodium_bin2base64(out.data(), size, bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(size - 1);  // the encoded length counts the terminating NUL
  return out;
}

// string "ssh-ed25519" || string key: the public key as SSH puts it on the wire.
std::vector<unsigned char> publicKeyBlob(std::span<const unsigned char> publicKey) {
  std::vector<unsigned char> blob;
  wire::Writer w(blob);
  w.string(kKeyType);
  w.string(publicKey);
  return blob;
}

core::Status checkKeyPair(const Ed25519KeyPair& keyPair) {
  const auto secret = keyPair.secretKey.reveal();
  if (secret.size() != kEd25519SecretKeyBytes) {
    return fail(ErrorCode::invalid_argument, "Ed25519 secret key must be 64 bytes");
  }
  // libsodium's secret key is seed || public key; a mismatch would sign with one key and name
  // another as the signer, which no verifier accepts.
  if (!equalBytes(secret.subspan(crypto_sign_SEEDBYTES), keyPair.publicKey)) {
    return fail(ErrorCode::invalid_argument, "Ed25519 secret and public key do not match");
  }
  return core::Done{};
}

// Mirrors sshd's addr_match_cidr_list(): a list entry that sshd would not parse makes it refuse
// the certificate at login, so such a list is refused here, when it is signed.
bool validCidr(std::string_view entry) {
  constexpr std::string_view kCidrCharacters = "0123456789abcdefABCDEF.:/";
  if (entry.empty() || entry.size() > INET6_ADDRSTRLEN + 3) return false;
  if (entry.find_first_not_of(kCidrCharacters) != std::string_view::npos) return false;
  const auto slash = entry.find('/');
  const std::string address(entry.substr(0, slash));
  unsigned char bytes[16] = {};
  unsigned maxLength = 0;
  if (::inet_pton(AF_INET, address.c_str(), bytes) == 1) {
    maxLength = 32;
  } else if (::inet_pton(AF_INET6, address.c_str(), bytes) == 1) {
    maxLength = 128;
  } else {
    return false;
  }
  unsigned maskLength = maxLength;
  if (slash != std::string_view::npos) {
    const auto digits = entry.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return false;
    maskLength = 0;
    for (const char c : digits) {
      if (c < '0' || c > '9') return false;
      maskLength = maskLength * 10 + static_cast<unsigned>(c - '0');
    }
    if (maskLength > maxLength) return false;
  }
  // sshd also refuses a network with host bits set ("10.0.0.1/8"): "inconsistent mask length".
  for (unsigned bit = maskLength; bit < maxLength; ++bit) {
    if ((bytes[bit / 8] & (0x80U >> (bit % 8))) != 0) return false;
  }
  return true;
}

bool validCidrList(std::string_view list) {
  if (list.empty() || list.size() > kMaxCertificateFieldBytes) return false;
  std::size_t start = 0;
  while (true) {
    const auto comma = list.find(',', start);
    if (!validCidr(list.substr(start, comma == std::string_view::npos ? comma : comma - start))) {
      return false;
    }
    if (comma == std::string_view::npos) return true;
    start = comma + 1;
  }
}

core::Status checkRequest(const CertificateRequest& request) {
  if (request.keyId.empty()) {
    return fail(ErrorCode::invalid_argument, "certificate key id is empty");
  }
  if (request.keyId.size() > kMaxCertificateFieldBytes || hasControlCharacter(request.keyId)) {
    return fail(ErrorCode::invalid_argument,
                "certificate key id is too long or contains control characters");
  }
  if (request.principals.empty()) {
    // An empty principal list means "any user" to OpenSSH; this CA never issues that.
    return fail(ErrorCode::invalid_argument, "certificate has no principals");
  }
  if (request.principals.size() > kMaxCertificatePrincipals) {
    return fail(ErrorCode::invalid_argument, "certificate has too many principals");
  }
  for (const auto& principal : request.principals) {
    if (principal.empty() || principal.size() > kMaxCertificateFieldBytes ||
        hasControlCharacter(principal)) {
      return fail(ErrorCode::invalid_argument,
                  "certificate principal is empty, too long or contains control characters");
    }
  }
  if (request.validAfter.time_since_epoch().count() < 0) {
    return fail(ErrorCode::invalid_argument, "certificate validity starts before 1970");
  }
  if (request.validBefore <= request.validAfter) {
    return fail(ErrorCode::invalid_argument, "certificate validity ends before it starts");
  }
  if (request.sourceAddress && !validCidrList(*request.sourceAddress)) {
    return fail(ErrorCode::invalid_argument,
                "certificate source-address is not a comma-separated list of CIDR networks");
  }
  return core::Done{};
}

std::uint64_t wireTime(core::TimePoint t) {
  return static_cast<std::uint64_t>(t.time_since_epoch().count());
}

core::TimePoint timeFromWire(std::uint64_t seconds) {
  // OpenSSH writes "forever" as 2^64-1; everything past TimePoint's range means the same.
  if (seconds > static_cast<std::uint64_t>(std::numeric_limits<core::Seconds::rep>::max())) {
    return core::TimePoint::max();
  }
  return core::TimePoint(core::Seconds(static_cast<core::Seconds::rep>(seconds)));
}

core::Error malformed(std::string_view what) {
  return fail(ErrorCode::invalid_argument, "malformed certificate: " + std::string(what));
}

// Reads the public key blob `string "ssh-ed25519" || string key(32)` and nothing else.
std::optional<Ed25519PublicKey> readPublicKeyBlob(std::span<const unsigned char> blob) {
  wire::Reader r(blob);
  const auto type = r.string();
  const auto key = r.string();
  if (!type || !key || !r.atEnd() || !equalBytes(*type, bytesOf(kKeyType)) ||
      key->size() != kEd25519PublicKeyBytes) {
    return std::nullopt;
  }
  Ed25519PublicKey out{};
  std::copy(key->begin(), key->end(), out.begin());
  return out;
}

// Each critical option's data is a string that holds the value's own string.
core::Status readCriticalOptions(std::span<const unsigned char> section, CertificateRequest& out) {
  wire::Reader r(section);
  std::optional<std::string> previous;
  while (!r.atEnd()) {
    const auto name = r.text();
    const auto data = r.string();
    if (!name || !data) return malformed("critical options");
    if (previous && *name <= *previous) return malformed("critical options not sorted");
    previous = name;
    if (*name != kSourceAddress) {
      // A critical option that is not understood must make the certificate unusable.
      return malformed("unsupported critical option");
    }
    wire::Reader value(*data);
    auto list = value.text();
    if (!list || !value.atEnd() || !validCidrList(*list)) return malformed("source-address");
    out.sourceAddress = std::move(*list);
  }
  return core::Done{};
}

core::Status readExtensions(std::span<const unsigned char> section, CertificateRequest& out) {
  for (const auto& extension : kExtensions) out.*extension.flag = false;
  wire::Reader r(section);
  std::optional<std::string> previous;
  while (!r.atEnd()) {
    const auto name = r.text();
    const auto data = r.string();
    if (!name || !data) return malformed("extensions");
    if (previous && *name <= *previous) return malformed("extensions not sorted");
    previous = name;
    const auto known = std::find_if(kExtensions.begin(), kExtensions.end(),
                                    [&](const Extension& e) { return e.name == *name; });
    // Unknown extensions are ignored, as PROTOCOL.certkeys says; they grant nothing here.
    if (known == kExtensions.end()) continue;
    if (!data->empty()) return malformed("extension with a value");
    out.*known->flag = true;
  }
  return core::Done{};
}

}  // namespace

core::Result<Ed25519KeyPair> generateEd25519() {
  if (sodium_init() < 0) return fail(ErrorCode::io, "libsodium failed to initialise");
  Ed25519KeyPair pair;
  pair.secretKey = PrivateKey(SecretBuffer::allocate(kEd25519SecretKeyBytes));
  crypto_sign_keypair(pair.publicKey.data(), pair.secretKey.buffer().data());
  return pair;
}

std::string ed25519PublicKeyLine(const Ed25519PublicKey& publicKey, std::string_view comment) {
  std::string line = std::string(kKeyType) + " " + base64(publicKeyBlob(publicKey));
  if (!comment.empty()) line += " " + withoutControlCharacters(comment);
  return line;
}

core::Result<PrivateKey> openSshPrivateKeyText(const Ed25519KeyPair& keyPair,
                                               std::string_view comment) {
  if (sodium_init() < 0) return fail(ErrorCode::io, "libsodium failed to initialise");
  if (auto ok = checkKeyPair(keyPair); !ok) return ok.error();
  if (comment.size() > kMaxCertificateFieldBytes) {
    return fail(ErrorCode::invalid_argument, "private key comment is too long");
  }
  const std::string cleanComment = withoutControlCharacters(comment);

  // PROTOCOL.key: "openssh-key-v1\0", cipher, kdf, kdf options, key count, public key, then the
  // private section padded to the cipher's block size (8 for "none") with bytes 1, 2, 3, ...
  constexpr std::string_view kMagic{"openssh-key-v1\0", 15};
  constexpr std::size_t kBlockSize = 8;
  const auto publicBlob = publicKeyBlob(keyPair.publicKey);
  const std::size_t privateLength = 4 + 4 + (4 + kKeyType.size()) + (4 + kEd25519PublicKeyBytes) +
                                    (4 + kEd25519SecretKeyBytes) + (4 + cleanComment.size());
  const std::size_t padding = (kBlockSize - privateLength % kBlockSize) % kBlockSize;
  const std::size_t binaryLength = kMagic.size() + (4 + 4) + (4 + 4) + 4 + 4 +
                                   (4 + publicBlob.size()) + 4 + privateLength + padding;

  // Everything that holds secret bytes is guarded memory, wiped when freed.
  SecretBuffer binary = SecretBuffer::allocate(binaryLength);
  wire::Writer w(std::span<unsigned char>(binary.data(), binary.size()));
  w.raw(bytesOf(kMagic));
  // Unencrypted: the text goes straight to a client library or into one session's 0600 file; a
  // passphrase kept beside it would protect nothing. The vault seals it when it is stored.
  w.string("none");  // cipher
  w.string("none");  // kdf
  w.string("");      // kdf options
  w.u32(1);          // number of keys
  w.string(publicBlob);
  w.u32(static_cast<std::uint32_t>(privateLength + padding));
  // The two equal check words let a reader tell a wrong passphrase from a corrupt file.
  const std::uint32_t check = randombytes_random();
  w.u32(check);
  w.u32(check);
  w.string(kKeyType);
  w.string(keyPair.publicKey);
  w.string(keyPair.secretKey.reveal());
  w.string(cleanComment);
  for (std::size_t i = 1; i <= padding; ++i) {
    const unsigned char pad = static_cast<unsigned char>(i);
    w.raw({&pad, 1});
  }
  if (w.written() != binaryLength) std::abort();  // the size computation above is wrong

  const std::size_t encodedSize =
      sodium_base64_ENCODED_LEN(binaryLength, sodium_base64_VARIANT_ORIGINAL);
  SecretBuffer encoded = SecretBuffer::allocate(encodedSize);
  sodium_bin2base64(reinterpret_cast<char*>(encoded.data()), encodedSize, binary.data(),
                    binaryLength, sodium_base64_VARIANT_ORIGINAL);
  const std::size_t encodedLength = encodedSize - 1;  // without the terminating NUL

  constexpr std::string_view kBegin = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  constexpr std::string_view kEnd = "-----END OPENSSH PRIVATE KEY-----\n";
  constexpr std::size_t kLineWidth = 70;  // what ssh-keygen writes
  const std::size_t lines = (encodedLength + kLineWidth - 1) / kLineWidth;
  SecretBuffer text = SecretBuffer::allocate(kBegin.size() + encodedLength + lines + kEnd.size());
  unsigned char* out = text.data();
  const auto append = [&out](const void* bytes, std::size_t size) {
    std::memcpy(out, bytes, size);
    out += size;
  };
  append(kBegin.data(), kBegin.size());
  for (std::size_t at = 0; at < encodedLength; at += kLineWidth) {
    append(encoded.data() + at, std::min(kLineWidth, encodedLength - at));
    append("\n", 1);
  }
  append(kEnd.data(), kEnd.size());
  if (out != text.data() + text.size()) std::abort();
  return PrivateKey(std::move(text));
}

core::Result<Certificate> signUserCertificate(const CertificateRequest& request,
                                              const Ed25519KeyPair& ca) {
  if (sodium_init() < 0) return fail(ErrorCode::io, "libsodium failed to initialise");
  if (auto ok = checkRequest(request); !ok) return ok.error();
  if (auto ok = checkKeyPair(ca); !ok) return ok.error();

  std::vector<unsigned char> principals;
  wire::Writer principalWriter(principals);
  for (const auto& principal : request.principals) principalWriter.string(principal);

  std::vector<unsigned char> criticalOptions;
  if (request.sourceAddress) {
    // The only critical option issued, so the section is trivially sorted by name.
    std::vector<unsigned char> value;
    wire::Writer(value).string(*request.sourceAddress);
    wire::Writer optionWriter(criticalOptions);
    optionWriter.string(kSourceAddress);
    optionWriter.string(value);
  }

  std::vector<unsigned char> extensions;
  wire::Writer extensionWriter(extensions);
  for (const auto& extension : kExtensions) {  // kExtensions is sorted by name
    if (!(request.*extension.flag)) continue;
    extensionWriter.string(extension.name);
    extensionWriter.string("");  // flag extensions carry an empty value
  }

  // A random nonce makes every signed blob unique, so a chosen-prefix hash collision cannot be
  // prepared against a certificate's contents.
  std::array<unsigned char, kNonceBytes> nonce{};
  randombytes_buf(nonce.data(), nonce.size());

  Certificate cert;
  wire::Writer w(cert.blob);
  w.string(kCertType);
  w.string(nonce);
  w.string(request.subjectPublicKey);
  w.u64(request.serial);
  w.u32(kUserCertType);
  w.string(request.keyId);
  w.string(principals);
  w.u64(wireTime(request.validAfter));
  w.u64(wireTime(request.validBefore));
  w.string(criticalOptions);
  w.string(extensions);
  w.string("");  // reserved
  w.string(publicKeyBlob(ca.publicKey));

  // The signature covers every byte above, from the type name to the signature key.
  std::array<unsigned char, kSignatureBytes> signature{};
  crypto_sign_detached(signature.data(), nullptr, cert.blob.data(), cert.blob.size(),
                       ca.secretKey.reveal().data());
  std::vector<unsigned char> signatureBlob;
  wire::Writer signatureWriter(signatureBlob);
  signatureWriter.string(kKeyType);
  signatureWriter.string(signature);
  w.string(signatureBlob);

  cert.line = std::string(kCertType) + " " + base64(cert.blob) + " " + request.keyId;
  return cert;
}

core::Result<CertificateRequest> verifyUserCertificate(std::span<const unsigned char> blob,
                                                       const Ed25519PublicKey& caPublicKey) {
  if (sodium_init() < 0) return fail(ErrorCode::io, "libsodium failed to initialise");
  wire::Reader r(blob);
  const auto type = r.string();
  if (!type || !equalBytes(*type, bytesOf(kCertType))) {
    return malformed("not an ssh-ed25519-cert-v01@openssh.com certificate");
  }
  const auto nonce = r.string();
  const auto subjectKey = r.string();
  const auto serial = r.u64();
  const auto certType = r.u32();
  auto keyId = r.text();
  const auto principals = r.string();
  const auto validAfter = r.u64();
  const auto validBefore = r.u64();
  const auto criticalOptions = r.string();
  const auto extensions = r.string();
  const auto reserved = r.string();
  const auto signatureKey = r.string();
  const std::size_t signedLength = r.consumed();
  const auto signatureBlob = r.string();
  // Every read above is bounds-checked; if any of them failed, the blob is malformed.
  if (!nonce || !subjectKey || !serial || !certType || !keyId || !principals || !validAfter ||
      !validBefore || !criticalOptions || !extensions || !reserved || !signatureKey ||
      !signatureBlob) {
    return malformed("truncated");
  }
  if (!r.atEnd()) return malformed("trailing bytes");
  if (subjectKey->size() != kEd25519PublicKeyBytes) return malformed("subject key size");
  if (*certType != kUserCertType) return malformed("not a user certificate");

  CertificateRequest out;
  std::copy(subjectKey->begin(), subjectKey->end(), out.subjectPublicKey.begin());
  out.keyId = std::move(*keyId);
  out.serial = *serial;
  out.validAfter = timeFromWire(*validAfter);
  out.validBefore = timeFromWire(*validBefore);

  wire::Reader principalReader(*principals);
  while (!principalReader.atEnd()) {
    auto principal = principalReader.text();
    if (!principal) return malformed("principals");
    if (out.principals.size() == kMaxCertificatePrincipals) return malformed("too many principals");
    out.principals.push_back(std::move(*principal));
  }
  // OpenSSH reads an empty list as "any principal"; this CA never issues one, so it is not ours.
  if (out.principals.empty()) return malformed("no principals");
  if (auto ok = readCriticalOptions(*criticalOptions, out); !ok) return ok.error();
  if (auto ok = readExtensions(*extensions, out); !ok) return ok.error();

  const auto signer = readPublicKeyBlob(*signatureKey);
  if (!signer) return malformed("signature key is not an Ed25519 key");
  if (sodium_memcmp(signer->data(), caPublicKey.data(), caPublicKey.size()) != 0) {
    return fail(ErrorCode::corrupt, "certificate was signed by another CA");
  }
  wire::Reader signatureReader(*signatureBlob);
  const auto signatureType = signatureReader.string();
  const auto signature = signatureReader.string();
  if (!signatureType || !signature || !signatureReader.atEnd() ||
      !equalBytes(*signatureType, bytesOf(kKeyType)) || signature->size() != kSignatureBytes) {
    return malformed("signature");
  }
  if (crypto_sign_verify_detached(signature->data(), blob.data(), signedLength,
                                  caPublicKey.data()) != 0) {
    return fail(ErrorCode::corrupt, "certificate signature does not verify");
  }
  return out;
}

}  // namespace conduit::vault
