#include "conduit/tunnel/modbus_inspector.hpp"

#include <algorithm>
#include <utility>

namespace conduit::tunnel {

namespace {

using Kind = ModbusVerdict::Kind;

constexpr std::uint8_t kFunctionMask = 0x7f;
// Write file record addresses files, not registers or coils, so ranges cannot bound it: it is
// allowed only when a policy lists it by number.
constexpr std::uint8_t kWriteFileRecord = 21;

std::string describe(std::uint8_t function) {
  return "function " + std::to_string(function) + " (" + std::string(functionName(function)) + ")";
}

std::string span(std::uint32_t first, std::uint32_t last) {
  return first == last ? std::to_string(first)
                       : std::to_string(first) + ".." + std::to_string(last);
}

// True if every address in first..last lies in some range (ranges may overlap or touch).
bool covered(const std::vector<core::AddressRange>& ranges, std::uint32_t first,
             std::uint32_t last) {
  std::int64_t next = first;
  while (next <= static_cast<std::int64_t>(last)) {
    std::int64_t reach = -1;
    for (const auto& r : ranges) {
      if (r.first <= next && r.last >= next) reach = std::max<std::int64_t>(reach, r.last);
    }
    if (reach < 0) return false;
    next = reach + 1;
  }
  return true;
}

ModbusVerdict deny(ExceptionCode code, std::string reason) {
  return ModbusVerdict{Kind::deny, code, std::move(reason)};
}

}  // namespace

ModbusVerdict decideRequest(const core::ModbusOptions& options, std::uint8_t unit,
                            const ModbusRequest& request) {
  const std::uint8_t f = request.function;
  const FunctionClass cls = functionClass(f);
  const bool writes = !options.readOnly && options.writes != core::WriteMode::deny;
  const bool state = changesState(request);

  // 1. The function code: listed by the grant, or, with no list, a read, or a write where the
  // grant allows writes. Diagnostics and everything else only when listed. Read-only means no
  // request that changes state, whatever the list says.
  auto refusedChange = [&] {
    return deny(ExceptionCode::illegal_function,
                describe(f) + " changes device state and the grant " +
                    (options.readOnly ? "is read-only" : "denies writes"));
  };
  if (options.functionCodes.empty()) {
    if (cls == FunctionClass::write && !writes) return refusedChange();
    const bool byDefault =
        cls == FunctionClass::read || (cls == FunctionClass::write && f != kWriteFileRecord);
    if (!byDefault) {
      return deny(ExceptionCode::illegal_function,
                  describe(f) + " is in class " + std::string(functionClassName(cls)) +
                      ", allowed only when listed in the grant's function codes");
    }
  } else if (!options.functionCodes.contains(f)) {
    return deny(ExceptionCode::illegal_function,
                describe(f) + " is not among the grant's function codes");
  }
  if (state && !writes) return refusedChange();

  // 2. The PDU's own limits.
  if (request.malformed) return deny(ExceptionCode::illegal_data_value, *request.malformed);

  // 3. The unit.
  if (!options.unitIds.empty() && !options.unitIds.contains(unit)) {
    return deny(ExceptionCode::illegal_data_address,
                "unit " + std::to_string(unit) + " is not among the grant's unit ids");
  }

  // 4. Every address of every block.
  for (const auto& block : {request.read, request.write}) {
    if (!block || block->count == 0) continue;
    const std::uint32_t first = block->address;
    const std::uint32_t last = first + block->count - 1u;
    if (last > 0xffff) {
      return deny(ExceptionCode::illegal_data_address,
                  "addresses " + span(first, last) + " run past 65535");
    }
    if (!options.ranges.empty() && !covered(options.ranges, first, last)) {
      return deny(ExceptionCode::illegal_data_address,
                  "addresses " + span(first, last) + " are outside the grant's ranges");
    }
  }

  if (state && options.writes == core::WriteMode::approve) {
    return ModbusVerdict{Kind::hold, ExceptionCode::illegal_function,
                         "writes need an engineer's approval"};
  }
  return ModbusVerdict{Kind::allow, ExceptionCode::illegal_function, {}};
}

std::string_view decisionName(ModbusDecision d) noexcept {
  switch (d) {
    case ModbusDecision::allow:
      return "allow";
    case ModbusDecision::deny:
      return "deny";
    case ModbusDecision::hold:
      return "hold";
    case ModbusDecision::approved:
      return "approved";
    case ModbusDecision::rejected:
      return "rejected";
    case ModbusDecision::expired:
      return "expired";
    case ModbusDecision::cancelled:
      return "cancelled";
    case ModbusDecision::forward:
      return "forward";
    case ModbusDecision::drop:
      return "drop";
  }
  return "unknown";
}

ModbusInspector::ModbusInspector(core::ModbusOptions options, ModbusLimits limits,
                                 std::shared_ptr<RequestBudget> budget)
    : options_(std::move(options)), limits_(limits), budget_(std::move(budget)) {}

InspectorOutput ModbusInspector::onClient(std::span<const std::uint8_t> bytes, Instant now) {
  InspectorOutput out;
  expire(now, out);
  if (auto bad =
          fromClient_.feed(bytes, [&](const MbapFrame& frame) { onRequest(frame, now, out); })) {
    out.close = "the client sent " + *bad;
  }
  finish(out);
  return out;
}

InspectorOutput ModbusInspector::onServer(std::span<const std::uint8_t> bytes, Instant now) {
  InspectorOutput out;
  expire(now, out);
  if (auto bad =
          fromServer_.feed(bytes, [&](const MbapFrame& frame) { onResponse(frame, now, out); })) {
    out.close = "the PLC sent " + *bad;
  }
  // A response frees a slot that an approved write may be waiting for.
  releaseApproved(now, out);
  finish(out);
  return out;
}

core::Result<InspectorOutput> ModbusInspector::resolveHold(std::uint64_t id, bool approved,
                                                           Instant now, std::string_view by) {
  auto it = std::find_if(holds_.begin(), holds_.end(),
                         [&](const Hold& h) { return h.info.id == id && !h.approved; });
  if (it == holds_.end()) {
    return core::fail(core::ErrorCode::not_found,
                      "hold " + std::to_string(id) + " is not waiting for a decision");
  }
  InspectorOutput out;
  // The decision wins over a deadline that passed since the last tick: the engineer saw it open.
  if (approved) {
    it->approved = true;
    it->approvedBy = std::string(by);
  } else {
    ModbusEvent event = requestEvent(it->info.transaction, it->info.unit, it->info.request, now);
    event.hold = id;
    refuse(std::move(event), ModbusDecision::rejected, ExceptionCode::illegal_function,
           by.empty() ? "refused by an engineer" : "refused by " + std::string(by), out);
    holds_.erase(it);
  }
  releaseApproved(now, out);
  expire(now, out);
  finish(out);
  return out;
}

InspectorOutput ModbusInspector::tick(Instant now) {
  InspectorOutput out;
  expire(now, out);
  finish(out);
  return out;
}

InspectorOutput ModbusInspector::drainForEnd(Instant now) {
  InspectorOutput out;
  draining_ = true;
  expire(now, out);
  // Undecided writes have not reached the PLC: refusing them now cuts nothing halfway.
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (it->approved) {
      ++it;
      continue;
    }
    ModbusEvent event = requestEvent(it->info.transaction, it->info.unit, it->info.request, now);
    event.hold = it->info.id;
    refuse(std::move(event), ModbusDecision::cancelled, ExceptionCode::server_busy,
           "the session is ending", out);
    it = holds_.erase(it);
  }
  releaseApproved(now, out);
  finish(out);
  return out;
}

void ModbusInspector::onRequest(const MbapFrame& frame, Instant now, InspectorOutput& out) {
  ModbusRequest request = decodeRequest(frame.pdu());
  ModbusEvent event = requestEvent(frame.transaction(), frame.unit(), request, now);
  ModbusVerdict verdict = decideRequest(options_, frame.unit(), request);
  if (verdict.kind == Kind::deny) {
    refuse(std::move(event), ModbusDecision::deny, verdict.exception, std::move(verdict.reason),
           out);
    return;
  }
  if (draining_ && changesState(request)) {
    refuse(std::move(event), ModbusDecision::deny, ExceptionCode::server_busy,
           "the session is ending: no new writes", out);
    return;
  }
  if (verdict.kind == Kind::hold) {
    if (holds_.size() >= limits_.maxHeld) {
      refuse(std::move(event), ModbusDecision::deny, ExceptionCode::server_busy,
             std::to_string(holds_.size()) + " writes already wait for approval", out);
      return;
    }
    Hold hold;
    hold.info = HeldRequest{nextHold_++, frame.transaction(),      frame.unit(), std::move(request),
                            now,         now + limits_.holdTimeout};
    hold.frame.assign(frame.bytes.begin(), frame.bytes.end());
    event.decision = ModbusDecision::hold;
    event.hold = hold.info.id;
    event.reason = std::move(verdict.reason);
    out.events.push_back(std::move(event));
    out.held.push_back(hold.info);
    holds_.push_back(std::move(hold));
    return;
  }
  if (inFlight_.size() >= limits_.maxInFlight) {
    refuse(std::move(event), ModbusDecision::deny, ExceptionCode::server_busy,
           std::to_string(inFlight_.size()) + " requests already wait for the PLC", out);
    return;
  }
  // Last: only a request that would reach the PLC spends the asset's budget. 06 (server busy)
  // is what a busy PLC answers; tools retry it.
  if (budget_ && !budget_->take(now)) {
    refuse(std::move(event), ModbusDecision::deny, ExceptionCode::server_busy,
           "the asset accepts at most " + std::to_string(static_cast<long>(budget_->rate())) +
               " requests per second",
           out);
    return;
  }
  event.decision = ModbusDecision::allow;
  out.events.push_back(std::move(event));
  forward(frame.bytes, Pending{frame.transaction(), frame.unit(), std::move(request), now, {}},
          out);
}

void ModbusInspector::onResponse(const MbapFrame& frame, Instant now, InspectorOutput& out) {
  ModbusEvent event;
  event.time = now;
  event.message = ModbusEvent::Message::response;
  event.transaction = frame.transaction();
  event.unit = frame.unit();
  event.function = frame.function();
  const auto it = std::find_if(inFlight_.begin(), inFlight_.end(), [&](const Pending& p) {
    return p.transaction == frame.transaction();
  });
  if (it == inFlight_.end()) {
    event.decision = ModbusDecision::drop;
    event.reason = "no request in flight has transaction " + std::to_string(frame.transaction());
    out.events.push_back(std::move(event));
    return;
  }
  if ((frame.function() & kFunctionMask) != it->request.function) {
    // Left in flight: the real answer may still come, or it times out.
    event.decision = ModbusDecision::drop;
    event.reason = describe(frame.function() & kFunctionMask) + " does not answer " +
                   describe(it->request.function);
    out.events.push_back(std::move(event));
    return;
  }
  ModbusResponse response = decodeResponse(frame.pdu(), it->request, limits_.maxEventValues);
  event.read = it->request.read;
  event.write = it->request.write;
  event.values = std::move(response.values);
  event.valuesTruncated = response.valuesTruncated;
  event.exception = response.exception;
  event.hold = it->hold;
  event.decision = ModbusDecision::forward;
  if (response.malformed) {
    event.reason = "malformed response: " + *response.malformed;
  } else if (frame.unit() != it->unit) {
    event.reason = "unit " + std::to_string(frame.unit()) + " answered a request to unit " +
                   std::to_string(it->unit);
  }
  out.events.push_back(std::move(event));
  out.toClient.insert(out.toClient.end(), frame.bytes.begin(), frame.bytes.end());
  inFlight_.erase(it);
}

void ModbusInspector::refuse(ModbusEvent event, ModbusDecision decision, ExceptionCode code,
                             std::string reason, InspectorOutput& out) const {
  const auto frame = exceptionFrame(event.transaction, event.unit, event.function, code);
  out.toClient.insert(out.toClient.end(), frame.begin(), frame.end());
  event.decision = decision;
  event.exception = static_cast<std::uint8_t>(code);
  event.reason = std::move(reason);
  out.events.push_back(std::move(event));
}

void ModbusInspector::forward(std::span<const std::uint8_t> frame, Pending pending,
                              InspectorOutput& out) {
  out.toServer.insert(out.toServer.end(), frame.begin(), frame.end());
  inFlight_.push_back(std::move(pending));
}

void ModbusInspector::expire(Instant now, InspectorOutput& out) {
  for (auto it = holds_.begin(); it != holds_.end();) {
    if (it->approved || it->info.deadline > now) {
      ++it;
      continue;
    }
    ModbusEvent event = requestEvent(it->info.transaction, it->info.unit, it->info.request, now);
    event.hold = it->info.id;
    refuse(std::move(event), ModbusDecision::expired, ExceptionCode::gateway_target_failed,
           "no engineer decided within " + std::to_string(limits_.holdTimeout.count()) + " s", out);
    it = holds_.erase(it);
  }
  for (auto it = inFlight_.begin(); it != inFlight_.end();) {
    if (it->sentAt + limits_.responseTimeout > now) {
      ++it;
      continue;
    }
    ModbusEvent event = requestEvent(it->transaction, it->unit, it->request, now);
    event.hold = it->hold;
    refuse(
        std::move(event), ModbusDecision::expired, ExceptionCode::gateway_target_failed,
        "the PLC did not answer within " + std::to_string(limits_.responseTimeout.count()) + " s",
        out);
    it = inFlight_.erase(it);
  }
  releaseApproved(now, out);
}

void ModbusInspector::releaseApproved(Instant now, InspectorOutput& out) {
  // An approved write waits for a free slot like any request: approvals must not push more
  // requests at the PLC than maxInFlight (the next response or timeout releases it).
  while (!holds_.empty() && holds_.front().approved && inFlight_.size() < limits_.maxInFlight) {
    Hold hold = std::move(holds_.front());
    holds_.pop_front();
    ModbusEvent event = requestEvent(hold.info.transaction, hold.info.unit, hold.info.request, now);
    event.hold = hold.info.id;
    event.decision = ModbusDecision::approved;
    event.reason =
        hold.approvedBy.empty() ? "approved by an engineer" : "approved by " + hold.approvedBy;
    out.events.push_back(std::move(event));
    forward(hold.frame,
            Pending{hold.info.transaction, hold.info.unit, std::move(hold.info.request), now,
                    hold.info.id},
            out);
  }
}

ModbusEvent ModbusInspector::requestEvent(std::uint16_t transaction, std::uint8_t unit,
                                          const ModbusRequest& request, Instant now) const {
  ModbusEvent event;
  event.time = now;
  event.message = ModbusEvent::Message::request;
  event.transaction = transaction;
  event.unit = unit;
  event.function = request.function;
  event.read = request.read;
  event.write = request.write;
  const std::size_t n = std::min(request.values.size(), limits_.maxEventValues);
  event.values.assign(request.values.begin(),
                      request.values.begin() + static_cast<std::ptrdiff_t>(n));
  event.valuesTruncated = n < request.values.size();
  return event;
}

}  // namespace conduit::tunnel
