#include "conduit/core/audit.hpp"

#include <sodium.h>

namespace conduit::core {

namespace {

void field(std::string& out, std::string_view value) {
  out += std::to_string(value.size());
  out += ':';
  out += value;
  out += ';';
}

std::string hex(const unsigned char* data, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string_view auditOutcomeName(AuditOutcome o) noexcept {
  return o == AuditOutcome::success ? "success" : "failure";
}

std::string genesisHash() {
  return std::string(64, '0');
}

std::string canonicalAuditEvent(const AuditEvent& e) {
  std::string out = "conduit-audit-v1;";
  field(out, std::to_string(e.seq));
  field(out, formatTime(e.time));
  field(out, e.draft.actor);
  field(out, e.draft.source);
  field(out, e.draft.category);
  field(out, e.draft.type);
  field(out, e.draft.target);
  field(out, auditOutcomeName(e.draft.outcome));
  field(out, e.draft.details);
  return out;
}

std::string auditHash(const AuditEvent& e) {
  const std::string canonical = canonicalAuditEvent(e);
  unsigned char digest[32];
  crypto_generichash_state state;
  crypto_generichash_init(&state, nullptr, 0, sizeof digest);
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(e.prevHash.data()),
                            e.prevHash.size());
  crypto_generichash_update(&state, reinterpret_cast<const unsigned char*>(canonical.data()),
                            canonical.size());
  crypto_generichash_final(&state, digest, sizeof digest);
  return hex(digest, sizeof digest);
}

AuditEvent chainEvent(AuditDraft draft, TimePoint time, std::int64_t prevSeq,
                      const std::string& prevHash) {
  AuditEvent e;
  e.seq = prevSeq + 1;
  e.time = time;
  e.draft = std::move(draft);
  e.prevHash = prevHash;
  e.hash = auditHash(e);
  return e;
}

std::optional<ChainBreak> verifyChain(const std::vector<AuditEvent>& events) {
  std::string expectedPrev = genesisHash();
  std::int64_t expectedSeq = 1;
  for (const auto& e : events) {
    if (e.seq != expectedSeq) {
      return ChainBreak{expectedSeq, e.seq > expectedSeq
                                         ? "event " + std::to_string(expectedSeq) +
                                               " is missing (next stored is " +
                                               std::to_string(e.seq) + ")"
                                         : "event " + std::to_string(e.seq) + " is out of order"};
    }
    if (e.prevHash != expectedPrev) {
      return ChainBreak{e.seq, "event " + std::to_string(e.seq) +
                                   " does not follow the previous event (prev_hash mismatch)"};
    }
    if (auditHash(e) != e.hash) {
      return ChainBreak{e.seq, "event " + std::to_string(e.seq) +
                                   " was altered (its hash does not match its content)"};
    }
    expectedPrev = e.hash;
    ++expectedSeq;
  }
  return std::nullopt;
}

}  // namespace conduit::core
