#include "session_printer.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include "conduit/rdp/print_to_pdf.hpp"

namespace conduit::rdp {

namespace {

PrintQueue::Convert converterFor(const RdpSessionOptions& options) {
  if (options.printToPdf) return options.printToPdf;
  const auto converter = options.printConverter.empty()
                             ? options.workerPath.parent_path() / kPrintConverterName
                             : options.printConverter;
  return [converter](std::span<const std::uint8_t> doc, const std::atomic<bool>& cancel) {
    PdfConversion how;
    how.cancel = &cancel;
    how.converter = converter;
    return postScriptToPdf(doc, how);
  };
}

}  // namespace

SessionPrinter::SessionPrinter(const RdpSessionOptions& options, Hooks hooks, std::string sessionId)
    : hooks_(std::move(hooks)),
      sessionId_(std::move(sessionId)),
      queue_(converterFor(options), hooks_.wake) {}

SessionPrinter::~SessionPrinter() {
  queue_.stop();
}

std::optional<std::string> SessionPrinter::frame(const Frame& f) {
  core::Status st = core::Done{};
  if (f.type == MessageType::print_data) {
    auto d = decodePrintData(f.body);
    if (!d) return "the RDP worker broke the protocol: " + d.error().message;
    st = queue_.data(std::move(*d));
  } else {
    auto e = decodePrintEnd(f.body);
    if (!e) return "the RDP worker broke the protocol: " + e.error().message;
    // Not converted at all once the policy dropped the printer: recorded, not passed on.
    st = queue_.end(*e, allowed_.load());
  }
  if (!st) return "the RDP worker broke the protocol: " + st.error().message;
  return std::nullopt;
}

std::optional<std::string> SessionPrinter::finish() {
  for (auto& doc : queue_.takeReady()) {
    if (!record(doc, allowed_.load(), "")) return "the recording failed";
  }
  if (!recordSuppressed()) return "the recording failed";
  return std::nullopt;
}

void SessionPrinter::end() {
  queue_.stop();
  for (auto& doc : queue_.takeUnfinished()) {
    if (!record(doc, false, "the session ended")) break;
  }
  (void)recordSuppressed();
}

/// One document: recorded first; offered (kept for get(), the page told) when `offer` and it
/// has bytes, else recorded as not passed on (`why`, where its note does not say). False when
/// recording failed.
bool SessionPrinter::record(PrintedDocument& doc, bool offer, const std::string& why) {
  offer = offer && !doc.bytes.empty();
  std::string detail = "printed on the target: " + std::to_string(doc.printedBytes) +
                       " bytes, sha256 " + doc.printedSha256;
  if (!doc.note.empty()) detail += "; " + doc.note;
  if (!offer && doc.note.find("not passed on") == std::string::npos) {
    detail += "; not passed on: " +
              (why.empty() ? std::string("the policy no longer allows the printer") : why);
  }
  recorder::FileTransferEvent e{recorder::FileOperation::print, offer ? doc.bytes.size() : 0,
                                pathOf(doc.name), detail, offer ? doc.sha256 : std::string()};
  if (!hooks_.recordFile(e)) return false;
  if (!offer) return true;
  RdpPrinted printed{doc.name, doc.bytes.size(), doc.sha256, doc.note};
  queue_.keep(std::move(doc));
  if (hooks_.offered) hooks_.offered(printed);
  return true;
}

/// Documents past the rate (10 a second): one notice for them all. False if recording failed.
bool SessionPrinter::recordSuppressed() {
  const std::uint64_t n = queue_.takeSuppressed();
  if (n == 0) return true;
  spdlog::warn("event=prints_suppressed session={} count={}", sessionId_, n);
  return hooks_.recordNotice(std::to_string(n) +
                             " more documents printed on the target were not passed on (more "
                             "than 10 in a second)");
}

}  // namespace conduit::rdp
