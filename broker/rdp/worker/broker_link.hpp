#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "conduit/rdp/worker_protocol.hpp"

namespace conduit::rdp::worker {

/// The worker's end of the socketpair to the broker: whole frames out (blocking: a slow broker
/// slows the worker, which is the backpressure), frames in without blocking.
class BrokerLink {
 public:
  explicit BrokerLink(int fd) : fd_(fd) {}

  int fd() const noexcept { return fd_; }

  /// Writes one frame; false if the broker is gone.
  bool send(MessageType type, std::span<const std::uint8_t> body);
  bool send(const Bytes& frame);

  /// Reads what is available now without blocking. Error: the broker closed the socket (the
  /// message says so) or sent a malformed stream.
  core::Result<std::vector<Frame>> poll();

  /// Waits up to `timeout` for the first frame. nullopt with `error` set on timeout, EOF or a
  /// malformed stream.
  std::optional<Frame> first(std::chrono::milliseconds timeout, std::string& error);

 private:
  int fd_;
  FrameReader reader_;
  std::vector<Frame> pending_;
};

}  // namespace conduit::rdp::worker
