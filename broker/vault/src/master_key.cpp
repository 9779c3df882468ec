#include "conduit/vault/master_key.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "conduit/vault/envelope.hpp"

namespace conduit::vault {

using core::ErrorCode;
using core::fail;

MasterKey generateMasterKey() {
  SecretBuffer b = SecretBuffer::allocate(kMasterKeyBytes);
  randombytes_buf(b.data(), b.size());
  return MasterKey(std::move(b));
}

core::Result<MasterKey> loadMasterKeyFile(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    return fail(errno == ENOENT ? ErrorCode::not_found : ErrorCode::unavailable,
                "cannot open master key file " + path.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorCode::unavailable, "master key file " + path.string() + " is not a file");
  }
  if ((st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return fail(ErrorCode::permission_denied, "master key file " + path.string() + " has mode " +
                                                  mode + "; it must be 0600 (chmod 600 " +
                                                  path.string() + ")");
  }
  if (st.st_size != static_cast<off_t>(kMasterKeyBytes)) {
    ::close(fd);
    return fail(ErrorCode::corrupt, "master key file " + path.string() + " must hold exactly " +
                                        std::to_string(kMasterKeyBytes) + " bytes");
  }
  SecretBuffer b = SecretBuffer::allocate(kMasterKeyBytes);
  std::size_t got = 0;
  while (got < kMasterKeyBytes) {
    const ssize_t n = ::read(fd, b.data() + got, kMasterKeyBytes - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (got != kMasterKeyBytes) {
    return fail(ErrorCode::unavailable, "cannot read master key file " + path.string());
  }
  return MasterKey(std::move(b));
}

PassphraseKdf newPassphraseKdf() {
  PassphraseKdf k;
  k.salt.resize(crypto_pwhash_SALTBYTES);
  randombytes_buf(k.salt.data(), k.salt.size());
  k.opsLimit = crypto_pwhash_OPSLIMIT_MODERATE;
  k.memLimit = crypto_pwhash_MEMLIMIT_MODERATE;
  return k;
}

core::Result<MasterKey> deriveMasterKey(std::string_view passphrase, const PassphraseKdf& kdf) {
  if (passphrase.empty()) return fail(ErrorCode::invalid_argument, "the passphrase is empty");
  if (kdf.salt.size() != crypto_pwhash_SALTBYTES) {
    return fail(ErrorCode::corrupt, "the stored passphrase salt has a bad size");
  }
  SecretBuffer b = SecretBuffer::allocate(kMasterKeyBytes);
  if (crypto_pwhash(b.data(), b.size(), passphrase.data(), passphrase.size(), kdf.salt.data(),
                    kdf.opsLimit, kdf.memLimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return fail(ErrorCode::unavailable, "not enough memory to derive the master key");
  }
  return MasterKey(std::move(b));
}

}  // namespace conduit::vault
