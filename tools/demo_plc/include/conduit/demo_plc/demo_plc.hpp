#pragma once

// A simulated PLC: a Modbus/TCP server on libmodbus (modbus_receive + modbus_reply in a select
// loop, on its own thread). A real peer for the tunnel tests and the demo; not hardened for
// hostile networks (bind it to 127.0.0.1).

#include <cstdint>
#include <memory>
#include <string>

#include "conduit/core/result.hpp"

namespace conduit::demo_plc {

struct DemoPlcOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;  // 0 picks a free port; DemoPlc::port() tells which
  // Coils, discrete inputs, holding and input registers at addresses 0..count-1.
  int count = 100;
  // Connected clients served at once; more are closed at accept. A real PLC accepts few.
  int maxClients = 8;
};

/// Holding register i starts as 1000 + i, input register i as 2000 + i, coil i as i odd.
class DemoPlc {
 public:
  /// Listens and starts serving. `unavailable` if the address cannot be bound.
  static core::Result<std::unique_ptr<DemoPlc>> start(const DemoPlcOptions& options);
  /// Stops serving and closes every connection.
  ~DemoPlc();
  DemoPlc(const DemoPlc&) = delete;
  DemoPlc& operator=(const DemoPlc&) = delete;

  std::uint16_t port() const noexcept;
  /// The current value of a holding register (0 for an address out of range).
  std::uint16_t holdingRegister(int address) const;
  /// Requests answered so far.
  std::uint64_t requests() const;
  /// Stops serving; returns when the server thread has ended.
  void stop();

  class Impl;

 private:
  explicit DemoPlc(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit::demo_plc
