#include "conduit/ssh/sftp_observer.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "file_digest.hpp"

namespace conduit::ssh {

namespace {

using recorder::FileOperation;
using recorder::FileTransferEvent;

// Packet types (draft-ietf-secsh-filexfer-02 section 3).
enum : std::uint8_t {
  kInit = 1,
  kVersion = 2,
  kOpen = 3,
  kClose = 4,
  kRead = 5,
  kWrite = 6,
  kFstat = 8,
  kSetstat = 9,
  kFsetstat = 10,
  kOpendir = 11,
  kReaddir = 12,
  kRemove = 13,
  kMkdir = 14,
  kRmdir = 15,
  kRename = 18,
  kSymlink = 20,
  kStatus = 101,
  kHandle = 102,
  kData = 103,
  kExtended = 200,
  kCopyData = 250,  // our own tag for the copy-data extension's pending entry
};
// Open flags that change the file: write, create, truncate.
constexpr std::uint32_t kOpenChanges = 0x02 | 0x08 | 0x10;
constexpr std::uint32_t kStatusOk = 0;
constexpr std::uint32_t kStatusEof = 1;

// 1 MiB per packet: OpenSSH's sftp-server refuses more than 256 KiB; a client or server that
// sends more is not one whose stream we can follow without holding unbounded memory.
constexpr std::size_t kMaxPacket = 1024 * 1024;
// 1,024 requests in flight: OpenSSH's client keeps 64 (its -R default); more unanswered
// requests is not a client we can follow, and each costs memory here.
constexpr std::size_t kMaxPending = 1024;
// 1,024 open files and directories per channel: far above what a client holds open.
constexpr std::size_t kMaxOpen = 1024;
// 8 MiB of out-of-order data per channel, all files together, kept to hash in offset order (a
// client with 64 requests of 32 KiB in flight reorders within 2 MiB; OpenSSH's are in order);
// each part counts 64 bytes more for its bookkeeping. Beyond it a file's SHA-256 is given up.
constexpr std::size_t kMaxAhead = 8 * 1024 * 1024;
constexpr std::size_t kAheadPartCost = 64;
/// Out-of-order parts held for all files of one channel.
struct AheadBudget {
  std::size_t used = 0;
};

/// The bytes of one direction of one open file, hashed in offset order.
class Transfer {
 public:
  explicit Transfer(AheadBudget& budget) : budget_(budget) {}
  ~Transfer() { release(); }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  void add(std::uint64_t offset, std::span<const unsigned char> data) {
    if (data.empty()) return;  // nothing moved
    moved_ += data.size();
    used_ = true;
    if (!why_.empty() || !failure_.empty()) return;
    const std::size_t cost = data.size() + kAheadPartCost;
    if (offset == next_) {
      hash(data);
      while (!ahead_.empty() && ahead_.begin()->first == next_) {
        auto node = ahead_.extract(ahead_.begin());
        const std::string& part = node.mapped();
        aheadBytes_ -= part.size() + kAheadPartCost;
        budget_.used -= part.size() + kAheadPartCost;
        hash({reinterpret_cast<const unsigned char*>(part.data()), part.size()});
      }
    } else if (offset < next_) {
      giveUp("parts were sent twice or overlap: no SHA-256");
    } else if (budget_.used + cost > kMaxAhead || ahead_.contains(offset)) {
      giveUp("parts came too far out of order: no SHA-256");
    } else {
      ahead_.emplace(offset, std::string(reinterpret_cast<const char*>(data.data()), data.size()));
      aheadBytes_ += cost;
      budget_.used += cost;
    }
  }
  /// The target refused part of it, or its content changed where it could not be seen: the
  /// bytes seen are not the file's, so there is no SHA-256.
  void failed(const std::string& why) {
    if (failure_.empty()) failure_ = why;
    release();
  }
  bool used() const { return used_; }
  std::uint64_t moved() const { return moved_; }

  /// The SHA-256 in hex, or empty with the reason appended to `detail`.
  std::string finish(std::string& detail) {
    if (why_.empty() && !ahead_.empty()) {
      giveUp(next_ == 0 ? "started at offset " + std::to_string(ahead_.begin()->first) +
                              " (a resumed transfer): no SHA-256"
                        : std::string("parts are missing: no SHA-256"));
    }
    std::string hex;
    if (why_.empty() && failure_.empty()) {
      hex = sha_.hex();
      if (hex.empty()) giveUp("SHA-256 failed");
    }
    for (const auto& part : {failure_, why_}) {
      if (part.empty()) continue;
      if (!detail.empty()) detail += "; ";
      detail += part;
    }
    return hex;
  }

 private:
  void hash(std::span<const unsigned char> data) {
    if (!sha_.add(data)) giveUp("SHA-256 failed");
    next_ += data.size();
  }
  void giveUp(const std::string& why) {
    if (why_.empty()) why_ = why;
    release();
  }
  void release() {
    budget_.used -= aheadBytes_;
    aheadBytes_ = 0;
    ahead_.clear();
  }

  AheadBudget& budget_;
  Sha256 sha_;
  std::uint64_t next_ = 0;
  std::uint64_t moved_ = 0;
  bool used_ = false;
  std::map<std::uint64_t, std::string> ahead_;
  std::size_t aheadBytes_ = 0;  // with kAheadPartCost per part
  std::string why_;             // why there is no SHA-256
  std::string failure_;         // what makes the bytes seen not the file's
};

struct OpenFile {
  explicit OpenFile(AheadBudget& budget) : written(budget), read(budget) {}
  std::uint64_t serial = 0;  // which opening: a handle's text may be given out again
  std::string path;
  std::uint32_t flags = 0;
  Transfer written;
  Transfer read;
  std::size_t outstanding = 0;  // reads and writes not answered yet
  bool closeSent = false;       // nothing may use the handle after its close
  bool closeAnswered = false;
  std::string closeFailure;
};

struct Pending {
  std::uint8_t type = 0;
  std::string path;          // printable
  std::string second;        // the new name of a rename, a link's target
  std::string handle;        // READ, WRITE, CLOSE
  std::uint64_t serial = 0;  // of the file the handle named when the request went out
  std::uint64_t offset = 0;
  std::uint32_t flags = 0;  // OPEN
};

/// Reads SFTP's big-endian integers and strings; any overrun marks it failed.
class Cursor {
 public:
  explicit Cursor(std::span<const unsigned char> b) : b_(b) {}
  std::uint8_t u8() { return static_cast<std::uint8_t>(take(1, 0)); }
  std::uint32_t u32() { return static_cast<std::uint32_t>(take(4, 0)); }
  std::uint64_t u64() { return take(8, 0); }
  std::span<const unsigned char> bytes() {
    const std::uint32_t n = u32();
    if (failed_ || n > b_.size() - pos_) {
      failed_ = true;
      return {};
    }
    auto s = b_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::string string() {
    const auto s = bytes();
    return {reinterpret_cast<const char*>(s.data()), s.size()};
  }
  bool failed() const { return failed_; }

 private:
  std::uint64_t take(std::size_t n, std::uint64_t value) {
    if (failed_ || b_.size() - pos_ < n) {
      failed_ = true;
      return 0;
    }
    for (std::size_t i = 0; i < n; ++i) value = (value << 8) | b_[pos_ + i];
    pos_ += n;
    return value;
  }
  std::span<const unsigned char> b_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

FileTransferEvent event(FileOperation op, std::string path, std::string detail = {},
                        std::uint64_t size = 0) {
  FileTransferEvent e;
  e.operation = op;
  e.path = std::move(path);
  e.detail = std::move(detail);
  e.size = size;
  return e;
}

}  // namespace

struct SftpObserver::State {
  std::string fromVendor, fromTarget;  // the start of a packet not yet complete
  std::unordered_map<std::uint32_t, Pending> pending;
  AheadBudget budget;  // before `open`: the files give their parts back when destroyed
  std::unordered_map<std::string, std::unique_ptr<OpenFile>> open;
  std::unordered_map<std::string, std::string> openDirs;  // handle -> path
  bool stopped = false;
  std::uint64_t openings = 0;  // serial numbers of files opened

  void stop(FileEvents& out, const std::string& why) {
    if (stopped) return;
    stopped = true;
    out.stopped = "sftp decoding stopped: " + why;
    fromVendor.clear();
    fromTarget.clear();
  }

  /// Splits `buffer` + `bytes` into packets and hands each to `handle`. Packets that lie
  /// whole in `bytes` are handed over where they are; only a packet split across pieces is
  /// copied (the relay's reads end anywhere), and of it only what it still needed.
  template <typename Handle>
  void packets(std::string& buffer, std::span<const unsigned char> bytes, FileEvents& out,
               Handle handle) {
    if (stopped) return;
    const auto lengthAt = [](const unsigned char* p) {
      return (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) | (std::size_t{p[2]} << 8) |
             std::size_t{p[3]};
    };
    const auto take = [&](std::size_t n) {
      n = std::min(n, bytes.size());
      buffer.append(reinterpret_cast<const char*>(bytes.data()), n);
      bytes = bytes.subspan(n);
    };
    if (!buffer.empty()) {
      if (buffer.size() < 4) take(4 - buffer.size());
      if (buffer.size() < 4) return;
      const std::size_t len = lengthAt(reinterpret_cast<const unsigned char*>(buffer.data()));
      if (len == 0 || len > kMaxPacket) {
        stop(out, "a packet of " + std::to_string(len) + " bytes");
        return;
      }
      take(4 + len - buffer.size());
      if (buffer.size() < 4 + len) return;
      // Handled from a string of its own: a stop() inside clears `buffer`. Swapped back after,
      // so the buffer keeps its capacity for the next split packet.
      std::string whole;
      whole.swap(buffer);
      handle(std::span<const unsigned char>(
                 reinterpret_cast<const unsigned char*>(whole.data()) + 4, len),
             out);
      whole.clear();
      buffer.swap(whole);
    }
    std::size_t at = 0;
    while (!stopped && bytes.size() - at >= 4) {
      const std::size_t len = lengthAt(bytes.data() + at);
      if (len == 0 || len > kMaxPacket) {
        stop(out, "a packet of " + std::to_string(len) + " bytes");
        return;
      }
      if (bytes.size() - at - 4 < len) break;
      handle(bytes.subspan(at + 4, len), out);
      at += 4 + len;
    }
    if (!stopped)
      buffer.assign(reinterpret_cast<const char*>(bytes.data()) + at, bytes.size() - at);
  }

  OpenFile* file(const std::string& handle) {
    const auto it = open.find(handle);
    return it == open.end() ? nullptr : it->second.get();
  }
  /// The open file a READ, WRITE or copy-data names; stops the decoding (and returns null) for
  /// a handle never seen opened or already closed: its bytes could not be told apart.
  OpenFile* inUse(const std::string& handle, const char* what, FileEvents& out) {
    OpenFile* f = file(handle);
    if (f == nullptr || f->closeSent) {
      stop(out, std::string(what) + " on a file handle " +
                    (f == nullptr ? "not seen opened" : "already closed"));
      return nullptr;
    }
    return f;
  }

  void request(std::span<const unsigned char> packet, FileEvents& out) {
    Cursor c(packet);
    const std::uint8_t type = c.u8();
    if (type == kInit) return;
    const std::uint32_t id = c.u32();
    if (c.failed()) return stop(out, "a malformed request");
    // Every request is tracked, even those that change no file: an answer is matched to its
    // request by id alone, so an id reused while in flight would pin one request's answer on
    // another.
    if (pending.contains(id)) return stop(out, "request id " + std::to_string(id) + " reused");
    if (pending.size() >= kMaxPending) {
      return stop(out, "more than " + std::to_string(kMaxPending) + " requests in flight");
    }
    Pending p;
    p.type = type;
    switch (type) {
      case kOpen:
      case kOpendir:
        p.path = printablePath(c.string());
        if (type == kOpen) p.flags = c.u32();
        break;
      case kClose: {
        p.handle = c.string();
        if (c.failed()) break;
        if (OpenFile* f = file(p.handle); f != nullptr && !f->closeSent) {
          f->closeSent = true;
          p.serial = f->serial;
        } else if (!openDirs.contains(p.handle)) {
          return stop(out, "a close of a handle not seen opened");
        }
        break;
      }
      case kRead:
      case kWrite: {
        p.handle = c.string();
        p.offset = c.u64();
        const auto data = type == kWrite ? c.bytes() : (c.u32(), std::span<const unsigned char>());
        if (c.failed()) break;
        OpenFile* f = inUse(p.handle, type == kWrite ? "a write" : "a read", out);
        if (f == nullptr) return;
        if (type == kWrite) f->written.add(p.offset, data);
        ++f->outstanding;
        p.serial = f->serial;
        break;
      }
      case kSetstat:
      case kRemove:
      case kMkdir:
      case kRmdir:
        p.path = printablePath(c.string());
        break;
      case kFsetstat: {
        const std::string handle = c.string();
        if (const OpenFile* f = file(handle)) {
          p.path = f->path;
        } else if (const auto d = openDirs.find(handle); d != openDirs.end()) {
          p.path = d->second;
        } else if (!c.failed()) {
          return stop(out, "attributes set on a handle not seen opened");
        }
        break;
      }
      case kRename:
      case kSymlink:
        // SYMLINK's arguments are (linkpath, targetpath) in the draft but (targetpath,
        // linkpath) in OpenSSH, which every common server is: OpenSSH's order.
        p.path = printablePath(c.string());
        p.second = printablePath(c.string());
        if (type == kSymlink) std::swap(p.path, p.second);
        break;
      case kExtended: {
        const std::string name = c.string();
        if (name == "posix-rename@openssh.com" || name == "hardlink@openssh.com") {
          // Both (oldpath, newpath): a hard link named newpath to oldpath.
          p.type = name[0] == 'p' ? kRename : kSymlink;
          p.path = printablePath(c.string());
          p.second = printablePath(c.string());
          if (p.type == kSymlink) std::swap(p.path, p.second);
        } else if (name == "lsetstat@openssh.com") {
          p.type = kSetstat;
          p.path = printablePath(c.string());
        } else if (name == "copy-data") {
          // A copy on the target between two open files: the bytes never pass here.
          const std::string from = c.string();
          (void)c.u64();
          (void)c.u64();
          const std::string to = c.string();
          if (c.failed()) break;
          const OpenFile* src = inUse(from, "a copy", out);
          OpenFile* dst = src == nullptr ? nullptr : inUse(to, "a copy", out);
          if (dst == nullptr) return;
          dst->written.failed("content copied on the target from " + src->path +
                              " (copy-data): not seen here, no SHA-256");
          p.type = kCopyData;
          p.handle = to;
          p.serial = dst->serial;
          ++dst->outstanding;
        }
        break;  // statvfs, fsync, limits, expand-path...: tracked, nothing happens to a file
      }
      default:
        break;  // reads of names and attributes: tracked, no file changes
    }
    if (c.failed()) return stop(out, "a malformed request (type " + std::to_string(type) + ")");
    pending.emplace(id, std::move(p));
  }

  void reply(std::span<const unsigned char> packet, FileEvents& out) {
    Cursor c(packet);
    const std::uint8_t type = c.u8();
    if (type == kVersion) {
      // Version 3 is what this decoder knows (and all OpenSSH speaks); later versions lay out
      // OPEN, RENAME and links differently.
      const std::uint32_t version = c.u32();
      if (c.failed() || version != 3) {
        stop(out, "SFTP version " + std::to_string(version) + ", not 3");
      }
      return;
    }
    const std::uint32_t id = c.u32();
    if (c.failed()) return stop(out, "a malformed reply");
    const auto it = pending.find(id);
    if (it == pending.end())
      return stop(out, "an answer to no request (id " + std::to_string(id) + ")");
    Pending p = std::move(it->second);
    pending.erase(it);
    // The file the request named, if it is still that opening (a hostile target may give the
    // same handle out again while the first file is open).
    OpenFile* f = p.handle.empty() ? nullptr : file(p.handle);
    if (f != nullptr && f->serial != p.serial) f = nullptr;
    const std::string fileHandle = f != nullptr ? p.handle : std::string();
    const bool dataOp = p.type == kRead || p.type == kWrite || p.type == kCopyData;
    if (dataOp && f != nullptr && f->outstanding > 0) --f->outstanding;

    if (type == kHandle) {
      const std::string handle = c.string();
      if (c.failed()) return stop(out, "a malformed handle");
      // 256 bytes: the draft's limit; every request on the file carries it.
      if (handle.size() > 256) return stop(out, "a handle over 256 bytes");
      if (p.type != kOpen && p.type != kOpendir) return settle(fileHandle, out);
      if (open.size() + openDirs.size() >= kMaxOpen && !open.contains(handle)) {
        return stop(out, "more than " + std::to_string(kMaxOpen) + " files open");
      }
      if (open.contains(handle)) report(handle, "its handle was given out again", out);
      openDirs.erase(handle);
      if (p.type == kOpendir) {
        openDirs.emplace(handle, std::move(p.path));
        return;
      }
      auto opened = std::make_unique<OpenFile>(budget);
      opened->serial = ++openings;
      opened->path = std::move(p.path);
      opened->flags = p.flags;
      open.emplace(handle, std::move(opened));
      return;
    }
    if (type == kData) {
      const auto data = c.bytes();
      if (c.failed()) return stop(out, "a malformed data reply");
      if (p.type == kRead && f != nullptr) f->read.add(p.offset, data);
      return settle(fileHandle, out);
    }
    if (type != kStatus) return settle(fileHandle, out);
    const std::uint32_t code = c.u32();
    std::string message = printablePath(c.string());
    if (c.failed()) message.clear();
    std::string failure;
    if (code != kStatusOk) {
      failure = "refused by the target (" + (message.empty() ? "" : message + ", ") + "status " +
                std::to_string(code) + ")";
    }
    switch (p.type) {
      case kOpen:  // the file never opened: the attempt is what there is to record
        out.events.push_back(
            event((p.flags & kOpenChanges) != 0 ? FileOperation::upload : FileOperation::download,
                  std::move(p.path), failure.empty() ? "not opened" : failure));
        break;
      case kClose:
        if (f != nullptr) {
          f->closeAnswered = true;
          if (!failure.empty()) f->closeFailure = "the close was " + failure;
        } else if (file(p.handle) == nullptr) {
          openDirs.erase(p.handle);
        }
        break;
      case kWrite:
      case kCopyData:
        if (f != nullptr && !failure.empty()) f->written.failed("a write was " + failure);
        break;
      case kRead:
        if (f != nullptr && code != kStatusEof && !failure.empty()) {
          f->read.failed("a read was " + failure);
        }
        break;
      case kRemove:
        out.events.push_back(event(FileOperation::remove, std::move(p.path), failure));
        break;
      case kRmdir:
        out.events.push_back(event(FileOperation::remove, std::move(p.path),
                                   failure.empty() ? "a directory" : "a directory; " + failure));
        break;
      case kMkdir:
        out.events.push_back(event(FileOperation::make_directory, std::move(p.path), failure));
        break;
      case kSetstat:
      case kFsetstat:
        out.events.push_back(event(FileOperation::set_attributes, std::move(p.path), failure));
        break;
      case kRename:
      case kSymlink:
        out.events.push_back(event(
            p.type == kRename ? FileOperation::rename : FileOperation::link, std::move(p.path),
            failure.empty() ? "to " + p.second : "to " + p.second + "; " + failure));
        break;
      default:
        break;
    }
    settle(fileHandle, out);
  }

  /// A file whose close was answered after every read and write before it: reported.
  void settle(const std::string& handle, FileEvents& out) {
    if (handle.empty()) return;
    const OpenFile* f = file(handle);
    if (f != nullptr && f->closeAnswered && f->outstanding == 0) report(handle, "", out);
  }

  /// Reports what was moved through an open file and forgets it.
  void report(const std::string& handle, const std::string& how, FileEvents& out) {
    const auto it = open.find(handle);
    if (it == open.end()) return;
    OpenFile& f = *it->second;
    std::string note = how;
    if (!f.closeFailure.empty())
      note = note.empty() ? f.closeFailure : note + "; " + f.closeFailure;
    // Opened to write, create or truncate (even if nothing was written: the file was created
    // or emptied), or written: an upload. Read from: a download. Opened to read and never
    // read: nothing moved.
    if ((f.flags & kOpenChanges) != 0 || f.written.used()) {
      std::string detail = note;
      auto e = event(FileOperation::upload, f.path, {}, f.written.moved());
      e.sha256 = f.written.finish(detail);
      e.detail = std::move(detail);
      out.events.push_back(std::move(e));
    }
    if (f.read.used()) {
      std::string detail = note;
      auto e = event(FileOperation::download, f.path, {}, f.read.moved());
      e.sha256 = f.read.finish(detail);
      e.detail = std::move(detail);
      out.events.push_back(std::move(e));
    }
    open.erase(it);
  }
};

SftpObserver::SftpObserver() : s_(std::make_unique<State>()) {}
SftpObserver::~SftpObserver() = default;

void SftpObserver::fromVendor(std::span<const unsigned char> bytes, FileEvents& out) {
  s_->packets(s_->fromVendor, bytes, out,
              [this](std::span<const unsigned char> p, FileEvents& o) { s_->request(p, o); });
}

void SftpObserver::fromTarget(std::span<const unsigned char> bytes, FileEvents& out) {
  s_->packets(s_->fromTarget, bytes, out,
              [this](std::span<const unsigned char> p, FileEvents& o) { s_->reply(p, o); });
}

void SftpObserver::finish(FileEvents& out) {
  std::vector<std::string> handles;
  for (const auto& [handle, file] : s_->open) handles.push_back(handle);
  for (const auto& handle : handles) {
    OpenFile& f = *s_->open.at(handle);
    if (s_->stopped) {
      // What was seen before the decoding stopped is not the whole file.
      f.written.failed("the decoding stopped before the file was closed: no SHA-256");
      f.read.failed("the decoding stopped before the file was closed: no SHA-256");
    }
    s_->report(handle, f.closeAnswered ? "" : "not closed (the channel ended)", out);
  }
  s_->pending.clear();
  s_->openDirs.clear();
  // Quietly: answers still on their way (a channel closed under a transfer) are not a fault.
  s_->stopped = true;
}

}  // namespace conduit::ssh
