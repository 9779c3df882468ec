#include "conduit/tunnel/modbus_tunnel.hpp"

#include <utility>

namespace conduit::tunnel {

namespace {

Instant instant(TunnelInspector::TimePoint t) {
  return std::chrono::time_point_cast<std::chrono::microseconds>(t);
}

void append(InspectorOutput& into, InspectorOutput&& more) {
  into.toServer.insert(into.toServer.end(), more.toServer.begin(), more.toServer.end());
  into.toClient.insert(into.toClient.end(), more.toClient.begin(), more.toClient.end());
  for (auto& e : more.events) into.events.push_back(std::move(e));
  for (auto& h : more.held) into.held.push_back(std::move(h));
  if (!into.close) into.close = std::move(more.close);
  into.drained = more.drained;
}

bool answered(ModbusDecision d) {
  return d == ModbusDecision::approved || d == ModbusDecision::rejected ||
         d == ModbusDecision::expired || d == ModbusDecision::cancelled;
}

}  // namespace

ModbusTunnelInspector::ModbusTunnelInspector(ModbusTunnelSetup setup)
    : inspector_(std::move(setup.options), setup.limits, std::move(setup.budget)),
      desk_(setup.desk),
      context_(std::move(setup.context)) {}

ModbusTunnelInspector::~ModbusTunnelInspector() {
  // The connection is gone with holds still posted: nobody can answer them any more.
  if (desk_ == nullptr) return;
  for (const auto& [local, id] : posted_) desk_->withdraw(id, "cancelled");
}

TunnelVerdict ModbusTunnelInspector::onClientBytes(std::span<const unsigned char> bytes,
                                                   TimePoint now) {
  return convert(inspector_.onClient(bytes, instant(now)), instant(now));
}

TunnelVerdict ModbusTunnelInspector::onServerBytes(std::span<const unsigned char> bytes,
                                                   TimePoint now) {
  return convert(inspector_.onServer(bytes, instant(now)), instant(now));
}

TunnelVerdict ModbusTunnelInspector::onTick(TimePoint now) {
  const Instant t = instant(now);
  InspectorOutput out;
  if (desk_ != nullptr) {
    // Copied: resolving changes nothing in posted_ until convert() runs below.
    const auto posted = posted_;
    for (const auto& [local, id] : posted) {
      const auto d = desk_->decision(id);
      if (!d) continue;
      if (auto resolved = inspector_.resolveHold(local, d->approved, t, d->by)) {
        append(out, std::move(*resolved));
      }
    }
  }
  append(out, inspector_.tick(t));
  return convert(std::move(out), t);
}

TunnelVerdict ModbusTunnelInspector::drain(TimePoint now) {
  return convert(inspector_.drainForEnd(instant(now)), instant(now));
}

TunnelVerdict ModbusTunnelInspector::convert(InspectorOutput out, Instant now) {
  // Post what was newly held. A hold nobody can see is refused at once (fail closed); that
  // refusal is more output, so loop until nothing new is held.
  for (std::size_t i = 0; i < out.held.size(); ++i) {
    const HeldRequest held = out.held[i];
    core::Result<std::uint64_t> id =
        desk_ != nullptr
            ? desk_->post(context_, toJson(held))
            : core::Result<std::uint64_t>(core::fail(
                  core::ErrorCode::unavailable, "no engineer can be asked from this connection"));
    if (id) {
      posted_[held.id] = *id;
      continue;
    }
    if (auto refused = inspector_.resolveHold(
            held.id, false, now,
            "the broker (the hold could not be shown: " + id.error().message + ")")) {
      append(out, std::move(*refused));
    }
  }
  TunnelVerdict v;
  v.toTarget = std::move(out.toServer);
  v.toClient = std::move(out.toClient);
  v.close = std::move(out.close);
  v.events.reserve(out.events.size());
  for (const auto& e : out.events) {
    if (e.hold && answered(e.decision)) {
      if (auto it = posted_.find(*e.hold); it != posted_.end()) {
        if (desk_ != nullptr) desk_->withdraw(it->second, decisionName(e.decision));
        posted_.erase(it);
      }
    }
    v.events.push_back(InspectorEvent{"modbus", std::string(decisionName(e.decision)), toJson(e)});
  }
  return v;
}

}  // namespace conduit::tunnel
