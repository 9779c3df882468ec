// The vendor-facing SSH server: listener, per-connection threads, authentication and the
// access decision. The channel relay is in relay.cpp.
#include "conduit/ssh/gateway.hpp"

#include <arpa/inet.h>
#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include <spdlog/spdlog.h>

#include "live_session.hpp"
#include "relay.hpp"

namespace conduit::ssh {

using core::ErrorCode;
using core::fail;

LoginName parseLoginName(const std::string& sshUser) {
  const auto plus = sshUser.rfind('+');
  if (plus == std::string::npos) return {sshUser, ""};
  return {sshUser.substr(0, plus), sshUser.substr(plus + 1)};
}

namespace {

// Algorithms: only modern, well-reviewed choices (issue 5: curve25519, ed25519/ecdsa/rsa-sha2,
// AES-GCM/ChaCha20/AES-CTR, no SHA-1 MACs). aes128-gcm first: cheapest for both sides.
constexpr const char* kKex =
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384";
constexpr const char* kCiphers =
    "aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,"
    "aes256-ctr";
constexpr const char* kMacs =
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512";
constexpr const char* kPubkeyTypes =
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"
    "rsa-sha2-256";

std::string keyLine(ssh_key key) {
  char* b64 = nullptr;
  if (ssh_pki_export_pubkey_base64(key, &b64) != SSH_OK) return {};
  std::string line = std::string(ssh_key_type_to_char(ssh_key_type(key))) + " " + b64;
  ssh_string_free_char(b64);
  return line;
}

std::string peerAddress(ssh_session s) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getpeername(ssh_get_fd(s), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  char buf[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&addr)->sin_addr, buf, sizeof buf);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

void sendBanner(ssh_session s, const std::string& text) {
  ssh_string banner = ssh_string_from_char(text.c_str());
  if (banner != nullptr) {
    ssh_send_issue_banner(s, banner);
    ssh_string_free(banner);
  }
}

// Two answers to the asset menu: a second chance for a typo; more would only let a client
// probe asset names without end.
constexpr int kMenuTries = 2;
// Entries listed in the menu (the rest can still be named): OpenSSH prints at most about 1 KiB
// of a keyboard-interactive instruction.
constexpr std::size_t kMenuShown = 15;

/// "2026-11-26 14:00 UTC": the end of a grant as the menu shows it.
std::string menuTime(core::TimePoint t) {
  const auto tt = static_cast<std::time_t>(t.time_since_epoch().count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  const std::size_t len = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return {buf, len};
}

/// A vendor's answer as it may be shown back: printable ASCII, at most 64 characters.
std::string printable(const std::string& text) {
  std::string out;
  for (const char c : text.substr(0, 64)) {
    out += std::isprint(static_cast<unsigned char>(c)) != 0 ? c : '?';
  }
  return text.size() > 64 ? out + "..." : out;
}

/// Whether a menu answer could be an asset's name, to pass it to the access decision: visible
/// ASCII only, at most 128 characters, not a bare number (that was meant as a menu entry).
bool looksLikeAssetName(const std::string& text) {
  return !text.empty() && text.size() <= 128 &&
         text.find_first_not_of("0123456789") != std::string::npos &&
         std::all_of(text.begin(), text.end(),
                     [](char c) { return std::isgraph(static_cast<unsigned char>(c)) != 0; });
}

}  // namespace

/// One vendor connection, from key exchange to the end of its relay. Runs on its own thread.
class Connection {
 public:
  Connection(ssh_session s, GatewayBackend& backend, const GatewayOptions& options,
             std::atomic<bool>& stopping, std::string sessionId,
             std::function<void()> authenticated)
      : session_(s),
        backend_(backend),
        options_(options),
        stopping_(stopping),
        sessionId_(std::move(sessionId)),
        onAuthenticated_(std::move(authenticated)) {}

  ~Connection() {
    ssh_disconnect(session_);
    ssh_free(session_);
  }

  void run() {
    source_ = peerAddress(session_);
    // Key exchange and authentication share one deadline.
    long timeout = static_cast<long>(options_.authTimeout.count());
    ssh_options_set(session_, SSH_OPTIONS_TIMEOUT, &timeout);
    ssh_set_auth_methods(session_, SSH_AUTH_METHOD_PUBLICKEY | SSH_AUTH_METHOD_INTERACTIVE);
    std::memset(&callbacks_, 0, sizeof callbacks_);
    callbacks_.userdata = this;
    callbacks_.auth_pubkey_function = &Connection::onPubkey;
    callbacks_.auth_none_function = &Connection::onNone;
    callbacks_.auth_password_function = &Connection::onPassword;
    ssh_callbacks_init(&callbacks_);
    ssh_set_server_callbacks(session_, &callbacks_);
    ssh_set_message_callback(session_, &Connection::onMessage, this);
    if (ssh_handle_key_exchange(session_) != SSH_OK) return;

    ssh_event event = ssh_event_new();
    ssh_event_add_session(event, session_);
    const auto deadline = std::chrono::steady_clock::now() + options_.authTimeout;
    while (!authenticated_ && !refused_ && !stopping_ &&
           std::chrono::steady_clock::now() < deadline && failures_ < options_.maxAuthAttempts) {
      if (ssh_event_dopoll(event, 200) == SSH_ERROR) break;
    }
    ssh_event_remove_session(event, session_);
    ssh_event_free(event);
    if (!authenticated_) return;
    onAuthenticated_();  // no longer counts against the unauthenticated limit of its source

    backend_.sessionStarted(sessionId_, login_.user, login_.asset, source_, allow_);
    const RelayResult result = runRelay(RelaySetup{session_, res_.target ? &*res_.target : nullptr,
                                                   backend_, login_, source_, allow_, stopping_,
                                                   res_.recording.get(), sessionId_, options_});
    endSession(backend_, sessionId_, res_, result.reason, result.bytesToTarget,
               result.bytesToVendor);
  }

 private:
  // libssh calls these from C: they must not throw.
  static int onNone(ssh_session, const char*, void* self) noexcept {
    static_cast<Connection*>(self)->showBanner();
    return SSH_AUTH_DENIED;
  }

  /// The login banner (IEC 62443 SR 1.12), once, at the first authentication request: clients
  /// accept SSH_MSG_USERAUTH_BANNER only once user authentication has begun.
  void showBanner() noexcept {
    if (bannerShown_ || options_.loginBanner.empty()) return;
    bannerShown_ = true;
    sendBanner(session_, options_.loginBanner + "\n");
  }
  static int onPassword(ssh_session, const char*, const char*, void*) noexcept {
    return SSH_AUTH_DENIED;  // password alone is never enough: keyboard-interactive asks both
  }

  static int onPubkey(ssh_session, const char* user, ssh_key key, char state, void* self) noexcept {
    try {
      return static_cast<Connection*>(self)->pubkey(user, key, state);
    } catch (...) {
      return SSH_AUTH_DENIED;
    }
  }

  static int onMessage(ssh_session, ssh_message msg, void* self) noexcept {
    try {
      return static_cast<Connection*>(self)->message(msg);
    } catch (...) {
      return 1;
    }
  }

  bool sameUser(const char* user) {
    if (user == nullptr) return false;
    if (sshUser_.empty()) {
      sshUser_ = user;
      login_ = parseLoginName(sshUser_);
    }
    return sshUser_ == user;
  }

  int pubkey(const char* user, ssh_key key, char state) {
    showBanner();
    if (!sameUser(user) || !menu_.empty()) return SSH_AUTH_DENIED;
    if (!backend_.isRegisteredKey(login_.user, keyLine(key))) return SSH_AUTH_DENIED;
    if (state == SSH_PUBLICKEY_STATE_NONE) return SSH_AUTH_SUCCESS;  // "key acceptable"
    if (state != SSH_PUBLICKEY_STATE_VALID) return SSH_AUTH_DENIED;  // signature must verify
    keyVerified_ = true;
    // The key is one factor; the TOTP code asked next by keyboard-interactive is the second.
    ssh_set_auth_methods(session_, SSH_AUTH_METHOD_INTERACTIVE);
    return SSH_AUTH_PARTIAL;
  }

  int message(ssh_message msg) {
    if (ssh_message_type(msg) != SSH_REQUEST_AUTH ||
        ssh_message_subtype(msg) != SSH_AUTH_METHOD_INTERACTIVE) {
      return 1;  // default handling (refusal) for everything else during auth
    }
    showBanner();
    if (!ssh_message_auth_kbdint_is_response(msg)) {
      // An info response carries no user name; the request before it did.
      const char* user = ssh_message_auth_user(msg);
      if (user == nullptr || !sameUser(user)) {
        ssh_message_reply_default(msg);
        return 0;
      }
      // The identity is proven on this connection already: a restarted exchange gets the
      // menu again, not another round of factors.
      if (!menu_.empty()) return askAsset(msg, "");
      if (keyVerified_) {
        const char* prompts[] = {"Verification code: "};
        char echo[] = {1};
        ssh_message_auth_interactive_request(msg, "Conduit", "Second factor", 1, prompts, echo);
      } else {
        const char* prompts[] = {"Password: ", "Verification code: "};
        char echo[] = {0, 1};
        ssh_message_auth_interactive_request(msg, "Conduit", "", 2, prompts, echo);
      }
      return 0;
    }
    if (!menu_.empty()) return chooseAsset(msg);
    const int n = ssh_userauth_kbdint_getnanswers(session_);
    std::optional<std::string> password;
    std::string code;
    if (sshUser_.empty()) {
      ++failures_;
      ssh_message_reply_default(msg);
      return 0;
    }
    if (keyVerified_ && n == 1) {
      code = answer(0);
    } else if (!keyVerified_ && n == 2) {
      password = answer(0);
      code = answer(1);
    } else {
      ++failures_;
      ssh_message_reply_default(msg);
      return 0;
    }
    core::Status st = backend_.authenticate(login_.user, password, code, source_);
    if (password) {
      std::fill(password->begin(), password->end(), '\0');
    }
    if (!st) {
      spdlog::info("event=ssh_auth_failed user={} source={} reason=\"{}\"", login_.user, source_,
                   st.error().message);
      ++failures_;
      ssh_message_reply_default(msg);
      return 0;
    }
    // Identity proven.
    if (!login_.asset.empty()) return admit(msg);
    menu_ = backend_.grantedAssets(login_.user);
    // By name: an asset keeps its number from one login to the next while grants come and go.
    std::sort(menu_.begin(), menu_.end(),
              [](const GrantedAsset& a, const GrantedAsset& b) { return a.name < b.name; });
    if (menu_.empty()) {
      return refuse(msg, "Conduit: name an asset: ssh " + login_.user +
                             "+ASSET@host\nYou hold no grant that is valid now.\n");
    }
    return askAsset(msg, "");
  }

  std::string answer(unsigned i) {
    const char* a = ssh_userauth_kbdint_getanswer(session_, i);
    return std::string(a == nullptr ? "" : a);
  }

  /// The asset menu (a login without `+ASSET`): one more keyboard-interactive round listing
  /// the assets granted now, numbered, asking for a number or a name. `note` says what was
  /// wrong with the previous answer.
  int askAsset(ssh_message msg, const std::string& note) {
    std::string text = note + "Assets you may reach now (or log in as " + login_.user +
                       "+ASSET to skip this menu):";
    for (std::size_t i = 0; i < menu_.size() && i < kMenuShown; ++i) {
      text += "\n  " + std::to_string(i + 1) + ") " + menu_[i].name + " (until " +
              menuTime(menu_[i].until) + ")";
    }
    if (menu_.size() > kMenuShown) {
      text += "\n  ... and " + std::to_string(menu_.size() - kMenuShown) + " more: answer a name";
    }
    const char* prompts[] = {"Asset (number or name): "};
    char echo[] = {1};
    ssh_message_auth_interactive_request(msg, "Conduit", text.c_str(), 1, prompts, echo);
    return 0;
  }

  /// The answer to the menu: a number from the list or a listed asset's exact name selects
  /// that asset, which is then decided exactly like a login that named it.
  int chooseAsset(ssh_message msg) {
    std::string choice = ssh_userauth_kbdint_getnanswers(session_) == 1 ? answer(0) : "";
    const auto first = choice.find_first_not_of(" \t\r\n");
    choice = first == std::string::npos
                 ? std::string()
                 : choice.substr(first, choice.find_last_not_of(" \t\r\n") - first + 1);
    if (auto picked = pickAsset(choice)) {
      login_.asset = std::move(*picked);
      return admit(msg);
    }
    const std::string shown = "\"" + printable(choice) + "\"";
    if (++menuMisses_ < kMenuTries) {
      return askAsset(msg, shown + " is not on the list; try again.\n");
    }
    // The last miss. A name gets the decision `user+NAME` would get, so the vendor learns the
    // real reason and the refusal is audited like any other login's.
    if (looksLikeAssetName(choice)) {
      login_.asset = choice;
      return admit(msg);
    }
    return refuse(msg, "Conduit: no asset selected: " + shown + " is not on the list\n");
  }

  /// A number from the menu (1-based) or the exact name of a listed asset.
  std::optional<std::string> pickAsset(const std::string& choice) const {
    if (!choice.empty() && choice.size() <= 6 &&
        choice.find_first_not_of("0123456789") == std::string::npos) {
      const std::size_t n = std::stoul(choice);
      if (n >= 1 && n <= menu_.size()) return menu_[n - 1].name;
      return std::nullopt;
    }
    for (const auto& a : menu_) {
      if (a.name == choice) return a.name;
    }
    return std::nullopt;
  }

  /// The access decision for login_.asset, the target login and the recording, and only then
  /// success: for logins that name the asset and for the menu's choice alike. Decided before
  /// saying "authenticated", so a refusal can still be explained with a banner (no channel
  /// exists yet) and no channel ever opens without it.
  int admit(ssh_message msg) {
    const GatewayDecision decision = backend_.checkLogin(login_.user, login_.asset, source_);
    if (const auto* no = std::get_if<GatewayRefuse>(&decision)) {
      return refuse(msg, "Conduit: access to " + login_.asset + " refused: " + no->reason + "\n");
    }
    allow_ = std::get<GatewayAllow>(decision);
    // A tunnels-only login (an asset without an ssh endpoint, e.g. a PLC) has no target
    // session: only `ssh -L` channels to the asset's tcp endpoints.
    std::optional<TargetPlan> plan;
    if (allow_.protocol == core::Protocol::ssh) {
      auto prepared = backend_.prepareTarget(login_.user, login_.asset, sessionId_, source_);
      if (!prepared) {
        return refuse(
            msg, "Conduit: cannot reach " + login_.asset + ": " + prepared.error().message + "\n");
      }
      plan.emplace(std::move(*prepared));
      auto connected = connectTarget(plan->endpoint, plan->credential);
      if (!connected) {
        backend_.targetFailed(login_.user, login_.asset, source_, connected.error().message);
        return refuse(
            msg, "Conduit: cannot reach " + login_.asset + ": " + connected.error().message + "\n");
      }
      res_.target.emplace(std::move(*connected));
    }
    auto recording = backend_.openRecording(sessionId_, allow_);
    if (!recording) {
      res_.target.reset();
      return refuse(msg, "Conduit: session refused: recording could not start: " +
                             recording.error().message + "\n");
    }
    res_.recording = std::move(*recording);
    if (plan) {
      res_.hold = std::move(plan->hold);
      res_.afterSession = std::move(plan->afterSession);
    }
    authenticated_ = true;
    ssh_message_auth_reply_success(msg, 0);
    return 0;
  }

  int refuse(ssh_message msg, const std::string& text) {
    spdlog::info("event=ssh_access_refused user={} asset={} source={} reason=\"{}\"", login_.user,
                 login_.asset, source_, text.substr(0, text.find('\n')));
    sendBanner(session_, text);
    ssh_message_reply_default(msg);
    refused_ = true;
    return 0;
  }

  ssh_session session_;
  GatewayBackend& backend_;
  const GatewayOptions& options_;
  std::atomic<bool>& stopping_;
  std::string sessionId_;
  std::function<void()> onAuthenticated_;
  std::string source_;
  std::string sshUser_;
  LoginName login_;
  ssh_server_callbacks_struct callbacks_{};
  bool bannerShown_ = false;
  bool keyVerified_ = false;
  bool authenticated_ = false;
  bool refused_ = false;
  int failures_ = 0;
  // Non-empty once the identity is proven on a login without an asset: the menu's entries.
  std::vector<GrantedAsset> menu_;
  int menuMisses_ = 0;
  GatewayAllow allow_;
  SessionResources res_;
};

class Gateway::Impl {
 public:
  Impl(const GatewayOptions& options, GatewayBackend& backend)
      : options_(options), backend_(backend) {}

  ~Impl() {
    stop();
    if (bind_ != nullptr) ssh_bind_free(bind_);
  }

  core::Status listen() {
    bind_ = ssh_bind_new();
    if (bind_ == nullptr) return fail(ErrorCode::internal, "libssh could not allocate a listener");
    // The system-wide libssh server configuration must not weaken the broker.
    bool processConfig = false;
    ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_PROCESS_CONFIG, &processConfig);
    ssh_key key = nullptr;
    if (ssh_pki_import_privkey_file(options_.hostKeyFile.c_str(), nullptr, nullptr, nullptr,
                                    &key) != SSH_OK) {
      return fail(ErrorCode::invalid_argument,
                  "cannot load SSH host key " + options_.hostKeyFile.string());
    }
    const int rc = ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_IMPORT_KEY, key);
    if (rc != SSH_OK) {
      ssh_key_free(key);
      return fail(ErrorCode::invalid_argument, "libssh refused the host key");
    }
    unsigned int port = options_.port;
    const bool ok =
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_BINDADDR, options_.address.c_str()) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_BINDPORT, &port) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_KEY_EXCHANGE, kKex) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_CIPHERS_C_S, kCiphers) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_CIPHERS_S_C, kCiphers) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_HMAC_C_S, kMacs) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_HMAC_S_C, kMacs) == 0 &&
        ssh_bind_options_set(bind_, SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES, kPubkeyTypes) == 0;
    if (!ok) return fail(ErrorCode::internal, "libssh refused the listener options");
    if (ssh_bind_listen(bind_) != SSH_OK) {
      return fail(ErrorCode::unavailable, "cannot listen on " + options_.address + ":" +
                                              std::to_string(options_.port) + ": " +
                                              ssh_get_error(bind_));
    }
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    getsockname(ssh_bind_get_fd(bind_), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port
                                             : reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    acceptor_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "ssh-accept");  // for top -H, perf and gdb
      acceptLoop();
    });
    return core::Done{};
  }

  void acceptLoop() {
    std::uint64_t counter = 0;
    while (!stopping_) {
      pollfd p{ssh_bind_get_fd(bind_), POLLIN, 0};
      // 200 ms: how quickly stop() is noticed; accepts themselves are immediate.
      if (::poll(&p, 1, 200) <= 0) continue;
      ssh_session s = ssh_new();
      if (s == nullptr) continue;
      if (ssh_bind_accept(bind_, s) != SSH_OK) {
        ssh_free(s);
        continue;
      }
      // No Nagle: keystrokes, their echo and Modbus requests are small packets that must not
      // wait for the previous one's acknowledgement (OpenSSH's sshd does the same for
      // interactive sessions).
      const int one = 1;
      ::setsockopt(ssh_get_fd(s), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      // Limits at accept: total connections, and connections that have not authenticated yet
      // per source address (a scanner or a flood from one host must not use up the gateway).
      const std::string source = peerAddress(s);
      bool refused = false;
      {
        std::lock_guard lock(mutex_);
        refused = active_ >= options_.maxConnections ||
                  unauthenticated_[source] >= options_.maxUnauthenticatedPerSource;
        if (!refused) ++unauthenticated_[source];
      }
      if (refused) {
        ssh_disconnect(s);
        ssh_free(s);
        continue;
      }
      const std::string id = makeSessionId("ssh", ++counter);
      {
        std::lock_guard lock(mutex_);
        ++active_;
      }
      // Detached: stop() waits for the count of live connections to reach zero instead of
      // holding a handle per past connection.
      std::thread([this, s, id, source] {
        pthread_setname_np(pthread_self(), "ssh-session");
        auto released = std::make_shared<bool>(false);
        auto release = [this, source, released] {
          std::lock_guard l(mutex_);
          if (*released) return;
          *released = true;
          if (--unauthenticated_[source] <= 0) unauthenticated_.erase(source);
        };
        {
          Connection c(s, backend_, options_, stopping_, id, release);
          c.run();
        }
        release();
        std::lock_guard l(mutex_);
        --active_;
        done_.notify_all();
      }).detach();
    }
  }

  void stop() {
    if (stopping_.exchange(true)) return;
    if (acceptor_.joinable()) acceptor_.join();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [this] { return active_ == 0; });
  }

  GatewayOptions options_;
  GatewayBackend& backend_;
  ssh_bind bind_ = nullptr;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  int active_ = 0;                              // guarded by mutex_
  std::map<std::string, int> unauthenticated_;  // per source address, guarded by mutex_
  std::thread acceptor_;
  std::mutex mutex_;
  std::condition_variable done_;
};

core::Result<std::unique_ptr<Gateway>> Gateway::start(const GatewayOptions& options,
                                                      GatewayBackend& backend) {
  auto impl = std::make_unique<Impl>(options, backend);
  if (auto st = impl->listen(); !st) return st.error();
  return std::unique_ptr<Gateway>(new Gateway(std::move(impl)));
}

Gateway::Gateway(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Gateway::~Gateway() = default;
std::uint16_t Gateway::port() const noexcept {
  return impl_->port_;
}
void Gateway::stop() {
  impl_->stop();
}

}  // namespace conduit::ssh
