#pragma once

// The Modbus/TCP inspector behind the generic tunnel seam (inspector.hpp): frames, decides and
// answers through ModbusInspector, records each message as a protocol event, and puts writes
// held for approval on the hold desk, where engineers decide them.

#include <cstdint>
#include <map>
#include <memory>

#include "conduit/tunnel/hold_desk.hpp"
#include "conduit/tunnel/inspector.hpp"
#include "conduit/tunnel/modbus_inspector.hpp"
#include "conduit/tunnel/request_budget.hpp"

namespace conduit::tunnel {

struct ModbusTunnelSetup {
  core::ModbusOptions options;
  ModbusLimits limits;
  std::shared_ptr<RequestBudget> budget;  // the asset's; null: no requests-per-second limit
  HoldDesk* desk = nullptr;               // null: held writes are refused (nobody could decide)
  HoldContext context;
};

class ModbusTunnelInspector final : public TunnelInspector {
 public:
  explicit ModbusTunnelInspector(ModbusTunnelSetup setup);
  ~ModbusTunnelInspector() override;
  ModbusTunnelInspector(const ModbusTunnelInspector&) = delete;
  ModbusTunnelInspector& operator=(const ModbusTunnelInspector&) = delete;

  TunnelVerdict onClientBytes(std::span<const unsigned char> bytes, TimePoint now) override;
  TunnelVerdict onServerBytes(std::span<const unsigned char> bytes, TimePoint now) override;
  /// Asks the desk about every posted hold, applies the decisions, then times out.
  TunnelVerdict onTick(TimePoint now) override;
  TunnelVerdict drain(TimePoint now) override;
  bool drained() const override { return inspector_.drained(); }

 private:
  /// Posts new holds (refusing those the desk cannot take), withdraws answered ones, converts.
  TunnelVerdict convert(InspectorOutput out, Instant now);

  ModbusInspector inspector_;
  HoldDesk* desk_;
  HoldContext context_;
  std::map<std::uint64_t, std::uint64_t> posted_;  // the inspector's hold id -> the desk's
};

}  // namespace conduit::tunnel
