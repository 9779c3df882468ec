#include "conduit/app/config.hpp"

#include <toml++/toml.h>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "conduit/notify/notification.hpp"
#include "conduit/notify/webhook.hpp"
#include "conduit/notify/webhook_secret.hpp"

namespace conduit::app {

using core::ErrorCode;
using core::fail;

namespace {

/// Reads one TOML table against a fixed list of keys; anything left over is an unknown key.
/// toml++ parses; this only checks types, ranges and names, which no library does for us.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix, const std::string& source)
      : table_(table), prefix_(std::move(prefix)), source_(source) {}

  template <typename Int>
  void integer(const char* key, Int& out, std::int64_t min, std::int64_t max) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return;
    const auto value = node->value<std::int64_t>();
    if (!node->is_integer() || !value) return bad(*node, key, "must be an integer");
    if (*value < min || *value > max) {
      return bad(*node, key,
                 "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    out = static_cast<Int>(*value);
  }

  void string(const char* key, std::string& out, const std::set<std::string>& allowed = {}) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return;
    if (!node->is_string()) return bad(*node, key, "must be a string");
    std::string value = *node->value<std::string>();
    if (!allowed.empty() && !allowed.contains(value)) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      return bad(*node, key, "must be one of: " + list);
    }
    out = std::move(value);
  }

  void boolean(const char* key, bool& out) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return;
    if (!node->is_boolean()) return bad(*node, key, "must be true or false");
    out = *node->value<bool>();
  }

  void path(const char* key, std::filesystem::path& out, const std::filesystem::path& base) {
    std::string text;
    const bool present = table_.contains(key);
    string(key, text);
    if (!present || error_) return;
    if (text.empty()) return bad(*table_.get(key), key, "must not be empty");
    const std::filesystem::path p(text);
    out = p.is_absolute() ? p : base / p;
  }

  void pathList(const char* key, std::vector<std::filesystem::path>& out,
                const std::filesystem::path& base) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return;
    const toml::array* arr = node->as_array();
    if (arr == nullptr) return bad(*node, key, "must be an array of strings");
    out.clear();
    for (const toml::node& item : *arr) {
      const auto text = item.value<std::string>();
      if (!item.is_string() || !text || text->empty()) {
        return bad(item, key, "must be an array of non-empty strings");
      }
      const std::filesystem::path p(*text);
      out.push_back(p.is_absolute() ? p : base / p);
    }
  }

  const toml::table* subtable(const char* key) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return nullptr;
    if (!node->is_table()) {
      bad(*node, key, "must be a table ([" + prefix_ + key + "])");
      return nullptr;
    }
    return node->as_table();
  }

  void stringList(const char* key, std::vector<std::string>& out) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return;
    const toml::array* arr = node->as_array();
    if (arr == nullptr) return bad(*node, key, "must be an array of strings");
    out.clear();
    for (const toml::node& item : *arr) {
      const auto text = item.value<std::string>();
      if (!item.is_string() || !text || text->empty()) {
        return bad(item, key, "must be an array of non-empty strings");
      }
      out.push_back(*text);
    }
  }

  /// An array of tables ([[prefix.key]]); nullptr if absent or not one.
  const toml::array* tableArray(const char* key) {
    const toml::node* node = take(key);
    if (node == nullptr || error_) return nullptr;
    const toml::array* arr = node->as_array();
    if (arr == nullptr || !arr->is_array_of_tables()) {
      bad(*node, key, "must be an array of tables ([[" + prefix_ + key + "]])");
      return nullptr;
    }
    return arr;
  }

  /// The first problem found, including keys nobody asked for.
  std::optional<core::Error> finish() {
    if (error_) return error_;
    for (const auto& [key, node] : table_) {
      if (!seen_.contains(std::string(key.str()))) {
        return core::Error{ErrorCode::invalid_argument,
                           where(node) + "unknown key '" + prefix_ + std::string(key.str()) + "'"};
      }
    }
    return std::nullopt;
  }

  void adopt(std::optional<core::Error> e) {
    if (e && !error_) error_ = std::move(e);
  }

 private:
  const toml::node* take(const char* key) {
    seen_.insert(key);
    return table_.get(key);
  }

  std::string where(const toml::node& node) const {
    const auto& begin = node.source().begin;
    return source_ + ":" + std::to_string(begin.line) + ": ";
  }

  void bad(const toml::node& node, const char* key, const std::string& why) {
    if (!error_) {
      error_ = core::Error{ErrorCode::invalid_argument, where(node) + prefix_ + key + " " + why};
    }
  }

  const toml::table& table_;
  std::string prefix_;
  const std::string& source_;
  std::set<std::string> seen_;
  std::optional<core::Error> error_;
};

// ---- [notify] and [[notify.webhook]] (docs/notifications.md) ----

/// "<source>:<line>: " for a node.
std::string lineOf(const std::string& source, const toml::node& node) {
  return source + ":" + std::to_string(node.source().begin.line) + ": ";
}

/// Reads one [[notify.webhook]] entry and checks it: a name, an https (or loopback http) url,
/// a secret file that exists with mode 0600, known event names. Errors name the file and the
/// line of the bad key, or of the [[notify.webhook]] header for a missing one.
std::optional<core::Error> parseWebhook(const toml::table& table, const std::string& source,
                                        const std::filesystem::path& baseDir,
                                        Config::Notify::Webhook& hook) {
  TableReader r(table, "notify.webhook.", source);
  r.string("name", hook.name);
  r.string("url", hook.url);
  r.path("secret_file", hook.secretFile, baseDir);
  r.path("ca_file", hook.caFile, baseDir);
  r.stringList("events", hook.events);
  // 1-20: with the 60 s backoff cap, 20 attempts already keep a delivery going for 15 minutes.
  r.integer("max_attempts", hook.maxAttempts, 1, 20);
  if (auto e = r.finish()) return e;
  const auto bad = [&](const char* key, const std::string& why) {
    const toml::node* node = table.get(key);
    return core::Error{
        ErrorCode::invalid_argument,
        lineOf(source, node != nullptr ? *node : static_cast<const toml::node&>(table)) +
            "notify.webhook." + key + " " + why};
  };
  for (const char* key : {"name", "url", "secret_file"}) {
    if (!table.contains(key)) return bad(key, "is required");
  }
  if (auto st = notify::checkWebhookName(hook.name); !st)
    return bad("name", "is invalid: " + st.error().message);
  if (auto st = notify::checkWebhookUrl(hook.url); !st)
    return bad("url", "is invalid: " + st.error().message);
  if (auto st = notify::WebhookSecret::check(hook.secretFile); !st) {
    return bad("secret_file", "is unusable: " + st.error().message);
  }
  if (!hook.caFile.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(hook.caFile, ec)) {
      return bad("ca_file", hook.caFile.string() + " is not a readable file");
    }
  }
  for (const auto& event : hook.events) {
    if (!notify::isNotificationEvent(event)) {
      std::string known;
      for (auto k : notify::kNotificationEvents)
        known += (known.empty() ? "" : ", ") + std::string(k);
      return bad("events", "has unknown event '" + event + "' (known: " + known + ")");
    }
  }
  return std::nullopt;
}

std::optional<core::Error> parseNotify(const toml::table& table, const std::string& source,
                                       const std::filesystem::path& baseDir, Config::Notify& out) {
  TableReader r(table, "notify.", source);
  // 1 min to 1 day: a warning needs time to act on, and windows are at most days long.
  r.integer("window_warning_minutes", out.windowWarningMinutes, 1, 1440);
  // 100 ms to 60 s: faster only costs queries; slower makes "a new request" news stale.
  r.integer("poll_interval_ms", out.pollIntervalMs, 100, 60000);
  const toml::array* hooks = r.tableArray("webhook");
  if (auto e = r.finish()) return e;
  if (hooks == nullptr) return std::nullopt;
  std::set<std::string> names;
  for (const toml::node& node : *hooks) {
    Config::Notify::Webhook hook;
    if (auto e = parseWebhook(*node.as_table(), source, baseDir, hook)) return e;
    if (!names.insert(hook.name).second) {
      return core::Error{ErrorCode::invalid_argument,
                         lineOf(source, *node.as_table()->get("name")) + "notify.webhook.name '" +
                             hook.name + "' is used twice"};
    }
    out.webhooks.push_back(std::move(hook));
  }
  return std::nullopt;
}

}  // namespace

core::Result<Config> parseConfig(std::string_view text, const std::string& source,
                                 const std::filesystem::path& baseDir) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return fail(ErrorCode::invalid_argument, source + ":" + std::to_string(e.source().begin.line) +
                                                 ": " + std::string(e.description()));
  }

  Config config;
  TableReader top(root, "", source);
  top.path("data_dir", config.dataDir, baseDir);

  if (const toml::table* t = top.subtable("portal")) {
    TableReader r(*t, "portal.", source);
    auto& p = config.portal;
    r.string("address", p.address);
    r.integer("port", p.port, 0, 65535);
    r.path("tls_certificate", p.tlsCertificate, baseDir);
    r.path("tls_private_key", p.tlsPrivateKey, baseDir);
    // Limits: large enough for the portal's own pages and API, small enough that one client
    // cannot tie up memory. Ranges stop typos such as a body limit of 10 GB.
    r.integer("max_header_bytes", p.maxHeaderBytes, 1024, 64 * 1024);
    r.integer("max_body_bytes", p.maxBodyBytes, 1024, 64 * 1024 * 1024);
    r.integer("request_timeout_seconds", p.requestTimeoutSeconds, 1, 600);
    r.integer("idle_timeout_seconds", p.idleTimeoutSeconds, 1, 3600);
    r.integer("max_connections", p.maxConnections, 1, 100000);
    r.integer("threads", p.threads, 1, 64);
    r.integer("shutdown_grace_seconds", p.shutdownGraceSeconds, 0, 300);
    r.integer("session_idle_minutes", p.sessionIdleMinutes, 1, 24 * 60);
    r.integer("session_max_hours", p.sessionMaxHours, 1, 24 * 7);
    r.integer("login_attempts_per_minute", p.loginAttemptsPerMinute, 1, 10000);
    r.path("web_root", p.webRoot, baseDir);
    r.string("public_ssh_host", p.publicSshHost);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("ssh")) {
    TableReader r(*t, "ssh.", source);
    auto& o = config.ssh;
    r.boolean("enabled", o.enabled);
    r.string("address", o.address);
    r.integer("port", o.port, 0, 65535);
    r.string("login_banner", o.loginBanner);
    r.integer("auth_timeout_seconds", o.authTimeoutSeconds, 5, 600);
    r.integer("max_auth_attempts", o.maxAuthAttempts, 1, 10);
    r.integer("max_connections", o.maxConnections, 1, 100000);
    r.integer("max_unauthenticated_per_source", o.maxUnauthenticatedPerSource, 1, 10000);
    // 1-60 minutes: certificates only need to outlive the connection setup.
    r.integer("certificate_validity_seconds", o.certificateValiditySeconds, 60, 3600);
    r.string("certificate_source_address", o.certificateSourceAddress);
    // 1 s to 24 h: short values serve tests and very fragile PLCs; a day covers any shift.
    r.integer("tunnel_idle_timeout_seconds", o.tunnelIdleTimeoutSeconds, 1, 86400);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("rdp")) {
    TableReader r(*t, "rdp.", source);
    r.path("worker", config.rdp.worker, baseDir);
    r.integer("connect_timeout_seconds", config.rdp.connectTimeoutSeconds, 1, 120);
    r.integer("keyframe_seconds", config.rdp.keyframeSeconds, 1, 3600);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("recording")) {
    TableReader r(*t, "recording.", source);
    r.integer("retention_days", config.recording.retentionDays, 1, 36500);
    r.string("auditor_public_key", config.recording.auditorPublicKey);
    top.adopt(r.finish());
    const auto& k = config.recording.auditorPublicKey;
    if (!k.empty() &&
        (k.size() != 64 || k.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)) {
      return fail(ErrorCode::invalid_argument,
                  source +
                      ": recording.auditor_public_key must be 64 hex digits (an X25519 key "
                      "from `conduit recording auditor-keygen`)");
    }
  }
  if (const toml::table* t = top.subtable("database")) {
    TableReader r(*t, "database.", source);
    r.integer("busy_timeout_ms", config.database.busyTimeoutMs, 100, 60000);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("auth")) {
    TableReader r(*t, "auth.", source);
    // At least 3 (typos happen), at most 20 (beyond that lockout stops limiting guessing).
    r.integer("max_failed_logins", config.auth.maxFailedLogins, 3, 20);
    r.integer("lockout_seconds", config.auth.lockoutSeconds, 60, 86400);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("vault")) {
    TableReader r(*t, "vault.", source);
    r.path("master_key_file", config.vault.masterKeyFile, baseDir);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("policy")) {
    TableReader r(*t, "policy.", source);
    r.pathList("files", config.policy.files, baseDir);
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("log")) {
    TableReader r(*t, "log.", source);
    r.string("level", config.log.level, {"trace", "debug", "info", "warn", "error"});
    top.adopt(r.finish());
  }
  if (const toml::table* t = top.subtable("notify")) {
    top.adopt(parseNotify(*t, source, baseDir, config.notify));
  }
  if (auto e = top.finish()) return *e;
  return config;
}

core::Result<Config> loadConfig(const std::filesystem::path& file) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return fail(ErrorCode::unavailable, "config file " + file.string() + " is a directory");
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return fail(ErrorCode::unavailable,
                "cannot read config file " + file.string() + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return fail(ErrorCode::unavailable, "cannot read config file " + file.string());
  const auto base = std::filesystem::absolute(file).parent_path();
  return parseConfig(text.str(), file.string(), base);
}

Config withDerivedPaths(Config config) {
  if (config.portal.tlsCertificate.empty()) {
    config.portal.tlsCertificate = config.dataDir / "tls" / "portal.crt";
  }
  if (config.vault.masterKeyFile.empty()) {
    config.vault.masterKeyFile = config.dataDir / "vault" / "master.key";
  }
  if (config.portal.tlsPrivateKey.empty()) {
    config.portal.tlsPrivateKey = config.dataDir / "tls" / "portal.key";
  }
  return config;
}

std::vector<std::filesystem::path> policyFiles(const Config& config) {
  if (!config.policy.files.empty()) return config.policy.files;
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(config.dataDir / "policies", ec)) {
    if (entry.path().extension() == ".toml") out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace conduit::app
