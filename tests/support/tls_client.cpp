#include "support/tls_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace conduit::test {

struct TlsClient::State {
  SSL_CTX* ctx = nullptr;
  SSL* ssl = nullptr;
  int fd = -1;
  std::string pending;
  ~State() {
    if (ssl) SSL_free(ssl);
    if (ctx) SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
};

TlsClient::TlsClient() : s_(std::make_unique<State>()) {
  // A server that closes on us must fail an assertion, not kill the test with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
}
TlsClient::~TlsClient() = default;

bool TlsClient::connect(std::uint16_t port, int minVersion, int maxVersion) {
  s_->ctx = SSL_CTX_new(TLS_client_method());
  // Security level 0 lets this client offer old protocols, so that a refusal we observe is the
  // server's, not our own OpenSSL's.
  SSL_CTX_set_security_level(s_->ctx, 0);
  if (minVersion) SSL_CTX_set_min_proto_version(s_->ctx, minVersion);
  if (maxVersion) SSL_CTX_set_max_proto_version(s_->ctx, maxVersion);
  s_->fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s_->fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    error_ = "tcp connect failed";
    return false;
  }
  s_->ssl = SSL_new(s_->ctx);
  SSL_set_fd(s_->ssl, s_->fd);
  SSL_set_tlsext_host_name(s_->ssl, "localhost");
  if (SSL_connect(s_->ssl) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    error_ = buf;
    return false;
  }
  return true;
}

std::string TlsClient::protocol() const {
  return s_->ssl ? SSL_get_version(s_->ssl) : "";
}

bool TlsClient::send(const std::string& bytes) {
  return SSL_write(s_->ssl, bytes.data(), static_cast<int>(bytes.size())) ==
         static_cast<int>(bytes.size());
}

std::string TlsClient::readResponse() {
  auto& buf = s_->pending;
  char chunk[4096];
  auto fill = [&]() {
    const int n = SSL_read(s_->ssl, chunk, sizeof chunk);
    if (n <= 0) return false;
    buf.append(chunk, static_cast<std::size_t>(n));
    return true;
  };
  std::size_t headerEnd;
  while ((headerEnd = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!fill()) return {};
  }
  std::size_t length = 0;
  std::string headers = buf.substr(0, headerEnd);
  for (auto& c : headers) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (auto p = headers.find("content-length:"); p != std::string::npos) {
    length = std::strtoul(headers.c_str() + p + 15, nullptr, 10);
  }
  while (buf.size() < headerEnd + 4 + length) {
    if (!fill()) return {};
  }
  std::string response = buf.substr(0, headerEnd + 4 + length);
  buf.erase(0, headerEnd + 4 + length);
  return response;
}

std::string httpsGet(std::uint16_t port, const std::string& path) {
  TlsClient c;
  if (!c.connect(port)) return {};
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"))
    return {};
  return c.readResponse();
}

int statusOf(const std::string& response) {
  if (response.size() < 12 || response.rfind("HTTP/1.1 ", 0) != 0) return 0;
  return std::atoi(response.c_str() + 9);
}

std::string bodyOf(const std::string& response) {
  const auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? std::string() : response.substr(p + 4);
}

}  // namespace conduit::test
