#include "support/http_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace conduit::test {

namespace {

// A request larger than this is a test bug; stop reading instead of growing without bound.
constexpr std::size_t kMaxRequestBytes = 1024 * 1024;

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t");
  const auto e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/// Reads more bytes into buf; false on close, error or 5 s of silence.
bool readMore(int fd, std::string& buf) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 5000) <= 0) return false;
  char chunk[4096];
  const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) return false;
  buf.append(chunk, static_cast<std::size_t>(n));
  return buf.size() <= kMaxRequestBytes;
}

}  // namespace

std::string HttpReceiver::Request::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

HttpReceiver::HttpReceiver(Responder responder) : responder_(std::move(responder)) {
  if (!responder_) responder_ = [](const Request&, std::size_t) { return 200; };
  listenFd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listenFd_ < 0) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listenFd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listenFd_, 16) != 0 ||
      ::getsockname(listenFd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listenFd_);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HttpReceiver::~HttpReceiver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  thread_.join();
  ::close(listenFd_);
}

std::string HttpReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<HttpReceiver::Request> HttpReceiver::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool HttpReceiver::waitFor(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  return arrived_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
}

void HttpReceiver::serve() {
  while (true) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
    pollfd p{listenFd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    const int fd = ::accept4(listenFd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    handle(fd);
    ::close(fd);
  }
}

void HttpReceiver::handle(int fd) {
  std::string buf;
  std::size_t headerEnd = std::string::npos;
  while ((headerEnd = buf.find("\r\n\r\n")) == std::string::npos) {
    if (!readMore(fd, buf)) return;
  }
  Request r;
  std::size_t lineStart = 0;
  bool first = true;
  while (lineStart < headerEnd) {
    std::size_t lineEnd = buf.find("\r\n", lineStart);
    const std::string line = buf.substr(lineStart, lineEnd - lineStart);
    lineStart = lineEnd + 2;
    if (first) {
      const auto sp1 = line.find(' ');
      const auto sp2 = line.find(' ', sp1 + 1);
      r.method = line.substr(0, sp1);
      r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      first = false;
      continue;
    }
    const auto colon = line.find(':');
    if (colon != std::string::npos) {
      r.headers[lower(line.substr(0, colon))] = trim(line.substr(colon + 1));
    }
  }
  const std::size_t length =
      r.headers.contains("content-length") ? std::stoul(r.headers["content-length"]) : 0;
  const std::size_t bodyStart = headerEnd + 4;
  while (buf.size() < bodyStart + length) {
    if (!readMore(fd, buf)) return;
  }
  r.body = buf.substr(bodyStart, length);

  std::size_t index = 0;
  {
    std::lock_guard lock(mutex_);
    index = requests_.size();
  }
  const int status = responder_(r, index);
  const std::string reply = "HTTP/1.1 " + std::to_string(status) +
                            (status < 300 ? " OK" : " Error") +
                            "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
  (void)::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
  {
    std::lock_guard lock(mutex_);
    requests_.push_back(std::move(r));
  }
  arrived_.notify_all();
}

}  // namespace conduit::test
