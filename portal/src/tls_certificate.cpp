#include "conduit/portal/tls_certificate.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

namespace conduit::portal {

using core::ErrorCode;
using core::fail;

namespace {

template <auto Fn>
struct Deleter {
  template <typename T>
  void operator()(T* p) const noexcept {
    Fn(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

std::string bioText(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  return {data, static_cast<std::size_t>(len)};
}

bool addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  return ext && X509_add_ext(cert, ext.get(), -1) == 1;
}

bool looksLikeIp(const std::string& ip) {
  ASN1_OCTET_STRING* parsed = a2i_IPADDRESS(ip.c_str());
  if (parsed == nullptr) return false;
  ASN1_OCTET_STRING_free(parsed);
  return true;
}

}  // namespace

core::Result<PemCertificate> makeSelfSignedCertificate(const std::string& commonName,
                                                       const std::vector<std::string>& dnsNames,
                                                       const std::vector<std::string>& ipAddresses,
                                                       int days) {
  std::string san;
  for (const auto& dns : dnsNames) san += (san.empty() ? "" : ",") + ("DNS:" + dns);
  for (const auto& ip : ipAddresses) {
    if (!looksLikeIp(ip)) return fail(ErrorCode::invalid_argument, "not an IP address: " + ip);
    san += (san.empty() ? "" : ",") + ("IP:" + ip);
  }

  PkeyPtr key(EVP_EC_gen("P-256"));
  X509Ptr cert(X509_new());
  if (!key || !cert) return fail(ErrorCode::internal, "OpenSSL could not create a key");

  // A random 159-bit serial, as CAs do, so re-created certificates never collide in browsers.
  unsigned char serialBytes[20];
  if (RAND_bytes(serialBytes, sizeof serialBytes) != 1) {
    return fail(ErrorCode::internal, "OpenSSL has no randomness");
  }
  serialBytes[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BN_free>> serial(
      BN_bin2bn(serialBytes, sizeof serialBytes, nullptr));
  const bool built =
      serial && X509_set_version(cert.get(), 2) == 1 &&
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) != nullptr &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -300) != nullptr &&
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), days, 0, nullptr) != nullptr &&
      X509_set_pubkey(cert.get(), key.get()) == 1;
  if (!built) return fail(ErrorCode::internal, "OpenSSL could not fill the certificate");

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Conduit"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(commonName.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);

  const bool extended = addExtension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") &&
                        addExtension(cert.get(), NID_key_usage, "critical,digitalSignature") &&
                        addExtension(cert.get(), NID_ext_key_usage, "serverAuth") &&
                        (san.empty() || addExtension(cert.get(), NID_subject_alt_name, san));
  if (!extended) return fail(ErrorCode::internal, "OpenSSL could not add extensions");
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) {
    return fail(ErrorCode::internal, "OpenSSL could not sign the certificate");
  }

  BioPtr certBio(BIO_new(BIO_s_mem()));
  BioPtr keyBio(BIO_new(BIO_s_secmem()));
  if (!certBio || !keyBio || PEM_write_bio_X509(certBio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1) {
    return fail(ErrorCode::internal, "OpenSSL could not write PEM");
  }
  return PemCertificate{bioText(certBio.get()), bioText(keyBio.get())};
}

}  // namespace conduit::portal
