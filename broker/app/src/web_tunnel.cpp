// The relay of one WebSocket tunnel: a TCP socket to the endpoint on one side, the portal's
// WebSocket (through portal::TunnelIo and the TunnelSession calls) on the other, one thread.
//
// Why not broker/ssh/src/tunnel.cpp: that relay's vendor side is a libssh channel (its window,
// its callbacks, the session's ssh_event loop); here the vendor side is a WebSocket with
// credit-based flow control and the relay owns its thread. What both share (the inspector's
// verdicts, the recording as tunnel bytes, the socket's bounded buffers) is about a hundred
// lines; moving it into broker/tunnel would mean reworking the `ssh -L` relay, so it is repeated
// here, written to the same rules. The recording's 4-tuple is one function for both
// (recorder::socketTuple).
//
// Flow control, both ways bounded (docs/api.md "TCP tunnel"):
// - endpoint -> client: at most portal::kTunnelWindowBytes sent and not yet acknowledged by
//   the client; the socket is read only while that window and toClient_ have room, so the
//   portal's outbox never holds more than a window and a PLC's answers wait in its own socket.
// - client -> endpoint: the client may send at most a window the broker has not yet taken;
//   bytes are taken (and credited back) only while toTarget_ has room. A client that sends
//   beyond its window is cut off, so what it can make the broker hold is bounded.
#include "web_tunnel.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "conduit/recorder/record.hpp"
#include "conduit/recorder/socket_tuple.hpp"
#include "conduit/recorder/writer.hpp"

namespace conduit::app {

using core::ErrorCode;
using core::fail;

namespace {

using Clock = std::chrono::steady_clock;

// 1 MiB per direction, as in the `ssh -L` relay: keeps a fast link busy while the other side is
// slow, and bounds what a side that stops reading can make the broker hold.
constexpr std::size_t kMaxPending = std::size_t{1024} * 1024;
// One binary message to the client: small enough to interleave with acknowledgements, large
// enough that bulk transfers are not message-bound.
constexpr std::size_t kMaxMessage = std::size_t{64} * 1024;
// Stop reading either side while the recording's queue holds more than this (a quarter of the
// writer's 64 MiB limit, which would fail the recording): the disk sets the pace.
constexpr std::size_t kRecordingHighWater = std::size_t{16} << 20;
// After an inspector asks to close, what is already queued (e.g. its refusal reply) gets this
// long to be delivered.
constexpr auto kCloseDrain = std::chrono::seconds(2);
// 1 s, as for `ssh -L`: requests in flight get this long to finish when access ends, and the
// end (kill, revocation, window end) still takes effect within about a second.
constexpr auto kEndDrain = std::chrono::seconds(1);
// Far beyond any tunnel's bytes; acknowledgement sums are capped here so they cannot wrap.
constexpr std::uint64_t kMaxSum = std::uint64_t{1} << 62;
// Input and close requests wake the loop at once (eventfd), socket data too; this bounds only
// how late the once-a-second access re-check and inspector tick run.
constexpr int kPollMs = 100;
// Recording channels: 1 is the tunnel connection, 0 carries notices (as in the other relays).
constexpr std::uint32_t kTunnelChannel = 1;
constexpr std::uint32_t kNoticeChannel = 0;

std::string errnoText(int e) {
  return std::error_code(e, std::generic_category()).message();
}

std::span<const unsigned char> bytesOf(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

struct Connected {
  int fd = -1;
  sockaddr_storage peer{};
};

/// A connected, non-blocking TCP socket to the endpoint's configured address (never one the
/// vendor named), within `timeout`.
core::Result<Connected> connectEndpoint(const ssh::TunnelTarget& target,
                                        std::chrono::seconds timeout) {
  const std::string where = target.asset + ":" + std::to_string(target.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // Endpoint hosts are normally addresses (no lookup); a configured name is resolved here.
  if (::getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &found) !=
          0 ||
      found == nullptr) {
    return fail(ErrorCode::unavailable, "cannot resolve the endpoint of " + where);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  Connected c;
  c.fd = ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  found->ai_protocol);
  if (c.fd < 0) return fail(ErrorCode::io, "cannot create a socket: " + errnoText(errno));
  auto failed = [&](const std::string& why) -> core::Error {
    ::close(c.fd);
    return core::Error{ErrorCode::unavailable, "cannot connect to " + where + ": " + why};
  };
  // Industrial protocols are small request/response exchanges: no Nagle delay.
  const int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(c.fd, found->ai_addr, found->ai_addrlen) != 0) {
    if (errno != EINPROGRESS) return failed(errnoText(errno));
    pollfd p{c.fd, POLLOUT, 0};
    int rc = 0;
    do {
      rc = ::poll(&p, 1, static_cast<int>(timeout.count() * 1000));
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) return failed("no answer within " + std::to_string(timeout.count()) + " s");
    int error = 0;
    socklen_t len = sizeof error;
    if (rc < 0 || ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
    if (error != 0) return failed(errnoText(error));
  }
  std::memcpy(&c.peer, found->ai_addr, std::min<std::size_t>(found->ai_addrlen, sizeof c.peer));
  return c;
}

/// "wt-<unix time>-<counter>", like the gateway's "ssh-..." and the terminal's "web-..." ids.
std::string makeSessionId(std::uint64_t counter) {
  return "wt-" + std::to_string(::time(nullptr)) + "-" + std::to_string(counter);
}

class WebTunnel final : public portal::TunnelSession {
 public:
  WebTunnel(ssh::GatewayBackend& backend, WebTunnelOptions options, ssh::TunnelRequest request,
            ssh::TunnelTarget target, Connected connected,
            std::unique_ptr<recorder::RecordingWriter> recording, portal::TunnelIo io)
      : backend_(backend),
        options_(options),
        request_(std::move(request)),
        target_(std::move(target)),
        allow_(target_.allow),
        fd_(connected.fd),
        tuple_(recorder::socketTuple(request_.originator,
                                     static_cast<std::uint16_t>(request_.originatorPort & 0xffff),
                                     connected.peer)),
        recording_(std::move(recording)),
        io_(std::move(io)) {}

  ~WebTunnel() override {
    close("the tunnel was closed");
    if (!thread_.joinable()) {
      if (fd_ >= 0) ::close(fd_);
    } else if (thread_.get_id() != std::this_thread::get_id()) {
      thread_.join();
    } else {
      // Destroyed from io.closed on its own thread: nothing of this object is used after it.
      thread_.detach();
    }
    if (wake_ >= 0) ::close(wake_);
  }

  WebTunnel(const WebTunnel&) = delete;
  WebTunnel& operator=(const WebTunnel&) = delete;

  /// Reports the session started and hands it to its thread; on failure ends it (audited).
  core::Status start() {
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_ < 0) {
      const std::string why = "cannot create an eventfd: " + errnoText(errno);
      abandon(why);
      return fail(ErrorCode::io, why);
    }
    backend_.sessionStarted(request_.sessionId, request_.user, target_.asset, request_.source,
                            allow_);
    spdlog::info("event=web_tunnel_started session={} user={} tunnel=\"{}\" source={}",
                 request_.sessionId, request_.user, describe(), request_.source);
    try {
      thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "web-tunnel");  // for top -H, perf and gdb
        run();
      });
    } catch (const std::system_error& e) {
      finish(std::string("cannot start a thread: ") + e.what(), false);
      return fail(ErrorCode::unavailable, "the broker cannot start another tunnel now");
    }
    return core::Done{};
  }

  void send(std::string_view bytes) override {
    if (bytes.empty()) return;
    {
      std::lock_guard lock(mutex_);
      if (!closeReason_.empty()) return;
      received_ += bytes.size();
      if (received_ - credited_ > portal::kTunnelWindowBytes) {
        closeReason_ = "the client sent more than its flow-control window allows";
      } else {
        input_.append(bytes);
      }
    }
    wake();
  }

  void acknowledge(std::uint64_t bytes) override {
    {
      std::lock_guard lock(mutex_);
      // Checked against what was sent on the relay's thread; this only keeps the sum sane.
      acknowledged_ =
          std::min<std::uint64_t>(acknowledged_ + std::min<std::uint64_t>(bytes, kMaxSum), kMaxSum);
    }
    wake();
  }

  void endOfStream() override {
    {
      std::lock_guard lock(mutex_);
      inputEof_ = true;
    }
    wake();
  }

  void close(const std::string& reason) override {
    {
      std::lock_guard lock(mutex_);
      if (closeReason_.empty()) closeReason_ = reason.empty() ? "the tunnel was closed" : reason;
    }
    wake();
  }

  std::string sessionId() const override { return request_.sessionId; }

 private:
  /// "203.0.113.5 -> plc-17:502 (modbus)", for markers and logs.
  std::string describe() const {
    return request_.originator + " -> " + target_.asset + ":" + std::to_string(target_.port) +
           " (" + std::string(core::protocolName(target_.protocol)) + ")";
  }

  void run() noexcept {
    std::string reason;
    try {
      reason = relay();
    } catch (const std::exception& e) {
      reason = std::string("internal error: ") + e.what();
    } catch (...) {
      reason = "internal error";
    }
    finish(reason, true);
  }

  /// The loop; returns why the tunnel ended.
  std::string relay() {
    io_.started(request_.sessionId);
    marker("tunnel " + describe() + " opened");
    const auto start = Clock::now();
    lastActivity_ = start;
    auto nextCheck = start + std::chrono::seconds(1);
    auto nextTick = start + std::chrono::seconds(1);
    while (reason_.empty()) {
      std::array<pollfd, 2> fds{{{wake_, POLLIN, 0}, {fd_, socketEvents(), 0}}};
      if (fds[1].events == 0) fds[1].fd = -1;
      ::poll(fds.data(), fds.size(), kPollMs);
      if ((fds[0].revents & POLLIN) != 0) {
        std::uint64_t count = 0;
        [[maybe_unused]] const auto n = ::read(wake_, &count, sizeof count);
      }
      // Reported whether asked for or not: without this, a hung-up endpoint would wake the loop
      // at once, again and again, while the client's window keeps the socket unread.
      if ((fds[1].revents & POLLERR) != 0) {
        int error = 0;
        socklen_t len = sizeof error;
        if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) == 0 && error != 0) {
          end("the connection to " + target_.asset + " failed: " + errnoText(error));
        }
      }
      if ((fds[1].revents & POLLHUP) != 0) hungUp_ = true;
      takeRequests();
      readSocket();
      writeSocket();
      deliverToClient();
      halfClose();
      const auto now = Clock::now();
      if (target_.inspector && now >= nextTick) {
        nextTick = now + std::chrono::seconds(1);
        apply(target_.inspector->onTick(std::chrono::system_clock::now()));
      }
      if (now >= nextCheck) {
        nextCheck = now + std::chrono::seconds(1);
        enforce();
      }
      if (recording_ && !recording_->status()) {
        // Fail closed: a tunnel whose recording failed does not go on unrecorded.
        end("recording failed: " + recording_->status().error().message);
      }
      if (closing_ && ((toTarget_.empty() && toClient_.empty()) || now >= closingDeadline_)) {
        end(*closing_);
      }
      if (ending_ && (drained() || now >= endingDeadline_)) end(*ending_);
      if (clientEof_ && targetEof_ && toTarget_.empty() && toClient_.empty()) end("closed");
      if (now - lastActivity_ >= options_.idleTimeout) {
        end("idle for " + std::to_string(options_.idleTimeout.count()) + " s");
      }
    }
    return reason_;
  }

  short socketEvents() const {
    // Hung up: only a read (which then sees the end) or a write (which then fails) is useful.
    if (hungUp_ && !canRead()) return 0;
    short events = 0;
    if (canRead()) events = static_cast<short>(events | POLLIN);
    if (writeBlocked_ && !toTarget_.empty()) events = static_cast<short>(events | POLLOUT);
    return events;
  }

  std::uint64_t inFlight() const { return sentToClient_ - ackedSeen_; }

  bool recordingBusy() const {
    return recording_ && recording_->queuedBytes() > kRecordingHighWater;
  }

  bool canRead() const {
    return !targetEof_ && !closing_ && toClient_.size() < kMaxPending &&
           inFlight() + toClient_.size() < portal::kTunnelWindowBytes && !recordingBusy();
  }

  /// Takes what the portal's threads handed over: a close, acknowledgements, the client's EOF
  /// and as much input as toTarget_ has room for (credited back to the client in batches).
  void takeRequests() {
    std::string chunk;
    std::uint64_t credit = 0;
    {
      std::lock_guard lock(mutex_);
      if (!closeReason_.empty()) end(closeReason_);
      if (acknowledged_ > sentToClient_) {
        end("the client acknowledged more bytes than it was sent");
      } else {
        ackedSeen_ = acknowledged_;
      }
      if (!closing_ && !recordingBusy() && toTarget_.size() < kMaxPending) {
        const std::size_t n = std::min(input_.size(), kMaxPending - toTarget_.size());
        chunk.assign(input_, 0, n);
        input_.erase(0, n);
        taken_ += n;
      }
      if (inputEof_ && input_.empty()) clientEof_ = true;
      if (taken_ - credited_ >= portal::kTunnelAckBytes) {
        credit = taken_ - credited_;
        credited_ = taken_;  // before the client hears of it: its next bytes are allowed
      }
    }
    if (!chunk.empty()) acceptFromClient(bytesOf(chunk));
    if (credit > 0) io_.ack(credit);
  }

  void acceptFromClient(std::span<const unsigned char> bytes) {
    lastActivity_ = Clock::now();
    if (!target_.inspector) {
      toTarget_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      record(recorder::Direction::to_target, bytes);
      return;
    }
    apply(target_.inspector->onClientBytes(bytes, std::chrono::system_clock::now()));
  }

  void acceptFromTarget(std::span<const unsigned char> bytes) {
    lastActivity_ = Clock::now();
    if (!target_.inspector) {
      toClient_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      record(recorder::Direction::to_client, bytes);
      return;
    }
    apply(target_.inspector->onServerBytes(bytes, std::chrono::system_clock::now()));
  }

  /// An inspector's verdict: forward, answer, record its events, close if it says so.
  void apply(const tunnel::TunnelVerdict& v) {
    toTarget_.append(reinterpret_cast<const char*>(v.toTarget.data()), v.toTarget.size());
    record(recorder::Direction::to_target, v.toTarget);
    toClient_.append(reinterpret_cast<const char*>(v.toClient.data()), v.toClient.size());
    record(recorder::Direction::to_client, v.toClient);
    for (const auto& e : v.events) {
      if (!recording_) break;
      const auto payload =
          recorder::encodeProtocolEvent(recorder::ProtocolEvent{e.protocol, e.decision, e.summary});
      if (auto st = recording_->append(recorder::RecordKind::protocol_event, kTunnelChannel,
                                       recorder::Direction::none, payload);
          !st) {
        end("recording failed: " + st.error().message);
      }
    }
    if (v.close && !closing_) {
      closing_ = *v.close;
      closingDeadline_ = Clock::now() + kCloseDrain;
    }
  }

  void record(recorder::Direction direction, std::span<const unsigned char> bytes) {
    if (!recording_ || bytes.empty()) return;
    if (auto st = recording_->appendTunnelBytes(kTunnelChannel, direction, tuple_, bytes); !st) {
      end("recording failed: " + st.error().message);
    }
  }

  void marker(const std::string& text) {
    if (!recording_) return;
    if (auto st = recording_->append(recorder::RecordKind::marker, kNoticeChannel,
                                     recorder::Direction::none, bytesOf(text));
        !st) {
      end("recording failed: " + st.error().message);
    }
  }

  void readSocket() {
    std::array<char, 65536> buf{};
    while (reason_.empty() && canRead()) {
      const std::size_t room = std::min(
          {buf.size(), kMaxPending - toClient_.size(),
           static_cast<std::size_t>(portal::kTunnelWindowBytes - inFlight() - toClient_.size())});
      const ssize_t n = ::recv(fd_, buf.data(), room, 0);
      if (n > 0) {
        acceptFromTarget(
            {reinterpret_cast<const unsigned char*>(buf.data()), static_cast<std::size_t>(n)});
        continue;
      }
      if (n == 0) {
        targetEof_ = true;
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        end("the connection to " + target_.asset + " failed: " + errnoText(errno));
      }
      return;
    }
  }

  void writeSocket() {
    while (!toTarget_.empty() && reason_.empty()) {
      const ssize_t n = ::send(fd_, toTarget_.data(), toTarget_.size(), MSG_NOSIGNAL);
      if (n > 0) {
        toTarget_.erase(0, static_cast<std::size_t>(n));
        bytesToTarget_ += static_cast<std::uint64_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        writeBlocked_ = true;
        return;
      }
      end("the connection to " + target_.asset + " failed: " + errnoText(errno));
      return;
    }
    writeBlocked_ = false;
  }

  /// Sends what the client's window allows.
  void deliverToClient() {
    while (!toClient_.empty() && inFlight() < portal::kTunnelWindowBytes) {
      const std::size_t n =
          std::min({toClient_.size(), kMaxMessage,
                    static_cast<std::size_t>(portal::kTunnelWindowBytes - inFlight())});
      io_.data(toClient_.substr(0, n));
      toClient_.erase(0, n);
      sentToClient_ += n;
      bytesToClient_ += n;
    }
  }

  /// Half-closes travel through: the client's EOF once its bytes reached the endpoint, the
  /// endpoint's once its bytes reached the client.
  void halfClose() {
    if (clientEof_ && !shutWrite_ && toTarget_.empty() && !closing_ && reason_.empty()) {
      ::shutdown(fd_, SHUT_WR);
      shutWrite_ = true;
    }
    if (targetEof_ && !eofSent_ && toClient_.empty() && reason_.empty()) {
      io_.eof();
      eofSent_ = true;
    }
  }

  /// Window end, revocation and kill, once a second (CIP-005 R2.5), as in the gateway's relay:
  /// a refusal ends the tunnel after a short drain; one warning before the window ends.
  void enforce() {
    const ssh::GatewayDecision d =
        backend_.recheckAccess(request_.user, target_.asset, target_.protocol, request_.source);
    if (const auto* no = std::get_if<ssh::GatewayRefuse>(&d)) {
      endAfterDrain("access ended: " + no->reason);
      return;
    }
    allow_ = std::get<ssh::GatewayAllow>(d);
    const auto now = std::chrono::system_clock::now();
    // Shortly before the window closes, writes stop so that requests in flight can finish.
    if (now + kEndDrain * 2 >= allow_.until) beginDrain();
    const auto nowSeconds = std::chrono::time_point_cast<core::Seconds>(now);
    if (!warned_ && nowSeconds >= allow_.until - allow_.limits.warningPeriod) {
      const auto left = std::chrono::duration_cast<std::chrono::minutes>(allow_.until - nowSeconds);
      notice("your access window ends at " + core::formatTime(allow_.until) + " (in " +
             std::to_string(left.count()) + " min)");
      warned_ = true;
    }
  }

  void beginDrain() {
    if (draining_) return;
    draining_ = true;
    if (target_.inspector) apply(target_.inspector->drain(std::chrono::system_clock::now()));
  }

  void endAfterDrain(const std::string& why) {
    if (ending_) return;
    beginDrain();
    ending_ = why;
    endingDeadline_ = Clock::now() + kEndDrain;
  }

  bool drained() const {
    return toTarget_.empty() && toClient_.empty() &&
           (!target_.inspector || target_.inspector->drained());
  }

  void notice(const std::string& text) {
    marker(text);
    io_.notice(text);
  }

  void end(const std::string& why) {
    if (reason_.empty()) reason_ = why;
  }

  /// Ends the session in the gateway's order: the last bytes to the client, the endpoint's
  /// connection closed (tunnel.closed audited, the asset's slot freed), the recording sealed,
  /// the session reported ended, then io.closed (which may destroy this object).
  void finish(std::string reason, bool started) {
    if (started) {
      try {
        // What the endpoint or the inspector sent last (e.g. an exception reply) is delivered
        // even beyond the window: at most kMaxPending, and the socket is closing.
        while (!toClient_.empty()) {
          const std::size_t n = std::min(toClient_.size(), kMaxMessage);
          io_.data(toClient_.substr(0, n));
          toClient_.erase(0, n);
          bytesToClient_ += n;
        }
      } catch (...) {
        spdlog::error("event=web_tunnel_callback_failed session={} callback=data",
                      request_.sessionId);
      }
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    try {
      marker("tunnel " + describe() + " closed: " + reason + " (" + std::to_string(bytesToTarget_) +
             " bytes to the target, " + std::to_string(bytesToClient_) + " to the vendor)");
      spdlog::info(
          "event=web_tunnel_closed session={} tunnel=\"{}\" reason=\"{}\" to_target={} "
          "to_vendor={}",
          request_.sessionId, describe(), reason, bytesToTarget_, bytesToClient_);
      backend_.tunnelClosed(request_, target_, reason, bytesToTarget_, bytesToClient_);
      target_.slot.reset();
      target_.inspector.reset();
      if (recording_) {
        if (auto st = backend_.closeRecording(request_.sessionId, *recording_); !st) {
          reason += "; recording: " + st.error().message;
        }
        recording_.reset();
      }
      backend_.sessionEnded(request_.sessionId, reason, bytesToTarget_, bytesToClient_);
    } catch (const std::exception& e) {
      spdlog::error("event=web_tunnel_end_failed session={} error=\"{}\"", request_.sessionId,
                    e.what());
    }
    if (!started) return;
    auto closed = std::move(io_.closed);
    try {
      closed(reason);  // last: may destroy this object
    } catch (...) {
      spdlog::error("event=web_tunnel_callback_failed session={} callback=closed",
                    request_.sessionId);
    }
  }

  /// Before the session was reported started: close what is open and audit the tunnel's end.
  void abandon(const std::string& why) {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    backend_.tunnelClosed(request_, target_, why, 0, 0);
    if (recording_) {
      (void)backend_.closeRecording(request_.sessionId, *recording_);
      recording_.reset();
    }
  }

  void wake() noexcept {
    if (wake_ < 0) return;
    const std::uint64_t one = 1;
    // Non-blocking: a full counter already means "wake up".
    [[maybe_unused]] const auto n = ::write(wake_, &one, sizeof one);
  }

  ssh::GatewayBackend& backend_;
  WebTunnelOptions options_;
  ssh::TunnelRequest request_;
  ssh::TunnelTarget target_;
  ssh::GatewayAllow allow_;  // refreshed by every re-check
  int fd_ = -1;
  recorder::TcpFourTuple tuple_;
  std::unique_ptr<recorder::RecordingWriter> recording_;
  portal::TunnelIo io_;
  int wake_ = -1;  // eventfd: the portal's threads wake the loop through it
  std::thread thread_;

  // Handed over by the portal's threads, guarded by mutex_.
  std::mutex mutex_;
  std::string input_;
  std::uint64_t received_ = 0;      // bytes the client sent, in total
  std::uint64_t taken_ = 0;         // of those, taken into the relay
  std::uint64_t credited_ = 0;      // of those, acknowledged to the client
  std::uint64_t acknowledged_ = 0;  // bytes the client says it delivered, in total
  bool inputEof_ = false;
  std::string closeReason_;

  // The relay's thread only.
  std::uint64_t ackedSeen_ = 0;  // acknowledged_ as of the last takeRequests()
  std::uint64_t sentToClient_ = 0;
  std::string toTarget_;
  std::string toClient_;
  std::string reason_;
  std::optional<std::string> closing_;  // the inspector asked to close: deliver, then end
  std::optional<std::string> ending_;   // access ended: drain requests in flight, then end
  Clock::time_point closingDeadline_;
  Clock::time_point endingDeadline_;
  Clock::time_point lastActivity_;
  bool clientEof_ = false;
  bool targetEof_ = false;
  bool shutWrite_ = false;
  bool eofSent_ = false;
  bool writeBlocked_ = false;
  bool hungUp_ = false;  // the endpoint's socket reported POLLHUP
  bool draining_ = false;
  bool warned_ = false;
  std::uint64_t bytesToTarget_ = 0;
  std::uint64_t bytesToClient_ = 0;
};

}  // namespace

core::Result<std::unique_ptr<portal::TunnelSession>> WebTunnelLauncher::open(
    const portal::TunnelOpenRequest& request, portal::TunnelIo io) {
  if (!io.started || !io.data || !io.ack || !io.eof || !io.notice || !io.closed) {
    return fail(ErrorCode::invalid_argument, "a web tunnel needs every TunnelIo callback");
  }
  ssh::TunnelRequest r;
  r.user = request.user;
  // The tunnel is its own session on this asset: the asset named is the login's asset too.
  r.loginAsset = request.asset;
  r.host = request.asset;
  r.port = request.port;
  r.originator = request.source;
  // The WebSocket's own TCP connection, as the portal saw it: the recording's client side.
  r.originatorPort = request.sourcePort;
  r.source = request.source;
  r.sessionId = makeSessionId(++counter_);
  const std::string where = request.asset + ":" + std::to_string(request.port);

  // A tool that reconnects at once (mbpoll opens a connection per poll) can find its last
  // connection still closing at the endpoint and holding the asset's only slot: a full asset
  // is asked again each time a slot comes free, for up to a second (this runs on the
  // connection's own thread), before the refusal, which is audited once, with the final answer.
  r.waitForSlot = true;
  std::uint64_t freed = backend_.slotsFreed();
  ssh::TunnelDecision decision = backend_.openTunnel(r);
  const auto busy = [&decision] {
    const auto* no = std::get_if<ssh::GatewayRefuse>(&decision);
    return no != nullptr && no->busy;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  while (busy() && std::chrono::steady_clock::now() < deadline) {
    backend_.awaitFreedSlot(freed, deadline);
    freed = backend_.slotsFreed();
    decision = backend_.openTunnel(r);
  }
  if (busy()) {
    r.waitForSlot = false;
    decision = backend_.openTunnel(r);
  }
  if (const auto* no = std::get_if<ssh::GatewayRefuse>(&decision)) {
    spdlog::info("event=web_tunnel_refused user={} tunnel={} source={} reason=\"{}\"", r.user,
                 where, r.source, no->reason);
    return fail(ErrorCode::permission_denied, "tunnel to " + where + " refused: " + no->reason);
  }
  auto target = std::move(std::get<ssh::TunnelTarget>(decision));
  auto connected = connectEndpoint(target, options_.connectTimeout);
  if (!connected) {
    // Allowed (audited as tunnel.opened) but never connected: its end is audited too.
    backend_.tunnelClosed(r, target, connected.error().message, 0, 0);
    spdlog::info("event=web_tunnel_failed session={} reason=\"{}\"", r.sessionId,
                 connected.error().message);
    return connected.error();
  }
  auto recording = backend_.openRecording(r.sessionId, target.allow);
  if (!recording) {
    // Fail closed: never relay unrecorded what policy says must be recorded.
    const std::string why = "recording could not start: " + recording.error().message;
    ::close(connected->fd);
    backend_.tunnelClosed(r, target, why, 0, 0);
    spdlog::warn("event=web_tunnel_failed session={} reason=\"{}\"", r.sessionId, why);
    return fail(ErrorCode::unavailable, "tunnel to " + where + " refused: " + why);
  }
  auto tunnel = std::make_unique<WebTunnel>(backend_, options_, std::move(r), std::move(target),
                                            *connected, std::move(*recording), std::move(io));
  if (auto st = tunnel->start(); !st) return st.error();
  return std::unique_ptr<portal::TunnelSession>(std::move(tunnel));
}

}  // namespace conduit::app
