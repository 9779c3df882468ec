// The throwaway-sshd fixture itself: it listens, presents its own host key, and leaves nothing
// behind (no server process, no account).
#include <pwd.h>
#include <signal.h>

#include <catch2/catch.hpp>
#include <cerrno>

#include "sshd_fixture.hpp"
#include "support/process.hpp"

using conduit::test::Sshd;
using conduit::test::SshdOptions;
using conduit::test::TestAccount;

TEST_CASE("the sshd fixture listens with its own host key and stops on destruction") {
  pid_t pid = 0;
  std::string name;
  {
    TestAccount account;
    name = account.name();
    REQUIRE(::getpwnam(name.c_str()) != nullptr);
    SshdOptions options;
    options.allowUsers = {name};
    Sshd sshd(options);
    pid = sshd.pid();
    CHECK(sshd.port() >= 20000);
    CHECK(sshd.port() <= 60000);
    CHECK(sshd.hostKeyLine().rfind("ssh-ed25519 AAAA", 0) == 0);

    // ssh-keyscan sees the key the fixture reports.
    const auto [rc, out] =
        conduit::test::runCommand({"ssh-keyscan", "-T", "5", "-t", "ed25519", "-p",
                                   std::to_string(sshd.port()), "127.0.0.1"});
    INFO(out);
    CHECK(out.find(sshd.hostKeyLine()) != std::string::npos);
    CHECK(sshd.waitForLog("Connection from 127.0.0.1").has_value());
    CHECK(::kill(pid, 0) == 0);
  }
  CHECK(::kill(pid, 0) == -1);
  CHECK(errno == ESRCH);
  CHECK(::getpwnam(name.c_str()) == nullptr);
}

TEST_CASE("the sshd fixture refuses a configuration without users") {
  CHECK_THROWS_AS(Sshd(SshdOptions{}), std::runtime_error);
}
