#include "conduit/demo_plc/demo_plc.hpp"

#include <arpa/inet.h>
#include <modbus/modbus.h>
#include <netinet/in.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>
#include <thread>
#include <vector>

namespace conduit::demo_plc {

using core::ErrorCode;
using core::fail;

class DemoPlc::Impl {
 public:
  ~Impl() {
    stop();
    for (int fd : clients_) ::close(fd);
    if (listen_ >= 0) ::close(listen_);
    if (mapping_ != nullptr) modbus_mapping_free(mapping_);
    if (ctx_ != nullptr) modbus_free(ctx_);
  }

  core::Status listen(const DemoPlcOptions& o) {
    maxClients_ = o.maxClients;
    ctx_ = modbus_new_tcp(o.address.c_str(), o.port);
    if (ctx_ == nullptr) return fail(ErrorCode::internal, "libmodbus: cannot create a context");
    mapping_ = modbus_mapping_new(o.count, o.count, o.count, o.count);
    if (mapping_ == nullptr) return fail(ErrorCode::internal, "libmodbus: cannot map registers");
    for (int i = 0; i < o.count; ++i) {
      mapping_->tab_registers[i] = static_cast<std::uint16_t>(1000 + i);
      mapping_->tab_input_registers[i] = static_cast<std::uint16_t>(2000 + i);
      mapping_->tab_bits[i] = static_cast<std::uint8_t>(i % 2);
      mapping_->tab_input_bits[i] = static_cast<std::uint8_t>(i % 2);
    }
    listen_ = modbus_tcp_listen(ctx_, 8);
    if (listen_ < 0) {
      return fail(ErrorCode::unavailable, "cannot listen on " + o.address + ":" +
                                              std::to_string(o.port) + ": " +
                                              modbus_strerror(errno));
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    thread_ = std::thread([this] { serve(); });
    return core::Done{};
  }

  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }

  void serve() {
    std::vector<std::uint8_t> query(MODBUS_TCP_MAX_ADU_LENGTH);
    while (!stopping_) {
      fd_set read;
      FD_ZERO(&read);
      FD_SET(listen_, &read);
      int top = listen_;
      for (int fd : clients_) {
        FD_SET(fd, &read);
        top = std::max(top, fd);
      }
      // 100 ms: how quickly stop() is noticed; requests themselves wake the loop at once.
      timeval tv{0, 100000};
      const int n = ::select(top + 1, &read, nullptr, nullptr, &tv);
      if (n <= 0) continue;
      if (FD_ISSET(listen_, &read)) accept();
      for (auto it = clients_.begin(); it != clients_.end();) {
        if (!FD_ISSET(*it, &read)) {
          ++it;
          continue;
        }
        std::lock_guard lock(mutex_);
        modbus_set_socket(ctx_, *it);
        const int rc = modbus_receive(ctx_, query.data());
        if (rc > 0) {
          modbus_reply(ctx_, query.data(), rc, mapping_);
          ++requests_;
          ++it;
        } else if (rc == -1) {
          ::close(*it);  // the client left (or sent something that is not Modbus/TCP)
          it = clients_.erase(it);
        } else {
          ++it;  // a frame for another unit: ignored
        }
      }
    }
  }

  void accept() {
    const int fd = ::accept(listen_, nullptr, nullptr);
    if (fd < 0) return;
    if (static_cast<int>(clients_.size()) >= maxClients_ || fd >= FD_SETSIZE) {
      ::close(fd);
      return;
    }
    clients_.push_back(fd);
  }

  modbus_t* ctx_ = nullptr;
  modbus_mapping_t* mapping_ = nullptr;  // guarded by mutex_ once serving
  int listen_ = -1;
  int maxClients_ = 8;
  std::uint16_t port_ = 0;
  std::vector<int> clients_;  // the server thread's
  std::atomic<bool> stopping_{false};
  mutable std::mutex mutex_;
  std::uint64_t requests_ = 0;  // guarded by mutex_
  std::thread thread_;
};

core::Result<std::unique_ptr<DemoPlc>> DemoPlc::start(const DemoPlcOptions& options) {
  auto impl = std::make_unique<Impl>();
  if (auto st = impl->listen(options); !st) return st.error();
  return std::unique_ptr<DemoPlc>(new DemoPlc(std::move(impl)));
}

DemoPlc::DemoPlc(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
DemoPlc::~DemoPlc() = default;

std::uint16_t DemoPlc::port() const noexcept {
  return impl_->port_;
}

std::uint16_t DemoPlc::holdingRegister(int address) const {
  std::lock_guard lock(impl_->mutex_);
  if (address < 0 || address >= impl_->mapping_->nb_registers) return 0;
  return impl_->mapping_->tab_registers[address];
}

std::uint64_t DemoPlc::requests() const {
  std::lock_guard lock(impl_->mutex_);
  return impl_->requests_;
}

void DemoPlc::stop() {
  impl_->stop();
}

}  // namespace conduit::demo_plc
