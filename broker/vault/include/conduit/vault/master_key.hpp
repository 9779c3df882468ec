#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/vault/secret.hpp"

namespace conduit::vault {

/// 32 fresh random bytes.
MasterKey generateMasterKey();

/// Reads a 32-byte key file. Refuses a file that group or others can read or write
/// (`permission_denied`, naming the mode), a wrong size (`corrupt`), a missing file (`not_found`).
core::Result<MasterKey> loadMasterKeyFile(const std::filesystem::path& path);

/// Parameters of a passphrase-derived master key, stored beside the secrets (not secret).
struct PassphraseKdf {
  std::vector<unsigned char> salt;  // crypto_pwhash_SALTBYTES
  unsigned long long opsLimit = 0;
  std::size_t memLimit = 0;
};

/// New parameters: a random salt and libsodium's MODERATE limits (256 MiB, about 0.7 s here):
/// unsealing happens once per start, so it can afford a cost that slows guessing a lot.
PassphraseKdf newPassphraseKdf();

/// argon2id(passphrase, kdf) -> 32 bytes. Fails with `invalid_argument` for an empty passphrase.
core::Result<MasterKey> deriveMasterKey(std::string_view passphrase, const PassphraseKdf& kdf);

}  // namespace conduit::vault
