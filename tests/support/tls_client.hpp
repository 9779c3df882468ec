#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace conduit::test {

/// A minimal blocking TLS client for tests (certificate not verified: tests use self-signed
/// certificates they created). Protocol versions are OpenSSL constants (TLS1_2_VERSION, ...).
class TlsClient {
 public:
  TlsClient();
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  /// Connects to 127.0.0.1:port and handshakes; false (with lastError()) if either fails.
  bool connect(std::uint16_t port, int minVersion = 0, int maxVersion = 0);
  /// Negotiated protocol name, e.g. "TLSv1.3".
  std::string protocol() const;
  bool send(const std::string& bytes);
  /// Reads one HTTP/1.1 response (headers and Content-Length body); empty on EOF or error.
  std::string readResponse();
  const std::string& lastError() const { return error_; }

 private:
  struct State;
  std::unique_ptr<State> s_;
  std::string error_;
};

/// One GET over a fresh TLS connection; returns the raw response ("" on failure).
std::string httpsGet(std::uint16_t port, const std::string& path);

/// Status code from a raw HTTP response ("HTTP/1.1 200 OK..." -> 200), 0 if none.
int statusOf(const std::string& response);
/// The body of a raw HTTP response.
std::string bodyOf(const std::string& response);

}  // namespace conduit::test
