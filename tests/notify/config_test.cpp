#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "conduit/app/config.hpp"
#include "support/temp_dir.hpp"

using conduit::app::parseConfig;
using conduit::core::ErrorCode;
namespace test = conduit::test;

namespace {

/// A temp dir with a valid secret file "hook.secret" (0600).
struct Dir {
  test::TempDir dir;
  Dir() {
    test::writeText(dir / "hook.secret", "0123456789abcdef0123456789abcdef\n");
    ::chmod((dir / "hook.secret").c_str(), 0600);
  }
  conduit::core::Result<conduit::app::Config> parse(const std::string& text) const {
    return parseConfig(text, "c.toml", dir.path());
  }
};

/// Fails the test unless the parse failed with a message starting "c.toml:<line>:" and
/// containing `needle`.
void expectError(const conduit::core::Result<conduit::app::Config>& c, int line,
                 const std::string& needle) {
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::invalid_argument);
  CHECK_THAT(c.error().message, Catch::StartsWith("c.toml:" + std::to_string(line) + ":"));
  CHECK_THAT(c.error().message, Catch::Contains(needle));
}

}  // namespace

TEST_CASE("notify: config defaults: no webhooks, 10 minute warning, 500 ms poll") {
  Dir d;
  auto c = d.parse("");
  REQUIRE(c.ok());
  CHECK(c->notify.webhooks.empty());
  CHECK(c->notify.windowWarningMinutes == 10);
  CHECK(c->notify.pollIntervalMs == 500);
}

TEST_CASE("notify: config webhook entries are read, paths against the config's directory") {
  Dir d;
  auto c = d.parse(R"(
[notify]
window_warning_minutes = 15
poll_interval_ms = 250

[[notify.webhook]]
name = "ops-chat"
url = "https://chat.example.com/hooks/abc"
secret_file = "hook.secret"
events = ["request.pending", "window.ending"]
max_attempts = 3

[[notify.webhook]]
name = "local"
url = "http://127.0.0.1:9000/hook"
secret_file = "hook.secret"
)");
  REQUIRE(c.ok());
  CHECK(c->notify.windowWarningMinutes == 15);
  CHECK(c->notify.pollIntervalMs == 250);
  REQUIRE(c->notify.webhooks.size() == 2);
  const auto& a = c->notify.webhooks[0];
  CHECK(a.name == "ops-chat");
  CHECK(a.url == "https://chat.example.com/hooks/abc");
  CHECK(a.secretFile == d.dir / "hook.secret");
  CHECK(a.events == std::vector<std::string>{"request.pending", "window.ending"});
  CHECK(a.maxAttempts == 3);
  const auto& b = c->notify.webhooks[1];
  CHECK(b.events.empty());
  CHECK(b.maxAttempts == 6);
  CHECK(b.caFile.empty());
}

TEST_CASE("notify: a webhook with http to a remote host is refused at its url line") {
  Dir d;
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "http://chat.example.com/hook"
secret_file = "hook.secret"
)"),
              3, "notify.webhook.url");
}

TEST_CASE("notify: a webhook whose secret file is missing is refused at its secret_file line") {
  Dir d;
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "https://chat.example.com/hook"
secret_file = "nope.secret"
)"),
              4, "nope.secret");
}

TEST_CASE("notify: a webhook whose secret file others can read is refused") {
  Dir d;
  ::chmod((d.dir / "hook.secret").c_str(), 0644);
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "https://chat.example.com/hook"
secret_file = "hook.secret"
)"),
              4, "chmod 600");
}

TEST_CASE("notify: a webhook without secret_file is refused at its table header line") {
  Dir d;
  expectError(d.parse(R"(
[[notify.webhook]]
name = "chat"
url = "https://chat.example.com/hook"
)"),
              2, "notify.webhook.secret_file is required");
}

TEST_CASE("notify: an unknown notification event is refused at its events line") {
  Dir d;
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "https://chat.example.com/hook"
secret_file = "hook.secret"
events = ["request.pending", "request.created"]
)"),
              5, "unknown event 'request.created'");
}

TEST_CASE(
    "notify: unknown keys, duplicate names and out-of-range values are refused with their line") {
  Dir d;
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "https://chat.example.com/hook"
secret_file = "hook.secret"
retries = 3
)"),
              5, "unknown key 'notify.webhook.retries'");
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "https://a.example.com/hook"
secret_file = "hook.secret"
[[notify.webhook]]
name = "chat"
url = "https://b.example.com/hook"
secret_file = "hook.secret"
)"),
              6, "used twice");
  expectError(d.parse("[notify]\nwindow_warning_minutes = 0\n"), 2,
              "notify.window_warning_minutes must be between 1 and 1440");
  expectError(d.parse(R"([[notify.webhook]]
name = "chat"
url = "https://chat.example.com/hook"
secret_file = "hook.secret"
max_attempts = 0
)"),
              5, "notify.webhook.max_attempts");
}
