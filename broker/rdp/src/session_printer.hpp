#pragma once

// The printer of one RDP session: the documents the target prints on "Conduit PDF" are put
// together from the worker's print frames, made PDF on the queue's thread, recorded first (what
// the target printed and what the vendor gets, each with its SHA-256), then offered to the
// vendor's page. Documents refused by the policy, past the queue's limits or unfinished when the
// session ends are recorded as not passed on. The session's thread drives it (frame, finish,
// end); get() and allowed() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "conduit/core/result.hpp"
#include "conduit/rdp/rdp_session.hpp"
#include "conduit/rdp/worker_protocol.hpp"
#include "conduit/recorder/record.hpp"
#include "print_queue.hpp"

namespace conduit::rdp {

class SessionPrinter {
 public:
  struct Hooks {
    /// Records a document's file event (and logs it, shows it live); false if recording failed.
    std::function<bool(const recorder::FileTransferEvent&)> recordFile;
    /// Records a notice; false if recording failed.
    std::function<bool(const std::string&)> recordNotice;
    /// A document the vendor may save now (may be empty).
    std::function<void(const RdpPrinted&)> offered;
    /// Wakes the session's thread (called from the queue's thread when a document is ready).
    std::function<void()> wake;
  };

  /// Converts with options.printToPdf, or with the sandboxed converter (options.printConverter,
  /// or kPrintConverterName beside the worker).
  SessionPrinter(const RdpSessionOptions& options, Hooks hooks, std::string sessionId);
  ~SessionPrinter();  // stops a conversion still running
  SessionPrinter(const SessionPrinter&) = delete;
  SessionPrinter& operator=(const SessionPrinter&) = delete;

  /// Where a document shows in the recording: "printer/NAME".
  static std::string pathOf(const std::string& name) { return "printer/" + name; }

  /// The policy (re-checked every second) still allows the printer: documents printed from now
  /// on are offered; otherwise recorded and not passed on (never converted).
  void allow(bool allowed) noexcept { allowed_ = allowed; }
  bool allowed() const noexcept { return allowed_.load(); }

  /// A print_data or print_end frame from the worker; a reason when the session must end.
  std::optional<std::string> frame(const Frame& f);

  /// Documents converted since the last call: recorded, then offered (or only recorded where
  /// the policy no longer allows the printer). A reason when the recording failed.
  std::optional<std::string> finish();

  /// A document offered earlier (a copy), for the vendor to save; not_found otherwise.
  core::Result<PrintedDocument> get(const std::string& name) const { return queue_.get(name); }

  /// The session ended: a conversion still running is stopped, documents not offered yet are
  /// recorded as such.
  void end();

 private:
  bool record(PrintedDocument& doc, bool offer, const std::string& why);
  bool recordSuppressed();

  Hooks hooks_;
  std::string sessionId_;
  std::atomic<bool> allowed_{true};
  PrintQueue queue_;
};

}  // namespace conduit::rdp
