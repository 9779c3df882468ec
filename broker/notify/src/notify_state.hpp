#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/store/database.hpp"

namespace conduit::notify {

/// The Notifier's rows (migration 0008): per-webhook cursors and warned grants.
class NotifyState {
 public:
  explicit NotifyState(store::Database& db) : db_(db) {}

  /// The last audit seq the webhook has finished with; nullopt for a webhook never seen.
  core::Result<std::optional<std::int64_t>> cursor(const std::string& webhook);
  core::Status setCursor(const std::string& webhook, std::int64_t lastSeq);

  /// Active grants whose window ends in (now, until] and that have not been warned about.
  core::Result<std::vector<std::int64_t>> grantsEndingSoon(core::TimePoint now,
                                                           core::TimePoint until);
  /// Records that every webhook is done with the warning for a grant.
  core::Status markWarned(std::int64_t grantId, core::TimePoint at);

 private:
  store::Database& db_;
};

}  // namespace conduit::notify
