#include "socket_watch.hpp"

#include <map>
#include <set>
#include <vector>

namespace conduit::portal {

std::uint64_t SocketWatch::add(std::string cookie, Closer closer) {
  std::lock_guard lock(mutex_);
  const auto id = nextId_++;
  sockets_.emplace(id, std::pair{std::move(cookie), std::move(closer)});
  return id;
}

void SocketWatch::remove(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  sockets_.erase(id);
}

void SocketWatch::closeForCookie(const std::string& cookie, const std::string& reason) {
  std::vector<Closer> closers;
  {
    std::lock_guard lock(mutex_);
    for (auto it = sockets_.begin(); it != sockets_.end();) {
      if (it->second.first == cookie) {
        closers.push_back(std::move(it->second.second));
        it = sockets_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& close : closers) close(reason);
}

void SocketWatch::start(Validator valid, std::chrono::milliseconds period) {
  valid_ = std::move(valid);
  thread_ = std::thread([this, period] { run(period); });
}

void SocketWatch::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SocketWatch::run(std::chrono::milliseconds period) {
  std::unique_lock lock(mutex_);
  while (!wake_.wait_for(lock, period, [this] { return stopping_; })) {
    std::set<std::string> cookies;
    for (const auto& [id, socket] : sockets_) cookies.insert(socket.first);
    lock.unlock();
    std::map<std::string, std::string> invalid;  // key -> why
    for (const auto& c : cookies) {
      if (auto why = valid_(c)) invalid.emplace(c, std::move(*why));
    }
    for (const auto& [c, why] : invalid) closeForCookie(c, why);
    lock.lock();
  }
}

}  // namespace conduit::portal
