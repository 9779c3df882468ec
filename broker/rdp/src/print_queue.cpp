#include "print_queue.hpp"

#include "conduit/rdp/drive_folder.hpp"

#include <utility>

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t kMaxArriving = kMaxPrintJobsAtOnce;
constexpr std::size_t kMaxWaiting = 2;
constexpr int kMaxPerSecond = 10;
constexpr std::size_t kMaxKept = 16;
constexpr std::uint64_t kMaxKeptBytes = 64ull << 20;

std::string megabytes(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

PrintQueue::PrintQueue(Convert convert, std::function<void()> ready)
    : convert_(std::move(convert)), ready_(std::move(ready)), thread_([this] { run(); }) {}

PrintQueue::~PrintQueue() {
  stop();
}

void PrintQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cancel_ = true;
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

core::Status PrintQueue::data(PrintData piece) {
  auto it = arriving_.find(piece.job);
  if (it == arriving_.end()) {
    if (arriving_.size() >= kMaxArriving) {
      return fail(ErrorCode::invalid_argument,
                  "more than " + std::to_string(kMaxArriving) + " documents printing at once");
    }
    it = arriving_.emplace(piece.job, Bytes()).first;
  }
  if (it->second.size() + piece.bytes.size() > kMaxPrintJobBytes) {
    return fail(ErrorCode::invalid_argument,
                "a document over " + megabytes(kMaxPrintJobBytes) + " from the RDP worker");
  }
  it->second.insert(it->second.end(), piece.bytes.begin(), piece.bytes.end());
  return core::Done{};
}

PrintedDocument PrintQueue::notPassedOn(const Raw& raw, const std::string& why) {
  PrintedDocument doc;
  doc.name = "print-" + std::to_string(raw.number) + ".ps";
  doc.printedBytes = raw.bytes.size();
  doc.printedSha256 = sha256Hex(raw.bytes);
  doc.note = (raw.truncated ? "cut at " + megabytes(kMaxPrintJobBytes) + "; " : std::string()) +
             "not passed on: " + why;
  return doc;
}

core::Status PrintQueue::end(const PrintEnd& end, bool offer) {
  Raw raw;
  raw.truncated = end.truncated;
  if (auto it = arriving_.find(end.job); it != arriving_.end()) {
    raw.bytes = std::move(it->second);
    arriving_.erase(it);
  }
  const auto now = std::chrono::steady_clock::now();
  if (now - second_ >= std::chrono::seconds{1}) {
    second_ = now;
    inSecond_ = 0;
  }
  std::lock_guard lock(mutex_);
  if (++inSecond_ > kMaxPerSecond) {
    ++suppressed_;  // a flood of documents: counted, not recorded one by one
    if (ready_) ready_();
    return core::Done{};
  }
  raw.number = ++printed_;
  if (!offer || waiting_.size() >= kMaxWaiting) {
    // Not converted and not offered; the recording still says it was printed.
    done_.push_back(notPassedOn(raw, !offer ? std::string("the policy no longer allows the printer")
                                            : std::to_string(kMaxWaiting) +
                                                  " earlier documents are still being converted"));
    if (ready_) ready_();
    return core::Done{};
  }
  waiting_.push_back(std::move(raw));
  wake_.notify_all();
  return core::Done{};
}

std::uint64_t PrintQueue::takeSuppressed() {
  std::lock_guard lock(mutex_);
  return std::exchange(suppressed_, 0);
}

std::vector<PrintedDocument> PrintQueue::takeUnfinished() {
  std::vector<PrintedDocument> out = takeReady();
  std::lock_guard lock(mutex_);
  for (const auto& raw : waiting_) out.push_back(notPassedOn(raw, "the session ended"));
  waiting_.clear();
  for (auto& [job, bytes] : arriving_) {
    Raw raw;
    raw.number = ++printed_;
    raw.bytes = std::move(bytes);
    out.push_back(notPassedOn(raw, "the session ended before the target finished printing it"));
  }
  arriving_.clear();
  return out;
}

void PrintQueue::run() {
  while (true) {
    Raw raw;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (stopping_) return;
      raw = std::move(waiting_.front());
      waiting_.pop_front();
    }
    PrintedDocument doc;
    try {
      doc = convert(raw);
    } catch (const std::exception& e) {  // e.g. bad_alloc: this document is lost, noted
      doc = notPassedOn(raw, e.what());
    }
    {
      std::lock_guard lock(mutex_);
      done_.push_back(std::move(doc));  // after stop(), takeUnfinished() still names it
      if (stopping_) return;
    }
    if (ready_) ready_();
  }
}

PrintedDocument PrintQueue::convert(Raw& raw) {
  PrintedDocument doc;
  const std::string base = "print-" + std::to_string(raw.number);
  doc.printedBytes = raw.bytes.size();
  doc.printedSha256 = sha256Hex(raw.bytes);
  std::string cut;
  if (raw.truncated) cut = "cut at " + megabytes(kMaxPrintJobBytes) + "; ";
  if (raw.bytes.empty()) {
    doc.name = base + ".ps";
    doc.note = "not passed on: the document was empty";
    return doc;
  }
  auto pdf = convert_ ? convert_(raw.bytes, cancel_)
                      : core::Result<Bytes>(fail(ErrorCode::unavailable, "no PDF converter"));
  if (pdf) {
    doc.name = base + ".pdf";
    doc.bytes = std::move(*pdf);
    doc.note = cut.empty() ? std::string() : cut.substr(0, cut.size() - 2);
  } else {
    // The vendor still gets what the target printed, as it came.
    doc.name = base + ".ps";
    doc.bytes = std::move(raw.bytes);
    doc.note = cut + "kept as PostScript: " + pdf.error().message;
  }
  doc.sha256 = sha256Hex(doc.bytes);
  return doc;
}

std::vector<PrintedDocument> PrintQueue::takeReady() {
  std::lock_guard lock(mutex_);
  std::vector<PrintedDocument> out;
  out.swap(done_);
  return out;
}

void PrintQueue::keep(PrintedDocument document) {
  std::lock_guard lock(mutex_);
  keptBytes_ += document.bytes.size();
  kept_.push_back(std::move(document));
  while (kept_.size() > kMaxKept || (keptBytes_ > kMaxKeptBytes && kept_.size() > 1)) {
    keptBytes_ -= kept_.front().bytes.size();
    kept_.pop_front();
  }
}

core::Result<PrintedDocument> PrintQueue::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& d : kept_) {
    if (d.name == name) return d;
  }
  return fail(ErrorCode::not_found,
              "no printed document " + name + " in this session (only the last 16 are kept)");
}

}  // namespace conduit::rdp
