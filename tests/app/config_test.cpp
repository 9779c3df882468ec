#include <catch2/catch.hpp>

#include "conduit/app/config.hpp"
#include "support/temp_dir.hpp"

using conduit::app::parseConfig;
using conduit::core::ErrorCode;

TEST_CASE("an empty config gives the safe defaults") {
  auto c = parseConfig("", "c.toml", "/etc/conduit");
  REQUIRE(c.ok());
  CHECK(c->portal.address == "127.0.0.1");
  CHECK(c->portal.port == 8443);
  CHECK(c->dataDir == "/var/lib/conduit");
  CHECK(c->log.level == "info");
}

TEST_CASE("a full config is read, relative paths against the config's directory") {
  auto c = parseConfig(R"(
data_dir = "data"
[portal]
address = "0.0.0.0"
port = 9443
tls_certificate = "/etc/ssl/c.pem"
tls_private_key = "k.pem"
max_body_bytes = 4096
threads = 4
shutdown_grace_seconds = 3
[database]
busy_timeout_ms = 250
[auth]
max_failed_logins = 4
lockout_seconds = 120
[vault]
master_key_file = "keys/master.key"
[policy]
files = ["p/a.toml", "/etc/b.toml"]
[log]
level = "debug"
)",
                       "c.toml", "/etc/conduit");
  REQUIRE(c.ok());
  CHECK(c->dataDir == "/etc/conduit/data");
  CHECK(c->portal.address == "0.0.0.0");
  CHECK(c->portal.port == 9443);
  CHECK(c->portal.tlsCertificate == "/etc/ssl/c.pem");
  CHECK(c->portal.tlsPrivateKey == "/etc/conduit/k.pem");
  CHECK(c->portal.maxBodyBytes == 4096);
  CHECK(c->portal.threads == 4);
  CHECK(c->portal.shutdownGraceSeconds == 3);
  CHECK(c->database.busyTimeoutMs == 250);
  CHECK(c->log.level == "debug");
  CHECK(c->auth.maxFailedLogins == 4);
  CHECK(c->auth.lockoutSeconds == 120);
  CHECK(c->vault.masterKeyFile == "/etc/conduit/keys/master.key");
  CHECK(c->policy.files ==
        std::vector<std::filesystem::path>{"/etc/conduit/p/a.toml", "/etc/b.toml"});
}

TEST_CASE("an unknown key is an error naming the key and its line") {
  auto c = parseConfig("[portal]\nport = 1\nlisten = \"x\"\n", "conduit.toml", "/");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().code == ErrorCode::invalid_argument);
  CHECK(c.error().message == "conduit.toml:3: unknown key 'portal.listen'");
}

TEST_CASE("an unknown table is an error") {
  auto c = parseConfig("\n[portl]\nport = 1\n", "conduit.toml", "/");
  REQUIRE_FALSE(c.ok());
  CHECK_THAT(c.error().message,
             Catch::StartsWith("conduit.toml:2:") && Catch::Contains("unknown key 'portl'"));
}

TEST_CASE("bad values are errors naming key, line and the rule") {
  SECTION("out of range") {
    auto c = parseConfig("[portal]\nport = 70000\n", "c.toml", "/");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "c.toml:2: portal.port must be between 0 and 65535");
  }
  SECTION("wrong type") {
    auto c = parseConfig("[portal]\n\nport = \"8443\"\n", "c.toml", "/");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().message == "c.toml:3: portal.port must be an integer");
  }
  SECTION("not one of the allowed words") {
    auto c = parseConfig("[log]\nlevel = \"loud\"\n", "c.toml", "/");
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::StartsWith("c.toml:2: log.level must be one of:"));
  }
  SECTION("a table where a value belongs") {
    auto c = parseConfig("portal = 3\n", "c.toml", "/");
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::StartsWith("c.toml:1: portal must be a table"));
  }
  SECTION("TOML syntax") {
    auto c = parseConfig("[portal]\nport = = 1\n", "c.toml", "/");
    REQUIRE_FALSE(c.ok());
    CHECK_THAT(c.error().message, Catch::StartsWith("c.toml:2:"));
  }
}

TEST_CASE("loadConfig reports a missing file and a directory") {
  conduit::test::TempDir dir;
  auto missing = conduit::app::loadConfig(dir / "nope.toml");
  REQUIRE_FALSE(missing.ok());
  CHECK_THAT(missing.error().message, Catch::Contains("nope.toml"));
  auto directory = conduit::app::loadConfig(dir.path());
  REQUIRE_FALSE(directory.ok());
  CHECK_THAT(directory.error().message, Catch::Contains("is a directory"));
}

TEST_CASE("derived paths come from the data directory unless set") {
  conduit::app::Config c;
  c.dataDir = "/d";
  auto d = conduit::app::withDerivedPaths(c);
  CHECK(d.portal.tlsCertificate == "/d/tls/portal.crt");
  CHECK(d.portal.tlsPrivateKey == "/d/tls/portal.key");
  c.portal.tlsCertificate = "/x.crt";
  CHECK(conduit::app::withDerivedPaths(c).portal.tlsCertificate == "/x.crt");
}

TEST_CASE("the rdp table: the worker path against the config's directory, limits checked") {
  auto c = parseConfig(
      "[rdp]\nworker = \"bin/conduit-rdp-worker\"\nconnect_timeout_seconds = 30\n"
      "keyframe_seconds = 5\n",
      "c.toml", "/etc/conduit");
  REQUIRE(c.ok());
  CHECK(c->rdp.worker == "/etc/conduit/bin/conduit-rdp-worker");
  CHECK(c->rdp.connectTimeoutSeconds == 30);
  CHECK(c->rdp.keyframeSeconds == 5);
  auto defaults = parseConfig("", "c.toml", "/");
  REQUIRE(defaults.ok());
  CHECK(defaults->rdp.worker.empty());  // beside the conduit executable
  CHECK(defaults->rdp.connectTimeoutSeconds == 15);
  CHECK(defaults->rdp.keyframeSeconds == 20);
  auto bad = parseConfig("[rdp]\nconnect_timeout_seconds = 0\n", "c.toml", "/");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().message == "c.toml:2: rdp.connect_timeout_seconds must be between 1 and 120");
}
