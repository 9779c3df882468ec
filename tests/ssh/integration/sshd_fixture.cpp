#include "sshd_fixture.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace conduit::test {

namespace {

using namespace std::chrono_literals;

std::string randomSuffix(std::size_t length) {
  static constexpr std::string_view kChars = "abcdefghijkmnpqrstuvwxyz23456789";
  std::random_device device;
  std::uniform_int_distribution<std::size_t> pick(0, kChars.size() - 1);
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += kChars[pick(device)];
  return out;
}

// Tools that edit /etc/passwd and /etc/shadow fail while another one holds the lock (parallel
// test processes do this): retry for a few seconds.
std::pair<int, std::string> runLocked(const std::vector<std::string>& argv,
                                      std::string_view input = {}) {
  std::pair<int, std::string> result;
  for (int attempt = 0; attempt < 30; ++attempt) {
    result = runWithInput(argv, input);
    if (result.first == 0 || result.second.find("lock") == std::string::npos) return result;
    std::this_thread::sleep_for(200ms);
  }
  return result;
}

std::string joined(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

std::pair<int, std::string> runWithInput(const std::vector<std::string>& argv,
                                         std::string_view input) {
  int in[2];
  int out[2];
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe failed");
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(in[0], 0);
    ::dup2(out[1], 1);
    ::dup2(out[1], 2);
    ::execvp(args[0], args.data());
    ::_exit(127);
  }
  ::close(in[0]);
  ::close(out[1]);
  // A child may exit before reading its input (chpasswd does when /etc/shadow is locked by a
  // parallel test): the write must fail with EPIPE, not kill the test with SIGPIPE (which would
  // skip every destructor and leave servers and accounts behind).
  sigset_t pipeSignal;
  sigset_t previous;
  sigemptyset(&pipeSignal);
  sigaddset(&pipeSignal, SIGPIPE);
  ::pthread_sigmask(SIG_BLOCK, &pipeSignal, &previous);
  std::size_t sent = 0;
  while (sent < input.size()) {
    const ssize_t n = ::write(in[1], input.data() + sent, input.size() - sent);
    if (n <= 0) break;  // the child stopped reading; its exit code tells why
    sent += static_cast<std::size_t>(n);
  }
  ::close(in[1]);
  const timespec noWait{0, 0};
  while (::sigtimedwait(&pipeSignal, nullptr, &noWait) > 0) {
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof buf)) > 0) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, text};
}

TestAccount::TestAccount(const std::string& prefix) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    name_ = prefix + randomSuffix(6);
    const auto [rc, out] = runLocked({"useradd", "-m", "-s", "/bin/sh", name_});
    if (rc == 0) return;
    if (rc != 9)
      throw std::runtime_error("useradd " + name_ + " failed (" + std::to_string(rc) + "): " + out);
    // 9: the name is taken; draw another.
  }
  throw std::runtime_error("useradd: no free account name with prefix " + prefix);
}

TestAccount::~TestAccount() {
  // -f: also if a session of the account is still winding down.
  (void)runLocked({"userdel", "-r", "-f", name_});
}

void TestAccount::setPassword(std::string_view password) const {
  const std::string line = name_ + ":" + std::string(password) + "\n";
  const auto [rc, out] = runLocked({"chpasswd"}, line);
  if (rc != 0) throw std::runtime_error("chpasswd for " + name_ + " failed: " + out);
}

void TestAccount::allowKeyLoginsOnly() const {
  const auto [rc, out] = runLocked({"usermod", "-p", "*", name_});
  if (rc != 0) throw std::runtime_error("usermod -p '*' " + name_ + " failed: " + out);
}

Sshd::Sshd(const SshdOptions& options) {
  if (options.allowUsers.empty()) throw std::runtime_error("Sshd: allowUsers is empty");
  namespace fs = std::filesystem;
  fs::create_directories("/run/sshd");  // sshd's privilege-separation directory
  // Accounts other than root must reach authorized_keys (sshd reads it as the user).
  fs::permissions(dir(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);

  const auto hostKey = dir() / "host_ed25519";
  hostKeyPub_ = dir() / "host_ed25519.pub";
  {
    const auto [rc, out] = runWithInput({"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                                         "conduit-test-host", "-f", hostKey.string()},
                                        {});
    if (rc != 0) throw std::runtime_error("ssh-keygen failed: " + out);
  }

  std::string fixed;
  // First: sshd takes the first value of a keyword, so these override the defaults below.
  for (const auto& line : options.extraConfig) fixed += line + "\n";
  fixed += "ListenAddress 127.0.0.1\n";
  fixed += "HostKey " + hostKey.string() + "\n";
  fixed += "PidFile " + (dir() / "sshd.pid").string() + "\n";
  if (!options.trustedUserCaKeys.empty()) {
    const auto caFile = dir() / "trusted_user_ca_keys";
    writeText(caFile, options.trustedUserCaKeys + "\n");
    fixed += "TrustedUserCAKeys " + caFile.string() + "\n";
  }
  if (options.authorizedKeys.empty()) {
    fixed += "AuthorizedKeysFile none\n";
  } else {
    const auto keysFile = dir() / "authorized_keys";
    writeText(keysFile, options.authorizedKeys + "\n");
    fs::permissions(keysFile, fs::perms::owner_read | fs::perms::owner_write |
                                  fs::perms::group_read | fs::perms::others_read);
    fixed += "AuthorizedKeysFile " + keysFile.string() + "\n";
  }
  fixed += std::string("PasswordAuthentication ") +
           (options.passwordAuthentication ? "yes" : "no") + "\n";
  fixed += "KbdInteractiveAuthentication no\n";
  fixed += "PubkeyAuthentication yes\n";
  fixed += "UsePAM no\n";
  fixed += "StrictModes no\n";  // the key files live in a test directory under /tmp
  fixed += "PermitRootLogin " + options.permitRootLogin + "\n";
  fixed += "AllowUsers " + joined(options.allowUsers) + "\n";
  fixed += "Subsystem sftp internal-sftp\n";
  fixed += "LogLevel " + options.logLevel + "\n";

  config_ = dir() / "sshd_config";
  // sshd cannot bind port 0 and report the port: try random high ports until one binds.
  std::mt19937 random{std::random_device{}()};
  std::uniform_int_distribution<int> ports(20000, 60000);
  std::string lastLog;
  for (int attempt = 0; attempt < 20; ++attempt) {
    port_ = static_cast<std::uint16_t>(ports(random));
    writeText(config_, "Port " + std::to_string(port_) + "\n" + fixed);
    if (attempt == 0) {
      const auto [rc, out] = runWithInput({"/usr/sbin/sshd", "-t", "-f", config_.string()}, {});
      if (rc != 0) throw std::runtime_error("sshd -t rejects the test configuration: " + out);
    }
    // If the test process dies without running destructors (a sanitizer abort, SIGKILL from a
    // test timeout), sshd must not outlive it: it would keep the test's stdout pipe open and
    // make ctest wait forever. So: killed with its parent (setpriv --pdeathsig), and its stdout
    // is /dev/null (its log goes to stderr, which Process reads).
    process_ = std::make_unique<Process>(std::vector<std::string>{
        "/bin/sh", "-c",
        "exec /usr/bin/setpriv --pdeathsig KILL -- /usr/sbin/sshd -D -e -f \"$0\" >/dev/null",
        config_.string()});
    if (process_->waitForLine("Server listening on 127.0.0.1 port", 10s)) return;
    (void)process_->wait(5s);
    lastLog = process_->errors();
    process_.reset();
    if (lastLog.find("Address already in use") == std::string::npos) break;
  }
  throw std::runtime_error("sshd did not start: " + lastLog);
}

Sshd::~Sshd() {
  if (process_) {
    process_->signal(SIGTERM);
    (void)process_->wait(5s);  // Process's destructor sends SIGKILL if this was not enough
  }
}

std::string Sshd::hostKeyLine() const {
  std::istringstream in(readText(hostKeyPub_));
  std::string type;
  std::string key;
  in >> type >> key;
  return type + " " + key;
}

std::optional<std::string> Sshd::waitForLog(const std::string& needle,
                                            std::chrono::milliseconds timeout) {
  return process_->waitForLine(needle, timeout);
}

const std::string& Sshd::log(std::chrono::milliseconds settle) {
  // Reads for `settle`: a needle that sshd never writes.
  (void)process_->waitForLine("\x01conduit-no-such-line\x01", settle);
  return process_->errors();
}

}  // namespace conduit::test
