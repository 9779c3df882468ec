#pragma once

// Follows the legacy scp protocol (rcp's: what `scp -O` and old clients speak, an exec of
// `scp -t PATH` to send files to the target or `scp -f PATH` to fetch them) on an exec channel
// as it passes, and says which files moved, with their size and the SHA-256 of their bytes,
// and which the receiving side refused. Written by hand: no library decodes scp (it is
// OpenSSH's scp.c on both ends). The sending side's control lines (C for a file, D and E for a
// directory, T for times) and data are followed with the receiving side's answers (a NUL, or
// \x01/\x02 and a message); a stream that leaves the protocol stops the decoding.

#include <memory>
#include <string>

#include "conduit/ssh/file_observer.hpp"

namespace conduit::ssh {

class ScpObserver final : public FileObserver {
 public:
  /// An observer for an exec request that runs scp's remote end (`scp [-r] [-p] [-d] [-v] -t
  /// PATH`: the vendor sends, `... -f PATH`: the target sends); nullptr for any other command.
  static std::unique_ptr<ScpObserver> forCommand(const std::string& command);
  ~ScpObserver() override;
  ScpObserver(const ScpObserver&) = delete;
  ScpObserver& operator=(const ScpObserver&) = delete;

  void fromVendor(std::span<const unsigned char> bytes, FileEvents& out) override;
  void fromTarget(std::span<const unsigned char> bytes, FileEvents& out) override;
  /// A file under way is reported as it stands ("not finished (the channel ended)").
  void finish(FileEvents& out) override;

  struct State;

 private:
  explicit ScpObserver(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

}  // namespace conduit::ssh
