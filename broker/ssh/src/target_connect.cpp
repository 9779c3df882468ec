// connectTarget and scanHostKey: the libssh client that logs the broker in to a target.

#include <libssh/libssh.h>
#include <sodium.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "conduit/ssh/target.hpp"
#include "libssh_handles.hpp"

namespace conduit::ssh {

using core::ErrorCode;
using core::fail;

namespace {

using detail::CStringPtr;
using detail::KeyPtr;

// A session that is not yet a TargetSession: disconnected and freed on every early return.
struct SessionDeleter {
  void operator()(ssh_session s) const noexcept {
    ssh_disconnect(s);
    ssh_free(s);
  }
};
using SessionPtr = std::unique_ptr<std::remove_pointer_t<ssh_session>, SessionDeleter>;

// "host:port", with brackets around an IPv6 address.
std::string label(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool hasControlOrSpace(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

// libssh reads "user@host" in SSH_OPTIONS_HOST as a user name too: a host is a name or an
// address and nothing else.
core::Status checkHost(const std::string& host) {
  if (host.empty() || hasControlOrSpace(host) || host.find('@') != std::string::npos) {
    return fail(ErrorCode::invalid_argument, "target host must be a host name or an address");
  }
  return core::Done{};
}

struct KeyLine {
  std::string type;
  std::string base64;
};

// Splits "type base64 [comment]" (one line; surrounding whitespace ignored).
std::optional<KeyLine> splitKeyLine(std::string_view line) {
  auto skipSpace = [&](std::size_t pos) {
    while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) ++pos;
    return pos;
  };
  auto word = [&](std::size_t pos) {
    std::size_t end = pos;
    while (end < line.size() && line[end] != ' ' && line[end] != '\t') ++end;
    return end;
  };
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.find_first_of("\r\n") != std::string_view::npos) return std::nullopt;
  const auto typeStart = skipSpace(0);
  const auto typeEnd = word(typeStart);
  const auto dataStart = skipSpace(typeEnd);
  const auto dataEnd = word(dataStart);
  if (typeEnd == typeStart || dataEnd == dataStart) return std::nullopt;
  return KeyLine{std::string(line.substr(typeStart, typeEnd - typeStart)),
                 std::string(line.substr(dataStart, dataEnd - dataStart))};
}

bool isCertificateType(ssh_keytypes_e type) {
  switch (type) {
    case SSH_KEYTYPE_RSA_CERT01:
    case SSH_KEYTYPE_ECDSA_P256_CERT01:
    case SSH_KEYTYPE_ECDSA_P384_CERT01:
    case SSH_KEYTYPE_ECDSA_P521_CERT01:
    case SSH_KEYTYPE_ED25519_CERT01:
      return true;
    default:
      return false;
  }
}

// "SHA256:...", as OpenSSH prints fingerprints.
std::string fingerprint(ssh_key key) {
  unsigned char* hash = nullptr;
  size_t hashLen = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &hashLen) != SSH_OK) {
    return "SHA256:?";
  }
  CStringPtr text(ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hashLen));
  ssh_clean_pubkey_hash(&hash);
  return text ? std::string(text.get()) : std::string("SHA256:?");
}

// The pinned host key and the host key algorithms that make a target present it.
struct Pin {
  KeyPtr key;
  std::string hostKeyAlgorithms;
};

std::vector<std::string> splitList(const std::string& list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    const auto end = std::min(list.find(',', start), list.size());
    if (end > start) out.push_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

core::Result<Pin> parsePin(const TargetEndpoint& ep, const ConnectOptions& opt) {
  const auto where = label(ep.host, ep.port);
  if (ep.pinnedHostKey.empty()) {
    // Never trust on first use implicitly: a vendor session is the worst moment to learn a
    // key, and an attacker in the path would be trusted for good.
    return fail(ErrorCode::permission_denied,
                "no host key is pinned for " + where +
                    "; an administrator must pin it (scan it and compare it out of band) before "
                    "the broker connects");
  }
  const auto line = splitKeyLine(ep.pinnedHostKey);
  const auto type = line ? ssh_key_type_from_name(line->type.c_str()) : SSH_KEYTYPE_UNKNOWN;
  if (type == SSH_KEYTYPE_UNKNOWN || isCertificateType(type)) {
    return fail(ErrorCode::invalid_argument,
                "the pinned host key for " + where + " is not a public key line");
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_pubkey_base64(line->base64.c_str(), type, &raw) != SSH_OK) {
    return fail(ErrorCode::invalid_argument,
                "the pinned host key for " + where + " is not a valid " + line->type + " key");
  }
  Pin pin{KeyPtr(raw), {}};

  // Offer the pinned key's algorithms first: a target with several host keys then presents the
  // pinned one. An RSA key signs with rsa-sha2-512/256; "ssh-rsa" (SHA-1) is never offered.
  const std::vector<std::string> pinned =
      type == SSH_KEYTYPE_RSA ? std::vector<std::string>{"rsa-sha2-512", "rsa-sha2-256"}
                              : std::vector<std::string>{line->type};
  const auto allowed = splitList(opt.hostKeyAlgorithms);
  std::vector<std::string> order;
  for (const auto& algorithm : pinned) {
    if (std::find(allowed.begin(), allowed.end(), algorithm) != allowed.end()) {
      order.push_back(algorithm);
    }
  }
  if (order.empty()) {
    return fail(ErrorCode::invalid_argument, "the pinned host key type " + line->type + " for " +
                                                 where + " is not an allowed host key algorithm");
  }
  for (const auto& algorithm : allowed) {
    if (std::find(order.begin(), order.end(), algorithm) == order.end()) order.push_back(algorithm);
  }
  for (const auto& algorithm : order) {
    if (!pin.hostKeyAlgorithms.empty()) pin.hostKeyAlgorithms += ',';
    pin.hostKeyAlgorithms += algorithm;
  }
  return pin;
}

// A secret with a terminating NUL in guarded memory, for libssh's C-string parameters. Fails if
// the secret itself holds a NUL (libssh would silently use only the part before it).
core::Result<vault::SecretBuffer> cString(std::span<const unsigned char> bytes, const char* what) {
  if (std::find(bytes.begin(), bytes.end(), '\0') != bytes.end()) {
    return fail(ErrorCode::invalid_argument, std::string(what) + " contains a NUL byte");
  }
  auto buffer = vault::SecretBuffer::allocate(bytes.size() + 1);
  if (!bytes.empty()) std::memcpy(buffer.data(), bytes.data(), bytes.size());
  buffer.data()[bytes.size()] = '\0';
  return buffer;
}

const char* chars(const vault::SecretBuffer& buffer) {
  return reinterpret_cast<const char*>(buffer.data());
}

core::Result<KeyPtr> importPrivateKey(const vault::PrivateKey& text) {
  auto terminated = cString(text.reveal(), "the private key");
  if (!terminated) return terminated.error();
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_base64(chars(*terminated), nullptr, nullptr, nullptr, &raw) !=
      SSH_OK) {
    return fail(ErrorCode::invalid_argument,
                "the credential's private key is not an unencrypted OpenSSH private key");
  }
  return KeyPtr(raw);
}

// The bytes of an SSH wire string at `pos` in `blob`, advancing `pos`; nullopt if truncated.
std::optional<std::span<const unsigned char>> readWireString(std::span<const unsigned char> blob,
                                                             std::size_t& pos) {
  if (blob.size() - pos < 4) return std::nullopt;
  const std::size_t len = (std::size_t{blob[pos]} << 24) | (std::size_t{blob[pos + 1]} << 16) |
                          (std::size_t{blob[pos + 2]} << 8) | std::size_t{blob[pos + 3]};
  pos += 4;
  if (blob.size() - pos < len) return std::nullopt;
  auto out = blob.subspan(pos, len);
  pos += len;
  return out;
}

std::optional<std::vector<unsigned char>> decodeBase64(std::string_view text) {
  std::vector<unsigned char> out(text.size() / 4 * 3 + 3);
  std::size_t length = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    return std::nullopt;
  }
  out.resize(length);
  return out;
}

// libssh's ssh_pki_copy_cert_to_privkey attaches any certificate to any key. Check that the
// certificate certifies this key: per PROTOCOL.certkeys a certificate blob is the key type, a
// nonce, then the same public key fields as the plain key's blob, so those must be equal.
bool certificateIsForKey(std::string_view certificateBase64, ssh_key privateKey) {
  char* raw = nullptr;
  if (ssh_pki_export_pubkey_base64(privateKey, &raw) != SSH_OK) return false;
  CStringPtr keyBase64(raw);
  const auto cert = decodeBase64(certificateBase64);
  const auto key = decodeBase64(keyBase64.get());
  if (!cert || !key) return false;
  std::size_t certPos = 0;
  std::size_t keyPos = 0;
  if (!readWireString(*cert, certPos) || !readWireString(*cert, certPos)) return false;
  if (!readWireString(*key, keyPos)) return false;
  const auto fields = std::span<const unsigned char>(*key).subspan(keyPos);
  return cert->size() - certPos >= fields.size() &&
         std::equal(fields.begin(), fields.end(), cert->begin() + static_cast<long>(certPos));
}

// A credential turned into what libssh takes, checked before any packet is sent.
struct PreparedPassword {
  vault::SecretBuffer text;  // NUL-terminated
};
struct PreparedKey {
  KeyPtr key;  // with the certificate attached for certificate logins
  bool certificate = false;
};
using Prepared = std::variant<PreparedPassword, PreparedKey>;

core::Result<Prepared> prepare(const TargetCredential& credential) {
  if (const auto* password = std::get_if<PasswordCredential>(&credential)) {
    if (password->password.empty()) {
      return fail(ErrorCode::invalid_argument, "the credential's password is empty");
    }
    auto text = cString(password->password.reveal(), "the credential's password");
    if (!text) return text.error();
    return Prepared{PreparedPassword{std::move(*text)}};
  }
  if (const auto* key = std::get_if<KeyCredential>(&credential)) {
    auto imported = importPrivateKey(key->privateKeyText);
    if (!imported) return imported.error();
    return Prepared{PreparedKey{std::move(*imported), false}};
  }
  const auto& cert = std::get<CertificateCredential>(credential);
  auto imported = importPrivateKey(cert.privateKeyText);
  if (!imported) return imported.error();
  const auto line = splitKeyLine(cert.certificateLine);
  const auto type = line ? ssh_key_type_from_name(line->type.c_str()) : SSH_KEYTYPE_UNKNOWN;
  if (!isCertificateType(type)) {
    return fail(ErrorCode::invalid_argument,
                "the credential's certificate is not an OpenSSH certificate line");
  }
  ssh_key raw = nullptr;
  if (ssh_pki_import_cert_base64(line->base64.c_str(), type, &raw) != SSH_OK) {
    return fail(ErrorCode::invalid_argument,
                "the credential's certificate is not a valid " + line->type + " certificate");
  }
  KeyPtr certificate(raw);
  if (!certificateIsForKey(line->base64, imported->get())) {
    return fail(ErrorCode::invalid_argument,
                "the credential's certificate does not certify its private key");
  }
  if (ssh_pki_copy_cert_to_privkey(certificate.get(), imported->get()) != SSH_OK) {
    return fail(ErrorCode::internal, "libssh could not attach the certificate to the key");
  }
  return Prepared{PreparedKey{std::move(*imported), true}};
}

core::Status setOption(ssh_session session, ssh_options_e option, const void* value,
                       const char* what) {
  if (ssh_options_set(session, option, value) != SSH_OK) {
    return fail(ErrorCode::invalid_argument,
                std::string("libssh refused the ") + what + ": " + ssh_get_error(session));
  }
  return core::Done{};
}

// A new client session with the broker's algorithm lists and no configuration files read.
core::Result<SessionPtr> newSession(const std::string& host, std::uint16_t port,
                                    const std::string* account, const std::string& hostKeys,
                                    const ConnectOptions& opt) {
  SessionPtr session(ssh_new());
  if (!session) return fail(ErrorCode::internal, "libssh could not create a session");
  ssh_session s = session.get();
  // Not ~/.ssh/config or /etc/ssh/ssh_config: a stray ProxyCommand, IdentityFile or weaker
  // algorithm list there must not change where or how the broker connects.
  const bool processConfig = false;
  const int portNumber = port;
  const long timeout = static_cast<long>(opt.timeout.count());
  // Interactive keystrokes are relayed one by one: do not let Nagle delay them.
  const int noDelay = 1;
  struct Setting {
    ssh_options_e option;
    const void* value;
    const char* what;
  };
  const auto settings = std::to_array<Setting>({
      {SSH_OPTIONS_PROCESS_CONFIG, &processConfig, "config option"},
      {SSH_OPTIONS_HOST, host.c_str(), "host"},
      {SSH_OPTIONS_PORT, &portNumber, "port"},
      {SSH_OPTIONS_TIMEOUT, &timeout, "timeout"},
      {SSH_OPTIONS_NODELAY, &noDelay, "nodelay option"},
      // Host keys are checked against the pin only; no known_hosts file is ever consulted.
      {SSH_OPTIONS_KNOWNHOSTS, "/dev/null", "known hosts file"},
      {SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null", "known hosts file"},
      {SSH_OPTIONS_CIPHERS_C_S, opt.ciphers.c_str(), "cipher list"},
      {SSH_OPTIONS_CIPHERS_S_C, opt.ciphers.c_str(), "cipher list"},
      {SSH_OPTIONS_KEY_EXCHANGE, opt.keyExchange.c_str(), "key exchange list"},
      {SSH_OPTIONS_HOSTKEYS, hostKeys.c_str(), "host key algorithm list"},
      {SSH_OPTIONS_HMAC_C_S, opt.macs.c_str(), "MAC list"},
      {SSH_OPTIONS_HMAC_S_C, opt.macs.c_str(), "MAC list"},
      {SSH_OPTIONS_PUBLICKEY_ACCEPTED_TYPES, opt.publicKeyTypes.c_str(), "public key type list"},
      // Compression over an encrypted channel leaks content lengths (CRIME-style) and costs CPU
      // on both hops; OT payloads gain little from it.
      {SSH_OPTIONS_COMPRESSION, "no", "compression option"},
  });
  for (const auto& setting : settings) {
    if (auto status = setOption(s, setting.option, setting.value, setting.what); !status) {
      return status.error();
    }
  }
  if (account != nullptr) {
    auto status = setOption(s, SSH_OPTIONS_USER, account->c_str(), "account");
    if (!status) return status.error();
  }
  return session;
}

core::Status connect(ssh_session session, const std::string& where) {
  if (ssh_connect(session) != SSH_OK) {
    return fail(ErrorCode::unavailable,
                "cannot connect to target " + where + ": " + ssh_get_error(session));
  }
  return core::Done{};
}

core::Result<KeyPtr> serverKey(ssh_session session, const std::string& where) {
  ssh_key raw = nullptr;
  if (ssh_get_server_publickey(session, &raw) != SSH_OK || raw == nullptr) {
    return fail(ErrorCode::unavailable, "target " + where + " presented no host key");
  }
  return KeyPtr(raw);
}

std::string methodNames(unsigned methods) {
  std::string out;
  auto add = [&](unsigned bit, const char* name) {
    if ((methods & bit) == 0) return;
    if (!out.empty()) out += ", ";
    out += name;
  };
  add(SSH_AUTH_METHOD_PUBLICKEY, "publickey");
  add(SSH_AUTH_METHOD_PASSWORD, "password");
  add(SSH_AUTH_METHOD_INTERACTIVE, "keyboard-interactive");
  add(SSH_AUTH_METHOD_HOSTBASED, "hostbased");
  add(SSH_AUTH_METHOD_GSSAPI_MIC, "gssapi-with-mic");
  return out.empty() ? std::string("none") : out;
}

// Answers keyboard-interactive with the password, for targets that take passwords only that
// way (sshd with PAM and PasswordAuthentication no). Exactly one hidden prompt is answered, once:
// a second one is a retry after a wrong password or a further factor (a one-time code), and
// neither may be answered by repeating the password.
int keyboardInteractive(ssh_session session, const char* password) {
  bool answered = false;
  // 8 rounds: PAM needs two (the prompt, then an empty round); a target that keeps asking
  // questions without deciding is refused rather than followed forever.
  for (int round = 0; round < 8; ++round) {
    const int rc = ssh_userauth_kbdint(session, nullptr, nullptr);
    if (rc != SSH_AUTH_INFO) return rc;
    const int prompts = ssh_userauth_kbdint_getnprompts(session);
    for (int i = 0; i < prompts; ++i) {
      char echo = 0;
      if (ssh_userauth_kbdint_getprompt(session, static_cast<unsigned int>(i), &echo) == nullptr ||
          echo != 0 || answered) {
        return SSH_AUTH_DENIED;
      }
      if (ssh_userauth_kbdint_setanswer(session, static_cast<unsigned int>(i), password) < 0) {
        return SSH_AUTH_ERROR;
      }
      answered = true;
    }
  }
  return SSH_AUTH_DENIED;
}

core::Status authenticate(ssh_session session, const std::string& where, const std::string& account,
                          const Prepared& credential) {
  const bool isPassword = std::holds_alternative<PreparedPassword>(credential);
  const auto* key = std::get_if<PreparedKey>(&credential);
  const char* what = isPassword ? "password" : key->certificate ? "certificate" : "key";
  const unsigned methodBits = isPassword ? SSH_AUTH_METHOD_PASSWORD | SSH_AUTH_METHOD_INTERACTIVE
                                         : SSH_AUTH_METHOD_PUBLICKEY;

  int rc = isPassword ? ssh_userauth_password(session, nullptr,
                                              chars(std::get<PreparedPassword>(credential).text))
                      : ssh_userauth_publickey(session, nullptr, key->key.get());
  if (isPassword && rc == SSH_AUTH_DENIED) {
    const auto offered = static_cast<unsigned>(ssh_userauth_list(session, nullptr));
    if ((offered & SSH_AUTH_METHOD_PASSWORD) == 0 && (offered & SSH_AUTH_METHOD_INTERACTIVE) != 0) {
      rc = keyboardInteractive(session, chars(std::get<PreparedPassword>(credential).text));
    }
  }
  if (rc == SSH_AUTH_SUCCESS) return core::Done{};

  const std::string who = "account '" + account + "' on target " + where;
  if (rc == SSH_AUTH_ERROR || rc == SSH_AUTH_AGAIN) {
    return fail(ErrorCode::unavailable,
                "logging in to " + who + " failed: " + ssh_get_error(session));
  }
  const auto methods = static_cast<unsigned>(ssh_userauth_list(session, nullptr));
  if (rc == SSH_AUTH_PARTIAL) {
    return fail(ErrorCode::permission_denied,
                "target " + where + " accepted the " + what + " for account '" + account +
                    "' but requires another authentication method as well (" +
                    methodNames(methods) + "), which the broker cannot answer");
  }
  std::string message =
      "target " + where + " refused the " + what + " for account '" + account + "'";
  if ((methods & methodBits) == 0) {
    message += std::string(": it does not accept ") +
               (isPassword ? "password or keyboard-interactive" : "public key") +
               " authentication (it offers: " + methodNames(methods) + ")";
  } else if (key != nullptr && key->certificate) {
    message +=
        " (does its sshd trust the broker's CA in TrustedUserCAKeys, is the account a principal "
        "of the certificate, and is the certificate still valid?)";
  } else if (isPassword) {
    message += " (wrong password, or the account is locked)";
  }
  return fail(ErrorCode::permission_denied, message);
}

}  // namespace

void TargetSession::Closer::operator()(ssh_session session) const noexcept {
  ssh_disconnect(session);
  ssh_free(session);
}

TargetSession::TargetSession(ssh_session session, std::string target, std::string account,
                             std::string hostKeyFingerprint)
    : session_(session),
      target_(std::move(target)),
      account_(std::move(account)),
      hostKeyFingerprint_(std::move(hostKeyFingerprint)) {}

core::Result<TargetSession> connectTarget(const TargetEndpoint& ep, const TargetCredential& cred,
                                          const ConnectOptions& opt) {
  if (auto status = checkHost(ep.host); !status) return status.error();
  if (ep.port == 0) return fail(ErrorCode::invalid_argument, "target port must not be 0");
  if (ep.account.empty() || hasControlOrSpace(ep.account)) {
    return fail(ErrorCode::invalid_argument,
                "target account must be a non-empty name without spaces or control characters");
  }
  const auto where = label(ep.host, ep.port);
  auto pin = parsePin(ep, opt);
  if (!pin) return pin.error();
  auto credential = prepare(cred);
  if (!credential) return credential.error();

  auto session = newSession(ep.host, ep.port, &ep.account, pin->hostKeyAlgorithms, opt);
  if (!session) return session.error();
  if (auto status = connect(session->get(), where); !status) return status.error();

  // The host key is checked before any credential is sent: a target that is not the pinned one
  // must never see a password or a signature made for this account.
  auto presented = serverKey(session->get(), where);
  if (!presented) return presented.error();
  if (ssh_key_cmp(presented->get(), pin->key.get(), SSH_KEY_CMP_PUBLIC) != 0) {
    return fail(ErrorCode::permission_denied,
                "host key of " + where + " does not match the pinned key: expected " +
                    fingerprint(pin->key.get()) + ", got " + fingerprint(presented->get()));
  }
  if (auto status = authenticate(session->get(), where, ep.account, *credential); !status) {
    return status.error();
  }
  return TargetSession(session->release(), where, ep.account, fingerprint(presented->get()));
}

core::Result<std::string> scanHostKey(const std::string& host, std::uint16_t port,
                                      std::chrono::seconds timeout) {
  if (auto status = checkHost(host); !status) return status.error();
  if (port == 0) return fail(ErrorCode::invalid_argument, "target port must not be 0");
  ConnectOptions opt;
  opt.timeout = timeout;
  const auto where = label(host, port);
  auto session = newSession(host, port, nullptr, opt.hostKeyAlgorithms, opt);
  if (!session) return session.error();
  if (auto status = connect(session->get(), where); !status) return status.error();
  auto presented = serverKey(session->get(), where);
  if (!presented) return presented.error();
  char* raw = nullptr;
  if (ssh_pki_export_pubkey_base64(presented->get(), &raw) != SSH_OK) {
    return fail(ErrorCode::internal, "libssh could not export the host key of " + where);
  }
  CStringPtr base64(raw);
  return std::string(ssh_key_type_to_char(ssh_key_type(presented->get()))) + " " + base64.get();
}

std::ostream& operator<<(std::ostream& os, const PasswordCredential& credential) {
  return os << "PasswordCredential{password=" << credential.password << "}";
}

std::ostream& operator<<(std::ostream& os, const CertificateCredential& credential) {
  const auto line = splitKeyLine(credential.certificateLine);
  return os << "CertificateCredential{privateKey=" << credential.privateKeyText
            << ", certificate=" << (line ? line->type : std::string("?")) << "}";
}

std::ostream& operator<<(std::ostream& os, const KeyCredential& credential) {
  return os << "KeyCredential{privateKey=" << credential.privateKeyText << "}";
}

std::ostream& operator<<(std::ostream& os, const TargetCredential& credential) {
  std::visit([&os](const auto& c) { os << c; }, credential);
  return os;
}

}  // namespace conduit::ssh
