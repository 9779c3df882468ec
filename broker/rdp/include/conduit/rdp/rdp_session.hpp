#pragma once

// The broker side of one browser RDP session: checks access, checks the credential out of the
// vault, starts a conduit-rdp-worker process for it, and then relays: the worker's tiles to the
// browser (and into the recording), the browser's input to the worker. Enforces the grant once
// a second like the SSH gateway (window end, revocation, kill). A worker that crashes or breaks
// the protocol ends only its own session.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/rdp/drive_folder.hpp"
#include "conduit/rdp/rdp_backend.hpp"
#include "conduit/rdp/worker_protocol.hpp"

namespace conduit::rdp {

struct RdpSessionRequest {
  std::string user;
  std::string asset;
  std::string source;  // the browser's address
  int width = 1024;    // the desktop size asked for: kMinDesktop..kMaxDesktop*
  int height = 768;
};

/// What a session that started offers the browser.
struct RdpStarted {
  std::string sessionId;
  int width = 0;  // the desktop's actual size
  int height = 0;
  bool clipboardToTarget = false;  // which ways the policy lets clipboard text pass
  bool clipboardFromTarget = false;
  bool drive = false;    // the session has a drive
  bool audio = false;    // the target's sound comes as audio frames
  bool printer = false;  // the target prints to the vendor
};

/// A document the target printed, ready for the vendor (printGet).
struct RdpPrinted {
  std::string name;  // "print-N.pdf" (or ".ps" when it could not become PDF)
  std::uint64_t size = 0;
  std::string sha256;
  std::string note;  // why it is PostScript or cut; empty when all went well
};

/// The browser's side. Called on the session's thread, never while it holds a lock; must not
/// block (the portal queues what its WebSocket has not sent yet).
struct RdpSessionIo {
  // First, once, before any frame. Optional.
  std::function<void(const RdpStarted&)> started;
  // A tile or frame end for the browser: the worker's frame without its length (type first).
  std::function<void(std::string)> frame;
  std::function<void(const std::string&)> notice;  // one line for the vendor (window end)
  std::function<void(const std::string&)> closed;  // exactly once, with the reason
  // Text copied on the target (UTF-8, checked, recorded) where the policy allows the
  // clipboard. Optional: without it, the target's clipboard still goes into the recording.
  std::function<void(const std::string&)> clipboard;
  // Sound for the browser (an audio frame without its length, type first) where the session
  // has audio; the portal drops it rather than queue it behind a slow browser. Optional:
  // without it, sound is dropped.
  std::function<void(std::string)> audio;
  // A document the target printed is ready (recorded first) where the policy allows the
  // printer. Optional: without it, documents are still recorded and kept for printGet.
  std::function<void(const RdpPrinted&)> printed;
};

struct RdpSessionOptions {
  std::filesystem::path workerPath;
  // 15 s: a Windows logon over NLA takes a few seconds; a host that is down fails at once.
  std::chrono::milliseconds connectTimeout{15000};
  // 20 s between full-screen keyframes: replay seeks to the one before the moment asked for.
  int keyframeSeconds = 20;
  // 1000 input events a second: far beyond a person (mouse moves are sent once per screen
  // refresh); a browser sending more is broken or hostile and its session ends.
  int maxInputPerSecond = 1000;
  // 10 clipboard texts a second (each up to kMaxClipboardBytes, each recorded): a person
  // copies a few times a minute; more would only fill the recording. More from the browser
  // ends the session; more from the target are recorded by size only and not passed on.
  int maxClipboardPerSecond = 10;
  // conduit-print-converter (what the target prints becomes PDF there); empty: beside
  // workerPath.
  std::filesystem::path printConverter;
  // What the target prints (PostScript) as PDF: postScriptToPdf with printConverter when empty.
  std::function<core::Result<Bytes>(std::span<const std::uint8_t>, const std::atomic<bool>&)>
      printToPdf;
};

class RdpSession {
 public:
  /// Blocking (the worker connects and logs in, up to connectTimeout). Fails with
  /// permission_denied (no grant: the reason), invalid_argument (size out of range, missing
  /// callback), failed_precondition-like conflict (the endpoint's certificate is not pinned)
  /// or unavailable with the worker's message (wrong credential, certificate mismatch, host
  /// down). Nothing stays open on failure and io.closed is not called.
  static core::Result<std::unique_ptr<RdpSession>> start(RdpBackend& backend,
                                                         const RdpSessionOptions& options,
                                                         RdpSessionRequest request,
                                                         RdpSessionIo io);
  /// Ends the session if still open ("the browser closed the desktop") and waits for its
  /// thread. May be called from io.closed.
  ~RdpSession();
  RdpSession(const RdpSession&) = delete;
  RdpSession& operator=(const RdpSession&) = delete;

  void key(const KeyEvent& key);
  void pointer(const PointerEvent& pointer);
  /// Ctrl+Alt+Del as three keys down and up.
  void ctrlAltDel();
  /// The browser drew every frame up to `sequence`; acknowledging a frame never sent ends the
  /// session.
  void ack(std::uint32_t sequence);
  /// A full-screen frame next (after the browser reconnected its canvas).
  void refresh();
  /// The vendor's clipboard text becomes the target's clipboard (recorded first).
  /// permission_denied where the policy does not allow clipboard text to the target (the
  /// session goes on),
  /// invalid_argument for text over kMaxClipboardBytes or not UTF-8, unavailable once ended.
  core::Status clipboard(const std::string& text);
  /// The session's drive (where the policy allows one; permission_denied otherwise, also
  /// once the policy dropped it): its files; a file the vendor puts there (recorded with its
  /// SHA-256 before the target can see it; returns the SHA-256); a file the vendor takes
  /// (recorded). Errors as DriveFolder's; unavailable once ended or if recording failed (the
  /// session then ends).
  core::Result<std::vector<DriveFile>> driveList();
  /// Whether drivePut would take a file of this name and size (before its bytes arrive).
  core::Status driveAccepts(const std::string& name, std::uint64_t size);
  core::Result<std::string> drivePut(const std::string& name, std::span<const std::uint8_t> bytes);
  core::Result<DriveContent> driveGet(const std::string& name);
  /// A document the target printed (RdpSessionIo::printed named it), recorded as saved by the
  /// vendor. permission_denied where the policy does not (or no longer) allow the printer,
  /// not_found for a name not offered (or no longer kept: the last 16 are), unavailable once
  /// ended or if recording failed.
  core::Result<DriveContent> printGet(const std::string& name);
  void close(const std::string& reason);

  std::string sessionId() const;
  int width() const;
  int height() const;

  class Impl;

 private:
  explicit RdpSession(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

}  // namespace conduit::rdp
