#pragma once

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <memory>

#include "conduit/core/result.hpp"

namespace conduit::portal {

/// A server TLS context: TLS 1.2 minimum, forward-secret AEAD ciphers only, no compression or
/// renegotiation. Fails with `invalid_argument` naming the file that cannot be loaded.
core::Result<std::shared_ptr<boost::asio::ssl::context>> makeServerTlsContext(
    const std::filesystem::path& certificateFile, const std::filesystem::path& privateKeyFile);

}  // namespace conduit::portal
