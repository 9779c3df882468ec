#include "print_queue.hpp"

#include "conduit/rdp/drive_folder.hpp"

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::size_t kMaxArriving = 4;
constexpr std::size_t kMaxWaiting = 4;
constexpr std::size_t kMaxKept = 16;
constexpr std::uint64_t kMaxKeptBytes = 256ull << 20;

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
      return fail(ErrorCode::invalid_argument, "more than 4 documents printing at once");
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

core::Status PrintQueue::end(const PrintEnd& end) {
  Raw raw;
  raw.number = ++printed_;
  raw.truncated = end.truncated;
  if (auto it = arriving_.find(end.job); it != arriving_.end()) {
    raw.bytes = std::move(it->second);
    arriving_.erase(it);
  }
  std::lock_guard lock(mutex_);
  if (waiting_.size() >= kMaxWaiting) {
    // Not converted and not offered; the recording still says it was printed.
    PrintedDocument skipped;
    skipped.name = "print-" + std::to_string(raw.number) + ".ps";
    skipped.printedBytes = raw.bytes.size();
    skipped.printedSha256 = sha256Hex(raw.bytes);
    skipped.note = "not passed on: " + std::to_string(kMaxWaiting) +
                   " earlier documents are still being converted";
    done_.push_back(std::move(skipped));
    if (ready_) ready_();
    return core::Done{};
  }
  waiting_.push_back(std::move(raw));
  wake_.notify_all();
  return core::Done{};
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
      doc = convert(std::move(raw));
    } catch (const std::exception& e) {  // e.g. bad_alloc: this document is lost, noted
      doc.name = "print-" + std::to_string(raw.number) + ".ps";
      doc.note = std::string("not passed on: ") + e.what();
    }
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
      done_.push_back(std::move(doc));
    }
    if (ready_) ready_();
  }
}

PrintedDocument PrintQueue::convert(Raw raw) {
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
