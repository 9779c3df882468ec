#pragma once

#include <filesystem>
#include <memory>

#include "conduit/core/clock.hpp"
#include "conduit/core/result.hpp"
#include "conduit/notify/webhook.hpp"
#include "conduit/store/database.hpp"

namespace conduit::notify {

/// Tails the audit log (the outbox) and delivers notifications to the configured webhooks on
/// one worker thread; also warns when an active grant's window is about to end. Each webhook
/// keeps its own cursor in the database, advanced only past events it has delivered or given
/// up on, so a restart redelivers rather than loses. A webhook that is failing waits in backoff
/// without holding up the others. Failures after max_attempts are audited as `notify.failed`.
class Notifier {
 public:
  /// Checks the options, reads every webhook secret and opens a connection of its own to the
  /// database at `database` (migrated already). A webhook seen for the first time starts after
  /// the newest audit event: history is not replayed. Fails on an unreadable or unprotected
  /// secret, a bad URL or name, or a database error. `clock` must outlive the Notifier.
  static core::Result<std::unique_ptr<Notifier>> create(
      const NotifierOptions& options, const std::filesystem::path& database,
      const core::Clock& clock, const store::DatabaseOptions& dbOptions = {});

  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  /// Starts the worker thread; does nothing without webhooks or if already started.
  void start();

  /// Stops the worker: an attempt under way is abandoned (it is retried after a restart, with
  /// the same delivery id). Idempotent; the destructor calls it.
  void stop();

  struct Impl;

 private:
  explicit Notifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace conduit::notify
