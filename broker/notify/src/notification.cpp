#include "conduit/notify/notification.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

namespace conduit::notify {

namespace json = boost::json;

bool isNotificationEvent(std::string_view name) noexcept {
  return std::find(kNotificationEvents.begin(), kNotificationEvents.end(), name) !=
         kNotificationEvents.end();
}

namespace {

/// The id in a target such as "request:12"; nullopt if the target has another prefix.
std::optional<std::int64_t> targetId(std::string_view target, std::string_view prefix) {
  if (!target.starts_with(prefix)) return std::nullopt;
  const std::string_view digits = target.substr(prefix.size());
  std::int64_t id = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (ec != std::errc{} || end != digits.data() + digits.size() || id <= 0) return std::nullopt;
  return id;
}

/// A string field of the event's details; empty if absent or the details are not an object.
std::string detail(const core::AuditEvent& event, std::string_view key) {
  boost::system::error_code ec;
  const json::value v = json::parse(event.draft.details, ec);
  if (ec || !v.is_object()) return {};
  const json::value* field = v.as_object().if_contains(key);
  if (field == nullptr || !field->is_string()) return {};
  return std::string(field->as_string());
}

json::array protocolArray(const std::vector<core::Protocol>& protocols) {
  json::array out;
  for (auto p : protocols) out.emplace_back(core::protocolName(p));
  return out;
}

/// Fields every notification carries: who is concerned (owner group, requester, vendor) and
/// what (asset). The owner group is the request's (the group that had to approve it).
void addParties(json::object& o, const core::Asset& asset, const core::User& requester,
                const std::optional<core::AccessRequest>& request) {
  o["asset"] = asset.name;
  o["asset_id"] = asset.id;
  o["site"] = asset.site;
  o["zone"] = asset.zone;
  o["criticality"] = core::criticalityName(asset.criticality);
  o["owner_group"] = request ? request->ownerGroup : asset.ownerGroup;
  o["requester"] = requester.username;
  o["requester_name"] = requester.displayName;
  o["vendor"] = requester.vendorName;
}

void addRequest(json::object& o, const core::AccessRequest& r) {
  o["request_id"] = r.id;
  o["protocols"] = protocolArray(r.protocols);
  o["window_start"] = core::formatTime(r.windowStart);
  o["window_end"] = core::formatTime(r.windowEnd());
  o["reason"] = r.reason;
  o["ticket"] = r.ticket;
}

json::object header(std::string_view event, const core::AuditEvent& e) {
  json::object o;
  o["event"] = event;
  o["audit_seq"] = e.seq;
  o["time"] = core::formatTime(e.time);
  o["actor"] = e.draft.actor;
  return o;
}

std::optional<Notification> pending(const core::AuditEvent& e, const EventFacts& f) {
  if (!f.request || !f.asset || !f.requester) return std::nullopt;
  json::object o = header("request.pending", e);
  addRequest(o, *f.request);
  addParties(o, *f.asset, *f.requester, f.request);
  o["approvals_required"] = f.request->limits.approvals.total();
  return Notification{"request.pending", json::serialize(o)};
}

std::optional<Notification> decided(const core::AuditEvent& e, const EventFacts& f) {
  // The state written with the vote, not the request's state now: a later change must not
  // rewrite what this event said.
  const std::string state = detail(e, "state");
  if (state != "approved" && state != "denied") return std::nullopt;
  if (!f.request || !f.asset || !f.requester) return std::nullopt;
  json::object o = header("request.decided", e);
  addRequest(o, *f.request);
  addParties(o, *f.asset, *f.requester, f.request);
  o["decision"] = state;
  o["decided_by"] = e.draft.actor;
  o["comment"] = detail(e, "comment");
  if (f.grant) o["grant_id"] = f.grant->id;
  return Notification{"request.decided", json::serialize(o)};
}

std::optional<Notification> revoked(const core::AuditEvent& e, const EventFacts& f) {
  if (!f.grant || !f.asset || !f.requester) return std::nullopt;
  json::object o = header("grant.revoked", e);
  o["grant_id"] = f.grant->id;
  o["request_id"] = f.grant->requestId;
  o["protocols"] = protocolArray(f.grant->protocols);
  o["window_start"] = core::formatTime(f.grant->notBefore);
  o["window_end"] = core::formatTime(f.grant->notAfter);
  addParties(o, *f.asset, *f.requester, f.request);
  o["revoked_by"] = e.draft.actor;
  o["reason"] = detail(e, "reason");
  return Notification{"grant.revoked", json::serialize(o)};
}

}  // namespace

std::optional<EventSubject> notifiableSubject(const core::AuditEvent& event) {
  if (event.draft.outcome != core::AuditOutcome::success) return std::nullopt;
  const std::string& type = event.draft.type;
  if (type == "request.created" || type == "request.approved" || type == "request.denied") {
    if (auto id = targetId(event.draft.target, "request:")) {
      return EventSubject{EventSubject::Kind::request, *id};
    }
  } else if (type == "grant.revoked") {
    if (auto id = targetId(event.draft.target, "grant:")) {
      return EventSubject{EventSubject::Kind::grant, *id};
    }
  }
  return std::nullopt;
}

std::optional<Notification> notificationFor(const core::AuditEvent& event,
                                            const EventFacts& facts) {
  if (!notifiableSubject(event)) return std::nullopt;
  const std::string& type = event.draft.type;
  if (type == "request.created") return pending(event, facts);
  if (type == "grant.revoked") return revoked(event, facts);
  return decided(event, facts);
}

std::optional<Notification> windowEndingNotification(const EventFacts& facts, core::TimePoint now) {
  if (!facts.grant || !facts.request || !facts.asset || !facts.requester) return std::nullopt;
  const core::Grant& g = *facts.grant;
  json::object o;
  o["event"] = "window.ending";
  o["time"] = core::formatTime(now);
  o["actor"] = "system";
  o["grant_id"] = g.id;
  o["request_id"] = g.requestId;
  o["protocols"] = protocolArray(g.protocols);
  o["window_start"] = core::formatTime(g.notBefore);
  o["window_end"] = core::formatTime(g.notAfter);
  // Whole minutes, rounded up: "1 minute left" until the very end.
  const auto left = std::chrono::ceil<std::chrono::minutes>(g.notAfter - now).count();
  o["minutes_left"] = std::max<std::int64_t>(left, 0);
  addParties(o, *facts.asset, *facts.requester, facts.request);
  o["reason"] = facts.request->reason;
  o["ticket"] = facts.request->ticket;
  return Notification{"window.ending", json::serialize(o)};
}

}  // namespace conduit::notify
