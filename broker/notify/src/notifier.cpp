#include "conduit/notify/notifier.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "conduit/notify/notification.hpp"
#include "conduit/notify/signature.hpp"
#include "conduit/notify/webhook_secret.hpp"
#include "conduit/store/access_repository.hpp"
#include "conduit/store/audit_log.hpp"
#include "event_facts.hpp"
#include "https_post.hpp"
#include "notify_state.hpp"

namespace conduit::notify {

using core::ErrorCode;
using core::fail;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Audit events read per query: small enough to keep one poll short, large enough that a backlog
// after an outage drains quickly.
constexpr std::int64_t kReadBatch = 200;
// Reading pauses while a webhook has this many deliveries waiting. The events stay in the audit
// log (the outbox), so nothing is lost; memory stays bounded while a receiver is down.
constexpr std::size_t kMaxQueued = 1000;

/// One notification on its way to one webhook.
struct Delivery {
  std::string id;  // X-Conduit-Delivery, the same on every attempt and after a restart
  std::string event;
  std::string body;
  std::optional<std::int64_t> auditSeq;     // set for notifications from the audit log
  std::optional<std::int64_t> warnedGrant;  // set for window.ending
  int attempts = 0;
  SteadyClock::time_point due;
  std::string lastError;
};

struct Webhook {
  WebhookOptions options;
  WebhookSecret secret;
  std::deque<Delivery> queue;  // in audit order; the front is the only one attempted
  std::int64_t cursor = 0;     // finished (delivered or given up) with every event <= cursor
  std::int64_t persisted = 0;  // the cursor as stored in the database
};

core::Status checkOptions(const NotifierOptions& options) {
  std::set<std::string> names;
  for (const auto& w : options.webhooks) {
    if (auto st = checkWebhookName(w.name); !st) return st;
    if (!names.insert(w.name).second) {
      return fail(ErrorCode::invalid_argument, "two webhooks are named '" + w.name + "'");
    }
    if (auto st = checkWebhookUrl(w.url); !st) {
      return fail(ErrorCode::invalid_argument, "webhook " + w.name + ": " + st.error().message);
    }
    for (const auto& e : w.events) {
      if (!isNotificationEvent(e)) {
        return fail(ErrorCode::invalid_argument,
                    "webhook " + w.name + ": unknown notification event '" + e + "'");
      }
    }
    if (w.maxAttempts < 1) {
      return fail(ErrorCode::invalid_argument, "webhook " + w.name + ": max_attempts must be >= 1");
    }
  }
  return core::Done{};
}

}  // namespace

struct Notifier::Impl {
  Impl(NotifierOptions o, const core::Clock& c, store::Database d)
      : options(std::move(o)), clock(c), db(std::move(d)) {}

  NotifierOptions options;
  const core::Clock& clock;
  store::Database db;  // this worker's own connection
  std::vector<Webhook> webhooks;
  std::int64_t fetched = 0;  // every audit event <= fetched has been queued where it is wanted
  std::map<std::int64_t, int> warningsOutstanding;  // grant id -> webhooks not finished
  bool wantsWindows = false;

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;  // guarded by mutex
  std::atomic<bool> abort{false};
  std::thread worker;

  void run();
  void readAuditLog();
  void scanWindows();
  void attempt(Webhook& w);
  void finish(Webhook& w);
  void advanceCursor(Webhook& w) const;
  void persistCursors();
  void auditFailure(const Webhook& w, const Delivery& d);
};

void Notifier::Impl::run() {
  auto nextPoll = SteadyClock::now();
  while (true) {
    {
      std::lock_guard lock(mutex);
      if (stopping) break;
    }
    if (SteadyClock::now() >= nextPoll) {
      readAuditLog();
      scanWindows();
      nextPoll = SteadyClock::now() + options.pollInterval;
    }
    // One attempt per webhook per turn: a webhook with a backlog or a slow receiver cannot
    // starve the others.
    for (auto& w : webhooks) {
      if (abort) break;
      if (!w.queue.empty() && w.queue.front().due <= SteadyClock::now()) attempt(w);
    }
    persistCursors();
    auto wakeAt = nextPoll;
    for (const auto& w : webhooks) {
      if (!w.queue.empty()) wakeAt = std::min(wakeAt, w.queue.front().due);
    }
    std::unique_lock lock(mutex);
    wake.wait_until(lock, wakeAt, [this] { return stopping; });
  }
  persistCursors();
}

void Notifier::Impl::readAuditLog() {
  store::AuditLog log(db);
  store::AccessRepository repo(db);
  const auto full = [this] {
    return std::any_of(webhooks.begin(), webhooks.end(),
                       [](const Webhook& w) { return w.queue.size() >= kMaxQueued; });
  };
  while (!full()) {
    auto events = log.after(fetched, kReadBatch);
    if (!events) {
      spdlog::warn("event=notify_read_failed reason=\"{}\"", events.error().message);
      return;
    }
    for (const core::AuditEvent& e : *events) {
      std::optional<Notification> n;
      if (auto subject = notifiableSubject(e)) {
        auto facts = lookUpFacts(repo, *subject);
        if (!facts) {
          // Retried at the next poll; fetched stays before this event.
          spdlog::warn("event=notify_read_failed seq={} reason=\"{}\"", e.seq,
                       facts.error().message);
          return;
        }
        n = notificationFor(e, *facts);
      }
      if (n) {
        const std::string key = "audit:" + std::to_string(e.seq) + ":" + e.hash;
        for (auto& w : webhooks) {
          if (e.seq <= w.cursor || !w.options.wants(n->event)) continue;
          Delivery d;
          d.id = deliveryId(key, w.options.name);
          d.event = n->event;
          d.body = n->body;
          d.auditSeq = e.seq;
          d.due = SteadyClock::now();
          w.queue.push_back(std::move(d));
        }
      }
      fetched = e.seq;
    }
    for (auto& w : webhooks) advanceCursor(w);
    if (static_cast<std::int64_t>(events->size()) < kReadBatch) return;
  }
}

void Notifier::Impl::scanWindows() {
  if (!wantsWindows) return;
  NotifyState state(db);
  store::AccessRepository repo(db);
  const core::TimePoint now = clock.now();
  const auto until = now + std::chrono::duration_cast<core::Seconds>(options.windowWarning);
  auto ids = state.grantsEndingSoon(now, until);
  if (!ids) {
    spdlog::warn("event=notify_window_scan_failed reason=\"{}\"", ids.error().message);
    return;
  }
  for (std::int64_t id : *ids) {
    if (warningsOutstanding.contains(id)) continue;
    auto facts = lookUpFacts(repo, EventSubject{EventSubject::Kind::grant, id});
    if (!facts) {
      spdlog::warn("event=notify_window_scan_failed grant={} reason=\"{}\"", id,
                   facts.error().message);
      return;
    }
    auto n = windowEndingNotification(*facts, now);
    if (!n) {
      // A grant whose request, asset or user is gone: nothing to say, and nothing to look at
      // again.
      (void)state.markWarned(id, now);
      continue;
    }
    const std::string key = "window:" + std::to_string(id) + ":" +
                            std::to_string(facts->grant->notAfter.time_since_epoch().count());
    int outstanding = 0;
    for (auto& w : webhooks) {
      if (!w.options.wants(n->event)) continue;
      Delivery d;
      d.id = deliveryId(key, w.options.name);
      d.event = n->event;
      d.body = n->body;
      d.warnedGrant = id;
      d.due = SteadyClock::now();
      w.queue.push_back(std::move(d));
      ++outstanding;
    }
    warningsOutstanding[id] = outstanding;
  }
}

void Notifier::Impl::attempt(Webhook& w) {
  Delivery& d = w.queue.front();
  ++d.attempts;
  const std::string timestamp = std::to_string(clock.now().time_since_epoch().count());
  PostRequest request;
  request.url = w.options.url;
  request.headers = {
      "Content-Type: application/json",
      "X-Conduit-Event: " + d.event,
      "X-Conduit-Delivery: " + d.id,
      "X-Conduit-Timestamp: " + timestamp,
      "X-Conduit-Attempt: " + std::to_string(d.attempts),
      "X-Conduit-Signature: " + signatureHeader(w.secret.bytes(), timestamp, d.body)};
  request.body = d.body;
  request.caFile = w.options.caFile;
  request.timeout = options.requestTimeout;
  const PostOutcome outcome = postJson(request, abort);
  if (outcome.delivered()) {
    spdlog::info("event=notify_delivered webhook={} notification={} delivery={} attempts={}",
                 w.options.name, d.event, d.id, d.attempts);
    finish(w);
    return;
  }
  // Stopping: the delivery stays unfinished, so it is sent again after a restart.
  if (abort) return;
  d.lastError = outcome.describe();
  if (d.attempts >= w.options.maxAttempts) {
    spdlog::error(
        "event=notify_failed webhook={} notification={} delivery={} attempts={} reason=\"{}\"",
        w.options.name, d.event, d.id, d.attempts, d.lastError);
    auditFailure(w, d);
    finish(w);
    return;
  }
  const auto delay = options.retry.delayAfter(d.attempts);
  d.due = SteadyClock::now() + delay;
  spdlog::warn(
      "event=notify_retry webhook={} notification={} delivery={} attempts={} retry_in_ms={} "
      "reason=\"{}\"",
      w.options.name, d.event, d.id, d.attempts, delay.count(), d.lastError);
}

void Notifier::Impl::finish(Webhook& w) {
  const Delivery d = std::move(w.queue.front());
  w.queue.pop_front();
  if (d.warnedGrant) {
    auto it = warningsOutstanding.find(*d.warnedGrant);
    if (it != warningsOutstanding.end() && --it->second <= 0) {
      // If this write fails the warning is sent again later: at least once, never lost.
      if (auto st = NotifyState(db).markWarned(*d.warnedGrant, clock.now()); !st) {
        spdlog::warn("event=notify_state_failed grant={} reason=\"{}\"", *d.warnedGrant,
                     st.error().message);
      }
      warningsOutstanding.erase(it);
    }
  }
  advanceCursor(w);
}

void Notifier::Impl::advanceCursor(Webhook& w) const {
  std::int64_t done = fetched;
  for (const Delivery& d : w.queue) {
    if (d.auditSeq) {
      done = *d.auditSeq - 1;
      break;
    }
  }
  w.cursor = std::max(w.cursor, done);
}

void Notifier::Impl::persistCursors() {
  NotifyState state(db);
  for (auto& w : webhooks) {
    if (w.cursor == w.persisted) continue;
    if (auto st = state.setCursor(w.options.name, w.cursor); !st) {
      spdlog::warn("event=notify_state_failed webhook={} reason=\"{}\"", w.options.name,
                   st.error().message);
      continue;
    }
    w.persisted = w.cursor;
  }
}

void Notifier::Impl::auditFailure(const Webhook& w, const Delivery& d) {
  boost::json::object details;
  details["webhook"] = w.options.name;
  details["event"] = d.event;
  details["delivery"] = d.id;
  details["attempts"] = d.attempts;
  details["last_error"] = d.lastError;
  if (d.auditSeq) details["audit_seq"] = *d.auditSeq;
  if (d.warnedGrant) details["grant"] = *d.warnedGrant;
  auto tx = store::Transaction::begin(db);
  if (tx) {
    auto e = store::AuditLog(db).append(
        {"system", "system", "notify", "notify.failed", "webhook:" + w.options.name,
         core::AuditOutcome::failure, boost::json::serialize(details)},
        clock.now());
    if (e && tx->commit()) return;
  }
  spdlog::error("event=notify_audit_failed webhook={} delivery={}", w.options.name, d.id);
}

core::Result<std::unique_ptr<Notifier>> Notifier::create(const NotifierOptions& options,
                                                         const std::filesystem::path& database,
                                                         const core::Clock& clock,
                                                         const store::DatabaseOptions& dbOptions) {
  if (auto st = checkOptions(options); !st) return st.error();
  std::vector<Webhook> webhooks;
  for (const auto& o : options.webhooks) {
    auto secret = WebhookSecret::load(o.secretFile);
    if (!secret) {
      return fail(secret.error().code, "webhook " + o.name + ": " + secret.error().message);
    }
    webhooks.push_back(Webhook{o, std::move(*secret), {}, 0, 0});
  }
  auto db = store::Database::open(database, dbOptions);
  if (!db) return db.error();
  auto impl = std::make_unique<Impl>(options, clock, std::move(*db));

  auto last = store::AuditLog(impl->db).lastSeq();
  if (!last) return last.error();
  NotifyState state(impl->db);
  impl->fetched = *last;
  for (auto& w : webhooks) {
    auto cursor = state.cursor(w.options.name);
    if (!cursor) return cursor.error();
    if (!*cursor) {
      // A new webhook starts now: replaying the whole history to it would flood the receiver.
      if (auto st = state.setCursor(w.options.name, *last); !st) return st.error();
      *cursor = *last;
    }
    w.cursor = w.persisted = **cursor;
    impl->fetched = std::min(impl->fetched, w.cursor);
    impl->wantsWindows = impl->wantsWindows || w.options.wants("window.ending");
  }
  impl->webhooks = std::move(webhooks);
  return std::unique_ptr<Notifier>(new Notifier(std::move(impl)));
}

Notifier::Notifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Notifier::~Notifier() {
  stop();
}

void Notifier::start() {
  if (impl_->webhooks.empty() || impl_->worker.joinable()) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = false;
  }
  impl_->abort = false;
  impl_->worker = std::thread([impl = impl_.get()] {
    pthread_setname_np(pthread_self(), "notifier");  // for top -H, perf and gdb
    impl->run();
  });
  spdlog::info("event=notify_started webhooks={}", impl_->webhooks.size());
}

void Notifier::stop() {
  if (!impl_->worker.joinable()) return;
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->abort = true;
  impl_->wake.notify_all();
  impl_->worker.join();
  spdlog::info("event=notify_stopped");
}

}  // namespace conduit::notify
