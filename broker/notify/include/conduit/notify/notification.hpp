#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>

#include "conduit/core/access_request.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/audit.hpp"
#include "conduit/core/identity.hpp"

namespace conduit::notify {

/// The notifications a webhook can subscribe to (docs/notifications.md).
inline constexpr std::array<std::string_view, 4> kNotificationEvents{
    "request.pending", "request.decided", "grant.revoked", "window.ending"};

/// True for a name in kNotificationEvents.
bool isNotificationEvent(std::string_view name) noexcept;

/// One message for the webhooks: its event name and the JSON object text that is POSTed.
/// The body never holds a secret: no password, TOTP seed, credential or endpoint address.
struct Notification {
  std::string event;
  std::string body;
};

/// What an audit event is about, so the caller knows which rows to look up.
struct EventSubject {
  enum class Kind { request, grant } kind = Kind::request;
  std::int64_t id = 0;
};

/// The subject of an event that can notify (request.created/approved/denied, grant.revoked);
/// nullopt for every other event, which never notifies.
std::optional<EventSubject> notifiableSubject(const core::AuditEvent& event);

/// The rows an event is about, looked up when the notification is built (the request for
/// request events; the grant and its request for grant events; always the asset and requester).
struct EventFacts {
  std::optional<core::AccessRequest> request;
  std::optional<core::Grant> grant;
  std::optional<core::Asset> asset;
  std::optional<core::User> requester;
};

/// Maps an audit event to its notification: request.created -> request.pending; a vote that
/// decided the request (details.state approved or denied) -> request.decided; grant.revoked ->
/// grant.revoked. nullopt for events that do not notify, for a vote that leaves the request
/// pending (more approvals needed), for failures, and when the facts the payload needs are
/// missing. Pure: no I/O.
std::optional<Notification> notificationFor(const core::AuditEvent& event, const EventFacts& facts);

/// The warning that an active grant's window ends soon ("window.ending"), as seen at `now`.
/// nullopt if facts lack the grant, its request, asset or requester. Pure.
std::optional<Notification> windowEndingNotification(const EventFacts& facts, core::TimePoint now);

}  // namespace conduit::notify
