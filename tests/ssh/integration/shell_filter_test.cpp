// Typed-command filtering in an interactive shell (policy ssh.filter_shell_commands): a real
// OpenSSH client with a pty types lines into the target's shell through the gateway.
#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "ssh/integration/plant.hpp"
#include "support/process.hpp"

using namespace conduit;
using namespace std::chrono_literals;

using test::Plant;

namespace {

constexpr const char* kFilterPolicy = R"(
[[rule]]
id = "vendor-ssh-filtered"
effect = "allow"
[rule.match]
roles = ["vendor"]
protocols = ["ssh"]
[rule.limits]
max_duration = "4h"
approvals = 1
recording = "off"
mfa = "required"
[rule.ssh]
command_deny = ["touch *forbidden*"]
filter_shell_commands = true
)";

}  // namespace

TEST_CASE("a typed shell command matching command_deny is refused, the next one runs") {
  Plant p(kFilterPolicy);
  p.grant();
  p.freshCode();
  // The target writes where the test can look: a directory the target's account may use.
  const std::string dir = "/tmp/conduit-filter-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::all);
  const std::string forbidden = dir + "/x-forbidden";
  const std::string allowed = dir + "/x-allowed";
  test::writeText(p.dir / "typed",
                  "touch " + forbidden + "\necho done-$((20+22))\ntouch " + allowed + "\nexit\n");
  const std::string cmd = "SSH_ASKPASS=" + (p.dir / "askpass.sh").string() +
                          " SSH_ASKPASS_REQUIRE=force DISPLAY=:0 ssh -tt -p " +
                          std::to_string(p.sshPort) + " -i " + (p.dir / "vendor_key").string() +
                          " -o IdentitiesOnly=yes -o StrictHostKeyChecking=no"
                          " -o UserKnownHostsFile=/dev/null"
                          " -o PreferredAuthentications=publickey,keyboard-interactive"
                          " alice+hmi@127.0.0.1 < " +
                          (p.dir / "typed").string();
  auto [rc, out] = test::runCommand({"sh", "-c", cmd});
  INFO(out);
  INFO(p.broker->errors());
  CHECK_THAT(out, Catch::Contains("Conduit: command refused by policy (touch *forbidden*)"));
  CHECK_THAT(out, Catch::Contains("done-42"));
  CHECK_FALSE(std::filesystem::exists(forbidden));
  CHECK(std::filesystem::exists(allowed));
  CHECK(p.broker->waitForLine("event=ssh_typed_command_refused", 5s).has_value());
  std::filesystem::remove_all(dir);
}
