#pragma once

// Shared by the tunnel tests (`ssh -L` in tunnel_test.cpp, the portal's WebSocket tunnel in
// web_tunnel_test.cpp): the tunnels' policy rule, a TCP echo server and socket helpers, grants
// and the audit trail through the CLI, the recording's pcap decoded by tshark, and signing in to
// the portal over HTTPS.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "conduit/core/totp.hpp"
#include "ssh/integration/plant.hpp"
#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/tls_client.hpp"

namespace conduit::test {

/// The rule for tunnels to modbus and tcp endpoints for vendors (ssh.port_forwarding: the same
/// switch for `ssh -L` and the portal's tunnel), recorded. `protocolTable` goes into the rule
/// (e.g. "[rule.modbus]\n..."); `protocols` is the TOML list's body.
inline std::string tunnelPolicy(const std::string& protocolTable = "",
                                const std::string& protocols = R"("modbus", "tcp")") {
  return R"(
[[rule]]
id = "vendor-tunnels"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = [)" +
         protocols + R"(]
[rule.limits]
max_duration = "4h"
warning_period = "1m"
approvals = 1
recording = "required"
mfa = "required"
[rule.ssh]
port_forwarding = true
)" + protocolTable;
}

/// A TCP echo server on 127.0.0.1 and a free port: one thread per connection, echoes until
/// the client half-closes, then closes its side.
class EchoServer {
 public:
  EchoServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(::listen(fd_, 16) == 0);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { loop(); });
  }
  ~EchoServer() {
    stopping_ = true;
    thread_.join();
    {
      std::lock_guard lock(mutex_);
      for (int c : clients_) ::shutdown(c, SHUT_RDWR);
    }
    for (auto& w : workers_) w.join();
    for (int c : clients_) ::close(c);  // only now: a worker may still use its descriptor
    ::close(fd_);
  }
  EchoServer(const EchoServer&) = delete;
  EchoServer& operator=(const EchoServer&) = delete;

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  void loop() {
    while (!stopping_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      ++accepted_;
      std::lock_guard lock(mutex_);
      clients_.push_back(c);
      workers_.emplace_back([c] {
        std::vector<char> buf(65536);
        for (;;) {
          const auto n = ::recv(c, buf.data(), buf.size(), 0);
          if (n <= 0) break;
          for (ssize_t sent = 0; sent < n;) {
            const auto w =
                ::send(c, buf.data() + sent, static_cast<std::size_t>(n - sent), MSG_NOSIGNAL);
            if (w <= 0) return;
            sent += w;
          }
        }
        ::shutdown(c, SHUT_WR);
      });
    }
  }

  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mutex_;
  std::vector<int> clients_;
  std::vector<std::thread> workers_;
  std::thread thread_;
};

/// A connection to 127.0.0.1:port (a tunnel's local listener); -1 if none within 10 s.
inline int connectLocal(std::uint16_t port) {
  using namespace std::chrono_literals;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      timeval tv{20, 0};  // no test waits longer for an answer
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      return fd;
    }
    ::close(fd);
    std::this_thread::sleep_for(100ms);
  }
  return -1;
}

/// `ssh -v -N -L ...` through the gateway (key + TOTP), running until killed; `forwards` are
/// the -L options, `login` e.g. "alice+plc-17".
inline std::unique_ptr<Process> tunnelSsh(Plant& p, const std::string& forwards,
                                          const std::string& login) {
  using namespace std::chrono_literals;
  p.freshCode();
  const std::string cmd =
      "SSH_ASKPASS=" + (p.dir / "askpass.sh").string() +
      " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 exec ssh -v -N -p " + std::to_string(p.sshPort) +
      " -i " + (p.dir / "vendor_key").string() +
      " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"
      " -o PreferredAuthentications=publickey,keyboard-interactive -o ConnectTimeout=10"
      " -o ExitOnForwardFailure=yes " +
      forwards + " " + login + "@127.0.0.1 </dev/null";
  auto ssh = std::make_unique<Process>(std::vector<std::string>{"/bin/sh", "-c", cmd});
  const auto listening = ssh->waitForLine("Local forwarding listening", 20s);
  INFO(ssh->errors());
  INFO(p.broker->errors());
  REQUIRE(listening.has_value());
  return ssh;
}

/// Ends the `ssh -L` session `ssh` and returns the id of its recording once it is sealed (the
/// plant's only recording).
inline std::string endTunnelSession(Plant& p, Process& ssh) {
  using namespace std::chrono_literals;
  ssh.signal(SIGTERM);
  ssh.wait(5s);
  REQUIRE(p.broker->waitForLine("event=session_ended", 10s).has_value());
  std::this_thread::sleep_for(300ms);
  auto [rcList, list] = p.conduit({"recording", "--data-dir", p.data, "list"});
  REQUIRE(rcList == 0);
  return list.substr(0, list.find(' '));
}

/// Everything until EOF (or the receive timeout).
/// Rounds of connect, send "ping-N", read its echo, close without a half-close (as libmodbus
/// does) through the local forward `port`; returns the rounds without a whole echo (" 3 7").
inline std::string reconnectRounds(std::uint16_t port, int rounds) {
  std::string failed;
  for (int i = 0; i < rounds; ++i) {
    const int fd = connectLocal(port);
    REQUIRE(fd >= 0);
    const std::string ping = "ping-" + std::to_string(i);
    ::send(fd, ping.data(), ping.size(), MSG_NOSIGNAL);
    std::string got;
    char buf[64];
    while (got.size() < ping.size()) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (got != ping) failed += " " + std::to_string(i);
  }
  return failed;
}

inline std::string readAll(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    const auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
  }
}

/// `size` pseudo-random bytes, the same for the same `seed`.
inline std::string randomBytes(std::size_t size, std::uint32_t seed) {
  std::string out(size, '\0');
  std::mt19937 rng(seed);
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

/// Sends `payload` on `fd` from a second thread, then half-closes, while this thread reads
/// everything that comes back until EOF: both directions at once, as an echo needs once the
/// payload outgrows the buffers on the way. Leaves `fd` open.
inline std::string echoThrough(int fd, const std::string& payload) {
  std::thread writer([&] {
    for (std::size_t sent = 0; sent < payload.size();) {
      const auto n = ::send(fd, payload.data() + sent, payload.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) break;
      sent += static_cast<std::size_t>(n);
    }
    ::shutdown(fd, SHUT_WR);  // EOF travels through the tunnel; the echo server then closes
  });
  std::string back = readAll(fd);
  writer.join();
  return back;
}

inline std::string sha256(const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<char*>(digest), len);
}

/// Reads holding registers 0..1 of unit 1 with a hand-made Modbus/TCP request on `fd`: the demo
/// PLC answers 1000 for register 0, so the connection is live end to end.
inline void checkModbusAnswers(int fd) {
  const unsigned char request[] = {0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2};
  ::send(fd, request, sizeof request, MSG_NOSIGNAL);
  unsigned char response[64];
  REQUIRE(::recv(fd, response, sizeof response, 0) == 13);
  CHECK(((response[9] << 8) | response[10]) == 1000);
}

inline std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

inline std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  for (std::size_t at = 0; at < text.size();) {
    const auto end = std::min(text.find('\n', at), text.size());
    out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

/// The lines of `text` that contain any of `needles`, one a line: for a failure's report.
inline std::string linesWith(const std::string& text,
                             std::initializer_list<std::string_view> needles) {
  std::string out;
  for (const auto& line : lines(text)) {
    if (std::any_of(needles.begin(), needles.end(),
                    [&](std::string_view n) { return line.find(n) != std::string::npos; })) {
      out += line + "\n";
    }
  }
  return out;
}

/// A file operation as the recording's jsonl export decodes it (its "file" member).
struct RecordedFile {
  std::string kind;       // the record's kind: file_transfer
  std::string direction;  // to_target (upload), to_client (download), none
  std::string operation, path, sha256, detail;
  std::int64_t size = 0;
};

/// Exports recording `id` as jsonl to `p.dir / file` and returns its file operations in order.
inline std::vector<RecordedFile> recordedFiles(Plant& p, const std::string& id,
                                               const std::string& file) {
  const std::string jsonl = (p.dir / file).string();
  auto [rc, out] = p.conduit(
      {"recording", "--data-dir", p.data, "export", id, "--format", "jsonl", "--output", jsonl});
  INFO(out);
  REQUIRE(rc == 0);
  std::vector<RecordedFile> files;
  for (const auto& line : lines(readText(jsonl))) {
    if (line.empty()) continue;
    const auto record = boost::json::parse(line).as_object();
    const auto* member = record.if_contains("file");
    if (member == nullptr) continue;
    const auto& f = member->as_object();
    files.push_back({std::string(record.at("kind").as_string()),
                     std::string(record.at("direction").as_string()),
                     std::string(f.at("operation").as_string()),
                     std::string(f.at("path").as_string()), std::string(f.at("sha256").as_string()),
                     std::string(f.at("detail").as_string()), f.at("size").as_int64()});
  }
  return files;
}

/// alice asks for `protocols` on `asset` for an hour; erin approves. Under the test's policy
/// (--config), not the data directory's default one.
inline void grantProtocols(Plant& p, const std::string& asset,
                           const std::vector<std::string>& protocols) {
  const std::string config = (p.dir / "conduit.toml").string();
  std::vector<std::string> args{"admin", "--config", config,    "--as",
                                "alice", "request",  "--asset", asset};
  for (const auto& proto : protocols) {
    args.push_back("--protocol");
    args.push_back(proto);
  }
  args.insert(args.end(), {"--duration", "1h", "--reason", "tunnel test"});
  auto [rc, out] = p.conduit(args);
  INFO(out);
  REQUIRE(rc == 0);
  const auto id = out.substr(8, out.find(' ', 8) - 8);
  auto [rcApprove, approved] =
      p.conduit({"admin", "--config", config, "--as", "erin", "approve", id, "--comment", "ok"});
  INFO(approved);
  REQUIRE(rcApprove == 0);
}

/// The audit trail as JSON lines, once it contains `needle` (or after 10 s).
inline std::string auditOnce(Plant& p, const std::string& needle) {
  using namespace std::chrono_literals;
  std::string trail;
  for (int i = 0; i < 50; ++i) {
    trail = p.conduit({"audit", "--data-dir", p.data, "export"}).second;
    if (trail.find(needle) != std::string::npos) break;
    std::this_thread::sleep_for(200ms);
  }
  return trail;
}

/// The recording of session `id` exported as pcap to `p.dir / file`, decoded by tshark with
/// `plcPort` as the Modbus/TCP server port (so it tells queries from responses and decodes the
/// registers a response carries); {tshark's exit code, its -V output}.
inline std::pair<int, std::string> decodeModbusPcap(Plant& p, const std::string& id,
                                                    const std::string& file,
                                                    std::uint16_t plcPort) {
  const std::string pcap = (p.dir / file).string();
  auto [rcExport, exported] = p.conduit(
      {"recording", "--data-dir", p.data, "export", id, "--format", "pcap", "--output", pcap});
  INFO(exported);
  REQUIRE(rcExport == 0);
  return runCommand({"tshark", "-r", pcap, "-d", "tcp.port==" + std::to_string(plcPort) + ",mbtcp",
                     "-o", "mbtcp.tcp.port:" + std::to_string(plcPort), "-V"});
}

// ---- the portal over HTTPS ---------------------------------------------------------------

struct HttpAnswer {
  int status = 0;
  std::string body;
  std::string raw;
};

/// One request on a fresh TLS connection to the portal.
inline HttpAnswer call(std::uint16_t port, const std::string& method, const std::string& path,
                       const std::vector<std::string>& headers, const std::string& body = "") {
  TlsClient tls;
  REQUIRE(tls.connect(port));
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                    "\r\nConnection: close\r\n";
  for (const auto& h : headers) req += h + "\r\n";
  if (!body.empty() || method == "POST") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n" + body;
  REQUIRE(tls.send(req));
  HttpAnswer a;
  a.raw = tls.readResponse();
  a.status = statusOf(a.raw);
  a.body = bodyOf(a.raw);
  return a;
}

/// The value of the session cookie a response sets.
inline std::string sessionCookie(const std::string& raw) {
  const std::string name = "__Host-conduit-session=";
  const auto at = raw.find(name);
  if (at == std::string::npos) return "";
  const auto start = at + name.size();
  return raw.substr(start, raw.find(';', start) - start);
}

inline std::string jsonString(const std::string& body, const char* key) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object()) return "";
  const auto* s = v.as_object().if_contains(key);
  return s != nullptr && s->is_string() ? std::string(s->as_string()) : "";
}

/// A signed-in portal session.
struct PortalLogin {
  std::string cookie;
  std::string csrf;

  /// The headers a request of this session carries.
  std::vector<std::string> headers() const {
    return {"Cookie: __Host-conduit-session=" + cookie, "X-CSRF-Token: " + csrf};
  }
};

/// Signs in with password and TOTP (computed from the seed), as the portal's login page does.
inline PortalLogin signIn(std::uint16_t port, const std::string& user,
                          const std::vector<unsigned char>& seed) {
  const auto first = call(port, "POST", "/api/v1/login", {},
                          R"({"username":")" + user + R"(","password":"vendor-password-1"})");
  INFO(first.raw);
  REQUIRE(first.status == 200);
  REQUIRE(jsonString(first.body, "next") == "totp");
  const PortalLogin pre{sessionCookie(first.raw), jsonString(first.body, "csrf")};
  const auto now =
      std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  const auto second = call(port, "POST", "/api/v1/login/totp", pre.headers(),
                           R"({"code":")" + core::totpCode(seed, core::totpStep(now)) + R"("})");
  INFO(second.raw);
  REQUIRE(second.status == 200);
  return {sessionCookie(second.raw), jsonString(second.body, "csrf")};
}

/// A TOTP seed of `user`'s own (alice has hers from the plant), for signing in to the portal.
inline std::vector<unsigned char> enrolTotp(Plant& p, const std::string& user) {
  const std::string uri = p.admin("", {"user", "enrol-totp", user});
  const auto at = uri.find("secret=") + 7;
  return *core::base32Decode(uri.substr(at, uri.find('&', at) - at));
}

/// `conduit serve`'s portal port, from its log.
inline std::uint16_t portalPort(Plant& p) {
  const auto line = p.broker->waitForLine("event=portal_listening", std::chrono::seconds(20));
  INFO(p.broker->errors());
  REQUIRE(line.has_value());
  return static_cast<std::uint16_t>(std::stoi(line->substr(line->find(" port=") + 6)));
}

}  // namespace conduit::test
