#pragma once

#include <string>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::portal {

/// A certificate and its private key, both PEM.
struct PemCertificate {
  std::string certificate;
  std::string privateKey;  // the caller writes it 0600 and wipes this string
};

/// Makes a self-signed ECDSA P-256 certificate (SHA-256) valid for `days`, with the given DNS
/// names and IP addresses as subjectAltName. Fails with `invalid_argument` for a bad IP text.
core::Result<PemCertificate> makeSelfSignedCertificate(const std::string& commonName,
                                                       const std::vector<std::string>& dnsNames,
                                                       const std::vector<std::string>& ipAddresses,
                                                       int days);

}  // namespace conduit::portal
