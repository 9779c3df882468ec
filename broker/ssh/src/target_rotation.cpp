// rotatePassword and generatePassword: rotation of stored passwords on SSH targets.

#include <sodium.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "conduit/ssh/target.hpp"

namespace conduit::ssh {

using core::ErrorCode;
using core::fail;

namespace {

bool hasControl(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

// 300 characters of a command's diagnostics are enough to say why it failed; more would let a
// target flood the broker's logs and audit trail.
constexpr std::size_t kMaxDiagnosticChars = 300;

// The command's own words for an error message: trimmed, bounded, single-line, and with every
// occurrence of the password removed (chpasswd does not echo it, but a wrapper script might).
std::string diagnostic(std::string text, std::string_view password) {
  if (!password.empty()) {
    for (auto pos = text.find(password); pos != std::string::npos; pos = text.find(password)) {
      text.replace(pos, password.size(), "<secret>");
    }
  }
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  const auto first = text.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  text = text.substr(first, text.find_last_not_of(' ') - first + 1);
  if (text.size() > kMaxDiagnosticChars) text = text.substr(0, kMaxDiagnosticChars) + "...";
  return text;
}

}  // namespace

core::Status rotatePassword(const TargetEndpoint& ep, TargetSession& session,
                            const vault::Password& newPassword, const std::string& chpasswdCommand,
                            const ConnectOptions& opt) {
  // chpasswd reads "account:password" lines: a ':' or a line break in the account, or a line
  // break in the password, would set some other account's password.
  if (ep.account.empty() || ep.account.find(':') != std::string::npos || hasControl(ep.account) ||
      ep.account.find(' ') != std::string::npos) {
    return fail(ErrorCode::invalid_argument,
                "cannot rotate: the account name must be non-empty, without ':', spaces or "
                "control characters");
  }
  const std::string_view password = newPassword.revealText();
  if (password.empty() ||
      password.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
    return fail(ErrorCode::invalid_argument,
                "cannot rotate: the new password must be non-empty and hold no line break or NUL");
  }
  if (chpasswdCommand.empty() || hasControl(chpasswdCommand)) {
    return fail(ErrorCode::invalid_argument,
                "cannot rotate: the password command must be one non-empty line");
  }

  // The line that carries the password lives in guarded memory and reaches libssh as a view.
  const std::size_t lineSize = ep.account.size() + 1 + password.size() + 1;
  auto line = vault::SecretBuffer::allocate(lineSize);
  auto* out = reinterpret_cast<char*>(line.data());
  std::memcpy(out, ep.account.data(), ep.account.size());
  out[ep.account.size()] = ':';
  std::memcpy(out + ep.account.size() + 1, password.data(), password.size());
  out[lineSize - 1] = '\n';

  const std::string where = session.target();
  const std::string who = "account '" + ep.account + "' on " + where;
  auto ran = runCommand(session, chpasswdCommand, std::string_view(out, lineSize), opt.timeout);
  if (!ran) {
    return fail(ran.error().code,
                "password rotation for " + who + " failed: " + ran.error().message);
  }
  // Output of a password command is wiped once read: a wrapper could have echoed its input.
  auto wipe = [](std::string& text) { sodium_memzero(text.data(), text.size()); };
  if (ran->exitStatus != 0) {
    std::string why = diagnostic(ran->stderrText, password);
    if (why.empty()) why = diagnostic(ran->stdoutText, password);
    wipe(ran->stdoutText);
    wipe(ran->stderrText);
    const std::string how = ran->exitSignal.empty()
                                ? "exited with status " + std::to_string(ran->exitStatus)
                                : "was killed by signal " + ran->exitSignal;
    return fail(ErrorCode::io, "password rotation for " + who + ": '" + chpasswdCommand + "' " +
                                   how + (why.empty() ? std::string() : ": " + why));
  }

  wipe(ran->stdoutText);
  wipe(ran->stderrText);
  // chpasswd's exit status alone is not proof (PAM modules, a wrapper, another account): the
  // rotation counts only once the new password logs in.
  auto verified =
      connectTarget(ep, PasswordCredential{vault::Password::fromBytes(newPassword.reveal())}, opt);
  if (!verified) {
    const auto code = verified.error().code == ErrorCode::permission_denied ? ErrorCode::conflict
                                                                            : verified.error().code;
    return fail(code, "password rotation for " + who + ": '" + chpasswdCommand +
                          "' succeeded but logging in with the new password failed: " +
                          verified.error().message);
  }
  return core::Done{};
}

vault::Password generatePassword() {
  // A rotation must never fall back to a predictable password.
  if (sodium_init() < 0) std::abort();
  auto buffer = vault::SecretBuffer::allocate(kGeneratedPasswordLength);
  const auto alphabetSize = static_cast<std::uint32_t>(kPasswordAlphabet.size());
  for (std::size_t i = 0; i < kGeneratedPasswordLength; ++i) {
    // randombytes_uniform: no modulo bias.
    buffer.data()[i] =
        static_cast<unsigned char>(kPasswordAlphabet[randombytes_uniform(alphabetSize)]);
  }
  return vault::Password(std::move(buffer));
}

}  // namespace conduit::ssh
