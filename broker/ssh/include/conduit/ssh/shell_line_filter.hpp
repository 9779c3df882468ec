#pragma once

// Typed-command filtering in interactive shells (issue 5 item 5, policy ssh.command_deny with
// ssh.filter_shell_commands = true). Best effort by nature, and documented as such: the broker
// sees keystrokes, not the line the shell will run. It follows the line as typed (printable
// characters, backspace, Ctrl-U, Ctrl-W, Ctrl-C) and, at Enter, checks each simple command of it
// (split at ; & |) against the deny patterns; a match withholds the Enter and sends Ctrl-U
// instead, so the shell discards the line. A line edited in ways the filter cannot follow
// (cursor keys, history recall, tab completion, pasted escape sequences) is not checked: a shell
// can always hide a command (aliases, scripts, `eval`, base64), which is why exec commands and
// the recording remain the controls an auditor relies on.
//
// Written by hand: no library models a terminal line as typed; the logic is small and pure.

#include <string>
#include <string_view>
#include <vector>

namespace conduit::ssh {

class ShellLineFilter {
 public:
  explicit ShellLineFilter(std::vector<std::string> denyPatterns)
      : patterns_(std::move(denyPatterns)) {}

  struct Output {
    std::string forward;                // the bytes to send to the target's shell
    std::vector<std::string> refusals;  // the pattern each refused line matched
  };

  /// Feeds the vendor's keystrokes, in any split.
  Output feed(std::string_view bytes);

  /// The pattern `line` matches (each simple command of it, trimmed), or empty.
  std::string deniedBy(std::string_view line) const;

 private:
  // 4 KiB: longer than any command typed at a prompt; a longer "line" is a paste, which the
  // filter stops following (unknown) rather than buffer without bound.
  static constexpr std::size_t kMaxLine = 4096;

  std::vector<std::string> patterns_;
  std::string line_;
  bool unknown_ = false;  // edited in a way the filter cannot follow
  bool inEscape_ = false;
};

}  // namespace conduit::ssh
