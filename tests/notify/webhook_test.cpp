#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "conduit/notify/signature.hpp"
#include "conduit/notify/webhook.hpp"
#include "conduit/notify/webhook_secret.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using core::ErrorCode;

TEST_CASE("notify: webhook URLs: https anywhere, plain http only to this host") {
  for (const char* ok : {"https://chat.example.com/hooks/abc", "https://10.0.0.5:8443/x",
                         "http://127.0.0.1:8080/hook", "http://localhost/hook",
                         "http://LOCALHOST:9/", "http://[::1]:9000/hook"}) {
    CAPTURE(ok);
    CHECK(notify::checkWebhookUrl(ok).ok());
  }
  for (const char* bad : {"http://chat.example.com/hook", "http://10.0.0.5/hook",
                          "http://127.0.0.1.evil.example/hook", "http://localhost@evil.example/",
                          "ftp://files.example.com/x", "file:///etc/passwd",
                          "chat.example.com/hook", "", "https://"}) {
    CAPTURE(bad);
    auto st = notify::checkWebhookUrl(bad);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == ErrorCode::invalid_argument);
  }
}

TEST_CASE("notify: webhook names are short identifiers") {
  CHECK(notify::checkWebhookName("ops-chat_1.x").ok());
  CHECK_FALSE(notify::checkWebhookName("").ok());
  CHECK_FALSE(notify::checkWebhookName("has space").ok());
  CHECK_FALSE(notify::checkWebhookName(std::string(65, 'a')).ok());
}

TEST_CASE(
    "notify: a webhook secret must be private and long enough, and a trailing newline is dropped") {
  test::TempDir dir;
  const auto file = dir / "hook.secret";
  test::writeText(file, "0123456789abcdef0123\n");

  SECTION("mode 0600 is read, without the newline") {
    ::chmod(file.c_str(), 0600);
    auto s = notify::WebhookSecret::load(file);
    REQUIRE(s.ok());
    const std::string expected = "0123456789abcdef0123";
    CHECK(std::string(s->bytes().begin(), s->bytes().end()) == expected);
  }
  SECTION("group- or world-readable is refused") {
    ::chmod(file.c_str(), 0640);
    auto s = notify::WebhookSecret::load(file);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::permission_denied);
  }
  SECTION("shorter than 16 bytes is refused") {
    test::writeText(file, "short\n");
    ::chmod(file.c_str(), 0600);
    auto s = notify::WebhookSecret::load(file);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::invalid_argument);
  }
  SECTION("a missing file is unavailable") {
    auto s = notify::WebhookSecret::load(dir / "nope");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::unavailable);
  }
}
