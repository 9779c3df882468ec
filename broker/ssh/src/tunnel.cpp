// One `ssh -L` connection relayed between the vendor's direct-tcpip channel and a TCP socket.
//
// Flow control, both ways bounded (issue 5: a slow side must not make the broker buffer
// without bound):
// - vendor -> target: the channel's data callback takes only what fits in toTarget_; libssh
//   keeps the rest and stops reopening the vendor's window. Leftovers are pulled with
//   ssh_channel_read_nonblocking once there is room again.
// - target -> vendor: the socket is read only while toVendor_ has room (its POLLIN interest is
//   dropped when full), and writes to the channel never exceed its window.
// The libssh sockets stay blocking; only this TCP socket is non-blocking, and nothing here
// waits: the socket callback does socket I/O and sets flags, pump() does the rest.
#include "tunnel.hpp"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <spdlog/spdlog.h>

#include "conduit/recorder/socket_tuple.hpp"

namespace conduit::ssh {

using core::ErrorCode;

namespace {

// 1 MiB per direction, as for session channels: keeps a fast link busy while the other side's
// window is closed, and bounds what a peer that stops reading can make the broker hold.
constexpr std::size_t kMaxPending = std::size_t{1024} * 1024;
// Stop reading either side while the recording's queue holds more than this (a quarter of
// the writer's 64 MiB limit, which would fail the recording): the disk sets the pace.
constexpr std::size_t kRecordingHighWater = std::size_t{16} << 20;
// After an inspector asks to close, what is already queued (e.g. its refusal reply) gets this
// long to be delivered.
constexpr auto kCloseDrain = std::chrono::seconds(2);

std::string errnoText(int e) {
  return std::error_code(e, std::generic_category()).message();
}

}  // namespace

core::Result<std::unique_ptr<Tunnel>> Tunnel::connect(TunnelContext& context, TunnelRequest request,
                                                      TunnelTarget target,
                                                      std::uint32_t recordingChannel) {
  const std::string where = target.asset + ":" + std::to_string(target.port);
  // Allowed (and audited as tunnel.opened) but not connected: its end is audited too.
  auto failed = [&](ErrorCode code, const std::string& why) -> core::Error {
    context.backend.tunnelClosed(request, target, why, 0, 0);
    return core::Error{code, why};
  };
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // Endpoint hosts are normally addresses (no lookup). A configured name is resolved here,
  // on the session's thread: an operator's choice, from /etc/hosts or the plant's DNS.
  const int rc =
      ::getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &found);
  if (rc != 0 || found == nullptr) {
    return failed(ErrorCode::unavailable, "cannot resolve the endpoint of " + where);
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);
  const int fd = ::socket(found->ai_family, found->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                          found->ai_protocol);
  if (fd < 0) return failed(ErrorCode::internal, "cannot create a socket: " + errnoText(errno));
  // Industrial protocols are small request/response exchanges: no Nagle delay.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    const int e = errno;
    ::close(fd);
    return failed(ErrorCode::unavailable, "cannot connect to " + where + ": " + errnoText(e));
  }
  sockaddr_storage peer{};
  std::memcpy(&peer, found->ai_addr, std::min<std::size_t>(found->ai_addrlen, sizeof peer));
  auto t = std::unique_ptr<Tunnel>(
      new Tunnel(context, std::move(request), std::move(target), fd, recordingChannel));
  t->tuple_ =
      recorder::socketTuple(t->request_.originator,
                            static_cast<std::uint16_t>(t->request_.originatorPort & 0xffff), peer);
  return t;
}

Tunnel::Tunnel(TunnelContext& context, TunnelRequest request, TunnelTarget target, int fd,
               std::uint32_t channel)
    : context_(context),
      request_(std::move(request)),
      target_(std::move(target)),
      fd_(fd),
      channelId_(channel) {
  const auto now = Clock::now();
  connectDeadline_ = now + context_.connectTimeout;
  lastActivity_ = now;
}

Tunnel::~Tunnel() {
  finish("the session ended");
}

std::string Tunnel::describe() const {
  return request_.originator + ":" + std::to_string(request_.originatorPort) + " -> " +
         target_.asset + ":" + std::to_string(target_.port) + " (" +
         std::string(core::protocolName(target_.protocol)) + ")";
}

void Tunnel::attach(ssh_channel vendor) {
  vendor_ = vendor;
  std::memset(&callbacks_, 0, sizeof callbacks_);
  callbacks_.userdata = this;
  callbacks_.channel_data_function = &Tunnel::onVendorData;
  callbacks_.channel_eof_function = &Tunnel::onVendorEof;
  callbacks_.channel_close_function = &Tunnel::onVendorClose;
  ssh_callbacks_init(&callbacks_);
  ssh_set_channel_callbacks(vendor_, &callbacks_);
  // A channel accepted before its tunnel was decided: what the vendor sent meanwhile waits in
  // libssh's buffer (the first pump reads it), and its EOF or close may have come already.
  leftovers_ = true;
  if (ssh_channel_is_open(vendor_) == 0) {
    vendorClosed_ = true;
    vendorEof_ = true;
  }
  lastActivity_ = Clock::now();
  if (context_.recording != nullptr) {
    const auto text = recorder::bytesOf("tunnel " + describe() + " opened");
    if (auto st = context_.recording->append(recorder::RecordKind::marker, channelId_,
                                             recorder::Direction::none, text);
        !st) {
      fail("recording failed: " + st.error().message);
    }
  }
}

int Tunnel::onVendorData(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr,
                         void* self) noexcept {
  auto* t = static_cast<Tunnel*>(self);
  if (t->done_ || isStderr != 0) return static_cast<int>(len);  // direct-tcpip has no stderr
  if (t->closing_ || t->recordingBusy()) {
    t->leftovers_ = true;
    return 0;
  }
  const std::size_t room = kMaxPending - std::min(kMaxPending, t->toTarget_.size());
  const std::size_t n = std::min<std::size_t>(room, len);
  // What is not taken now stays in libssh's buffer until refillFromVendor() pulls it.
  if (n < len) t->leftovers_ = true;
  if (n == 0) return 0;
  try {
    return static_cast<int>(t->acceptFromVendor({static_cast<const unsigned char*>(data), n}));
  } catch (...) {
    t->fail("internal error while relaying");
    return static_cast<int>(len);
  }
}

void Tunnel::onVendorEof(ssh_session, ssh_channel, void* self) noexcept {
  static_cast<Tunnel*>(self)->vendorEof_ = true;
}

void Tunnel::onVendorClose(ssh_session, ssh_channel, void* self) noexcept {
  auto* t = static_cast<Tunnel*>(self);
  t->vendorClosed_ = true;
  t->vendorEof_ = true;
}

int Tunnel::onSocket(int, int revents, void* self) noexcept {
  auto* t = static_cast<Tunnel*>(self);
  if (t->done_) return 0;
  try {
    if (t->connecting_) {
      if ((revents & (POLLOUT | POLLERR | POLLHUP)) != 0) t->checkConnected();
      return 0;
    }
    if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) t->readSocket();
    if ((revents & POLLOUT) != 0) t->writeSocket();
  } catch (...) {
    t->fail("internal error while relaying");
  }
  return 0;
}

void Tunnel::checkConnected() {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  if (error != 0) {
    fail("cannot connect to " + target_.asset + ":" + std::to_string(target_.port) + ": " +
         errnoText(error));
    return;
  }
  connecting_ = false;
  lastActivity_ = Clock::now();
}

std::size_t Tunnel::acceptFromVendor(std::span<const unsigned char> bytes) {
  lastActivity_ = Clock::now();
  if (!target_.inspector) {
    toTarget_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    record(recorder::Direction::to_target, bytes);
    return bytes.size();
  }
  apply(target_.inspector->onClientBytes(bytes, std::chrono::system_clock::now()));
  return bytes.size();
}

void Tunnel::acceptFromTarget(std::span<const unsigned char> bytes) {
  lastActivity_ = Clock::now();
  if (!target_.inspector) {
    toVendor_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    record(recorder::Direction::to_client, bytes);
    return;
  }
  apply(target_.inspector->onServerBytes(bytes, std::chrono::system_clock::now()));
}

void Tunnel::apply(const tunnel::TunnelVerdict& v) {
  toTarget_.append(reinterpret_cast<const char*>(v.toTarget.data()), v.toTarget.size());
  record(recorder::Direction::to_target, v.toTarget);
  toVendor_.append(reinterpret_cast<const char*>(v.toClient.data()), v.toClient.size());
  record(recorder::Direction::to_client, v.toClient);
  for (const auto& e : v.events) {
    if (context_.recording == nullptr) break;
    const auto payload =
        recorder::encodeProtocolEvent(recorder::ProtocolEvent{e.protocol, e.decision, e.summary});
    if (auto st = context_.recording->append(recorder::RecordKind::protocol_event, channelId_,
                                             recorder::Direction::none, payload);
        !st) {
      fail("recording failed: " + st.error().message);
    }
  }
  if (v.close && !closing_) {
    closing_ = *v.close;
    closingDeadline_ = Clock::now() + kCloseDrain;
  }
}

void Tunnel::record(recorder::Direction direction, std::span<const unsigned char> bytes) {
  if (context_.recording == nullptr || bytes.empty()) return;
  if (auto st = context_.recording->appendTunnelBytes(channelId_, direction, tuple_, bytes); !st) {
    fail("recording failed: " + st.error().message);
  }
}

bool Tunnel::recordingBusy() const {
  return context_.recording != nullptr && context_.recording->queuedBytes() > kRecordingHighWater;
}

void Tunnel::fail(std::string reason) {
  if (!failure_) failure_ = std::move(reason);
}

void Tunnel::readSocket() {
  char buf[65536];
  while (!targetEof_ && !failure_ && !closing_ && toVendor_.size() < kMaxPending &&
         !recordingBusy()) {
    const std::size_t room = std::min(sizeof buf, kMaxPending - toVendor_.size());
    const ssize_t n = ::recv(fd_, buf, room, 0);
    if (n > 0) {
      acceptFromTarget({reinterpret_cast<const unsigned char*>(buf), static_cast<std::size_t>(n)});
      // A short read emptied the socket: the next recv would only say EAGAIN (one system call
      // per PLC answer saved). The poll is level-triggered, so anything that arrives later
      // (more bytes, EOF) is reported again.
      if (static_cast<std::size_t>(n) < room) return;
      continue;
    }
    if (n == 0) {
      targetEof_ = true;
      return;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      fail("the connection to " + target_.asset + " failed: " + errnoText(errno));
    }
    return;
  }
}

void Tunnel::writeSocket() {
  while (!toTarget_.empty() && !failure_) {
    const ssize_t n = ::send(fd_, toTarget_.data(), toTarget_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      toTarget_.erase(0, static_cast<std::size_t>(n));
      toTargetBytes_ += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      writeBlocked_ = true;
      return;
    }
    fail("the connection to " + target_.asset + " failed: " + errnoText(errno));
    return;
  }
  writeBlocked_ = false;
}

void Tunnel::drainToVendor() {
  if (toVendor_.empty() || vendor_ == nullptr || vendorClosed_ || ssh_channel_is_open(vendor_) == 0)
    return;
  const std::size_t n = std::min<std::size_t>(toVendor_.size(), ssh_channel_window_size(vendor_));
  if (n == 0) return;  // the window reopens with the vendor's next adjust; pump() runs again
  const int written = ssh_channel_write(vendor_, toVendor_.data(), static_cast<uint32_t>(n));
  if (written == SSH_ERROR) {
    fail("the vendor's channel failed");
    return;
  }
  if (written <= 0) return;  // e.g. during a key re-exchange: retry on the next round
  toVendor_.erase(0, static_cast<std::size_t>(written));
  toVendorBytes_ += static_cast<std::uint64_t>(written);
}

void Tunnel::refillFromVendor() {
  // Only when the data callback left bytes in libssh's buffer: otherwise a read here costs a
  // poll of the whole event per loop round, for nothing (libssh reopens the window itself when
  // the callback takes everything).
  if (!leftovers_) return;
  if (vendor_ == nullptr || vendorClosed_ || closing_ || ssh_channel_is_open(vendor_) == 0) return;
  char buf[65536];
  while (toTarget_.size() < kMaxPending && !recordingBusy() && !failure_) {
    const std::size_t room = std::min(sizeof buf, kMaxPending - toTarget_.size());
    const int n = ssh_channel_read_nonblocking(vendor_, buf, static_cast<uint32_t>(room), 0);
    if (n <= 0) {
      if (n == 0) leftovers_ = false;  // drained (new data comes through the callback again)
      if (n == SSH_EOF) {  // drained, and the EOF came before the callbacks were installed
        leftovers_ = false;
        vendorEof_ = true;
      }
      return;
    }
    acceptFromVendor({reinterpret_cast<const unsigned char*>(buf), static_cast<std::size_t>(n)});
  }
}

void Tunnel::noticeVendorClosed() {
  // libssh reports a close through the callback, except one that came before attach() while
  // the channel still held data (its "delayed close"): the channel reads as closed only once
  // that data has been read, with no callback. Missed, the tunnel would keep the asset's
  // connection slot until the idle timeout.
  if (vendorClosed_ || vendor_ == nullptr || ssh_channel_is_open(vendor_) != 0) return;
  vendorClosed_ = true;
  vendorEof_ = true;
}

void Tunnel::watch(short events) {
  if (events == watched_ || fd_ < 0) return;
  if (watched_ != 0) ssh_event_remove_fd(context_.event, fd_);
  watched_ = 0;
  if (events != 0) {
    if (ssh_event_add_fd(context_.event, fd_, events, &Tunnel::onSocket, this) != SSH_OK) {
      fail("internal error: cannot watch the connection");
      return;
    }
    watched_ = events;
  }
}

void Tunnel::pump(Clock::time_point now) {
  if (done_) return;
  if (target_.inspector && now >= nextTick_) {
    nextTick_ = now + std::chrono::seconds(1);
    try {
      apply(target_.inspector->onTick(std::chrono::system_clock::now()));
    } catch (...) {
      fail("internal error while relaying");
    }
  }
  if (connecting_) {
    if (!failure_ && now >= connectDeadline_) {
      fail("cannot connect to " + target_.asset + ":" + std::to_string(target_.port) +
           ": no answer within " + std::to_string(context_.connectTimeout.count()) + " s");
    }
  } else {
    writeSocket();
  }
  drainToVendor();
  refillFromVendor();
  noticeVendorClosed();
  if (!connecting_) writeSocket();
  // Reading the vendor's channel polls the whole event, this tunnel's socket included: an answer
  // read meanwhile must go out now, not after the loop's next 50 ms wait.
  drainToVendor();
  if (failure_) {
    finish(*failure_);
    return;
  }
  if (!connecting_ && vendorEof_ && toTarget_.empty() && !shutWrite_ && !closing_) {
    ::shutdown(fd_, SHUT_WR);  // the vendor's client half-closed: so does the broker
    shutWrite_ = true;
  }
  if (targetEof_ && toVendor_.empty() && !eofSentToVendor_ && vendor_ != nullptr &&
      ssh_channel_is_open(vendor_) != 0) {
    ssh_channel_send_eof(vendor_);
    eofSentToVendor_ = true;
  }
  if (closing_ && ((toTarget_.empty() && toVendor_.empty()) || now >= closingDeadline_)) {
    finish(*closing_);
    return;
  }
  if (ending_ && (drained() || now >= endingDeadline_)) {
    finish(*ending_);
    return;
  }
  if (vendorClosed_) {
    // What the vendor sent before closing still goes to the endpoint (briefly: nobody waits
    // for its answer).
    if (!vendorClosedAt_ && !connecting_) vendorClosedAt_ = now;  // (connecting has its limit)
    if (toTarget_.empty() || (vendorClosedAt_ && now - *vendorClosedAt_ >= kCloseDrain)) {
      finish("closed by the vendor");
      return;
    }
  }
  if (vendorEof_ && targetEof_ && toTarget_.empty() && toVendor_.empty()) {
    finish("closed");
    return;
  }
  if (now - lastActivity_ >= context_.idleTimeout) {
    finish("idle for " + std::to_string(context_.idleTimeout.count()) + " s");
    return;
  }
  short want = 0;
  if (connecting_) {
    want = POLLOUT;
  } else {
    if (!targetEof_ && !closing_ && toVendor_.size() < kMaxPending && !recordingBusy()) {
      want = static_cast<short>(want | POLLIN);
    }
    if (writeBlocked_ && !toTarget_.empty()) want = static_cast<short>(want | POLLOUT);
  }
  watch(want);
}

void Tunnel::beginDrain() {
  if (done_ || draining_) return;
  draining_ = true;
  if (!target_.inspector) return;
  try {
    apply(target_.inspector->drain(std::chrono::system_clock::now()));
  } catch (...) {
    fail("internal error while relaying");
  }
}

bool Tunnel::drained() const {
  if (done_) return true;
  const bool quiet = toTarget_.empty() && toVendor_.empty();
  return quiet && (!target_.inspector || target_.inspector->drained());
}

void Tunnel::endAfterDrain(const std::string& reason, Clock::duration grace) {
  if (done_ || ending_) return;
  beginDrain();
  ending_ = reason;
  endingDeadline_ = Clock::now() + grace;
}

void Tunnel::finish(const std::string& reason) {
  if (done_) return;
  done_ = true;
  watch(0);
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  target_.slot.reset();  // the endpoint's connection is gone: the asset's slot is free again
  if (vendor_ != nullptr) {
    // Callbacks first: closing flushes, and libssh may then deliver data for this channel.
    ssh_remove_channel_callbacks(vendor_, &callbacks_);
    if (ssh_channel_is_open(vendor_) != 0) ssh_channel_close(vendor_);
    ssh_channel_free(vendor_);
    vendor_ = nullptr;
  }
  if (context_.recording != nullptr) {
    const auto text = recorder::bytesOf("tunnel " + describe() + " closed: " + reason + " (" +
                                        std::to_string(toTargetBytes_) + " bytes to the target, " +
                                        std::to_string(toVendorBytes_) + " to the vendor)");
    (void)context_.recording->append(recorder::RecordKind::marker, channelId_,
                                     recorder::Direction::none, text);
  }
  spdlog::info(
      "event=ssh_tunnel_closed session={} tunnel=\"{}\" reason=\"{}\" to_target={} "
      "to_vendor={}",
      request_.sessionId, describe(), reason, toTargetBytes_, toVendorBytes_);
  context_.backend.tunnelClosed(request_, target_, reason, toTargetBytes_, toVendorBytes_);
  target_.inspector.reset();
}

}  // namespace conduit::ssh
