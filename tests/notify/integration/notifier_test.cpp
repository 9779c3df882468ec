// The Notifier against a real HTTP receiver on 127.0.0.1: real workflow through AccessService,
// real audit log, real libcurl. Backoff is shortened through NotifierOptions so each case takes
// well under 5 s.
#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>
#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "conduit/access/access_service.hpp"
#include "conduit/access/admin_service.hpp"
#include "conduit/notify/notifier.hpp"
#include "conduit/store/audit_log.hpp"
#include "conduit/store/database.hpp"
#include "conduit/store/migrations.hpp"
#include "support/http_receiver.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace std::chrono_literals;
using test::HttpReceiver;

namespace {

constexpr const char* kPolicy = R"(
[[rule]]
id = "vendor-ssh"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
[rule.limits]
max_duration = "4h"
approvals = 1
mfa = "optional"
)";

/// A clock the test moves while the worker thread reads it.
class TestClock final : public core::Clock {
 public:
  explicit TestClock(core::TimePoint t) : seconds_(t.time_since_epoch().count()) {}
  core::TimePoint now() const override { return core::TimePoint{core::Seconds{seconds_.load()}}; }
  void set(core::TimePoint t) { seconds_ = t.time_since_epoch().count(); }

 private:
  std::atomic<std::int64_t> seconds_;
};

std::string hmacHex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

boost::json::object body(const HttpReceiver::Request& r) {
  return boost::json::parse(r.body).as_object();
}

std::string field(const HttpReceiver::Request& r, const char* key) {
  return std::string(body(r).at(key).as_string());
}

struct World {
  test::TempDir dir;
  std::filesystem::path dbPath = dir / "c.db";
  store::Database db = open();
  TestClock clock{*core::parseTime("2026-11-26T08:00:00Z")};
  policies::PolicySet policy = policies::PolicySet::parse(kPolicy, "test.toml").value();
  access::AdminService admin{db, clock};
  access::AccessService service{db, policy, clock};
  access::Actor root{"admin-cli", "cli"};
  access::Actor alice{"alice", "10.1.1.1"};
  access::Actor erin{"erin", "10.2.2.2"};
  // What receivers share with the broker; the file holds it with a trailing newline.
  const std::string secret = "receiver-shared-secret-0123456789";

  store::Database open() {
    auto d = store::Database::open(dbPath);
    REQUIRE(store::migrate(*d).ok());
    return std::move(*d);
  }

  World() {
    REQUIRE(admin.addGroup(root, {0, "line-3-controls", ""}).ok());
    REQUIRE(admin.addVendor(root, {0, "acme", "ops@acme", std::nullopt, false}).ok());
    REQUIRE(admin
                .addUser(root, {"alice",
                                "Alice",
                                "acme",
                                {core::Role::vendor},
                                {},
                                "alice-password-1",
                                std::nullopt})
                .ok());
    REQUIRE(admin
                .addUser(root, {"erin",
                                "Erin",
                                "",
                                {core::Role::engineer},
                                {"line-3-controls"},
                                "erin-password-12",
                                std::nullopt})
                .ok());
    core::Asset plc;
    plc.name = "plc-17";
    plc.ownerGroup = "line-3-controls";
    plc.criticality = core::Criticality::medium;
    plc.endpoints = {{0, core::Protocol::ssh, "127.0.0.1", 22, "maint", ""}};
    REQUIRE(admin.addAsset(root, plc).ok());
    test::writeText(dir / "hook.secret", secret + "\n");
    ::chmod((dir / "hook.secret").c_str(), 0600);
  }

  notify::WebhookOptions hook(const std::string& name, const HttpReceiver& receiver,
                              std::set<std::string> events = {}, int maxAttempts = 6) {
    notify::WebhookOptions w;
    w.name = name;
    w.url = receiver.url();
    w.secretFile = dir / "hook.secret";
    w.events = std::move(events);
    w.maxAttempts = maxAttempts;
    return w;
  }

  notify::NotifierOptions options(std::vector<notify::WebhookOptions> hooks,
                                  notify::RetrySchedule retry = {10ms, 40ms}) {
    notify::NotifierOptions o;
    o.webhooks = std::move(hooks);
    o.pollInterval = 20ms;
    o.retry = retry;
    o.requestTimeout = 2s;
    return o;
  }

  std::unique_ptr<notify::Notifier> notifier(const notify::NotifierOptions& o) {
    auto n = notify::Notifier::create(o, dbPath, clock);
    REQUIRE(n.ok());
    (*n)->start();
    return std::move(*n);
  }

  core::AccessRequest request() {
    auto r = service.requestAccess(
        alice, "plc-17", {{core::Protocol::ssh}, clock.now(), 2h, "firmware update", "CHG-7"});
    REQUIRE(r.ok());
    return *r;
  }

  std::int64_t lastSeq() { return store::AuditLog(db).lastSeq().value(); }

  std::int64_t cursor(const std::string& webhook) {
    auto s = db.prepare("SELECT last_seq FROM notify_cursor WHERE webhook = ?1");
    s->bind(1, webhook);
    return s->step().value() ? s->columnInt(0) : -1;
  }

  /// Waits until the webhook's stored cursor reaches seq.
  bool cursorReaches(const std::string& webhook, std::int64_t seq) {
    for (int i = 0; i < 250; ++i) {
      if (cursor(webhook) >= seq) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  std::vector<core::AuditEvent> events(const std::string& type) {
    std::vector<core::AuditEvent> out;
    auto all = store::AuditLog(db).list().value();
    for (auto& e : all) {
      if (e.draft.type == type) out.push_back(e);
    }
    return out;
  }

  /// Checks what a receiver must check: the signature over timestamp "." body with the shared
  /// secret, computed here with OpenSSL.
  void checkSigned(const HttpReceiver::Request& r) {
    const std::string ts = r.header("x-conduit-timestamp");
    CHECK(ts == std::to_string(clock.now().time_since_epoch().count()));
    CHECK(r.header("x-conduit-signature") == "sha256=" + hmacHex(secret, ts + "." + r.body));
    CHECK(r.header("x-conduit-signature") != "sha256=" + hmacHex(secret + "x", ts + "." + r.body));
  }
};

}  // namespace

TEST_CASE("notify: request, decisions and revocation reach the receiver, signed, in order") {
  World w;
  HttpReceiver all;
  HttpReceiver revocations;
  auto n = w.notifier(
      w.options({w.hook("ops-chat", all), w.hook("tickets", revocations, {"grant.revoked"})}));

  const auto approvedRequest = w.request();
  auto vote = w.service.vote(w.erin, approvedRequest.id, true, "go ahead");
  REQUIRE(vote.ok());
  REQUIRE(vote->grant.has_value());
  REQUIRE(w.service.revoke(w.erin, vote->grant->id, "work finished").ok());
  const auto deniedRequest = w.request();
  REQUIRE(w.service.vote(w.erin, deniedRequest.id, false, "not during production").ok());

  REQUIRE(all.waitFor(5, 5s));
  REQUIRE(revocations.waitFor(1, 5s));
  const auto got = all.requests();
  REQUIRE(got.size() == 5);
  std::vector<std::string> kinds;
  std::set<std::string> ids;
  for (const auto& r : got) {
    CHECK(r.method == "POST");
    CHECK(r.target == "/hook");
    CHECK(r.header("content-type") == "application/json");
    CHECK(r.header("x-conduit-event") == field(r, "event"));
    w.checkSigned(r);
    kinds.push_back(r.header("x-conduit-event"));
    ids.insert(r.header("x-conduit-delivery"));
  }
  CHECK(kinds == std::vector<std::string>{"request.pending", "request.decided", "grant.revoked",
                                          "request.pending", "request.decided"});
  CHECK(ids.size() == 5);

  CHECK(body(got[0]).at("request_id").as_int64() == approvedRequest.id);
  CHECK(field(got[0], "owner_group") == "line-3-controls");
  CHECK(field(got[0], "requester") == "alice");
  CHECK(field(got[0], "vendor") == "acme");
  CHECK(field(got[0], "asset") == "plc-17");
  CHECK(field(got[0], "reason") == "firmware update");
  CHECK(field(got[1], "decision") == "approved");
  CHECK(field(got[1], "comment") == "go ahead");
  CHECK(body(got[1]).at("grant_id").as_int64() == vote->grant->id);
  CHECK(field(got[2], "reason") == "work finished");
  CHECK(field(got[2], "revoked_by") == "erin");
  CHECK(field(got[4], "decision") == "denied");
  CHECK(field(got[4], "comment") == "not during production");

  // The filtered webhook got the revocation only, under its own delivery id.
  std::this_thread::sleep_for(100ms);
  const auto rev = revocations.requests();
  REQUIRE(rev.size() == 1);
  CHECK(rev[0].header("x-conduit-event") == "grant.revoked");
  CHECK(rev[0].body == got[2].body);
  CHECK(rev[0].header("x-conduit-delivery") != got[2].header("x-conduit-delivery"));
  w.checkSigned(rev[0]);
}

TEST_CASE("notify: a receiver failing twice gets the same delivery three times, then never again") {
  World w;
  HttpReceiver flaky([](const HttpReceiver::Request&, std::size_t i) { return i < 2 ? 500 : 200; });
  auto n = w.notifier(w.options({w.hook("flaky", flaky, {"request.pending"})}));
  w.request();
  const auto created = w.lastSeq();

  REQUIRE(flaky.waitFor(3, 5s));
  REQUIRE(w.cursorReaches("flaky", created));
  std::this_thread::sleep_for(200ms);
  const auto got = flaky.requests();
  REQUIRE(got.size() == 3);
  for (const auto& r : got) {
    CHECK(r.header("x-conduit-delivery") == got[0].header("x-conduit-delivery"));
    CHECK(r.body == got[0].body);
    w.checkSigned(r);
  }
  CHECK(got[0].header("x-conduit-attempt") == "1");
  CHECK(got[2].header("x-conduit-attempt") == "3");
  CHECK(w.events("notify.failed").empty());
}

TEST_CASE("notify: a receiver that always fails: given up after max_attempts and audited") {
  World w;
  HttpReceiver broken([](const HttpReceiver::Request&, std::size_t) { return 500; });
  auto n = w.notifier(w.options({w.hook("broken", broken, {"request.pending"}, 3)}));
  w.request();
  const auto created = w.lastSeq();

  std::vector<core::AuditEvent> failed;
  for (int i = 0; i < 250 && failed.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    failed = w.events("notify.failed");
  }
  REQUIRE(failed.size() == 1);
  const auto& e = failed[0];
  CHECK(e.draft.outcome == core::AuditOutcome::failure);
  CHECK(e.draft.actor == "system");
  CHECK(e.draft.target == "webhook:broken");
  const auto d = boost::json::parse(e.draft.details).as_object();
  CHECK(d.at("webhook").as_string() == "broken");
  CHECK(d.at("event").as_string() == "request.pending");
  CHECK(d.at("attempts").as_int64() == 3);
  CHECK(d.at("last_error").as_string() == "HTTP 500");
  CHECK(d.at("audit_seq").as_int64() == created);
  CHECK(d.at("delivery").as_string() == broken.requests().at(0).header("x-conduit-delivery"));
  // Given up means finished: the cursor moves on and there are no more attempts.
  REQUIRE(w.cursorReaches("broken", created));
  std::this_thread::sleep_for(200ms);
  CHECK(broken.requests().size() == 3);
  CHECK_FALSE(store::AuditLog(w.db).verify()->has_value());
}

TEST_CASE("notify: a webhook in backoff does not hold up the others") {
  World w;
  HttpReceiver broken([](const HttpReceiver::Request&, std::size_t) { return 503; });
  HttpReceiver healthy;
  // 400 ms between attempts: the broken webhook is still retrying when the checks below run.
  auto n = w.notifier(w.options({w.hook("broken", broken, {"request.pending"}),
                                 w.hook("healthy", healthy, {"request.pending"})},
                                {400ms, 400ms}));
  w.request();
  w.request();
  REQUIRE(healthy.waitFor(2, 1500ms));
  CHECK(broken.requests().size() < 4);
  CHECK(body(healthy.requests()[0]).at("request_id").as_int64() !=
        body(healthy.requests()[1]).at("request_id").as_int64());
}

TEST_CASE(
    "notify: after a restart nothing delivered is sent again, and nothing unfinished is lost") {
  World w;
  std::atomic<bool> failing{false};
  HttpReceiver receiver(
      [&failing](const HttpReceiver::Request&, std::size_t) { return failing ? 500 : 200; });
  const auto options = w.options({w.hook("chat", receiver, {"request.pending"}, 100)});

  auto first = w.notifier(options);
  const auto a = w.request();
  REQUIRE(receiver.waitFor(1, 5s));
  REQUIRE(w.cursorReaches("chat", w.lastSeq()));

  // Stopped while a delivery keeps failing: its cursor stays before it.
  failing = true;
  const auto b = w.request();
  REQUIRE(receiver.waitFor(3, 5s));
  first.reset();
  const auto stoppedAt = receiver.requests().size();
  CHECK(w.cursor("chat") < w.lastSeq());

  failing = false;
  auto second = w.notifier(options);
  const auto c = w.request();
  REQUIRE(receiver.waitFor(stoppedAt + 2, 5s));
  REQUIRE(w.cursorReaches("chat", w.lastSeq()));
  std::this_thread::sleep_for(200ms);
  const auto got = receiver.requests();
  REQUIRE(got.size() == stoppedAt + 2);
  CHECK(body(got[0]).at("request_id").as_int64() == a.id);
  // b again, with the delivery id it had before the restart; then c; a never again.
  CHECK(body(got[stoppedAt]).at("request_id").as_int64() == b.id);
  CHECK(got[stoppedAt].header("x-conduit-delivery") == got[1].header("x-conduit-delivery"));
  CHECK(body(got[stoppedAt + 1]).at("request_id").as_int64() == c.id);
}

TEST_CASE("notify: a webhook added later starts at the newest event: history is not replayed") {
  World w;
  HttpReceiver receiver;
  w.request();
  auto n = w.notifier(w.options({w.hook("late", receiver, {"request.pending"})}));
  const auto fresh = w.request();
  REQUIRE(receiver.waitFor(1, 5s));
  std::this_thread::sleep_for(200ms);
  const auto got = receiver.requests();
  REQUIRE(got.size() == 1);
  CHECK(body(got[0]).at("request_id").as_int64() == fresh.id);
}

TEST_CASE("notify: an active grant gets one window.ending warning, also across a restart") {
  World w;
  HttpReceiver receiver;
  const auto options = w.options({w.hook("chat", receiver, {"window.ending"})});
  auto first = w.notifier(options);
  const auto r = w.request();
  auto vote = w.service.vote(w.erin, r.id, true, "ok");
  REQUIRE(vote.ok());
  REQUIRE(vote->grant.has_value());

  // Two hours left: no warning yet.
  std::this_thread::sleep_for(200ms);
  CHECK(receiver.requests().empty());

  w.clock.set(vote->grant->notAfter - 5min);
  REQUIRE(receiver.waitFor(1, 5s));
  const auto got = receiver.requests().at(0);
  CHECK(got.header("x-conduit-event") == "window.ending");
  CHECK(body(got).at("grant_id").as_int64() == vote->grant->id);
  CHECK(body(got).at("minutes_left").as_int64() == 5);
  CHECK(field(got, "requester") == "alice");
  CHECK(field(got, "owner_group") == "line-3-controls");
  w.checkSigned(got);

  // Remembered in the database: a new Notifier does not warn again.
  std::int64_t warned = 0;
  for (int i = 0; i < 250 && warned == 0; ++i) {
    auto s = w.db.prepare("SELECT count(*) FROM notify_window_warned WHERE grant_id = ?1");
    s->bind(1, vote->grant->id);
    REQUIRE(s->step().value());
    warned = s->columnInt(0);
    if (warned == 0) std::this_thread::sleep_for(20ms);
  }
  REQUIRE(warned == 1);
  first.reset();
  auto second = w.notifier(options);
  std::this_thread::sleep_for(300ms);
  CHECK(receiver.requests().size() == 1);
}

TEST_CASE("notify: create refuses an unprotected secret and a remote http URL") {
  World w;
  HttpReceiver receiver;
  auto hook = w.hook("chat", receiver);
  ::chmod((w.dir / "hook.secret").c_str(), 0644);
  auto n = notify::Notifier::create(w.options({hook}), w.dbPath, w.clock);
  REQUIRE_FALSE(n.ok());
  CHECK(n.error().code == core::ErrorCode::permission_denied);
  ::chmod((w.dir / "hook.secret").c_str(), 0600);
  hook.url = "http://example.com/hook";
  n = notify::Notifier::create(w.options({hook}), w.dbPath, w.clock);
  REQUIRE_FALSE(n.ok());
  CHECK(n.error().code == core::ErrorCode::invalid_argument);
}
