#include "conduit/tunnel/s7_inspector.hpp"

#include <algorithm>
#include <utility>

namespace conduit::tunnel {

namespace {

std::string hex8(unsigned v) {
  constexpr std::string_view kDigits = "0123456789ABCDEF";
  std::string s = "0x";
  s.push_back(kDigits[(v >> 4) & 0xf]);
  s.push_back(kDigits[v & 0xf]);
  return s;
}

std::string describe(const S7Request& r) {
  if (r.rosctr == Rosctr::userdata) {
    return "userdata " + (r.userdata ? userdataName(*r.userdata) : std::string("request"));
  }
  return "function " + hex8(r.function) + " (" + std::string(jobFunctionName(r.function)) + ")";
}

S7Verdict deny(S7Error error, std::string reason) {
  return S7Verdict{false, error, std::move(reason)};
}

// True if `response` (an S7 PDU from `the other side`) can answer `request`.
bool answers(const S7Request& request, const S7Response& response) {
  if (request.rosctr == Rosctr::userdata) {
    return response.rosctr == Rosctr::userdata && response.userdata && request.userdata &&
           response.userdata->group == request.userdata->group &&
           response.userdata->subfunction == request.userdata->subfunction;
  }
  if (response.rosctr != Rosctr::ack && response.rosctr != Rosctr::ack_data) return false;
  return !response.function || *response.function == request.function;
}

std::string describeResponse(const S7Response& r) {
  std::string s(rosctrName(r.rosctr));
  if (r.userdata) return s + " response for " + userdataName(*r.userdata);
  if (r.function)
    s += " for " + hex8(*r.function) + " (" + std::string(jobFunctionName(*r.function)) + ")";
  return s;
}

void append(std::vector<std::uint8_t>& to, std::span<const std::uint8_t> bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

}  // namespace

S7Verdict decideRequest(const core::S7Options& options, const S7Request& request) {
  if (request.rosctr == Rosctr::userdata) {
    const UserdataFunction f = request.userdata.value_or(UserdataFunction{});
    if (!isUserdataRequest(f.type)) {
      return deny(S7Error::wrong_frames, "userdata of type " + std::to_string(f.type) +
                                             " from the client is not a request");
    }
    if (userdataClass(f) != S7Class::read) {
      if (options.readOnly) {
        return deny(S7Error::not_permitted,
                    describe(request) + " can change the PLC's state and the grant is read-only");
      }
      if (!options.functions.empty()) {
        return deny(S7Error::not_permitted,
                    describe(request) +
                        " is not a read, and the grant allows only the job functions it lists");
      }
    }
    if (request.malformed) return deny(S7Error::wrong_frames, *request.malformed);
    return S7Verdict{true, S7Error::not_permitted, {}};
  }
  if (!request.hasFunction) {
    return deny(S7Error::wrong_frames, "a job without a parameter (no function code)");
  }
  const S7Class cls = jobFunctionClass(request.function);
  const bool state = changesState(request);
  auto refusedChange = [&] {
    return deny(S7Error::not_permitted,
                describe(request) + " can change the PLC's state and the grant is read-only");
  };
  // Setup communication opens every S7 conversation and changes nothing: always allowed.
  if (cls != S7Class::setup) {
    if (!options.functions.empty()) {
      if (!options.functions.contains(request.function)) {
        return deny(S7Error::not_permitted,
                    describe(request) + " is not among the grant's functions");
      }
      if (state && options.readOnly) return refusedChange();
    } else {
      const bool byDefault = cls == S7Class::read || (cls == S7Class::programming && !state) ||
                             (cls == S7Class::write && !options.readOnly);
      if (!byDefault) {
        if (state && options.readOnly) return refusedChange();
        return deny(S7Error::not_permitted,
                    describe(request) + " is in class " + std::string(s7ClassName(cls)) +
                        ", allowed only when listed in the grant's functions");
      }
    }
  }
  if (request.malformed) return deny(S7Error::wrong_frames, *request.malformed);
  return S7Verdict{true, S7Error::not_permitted, {}};
}

std::string_view decisionName(S7Decision d) noexcept {
  switch (d) {
    case S7Decision::allow:
      return "allow";
    case S7Decision::deny:
      return "deny";
    case S7Decision::expired:
      return "expired";
    case S7Decision::forward:
      return "forward";
    case S7Decision::drop:
      return "drop";
  }
  return "unknown";
}

S7Inspector::S7Inspector(core::S7Options options, S7Limits limits)
    : options_(std::move(options)), limits_(limits) {}

S7InspectorOutput S7Inspector::onClient(std::span<const std::uint8_t> bytes, Instant now) {
  S7InspectorOutput out;
  if (!failure_) {
    expire(now, out);
    if (auto bad = fromClient_.feed(
            bytes, [&](const TpktFrame& f) { onPacket(Side::client, f, now, out); })) {
      fail("the client sent " + *bad);
    }
  }
  out.close = failure_;
  return finish(std::move(out));
}

S7InspectorOutput S7Inspector::onServer(std::span<const std::uint8_t> bytes, Instant now) {
  S7InspectorOutput out;
  if (!failure_) {
    expire(now, out);
    if (auto bad =
            fromPlc_.feed(bytes, [&](const TpktFrame& f) { onPacket(Side::plc, f, now, out); })) {
      fail("the PLC sent " + *bad);
    }
  }
  out.close = failure_;
  return finish(std::move(out));
}

S7InspectorOutput S7Inspector::tick(Instant now) {
  S7InspectorOutput out;
  if (!failure_) expire(now, out);
  return finish(std::move(out));
}

S7InspectorOutput S7Inspector::drainForEnd(Instant now) {
  S7InspectorOutput out;
  draining_ = true;
  if (!failure_) expire(now, out);
  return finish(std::move(out));
}

void S7Inspector::fail(std::string reason) {
  if (!failure_) failure_ = std::move(reason);
}

S7InspectorOutput S7Inspector::finish(S7InspectorOutput out) const {
  out.drained = drained();
  return out;
}

void S7Inspector::onPacket(Side side, const TpktFrame& frame, Instant now, S7InspectorOutput& out) {
  if (failure_) return;  // nothing after the first protocol error passes
  const std::string who = side == Side::client ? "the client sent " : "the PLC sent ";
  auto tpdu = decodeCotp(frame.tpdu());
  if (!tpdu) {
    fail(who + tpdu.error().message);
    return;
  }
  if (tpdu->kind != CotpKind::data) {
    // Connection TPDUs pass in the direction the protocol sends them; what they carry (TSAPs:
    // rack and slot) goes into the recording.
    if ((tpdu->kind == CotpKind::connect_request && side == Side::plc) ||
        (tpdu->kind == CotpKind::connect_confirm && side == Side::client)) {
      fail(who + "a COTP " + std::string(cotpKindName(tpdu->kind)) +
           (side == Side::plc ? ", which only the client sends" : ", which only the PLC sends"));
      return;
    }
    S7Event event;
    event.time = now;
    event.message = S7Event::Message::connection;
    event.fromPlc = side == Side::plc;
    event.cotp = tpdu->kind;
    event.tpduSize = tpdu->tpduSize;
    event.callingTsap = tpdu->callingTsap;
    event.calledTsap = tpdu->calledTsap;
    event.decision = S7Decision::forward;
    out.events.push_back(std::move(event));
    append(side == Side::client ? out.toServer : out.toClient, frame.bytes);
    return;
  }
  Segments& segments = side == Side::client ? clientSegments_ : plcSegments_;
  if (segments.pdu.size() + tpdu->data.size() > kMaxS7PduBytes) {
    fail(who + "an S7 PDU of more than " + std::to_string(kMaxS7PduBytes) + " bytes");
    return;
  }
  append(segments.packets, frame.bytes);
  append(segments.pdu, tpdu->data);
  if (tpdu->lastDataUnit) onPdu(side, now, out);
}

void S7Inspector::onPdu(Side side, Instant now, S7InspectorOutput& out) {
  Segments segments = std::move(side == Side::client ? clientSegments_ : plcSegments_);
  (side == Side::client ? clientSegments_ : plcSegments_) = Segments{};
  auto header = decodeS7Header(segments.pdu);
  if (!header) {
    fail((side == Side::client ? "the client sent " : "the PLC sent ") + header.error().message);
    return;
  }
  const bool userdata = header->rosctr == Rosctr::userdata;
  const bool request = header->rosctr == Rosctr::job ||
                       (userdata && header->param.size() > 5 &&
                        isUserdataRequest(static_cast<std::uint8_t>(header->param[5] >> 4)));
  if (side == Side::client) {
    // Userdata from the client is always a request: decideRequest refuses other types.
    if (header->rosctr == Rosctr::job || userdata) {
      onClientRequest(segments.packets, *header, now, out);
    } else {
      onAnswer(Side::client, segments.packets, *header, now, out);
    }
    return;
  }
  if (request) {
    onPlcRequest(segments.packets, *header, now, out);
    return;
  }
  if (userdata) {
    const S7Response push = decodeResponse(*header, limits_.maxValueBytes);
    if (push.userdata && (push.userdata->type == 0x0 || push.userdata->type == 0x3)) {
      // Alarms and cyclic data the PLC sends unasked, on subscriptions the grant allowed.
      S7Event event;
      event.time = now;
      event.message = S7Event::Message::push;
      event.fromPlc = true;
      event.rosctr = Rosctr::userdata;
      event.pduRef = push.pduRef;
      event.userdata = push.userdata;
      event.decision = S7Decision::forward;
      if (push.malformed) event.reason = "malformed push: " + *push.malformed;
      out.events.push_back(std::move(event));
      append(out.toClient, segments.packets);
      return;
    }
  }
  onAnswer(Side::plc, segments.packets, *header, now, out);
}

void S7Inspector::onClientRequest(std::span<const std::uint8_t> packets, const S7Header& header,
                                  Instant now, S7InspectorOutput& out) {
  S7Request request = decodeRequest(header, limits_.maxValueBytes);
  S7Event event = requestEvent(request, false, now);
  S7Verdict verdict = decideRequest(options_, request);
  if (!verdict.allow) {
    refuse(Side::client, std::move(event), request, S7Decision::deny, verdict.error,
           std::move(verdict.reason), out);
    return;
  }
  if (draining_ && changesState(request)) {
    refuse(Side::client, std::move(event), request, S7Decision::deny, S7Error::no_resources,
           "the session is ending: no new state changes", out);
    return;
  }
  if (clientJobs_.size() >= limits_.maxInFlight) {
    refuse(Side::client, std::move(event), request, S7Decision::deny, S7Error::no_resources,
           std::to_string(clientJobs_.size()) + " requests already wait for the PLC", out);
    return;
  }
  event.decision = S7Decision::allow;
  out.events.push_back(std::move(event));
  append(out.toServer, packets);
  clientJobs_.push_back(pending(std::move(request), now));
}

void S7Inspector::onPlcRequest(std::span<const std::uint8_t> packets, const S7Header& header,
                               Instant now, S7InspectorOutput& out) {
  S7Request request = decodeRequest(header, limits_.maxValueBytes);
  S7Event event = requestEvent(request, true, now);
  const bool downloadStep =
      request.rosctr == Rosctr::job && request.hasFunction &&
      (request.function == s7fn::download_block || request.function == s7fn::download_ended);
  if (!downloadStep) {
    // A vendor's tool serves no data to the PLC: what the PLC asks for outside a download
    // would carry the tool's answer into the PLC unchecked.
    refuse(
        Side::plc, std::move(event), request, S7Decision::deny, S7Error::not_permitted,
        describe(request) + " from the PLC: only the steps of a download the client requested pass",
        out);
    return;
  }
  if (!downloadOpen_) {
    refuse(Side::plc, std::move(event), request, S7Decision::deny, S7Error::not_permitted,
           describe(request) + " from the PLC, but no download the client requested is open", out);
    return;
  }
  if (request.malformed) {
    refuse(Side::plc, std::move(event), request, S7Decision::deny, S7Error::wrong_frames,
           *request.malformed, out);
    return;
  }
  if (plcJobs_.size() >= limits_.maxInFlight) {
    refuse(Side::plc, std::move(event), request, S7Decision::deny, S7Error::no_resources,
           std::to_string(plcJobs_.size()) + " jobs of the PLC's already wait for the client", out);
    return;
  }
  // Let through even while draining: it finishes a transfer that is already under way.
  event.decision = S7Decision::allow;
  out.events.push_back(std::move(event));
  append(out.toClient, packets);
  downloadActivity_ = now;
  plcJobs_.push_back(pending(std::move(request), now));
}

void S7Inspector::onAnswer(Side from, std::span<const std::uint8_t> packets, const S7Header& header,
                           Instant now, S7InspectorOutput& out) {
  const S7Response response = decodeResponse(header, limits_.maxValueBytes);
  S7Event event;
  event.time = now;
  event.message = S7Event::Message::response;
  event.fromPlc = from == Side::plc;
  event.rosctr = response.rosctr;
  event.pduRef = response.pduRef;
  event.function = response.function;
  event.userdata = response.userdata;
  event.itemCount = response.itemCount;
  event.pduSize = response.pduSize;
  if (response.error != 0) event.error = response.error;
  const std::size_t n = std::min(response.values.size(), limits_.maxEventItems);
  event.values.assign(response.values.begin(),
                      response.values.begin() + static_cast<std::ptrdiff_t>(n));
  event.itemsTruncated = n < response.values.size();

  auto& jobs = from == Side::plc ? clientJobs_ : plcJobs_;
  const auto it = std::find_if(jobs.begin(), jobs.end(), [&](const Pending& p) {
    return p.request.pduRef == response.pduRef;
  });
  if (it == jobs.end()) {
    event.decision = S7Decision::drop;
    event.reason =
        std::string(from == Side::plc ? "no request of the client's" : "no job of the PLC's") +
        " in flight has PDU reference " + std::to_string(response.pduRef);
    out.events.push_back(std::move(event));
    return;
  }
  if (!answers(it->request, response)) {
    // Left in flight: the real answer may still come, or it times out.
    event.decision = S7Decision::drop;
    event.reason = describeResponse(response) + " does not answer " + describe(it->request);
    out.events.push_back(std::move(event));
    return;
  }
  const S7Request& request = it->request;
  if (request.rosctr == Rosctr::job) event.function = request.function;
  event.items = request.items;
  event.decision = S7Decision::forward;
  if (response.malformed) event.reason = "malformed response: " + *response.malformed;
  out.events.push_back(std::move(event));
  append(from == Side::plc ? out.toClient : out.toServer, packets);

  if (request.rosctr == Rosctr::job) {
    if (from == Side::plc && request.function == s7fn::request_download) {
      // The PLC accepted a download: it will now ask the client for the blocks.
      downloadOpen_ = response.error == 0;
      downloadActivity_ = now;
    } else if (from == Side::client) {
      downloadActivity_ = now;
      if (request.function == s7fn::download_ended || response.error != 0) downloadOpen_ = false;
    }
  }
  jobs.erase(it);
}

void S7Inspector::refuse(Side asker, S7Event event, const S7Request& request, S7Decision decision,
                         S7Error error, std::string reason, S7InspectorOutput& out) const {
  const auto reply = errorReply(request, error);
  append(asker == Side::client ? out.toClient : out.toServer, reply);
  event.decision = decision;
  event.error = static_cast<std::uint16_t>(error);
  event.reason = std::move(reason);
  out.events.push_back(std::move(event));
}

void S7Inspector::expire(Instant now, S7InspectorOutput& out) {
  const std::string limit = std::to_string(limits_.responseTimeout.count()) + " s";
  for (auto it = clientJobs_.begin(); it != clientJobs_.end();) {
    if (it->sentAt + limits_.responseTimeout > now) {
      ++it;
      continue;
    }
    refuse(Side::client, requestEvent(it->request, false, now), it->request, S7Decision::expired,
           S7Error::cancelled, "the PLC did not answer within " + limit, out);
    it = clientJobs_.erase(it);
  }
  for (auto it = plcJobs_.begin(); it != plcJobs_.end();) {
    if (it->sentAt + limits_.responseTimeout > now) {
      ++it;
      continue;
    }
    refuse(Side::plc, requestEvent(it->request, true, now), it->request, S7Decision::expired,
           S7Error::cancelled, "the client did not answer within " + limit, out);
    it = plcJobs_.erase(it);
    downloadOpen_ = false;  // the PLC abandons a download whose step failed
  }
  // A PLC that accepted a download and never asks for a block does not keep it open for ever.
  if (downloadOpen_ && plcJobs_.empty() && downloadActivity_ + limits_.responseTimeout <= now) {
    downloadOpen_ = false;
  }
}

S7Event S7Inspector::requestEvent(const S7Request& request, bool fromPlc, Instant now) const {
  S7Event event;
  event.time = now;
  event.message = S7Event::Message::request;
  event.fromPlc = fromPlc;
  event.rosctr = request.rosctr;
  event.pduRef = request.pduRef;
  if (request.hasFunction) event.function = request.function;
  event.userdata = request.userdata;
  event.itemCount = request.itemCount;
  event.pduSize = request.pduSize;
  const std::size_t items = std::min(request.items.size(), limits_.maxEventItems);
  event.items.assign(request.items.begin(),
                     request.items.begin() + static_cast<std::ptrdiff_t>(items));
  const std::size_t values = std::min(request.values.size(), limits_.maxEventItems);
  event.values.assign(request.values.begin(),
                      request.values.begin() + static_cast<std::ptrdiff_t>(values));
  event.itemsTruncated = items < request.items.size() || values < request.values.size();
  if (request.malformed) event.reason = "malformed: " + *request.malformed;
  return event;
}

S7Inspector::Pending S7Inspector::pending(S7Request request, Instant now) const {
  request.values.clear();
  request.values.shrink_to_fit();
  if (request.items.size() > limits_.maxEventItems) request.items.resize(limits_.maxEventItems);
  return Pending{std::move(request), now};
}

}  // namespace conduit::tunnel
