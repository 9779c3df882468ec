#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "conduit/core/result.hpp"
#include "conduit/rdp/worker_protocol.hpp"

namespace conduit::rdp {

/// A document the target printed, as the vendor gets it.
struct PrintedDocument {
  std::string name;  // "print-N.pdf", or "print-N.ps" when it could not become PDF
  Bytes bytes;       // empty when it is not offered (see note)
  std::string sha256;
  std::uint64_t printedBytes = 0;  // what the target sent
  std::string printedSha256;
  std::string note;  // why it is PostScript, cut, or not offered; empty when all went well
};

/// The documents the target prints in one session: put together from the worker's print
/// frames (on the session's thread), turned into PDF one at a time on a thread of their own
/// (Ghostscript takes up to a minute, the desktop must not wait), then kept for the vendor to
/// save. Bounded: 4 documents arriving at once (kMaxPrintJobsAtOnce, 32 MiB each), 2 waiting
/// for conversion (a third is not offered), 10 a second (more are counted, not kept), 16 kept
/// (or 64 MiB; the oldest goes first): at most about 300 MiB of a hostile session's.
class PrintQueue {
 public:
  using Convert = std::function<core::Result<Bytes>(std::span<const std::uint8_t>,
                                                    const std::atomic<bool>& cancel)>;
  /// `ready` is called from the conversion thread after a document is done (wake the session).
  PrintQueue(Convert convert, std::function<void()> ready);
  ~PrintQueue();
  PrintQueue(const PrintQueue&) = delete;
  PrintQueue& operator=(const PrintQueue&) = delete;

  /// A piece of a document. invalid_argument when the worker breaks its own limits (more
  /// documents at once, or more bytes, than it may send): the session ends.
  core::Status data(PrintData piece);
  /// The document is complete: queued for conversion, or, where `offer` is false (the policy
  /// no longer allows the printer), noted at once as not passed on without converting it.
  core::Status end(const PrintEnd& end, bool offer = true);
  /// The documents finished since the last call, in the order they were printed.
  std::vector<PrintedDocument> takeReady();
  /// Documents past 10 in a second since the last call: not converted, recorded or kept one by
  /// one (the caller notes how many).
  std::uint64_t takeSuppressed();
  /// After stop(): what was still arriving, waiting or finished and not taken, as documents not
  /// passed on ("the session ended"), so the recording still names them.
  std::vector<PrintedDocument> takeUnfinished();
  /// Keeps a finished document (after it was recorded) for get().
  void keep(PrintedDocument document);
  /// A kept document by name (a copy); not_found otherwise.
  core::Result<PrintedDocument> get(const std::string& name) const;
  /// Stops a running conversion and the thread; idempotent.
  void stop();

 private:
  struct Raw {
    int number = 0;
    Bytes bytes;
    bool truncated = false;
  };
  static PrintedDocument notPassedOn(const Raw& raw, const std::string& why);
  void run();
  PrintedDocument convert(Raw& raw);

  Convert convert_;
  std::function<void()> ready_;
  std::map<std::uint32_t, Bytes> arriving_;         // the session's thread only
  int printed_ = 0;                                 // likewise
  std::chrono::steady_clock::time_point second_{};  // likewise: the rate's window
  int inSecond_ = 0;
  std::uint64_t suppressed_ = 0;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Raw> waiting_;
  std::vector<PrintedDocument> done_;
  std::deque<PrintedDocument> kept_;
  std::uint64_t keptBytes_ = 0;
  bool stopping_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace conduit::rdp
