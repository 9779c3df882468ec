#include "conduit/tunnel/s7_tunnel.hpp"

#include <utility>

namespace conduit::tunnel {

namespace {

Instant instant(TunnelInspector::TimePoint t) {
  return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

TunnelVerdict convert(S7InspectorOutput out) {
  TunnelVerdict v;
  v.toTarget = std::move(out.toServer);
  v.toClient = std::move(out.toClient);
  v.close = std::move(out.close);
  v.events.reserve(out.events.size());
  for (const auto& e : out.events) {
    v.events.push_back(InspectorEvent{"s7", std::string(decisionName(e.decision)), toJson(e)});
  }
  return v;
}

}  // namespace

S7TunnelInspector::S7TunnelInspector(core::S7Options options, S7Limits limits)
    : inspector_(std::move(options), limits) {}

TunnelVerdict S7TunnelInspector::onClientBytes(std::span<const unsigned char> bytes,
                                               TimePoint now) {
  return convert(inspector_.onClient(bytes, instant(now)));
}

TunnelVerdict S7TunnelInspector::onServerBytes(std::span<const unsigned char> bytes,
                                               TimePoint now) {
  return convert(inspector_.onServer(bytes, instant(now)));
}

TunnelVerdict S7TunnelInspector::onTick(TimePoint now) {
  return convert(inspector_.tick(instant(now)));
}

TunnelVerdict S7TunnelInspector::drain(TimePoint now) {
  return convert(inspector_.drainForEnd(instant(now)));
}

}  // namespace conduit::tunnel
