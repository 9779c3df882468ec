// conduit-rdp-worker: the FreeRDP 2 client of one browser RDP session (docs/rdp.md).
//
// Started by the broker with one end of a socketpair (--fd N); reads `connect`, confines
// itself (sandbox.cpp), connects, then streams tiles and takes input until either side closes.
// A hostile RDP server that breaks FreeRDP reaches only this process.

#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "broker_link.hpp"
#include "conduit/rdp/worker_protocol.hpp"
#include "config_dir.hpp"
#include "rdp_client.hpp"
#include "sandbox.hpp"

// FreeRDP 2 keeps process-wide allocations (WinPR handles, OpenSSL state) it never frees, so
// LeakSanitizer would fail every clean exit of a sanitizer build. The worker also ends with
// _exit (below), which skips LeakSanitizer even when ASAN_OPTIONS asks for it; this default
// covers any other path. Ignored by builds without ASan.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}

namespace {

using conduit::rdp::worker::BrokerLink;
using conduit::rdp::worker::makeConfigDir;
using conduit::rdp::worker::removeConfigDir;

// 10 s: the broker sends `connect` right after starting the worker; a worker that waits longer
// is orphaned or the broker is broken.
constexpr auto kConnectFrameTimeout = std::chrono::seconds(10);

void log(const std::string& line) {
  std::fprintf(stderr, "conduit-rdp-worker: %s\n", line.c_str());
}

[[noreturn]] void finish(int code) {
  std::fflush(stderr);
  std::fflush(stdout);
  // _exit: no static destructors of FreeRDP's libraries, no leak check after a session (above).
  ::_exit(code);
}

int parseFd(int argc, char** argv) {
  if (argc != 3 || std::string_view(argv[1]) != "--fd") return -1;
  const std::string_view text(argv[2]);
  int fd = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fd);
  if (ec != std::errc() || end != text.data() + text.size() || fd < 3) return -1;
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  // Logs go to stderr only: stdout may be the broker's, and WinPR's console logger writes its
  // lower levels to stdout.
  ::dup2(STDERR_FILENO, STDOUT_FILENO);
  // RLIMIT_FSIZE is 0 (sandbox.cpp): a write to a regular file must fail, not kill us.
  ::signal(SIGXFSZ, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  const int fd = parseFd(argc, argv);
  if (fd < 0) {
    log("usage: conduit-rdp-worker --fd N");
    finish(2);
  }
  if (::sodium_init() < 0) {
    log("libsodium failed to initialise");
    finish(1);
  }
  BrokerLink link(fd);
  std::string error;
  auto first = link.first(kConnectFrameTimeout, error);
  if (!first) {
    log("no connect frame: " + error);
    finish(1);
  }
  if (first->type != conduit::rdp::MessageType::connect) {
    log("the first frame is not connect");
    finish(1);
  }
  conduit::rdp::Bytes password;
  auto request = conduit::rdp::decodeConnect(first->body, password);
  ::sodium_memzero(first->body.data(), first->body.size());
  if (!request) {
    ::sodium_memzero(password.data(), password.size());
    log("bad connect frame: " + request.error().message);
    finish(1);
  }
  const std::string configDir = makeConfigDir();
  if (configDir.empty()) {
    log("cannot create the FreeRDP configuration directory");
    finish(1);
  }
  if (auto failure =
          conduit::rdp::worker::applySandbox(configDir, request->drive, request->printer);
      !failure.empty()) {
    removeConfigDir(configDir);
    ::sodium_memzero(password.data(), password.size());
    log("sandbox: " + failure);
    link.send(conduit::rdp::encodeFailure(conduit::rdp::MessageType::failed,
                                          {"internal", "the worker sandbox failed"}));
    finish(1);
  }
  int code = 1;
  {
    conduit::rdp::worker::RdpClient client(link, std::move(*request), configDir);
    code = client.run(password);
    removeConfigDir(configDir);
  }
  ::sodium_memzero(password.data(), password.size());
  log("exit " + std::to_string(code));
  finish(code);
}
