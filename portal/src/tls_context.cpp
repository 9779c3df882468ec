#include "tls_context.hpp"

#include <openssl/ssl.h>

namespace conduit::portal {

using core::ErrorCode;
using core::fail;
namespace ssl = boost::asio::ssl;

core::Result<std::shared_ptr<ssl::context>> makeServerTlsContext(
    const std::filesystem::path& certificateFile, const std::filesystem::path& privateKeyFile) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::no_compression | ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  // TLS 1.2 is the floor (design.md, non-negotiable 5): older versions have known weaknesses
  // and no auditor accepts them.
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // TLS 1.2 suites: ECDHE (forward secrecy) with AEAD only. TLS 1.3 suites are all acceptable.
  if (SSL_CTX_set_cipher_list(native,
                              "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                              "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                              "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305") != 1) {
    return fail(ErrorCode::internal, "OpenSSL rejected the cipher list");
  }
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(certificateFile.string(), ec);
  if (ec) {
    return fail(ErrorCode::invalid_argument,
                "cannot load TLS certificate " + certificateFile.string() + ": " + ec.message());
  }
  ctx->use_private_key_file(privateKeyFile.string(), ssl::context::pem, ec);
  if (ec) {
    return fail(ErrorCode::invalid_argument,
                "cannot load TLS private key " + privateKeyFile.string() + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail(ErrorCode::invalid_argument, "TLS private key " + privateKeyFile.string() +
                                                 " does not match certificate " +
                                                 certificateFile.string());
  }
  return ctx;
}

}  // namespace conduit::portal
