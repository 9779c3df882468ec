#pragma once

// A libssh client for the gateway tests that need what OpenSSH's client never sends: a
// thousand channels on one connection, a request on a channel whose request was refused, a
// tunnel channel that sends and closes before its open is decided.

#include <libssh/libssh.h>

#include <chrono>
#include <string>

#include "conduit/core/totp.hpp"
#include "ssh/integration/plant.hpp"

namespace conduit::test {

/// Signed in to the gateway as `user` (alice+ASSET) with alice's key and TOTP code: the same
/// two steps as OpenSSH, publickey then keyboard-interactive.
struct LibsshClient {
  ssh_session s = ssh_new();
  LibsshClient() = default;
  LibsshClient(const LibsshClient&) = delete;
  LibsshClient& operator=(const LibsshClient&) = delete;
  ~LibsshClient() {
    ssh_disconnect(s);
    ssh_free(s);
  }
  bool signIn(Plant& p, const std::string& user = "alice+hmi") {
    const unsigned port = p.sshPort;
    ssh_options_set(s, SSH_OPTIONS_HOST, "127.0.0.1");
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(s, SSH_OPTIONS_USER, user.c_str());
    if (ssh_connect(s) != SSH_OK) return false;
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file((p.dir / "vendor_key").c_str(), nullptr, nullptr, nullptr,
                                    &key) != SSH_OK) {
      return false;
    }
    const int first = ssh_userauth_publickey(s, nullptr, key);
    ssh_key_free(key);
    if (first != SSH_AUTH_PARTIAL) return false;
    const auto now =
        std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
    const std::string code = core::totpCode(p.totpSeed, core::totpStep(now));
    int rc = ssh_userauth_kbdint(s, nullptr, nullptr);
    while (rc == SSH_AUTH_INFO) {
      for (int i = 0; i < ssh_userauth_kbdint_getnprompts(s); ++i) {
        ssh_userauth_kbdint_setanswer(s, static_cast<unsigned>(i), code.c_str());
      }
      rc = ssh_userauth_kbdint(s, nullptr, nullptr);
    }
    return rc == SSH_AUTH_SUCCESS;
  }
};

/// What a channel sends (stdout, or stderr with `isStderr`) until EOF, or 10 s of silence.
inline std::string readChannel(ssh_channel ch, bool isStderr = false) {
  std::string out;
  char buf[256];
  int n = 0;
  while ((n = ssh_channel_read_timeout(ch, buf, sizeof buf, isStderr ? 1 : 0, 10000)) > 0) {
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

/// Runs `command` on `ch`: its output, or "<exec refused>".
inline std::string execOn(ssh_channel ch, const char* command) {
  if (ssh_channel_request_exec(ch, command) != SSH_OK) return "<exec refused>";
  return readChannel(ch);
}

}  // namespace conduit::test
