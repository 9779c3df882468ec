#pragma once

// One `ssh -L` connection: a direct-tcpip channel from the vendor relayed to a TCP connection
// the broker opened to the asset's endpoint. The session's relay owns it and drives it from
// its loop; see tunnel.cpp for the flow control.

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/recorder/writer.hpp"
#include "conduit/ssh/gateway_backend.hpp"

namespace conduit::ssh {

/// What a tunnel needs from its session.
struct TunnelContext {
  ssh_event event = nullptr;
  GatewayBackend& backend;
  recorder::RecordingWriter* recording = nullptr;  // null: policy does not require recording
  std::chrono::seconds idleTimeout{900};
  std::chrono::seconds connectTimeout{10};
};

class Tunnel {
 public:
  using Clock = std::chrono::steady_clock;

  /// Starts a non-blocking connect to target.host:target.port. Fails (with a line for the
  /// vendor) if the host does not resolve or the connect fails at once; nothing is open then.
  static core::Result<std::unique_ptr<Tunnel>> connect(TunnelContext& context,
                                                       TunnelRequest request, TunnelTarget target,
                                                       std::uint32_t recordingChannel);
  ~Tunnel();
  Tunnel(const Tunnel&) = delete;
  Tunnel& operator=(const Tunnel&) = delete;

  /// Takes the vendor's channel (accepted by the caller, possibly a while ago) and installs its
  /// callbacks.
  void attach(ssh_channel vendor);

  /// Moves bytes as far as windows, buffers and the socket allow, forwards EOF once drained,
  /// applies the connect and idle timeouts, and updates which socket events the loop waits
  /// for. Call after every ssh_event_dopoll, never from a libssh callback.
  void pump(Clock::time_point now);

  /// The session is about to end (issue 8 item 5): the inspector refuses new writes and lets
  /// requests in flight finish. No-op without an inspector.
  void beginDrain();
  /// Nothing left to deliver and (with an inspector) nothing in flight: safe to close now.
  bool drained() const;
  /// beginDrain(), then finish(reason) once drained() or after `grace`, whichever is first.
  void endAfterDrain(const std::string& reason, Clock::duration grace);

  /// Ends the connection now (if not yet ended): closes both sides, reports and audits.
  void finish(const std::string& reason);

  bool done() const noexcept { return done_; }
  /// Why it failed (cannot connect, connection reset...), if it did.
  const std::optional<std::string>& failure() const noexcept { return failure_; }
  core::Protocol protocol() const noexcept { return target_.protocol; }
  std::uint64_t bytesToTarget() const noexcept { return toTargetBytes_; }
  std::uint64_t bytesToVendor() const noexcept { return toVendorBytes_; }
  /// "127.0.0.1:50432 -> plc-17:502 (modbus)", for notices and logs.
  std::string describe() const;

 private:
  Tunnel(TunnelContext& context, TunnelRequest request, TunnelTarget target, int fd,
         std::uint32_t channel);

  static int onVendorData(ssh_session, ssh_channel, void* data, uint32_t len, int isStderr,
                          void* self) noexcept;
  static void onVendorEof(ssh_session, ssh_channel, void* self) noexcept;
  static void onVendorClose(ssh_session, ssh_channel, void* self) noexcept;
  static int onSocket(int fd, int revents, void* self) noexcept;

  std::size_t acceptFromVendor(std::span<const unsigned char> bytes);
  void acceptFromTarget(std::span<const unsigned char> bytes);
  void apply(const tunnel::TunnelVerdict& verdict);
  void readSocket();
  void writeSocket();
  void checkConnected();
  void drainToVendor();
  void refillFromVendor();
  void noticeVendorClosed();
  void watch(short events);
  void record(recorder::Direction direction, std::span<const unsigned char> bytes);
  void fail(std::string reason);
  bool recordingBusy() const;

  TunnelContext& context_;
  TunnelRequest request_;
  TunnelTarget target_;
  recorder::TcpFourTuple tuple_;
  int fd_ = -1;
  std::uint32_t channelId_ = 0;  // in the recording
  ssh_channel vendor_ = nullptr;
  ssh_channel_callbacks_struct callbacks_{};
  short watched_ = 0;  // socket events registered with the event (0: not registered)
  std::string toTarget_;
  std::string toVendor_;
  bool connecting_ = true;
  bool writeBlocked_ = false;  // the last send() hit EAGAIN: wait for POLLOUT
  bool vendorEof_ = false;
  bool vendorClosed_ = false;
  std::optional<Clock::time_point> vendorClosedAt_;  // toTarget_ gets kCloseDrain after it
  bool targetEof_ = false;
  bool shutWrite_ = false;
  bool eofSentToVendor_ = false;
  bool done_ = false;
  bool draining_ = false;
  bool leftovers_ = false;              // the data callback left bytes in libssh's buffer
  std::optional<std::string> failure_;  // set by a callback; pump() finishes with it
  std::optional<std::string> closing_;  // the inspector asked to close: drain, then finish
  std::optional<std::string> ending_;   // the session ends: drain requests in flight, then finish
  Clock::time_point endingDeadline_;
  Clock::time_point connectDeadline_;
  Clock::time_point closingDeadline_;
  Clock::time_point lastActivity_;
  Clock::time_point nextTick_;  // the inspector's once-a-second onTick
  std::uint64_t toTargetBytes_ = 0;
  std::uint64_t toVendorBytes_ = 0;
};

}  // namespace conduit::ssh
