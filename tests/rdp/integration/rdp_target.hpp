#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "support/ports.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

namespace conduit::test {

/// A real RDP server for tests: Xvfb on a free display (1024x768x24), an xterm on it running a
/// command, and freerdp-shadow-cli sharing that display on 127.0.0.1 (a free port) with NLA
/// against a SAM file. Everything is killed when this is destroyed.
class RdpTarget {
 public:
  struct Options {
    std::string user = "vendor";
    std::string password;  // empty: a random one
    // The xterm's command; empty: `sh -c 'cat > FILE'` (file() then holds what was typed).
    std::vector<std::string> command;
  };

  /// Starts the three processes and waits until the server accepts TCP connections; throws
  /// std::runtime_error if any of them does not come up.
  explicit RdpTarget(Options options);
  RdpTarget() : RdpTarget(Options{}) {}
  ~RdpTarget();
  RdpTarget(const RdpTarget&) = delete;
  RdpTarget& operator=(const RdpTarget&) = delete;

  std::uint16_t port() const { return port_; }
  const std::string& user() const { return options_.user; }
  const std::string& password() const { return options_.password; }
  int display() const { return display_; }
  /// Where the default command writes what is typed into the xterm.
  std::filesystem::path file() const { return dir_ / "typed.txt"; }
  /// Kills the RDP server only (Xvfb and the xterm stay): a server that dies mid-session.
  void stopServer();

 private:
  Options options_;
  TempDir dir_;
  const std::string user_ = "vendor";
  const std::string password_ = "xrdp-any-password";
  int display_ = -1;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> xvfb_;
  std::unique_ptr<Process> xterm_;
  std::unique_ptr<Process> server_;
};

/// A second, independent RDP server: xrdp in front of a TigerVNC Xvnc display (a free one,
/// 1024x768x24) with an xterm running `sh -c 'cat > FILE'`. xrdp has no NLA: TLS security with
/// a self-signed certificate; the session goes straight to the VNC display (which asks no
/// password), so any user name and password log in. On 127.0.0.1, free ports; all killed when
/// this is destroyed. Throws std::runtime_error if a part does not come up.
class XrdpTarget {
 public:
  struct Options {
    // Drive redirection: xrdp's channel server (xrdp-chansrv, as xrdp-sesman would start it)
    // mounts the drives the client offers under drives() with FUSE. Needs root (the FUSE mount
    // and xrdp's fixed socket directory /run/xrdp/sockdir). The clipboard then goes to
    // chansrv rather than to the VNC display, so it is off in this mode.
    bool drives = false;
    // Audio output: the same channel server plays what is written to audioSocket() to the
    // client over rdpsnd (as pulseaudio's xrdp sink module would). Needs root likewise.
    bool audio = false;
  };
  explicit XrdpTarget(Options options);
  XrdpTarget() : XrdpTarget(Options{}) {}
  ~XrdpTarget();
  XrdpTarget(const XrdpTarget&) = delete;
  XrdpTarget& operator=(const XrdpTarget&) = delete;

  std::uint16_t port() const { return port_; }
  std::filesystem::path file() const { return dir_ / "typed.txt"; }
  /// Any account logs in (the VNC display asks nothing); these are what tests give.
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  /// Makes `text` the display's CLIPBOARD selection (an xclip process owns it from now on):
  /// what copying on the target does.
  void setClipboard(const std::string& text);
  /// The display's CLIPBOARD selection now; nullopt while nothing owns it.
  std::optional<std::string> clipboard() const;
  /// Where the target's user sees redirected drives, one folder per drive (Options::drives).
  std::filesystem::path drives() const { return dir_ / "home" / "thinclient_drives"; }
  /// Where chansrv takes sound to play (Options::audio): a Unix stream socket it creates once
  /// a client opened the rdpsnd channel; messages of u32 LE id (0: PCM), u32 LE size (8 + the
  /// samples' bytes), then 16-bit stereo PCM at 44.1 kHz.
  std::filesystem::path audioSocket() const;

 private:
  Options options_;
  TempDir dir_;
  const std::string user_ = "vendor";
  const std::string password_ = "xrdp-any-password";
  int display_ = -1;
  std::uint16_t port_ = 0;
  std::unique_ptr<Process> clipboardOwner_;
  std::unique_ptr<Process> chansrv_;
  std::unique_ptr<Process> xvnc_;
  std::unique_ptr<Process> xterm_;
  std::unique_ptr<Process> server_;
};

/// An RDP server that prints (tests/rdp/print_server: no RDP server that runs here has a print
/// spooler): conduit-test-rdp-printer on 127.0.0.1 (a free port, TLS with a fresh self-signed
/// certificate, any account), which prints `document` `copies` times to the printer each
/// client offers, one client after the other. Killed when this is destroyed.
class PrintTarget {
 public:
  struct Options {
    std::string program;   // the conduit-test-rdp-printer executable
    std::string document;  // the bytes it prints
    int copies = 1;
  };
  explicit PrintTarget(Options options);
  ~PrintTarget();
  PrintTarget(const PrintTarget&) = delete;
  PrintTarget& operator=(const PrintTarget&) = delete;

  std::uint16_t port() const { return port_; }
  /// Any account logs in; these are what tests give.
  const std::string& user() const { return user_; }
  const std::string& password() const { return password_; }
  /// SHA-256 of the certificate's DER (what the endpoint pins), lowercase hex.
  const std::string& fingerprint() const { return fingerprint_; }
  /// The server's log: "printer NAME announced", "printed N bytes to NAME", "client left".
  Process& process() { return *server_; }

 private:
  TempDir dir_;
  const std::string user_ = "vendor";
  const std::string password_ = "print-any-password";
  std::uint16_t port_ = 0;
  std::string fingerprint_;
  std::unique_ptr<Process> server_;
};

/// A one-page PostScript document as Windows' PostScript drivers make them (DSC comments, a
/// title), padded with comment lines to about `bytes` so it crosses several writes; its page
/// shows `text`.
std::string postScriptDocument(const std::string& text, std::size_t bytes);

}  // namespace conduit::test
