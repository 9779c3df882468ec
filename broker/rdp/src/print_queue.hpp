#pragma once

#include <atomic>
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
/// save. Bounded: 4 documents arriving at once, 4 waiting for conversion (a fifth is not
/// offered), 16 kept (or 256 MiB; the oldest goes first).
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
  /// The document is complete: queued for conversion (or noted as not offered).
  core::Status end(const PrintEnd& end);
  /// The documents finished since the last call, in the order they were printed.
  std::vector<PrintedDocument> takeReady();
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
  void run();
  PrintedDocument convert(Raw raw);

  Convert convert_;
  std::function<void()> ready_;
  std::map<std::uint32_t, Bytes> arriving_;  // the session's thread only
  int printed_ = 0;                          // likewise
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
