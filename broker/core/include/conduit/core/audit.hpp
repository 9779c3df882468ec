#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/clock.hpp"

namespace conduit::core {

enum class AuditOutcome { success, failure };

std::string_view auditOutcomeName(AuditOutcome o) noexcept;

/// What happened, before it is placed in the chain (IEC 62443 SR 2.8: time, source, category,
/// type, event id, result).
struct AuditDraft {
  std::string actor;     // username, or "system"
  std::string source;    // source address, "cli", or "system"
  std::string category;  // "auth", "access", "admin", "session", "credential", "policy", "audit"
  std::string type;      // e.g. "request.created", "grant.revoked", "login.failed"
  std::string target;    // e.g. "request:12", "asset:plc-17"
  AuditOutcome outcome = AuditOutcome::success;
  std::string details;  // JSON object text; never secrets
};

/// An event as stored: the draft plus its place and hashes in the append-only chain.
struct AuditEvent {
  std::int64_t seq = 0;  // 1, 2, 3, ... with no gaps
  TimePoint time{};
  AuditDraft draft;
  std::string prevHash;  // hex; 64 zeros for the first event
  std::string hash;      // hex BLAKE2b-256 of prevHash || canonical event
};

/// The hash that precedes the first event.
std::string genesisHash();

/// The exact bytes hashed for an event (docs/audit.md): every field length-prefixed, so no
/// two different events share a canonical form.
std::string canonicalAuditEvent(const AuditEvent& e);

/// hex(BLAKE2b-256(prevHash || canonical(e))).
std::string auditHash(const AuditEvent& e);

/// Builds the next event of a chain whose last event has `prevSeq` and `prevHash`.
AuditEvent chainEvent(AuditDraft draft, TimePoint time, std::int64_t prevSeq,
                      const std::string& prevHash);

/// Where and why a chain stops being trustworthy.
struct ChainBreak {
  std::int64_t seq = 0;  // the first event that fails (or the expected seq that is missing)
  std::string why;
};

/// Recomputes a chain given in stored order. Detects edited events (hash mismatch), deleted
/// events (sequence gap or prev-hash mismatch) and reordered events.
std::optional<ChainBreak> verifyChain(const std::vector<AuditEvent>& events);

}  // namespace conduit::core
