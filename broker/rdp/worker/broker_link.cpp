#include "broker_link.hpp"

#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace conduit::rdp::worker {

bool BrokerLink::send(MessageType type, std::span<const std::uint8_t> body) {
  return send(encodeFrame(type, body));
}

bool BrokerLink::send(const Bytes& frame) {
  std::size_t done = 0;
  while (done < frame.size()) {
    const ssize_t n = ::send(fd_, frame.data() + done, frame.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

core::Result<std::vector<Frame>> BrokerLink::poll() {
  std::vector<Frame> frames = std::move(pending_);
  pending_.clear();
  std::array<std::uint8_t, 16384> buffer{};
  while (true) {
    const ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0) return core::fail(core::ErrorCode::io, std::strerror(errno));
    if (n == 0) return core::fail(core::ErrorCode::unavailable, "the broker closed the socket");
    auto more = reader_.feed(std::span(buffer.data(), static_cast<std::size_t>(n)));
    if (!more) return more.error();
    for (auto& frame : *more) frames.push_back(std::move(frame));
  }
  return frames;
}

std::optional<Frame> BrokerLink::first(std::chrono::milliseconds timeout, std::string& error) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      error = "no connect frame within the time limit";
      return std::nullopt;
    }
    pollfd p{fd_, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      error = std::strerror(errno);
      return std::nullopt;
    }
    if (ready <= 0) continue;
    auto frames = poll();
    if (!frames) {
      error = frames.error().message;
      return std::nullopt;
    }
    if (frames->empty()) continue;
    Frame head = std::move(frames->front());
    pending_.assign(std::make_move_iterator(frames->begin() + 1),
                    std::make_move_iterator(frames->end()));
    return head;
  }
}

}  // namespace conduit::rdp::worker
