#pragma once

#include <span>
#include <string>
#include <string_view>

namespace conduit::notify {

/// Lower-case hex of HMAC-SHA256(key, message) (RFC 2104; keys of any length).
std::string hmacSha256Hex(std::span<const unsigned char> key, std::string_view message);

/// The X-Conduit-Signature value: "sha256=" + hex HMAC-SHA256(secret, timestamp + "." + body).
/// The timestamp is signed with the body so a captured delivery cannot be replayed later with a
/// fresh timestamp.
std::string signatureHeader(std::span<const unsigned char> secret, std::string_view timestamp,
                            std::string_view body);

/// The X-Conduit-Delivery id: 32 hex digits derived from what is delivered (`key`, e.g. the audit
/// event's seq and hash) and the webhook name, so a redelivery carries the same id and
/// receivers can drop duplicates.
std::string deliveryId(std::string_view key, std::string_view webhook);

}  // namespace conduit::notify
