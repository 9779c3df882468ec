#include "conduit/ssh/host_key.hpp"
#include "libssh_handles.hpp"

#include <libssh/libssh.h>

#include <memory>

namespace conduit::ssh {

using core::ErrorCode;
using core::fail;

namespace {

using detail::CStringPtr;
using detail::KeyPtr;

}  // namespace

core::Result<HostKeyFiles> generateHostKey(const std::string& comment) {
  ssh_key raw = nullptr;
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &raw) != SSH_OK) {
    return fail(ErrorCode::internal, "libssh could not generate an Ed25519 key");
  }
  KeyPtr key(raw);
  char* privRaw = nullptr;
  if (ssh_pki_export_privkey_base64(key.get(), nullptr, nullptr, nullptr, &privRaw) != SSH_OK) {
    return fail(ErrorCode::internal, "libssh could not export the host key");
  }
  CStringPtr priv(privRaw);
  char* pubRaw = nullptr;
  if (ssh_pki_export_pubkey_base64(key.get(), &pubRaw) != SSH_OK) {
    return fail(ErrorCode::internal, "libssh could not export the host public key");
  }
  CStringPtr pub(pubRaw);
  HostKeyFiles files;
  files.privateKey = priv.get();
  if (files.privateKey.empty() || files.privateKey.back() != '\n') files.privateKey += '\n';
  files.publicKey = std::string("ssh-ed25519 ") + pub.get() + " " + comment + "\n";
  // The private key text now lives only in `files`; libssh's copy is freed above, and the
  // caller writes it to a 0600 file.
  return files;
}

core::Result<std::string> hostKeyFingerprint(const std::string& privateKeyText) {
  ssh_key raw = nullptr;
  if (ssh_pki_import_privkey_base64(privateKeyText.c_str(), nullptr, nullptr, nullptr, &raw) !=
      SSH_OK) {
    return fail(ErrorCode::invalid_argument, "not an OpenSSH private key");
  }
  KeyPtr key(raw);
  unsigned char* hash = nullptr;
  size_t hashLen = 0;
  if (ssh_get_publickey_hash(key.get(), SSH_PUBLICKEY_HASH_SHA256, &hash, &hashLen) != SSH_OK) {
    return fail(ErrorCode::internal, "libssh could not hash the key");
  }
  char* fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, hashLen);
  ssh_clean_pubkey_hash(&hash);
  if (fp == nullptr) return fail(ErrorCode::internal, "libssh could not format the fingerprint");
  std::string out(fp);
  ssh_string_free_char(fp);
  return out;
}

}  // namespace conduit::ssh
