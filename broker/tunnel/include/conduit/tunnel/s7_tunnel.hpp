#pragma once

// The S7comm inspector behind the generic tunnel seam (inspector.hpp): frames, decides and
// answers through S7Inspector, and records each message as a protocol event.

#include "conduit/tunnel/inspector.hpp"
#include "conduit/tunnel/s7_inspector.hpp"

namespace conduit::tunnel {

class S7TunnelInspector final : public TunnelInspector {
 public:
  explicit S7TunnelInspector(core::S7Options options, S7Limits limits = {});

  TunnelVerdict onClientBytes(std::span<const unsigned char> bytes, TimePoint now) override;
  TunnelVerdict onServerBytes(std::span<const unsigned char> bytes, TimePoint now) override;
  /// Times out requests in flight.
  TunnelVerdict onTick(TimePoint now) override;
  TunnelVerdict drain(TimePoint now) override;
  bool drained() const override { return inspector_.drained(); }

 private:
  S7Inspector inspector_;
};

}  // namespace conduit::tunnel
