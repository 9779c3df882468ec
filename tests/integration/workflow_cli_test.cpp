// The access workflow driven through the real `conduit` binary against a real database.
#include <catch2/catch.hpp>
#include <filesystem>

#include "conduit/store/database.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using conduit::test::runCommand;
using conduit::test::TempDir;

namespace {

struct Cli {
  TempDir dir;
  std::string data = (dir / "data").string();

  std::pair<int, std::string> run(std::vector<std::string> args) {
    std::vector<std::string> argv{CONDUIT_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return runCommand(argv);
  }
  std::pair<int, std::string> admin(std::vector<std::string> args, const std::string& as = "") {
    std::vector<std::string> argv{"admin", "--data-dir", data};
    if (!as.empty()) {
      argv.push_back("--as");
      argv.push_back(as);
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
  void ok(std::vector<std::string> args, const std::string& as = "") {
    auto [rc, out] = admin(args, as);
    INFO(out);
    REQUIRE(rc == 0);
  }
};

}  // namespace

TEST_CASE(
    "request, approve, grant, revoke from the CLI, audit verify passes, then catches tampering") {
  Cli c;
  REQUIRE(c.run({"init", "--data-dir", c.data}).first == 0);
  conduit::test::writeText(c.dir / "pw", "a-long-password-1\n");
  const std::string pw = (c.dir / "pw").string();
  c.ok({"group", "add", "line-3-controls"});
  c.ok({"vendor", "add", "acme", "--contract-end", "2030-01-01"});
  c.ok({"user", "add", "alice", "--role", "vendor", "--vendor", "acme", "--password-file", pw});
  c.ok({"user", "add", "erin", "--role", "engineer", "--group", "line-3-controls",
        "--password-file", pw});
  c.ok({"asset", "add", "hmi-3", "--owner-group", "line-3-controls", "--criticality", "medium",
        "--ssh", "127.0.0.1:2201:operator"});

  auto [rcReq, req] = c.admin({"request", "--asset", "hmi-3", "--protocol", "ssh", "--duration",
                               "2h", "--reason", "update screens", "--ticket", "CHG-9"},
                              "alice");
  INFO(req);
  REQUIRE(rcReq == 0);
  CHECK_THAT(req, Catch::Contains("request 1  pending"));

  auto [rcSelf, self] = c.admin({"approve", "1"}, "alice");
  CHECK(rcSelf == 1);
  CHECK_THAT(self, Catch::Contains("no one may approve or deny their own request"));

  auto [rcNo, no] = c.admin({"check", "--user", "alice", "--asset", "hmi-3", "--protocol", "ssh"});
  CHECK(rcNo == 3);
  CHECK_THAT(no, Catch::Contains("refused: no grant"));

  auto [rcOk, approved] = c.admin({"approve", "1", "--comment", "ok"}, "erin");
  INFO(approved);
  REQUIRE(rcOk == 0);
  CHECK_THAT(approved, Catch::Contains("grant 1  active"));
  auto [rcYes, yes] =
      c.admin({"check", "--user", "alice", "--asset", "hmi-3", "--protocol", "ssh"});
  CHECK(rcYes == 0);
  CHECK_THAT(yes, Catch::Contains("allowed under grant 1"));

  c.ok({"revoke", "1", "--reason", "work done"}, "erin");
  auto [rcGone, gone] =
      c.admin({"check", "--user", "alice", "--asset", "hmi-3", "--protocol", "ssh"});
  CHECK(rcGone == 3);
  CHECK_THAT(gone, Catch::Contains("revoked: work done"));

  auto [rcVerify, verify] = c.run({"audit", "--data-dir", c.data, "verify"});
  INFO(verify);
  CHECK(rcVerify == 0);
  CHECK_THAT(verify, Catch::Contains("audit chain intact"));

  auto [rcExport, exported] = c.run({"audit", "--data-dir", c.data, "export", "--format", "jsonl"});
  CHECK(rcExport == 0);
  CHECK_THAT(exported, Catch::Contains(R"("type":"grant.revoked")"));
  CHECK_THAT(exported, Catch::Contains(R"("type":"request.approve.refused")"));

  // A tampered copy: someone with the file drops the append-only triggers and edits a row.
  const auto copy = c.dir / "copy";
  std::filesystem::create_directory(copy);
  std::filesystem::permissions(copy, std::filesystem::perms::owner_all);
  std::filesystem::copy(c.data, copy, std::filesystem::copy_options::recursive);
  {
    auto db = conduit::store::Database::open(copy / "conduit.db");
    REQUIRE(db.ok());
    REQUIRE(db->executeTrusted("DROP TRIGGER audit_events_no_update").ok());
    REQUIRE(db->executeTrusted("UPDATE audit_events SET actor = 'mallory' "
                               "WHERE type = 'grant.revoked'")
                .ok());
  }
  auto [rcBad, bad] = c.run({"audit", "--data-dir", copy.string(), "verify"});
  CHECK(rcBad == 4);
  CHECK_THAT(bad, Catch::Contains("BROKEN at event") && Catch::Contains("altered"));
}

TEST_CASE("CLI errors are one clear line with a non-zero exit") {
  Cli c;
  REQUIRE(c.run({"init", "--data-dir", c.data}).first == 0);
  auto [rc1, out1] = c.admin({"approve", "42", "--comment", "x"}, "erin");
  CHECK(rc1 == 1);
  CHECK_THAT(out1, Catch::Contains("user erin not found"));
  auto [rc2, out2] = c.admin({"asset", "add", "plc+1", "--owner-group", "g"});
  CHECK(rc2 == 1);
  CHECK_THAT(out2, Catch::Contains("no '+'"));
  auto [rc3, out3] = c.admin({"vendor", "add", "v", "--contract-end", "someday"});
  CHECK(rc3 == 1);
  CHECK_THAT(out3, Catch::Contains("cannot read time 'someday'"));
  auto [rc4, out4] = c.run({"admin", "--data-dir", (c.dir / "nowhere").string(), "vendor", "list"});
  CHECK(rc4 == 1);
  CHECK_THAT(out4, Catch::Contains("conduit init"));
  conduit::test::writeText(c.dir / "typo.toml", "[[rule]]\nid = \"x\"\neffect = \"alow\"\n");
  auto [rc5, out5] = c.run({"policy", "check", (c.dir / "typo.toml").string()});
  CHECK(rc5 == 1);
  CHECK_THAT(out5, Catch::Contains("typo.toml:3"));
}
