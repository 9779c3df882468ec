#include "event_facts.hpp"

namespace conduit::notify {

namespace {

/// Stores a found row in `slot`; not_found leaves it empty; any other error is returned.
template <typename T>
std::optional<core::Error> keep(core::Result<T> row, std::optional<T>& slot) {
  if (row) {
    slot = std::move(*row);
    return std::nullopt;
  }
  if (row.error().code == core::ErrorCode::not_found) return std::nullopt;
  return row.error();
}

}  // namespace

core::Result<EventFacts> lookUpFacts(store::AccessRepository& repo, const EventSubject& subject) {
  EventFacts f;
  std::int64_t requestId = 0;
  if (subject.kind == EventSubject::Kind::grant) {
    if (auto e = keep(repo.grant(subject.id), f.grant)) return *e;
    if (!f.grant) return f;
    requestId = f.grant->requestId;
  } else {
    requestId = subject.id;
  }
  if (auto e = keep(repo.request(requestId), f.request)) return *e;
  if (!f.request) return f;
  if (auto e = keep(repo.asset(f.request->assetId), f.asset)) return *e;
  if (auto e = keep(repo.user(f.request->requesterId), f.requester)) return *e;
  if (subject.kind == EventSubject::Kind::request &&
      f.request->state == core::RequestState::approved) {
    // The grant the approval made, so a decided notification can name it.
    auto grants = repo.grants(f.request->requesterId);
    if (!grants) return grants.error();
    for (auto& g : *grants) {
      if (g.requestId == requestId) f.grant = std::move(g);
    }
  }
  return f;
}

}  // namespace conduit::notify
