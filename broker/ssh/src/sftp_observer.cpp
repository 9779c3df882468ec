#include "conduit/ssh/sftp_observer.hpp"

#include <openssl/evp.h>
#include <sodium.h>

#include <boost/locale/utf.hpp>
#include <cstring>

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
  kSetstat = 9,
  kFsetstat = 10,
  kRemove = 13,
  kMkdir = 14,
  kRmdir = 15,
  kRename = 18,
  kSymlink = 20,
  kStatus = 101,
  kHandle = 102,
  kData = 103,
  kExtended = 200,
};
constexpr std::uint32_t kOpenWrite = 0x02;
constexpr std::uint32_t kStatusOk = 0;
constexpr std::uint32_t kStatusEof = 1;

// 1 MiB per packet: OpenSSH's sftp-server refuses more than 256 KiB; a client or server that
// sends more is not one whose stream we can follow without holding unbounded memory.
constexpr std::size_t kMaxPacket = 1024 * 1024;
// 4,096 requests in flight: OpenSSH's client keeps 64 (its -R default); a stream with more
// unanswered requests is not following the protocol's spirit, and each costs memory here.
constexpr std::size_t kMaxPending = 4096;
// 1,024 open files per channel: far above what a client holds open.
constexpr std::size_t kMaxOpen = 1024;
// 8 MiB of out-of-order data per file kept to hash in order (a client with 64 requests of
// 32 KiB in flight reorders within 2 MiB); beyond it the file's SHA-256 is given up.
constexpr std::size_t kMaxAhead = 8 * 1024 * 1024;

/// A path as the recording shows it: valid UTF-8, control characters and bytes that are not
/// UTF-8 as \xNN (a file name is bytes to SFTP; the recording's strings are text).
std::string printablePath(std::string_view raw) {
  using Traits = boost::locale::utf::utf_traits<char>;
  std::string out;
  auto it = raw.begin();
  while (it != raw.end()) {
    const auto start = it;
    const auto c = Traits::decode(it, raw.end());
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete || c < 0x20 ||
        c == 0x7f || c == '\\') {
      it = start + 1;
      static constexpr char kHex[] = "0123456789abcdef";
      const auto b = static_cast<unsigned char>(*start);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out.append(start, it);
    }
  }
  return out;
}

/// The bytes of one direction of one open file, hashed in offset order.
class Transfer {
 public:
  Transfer() : md_(EVP_MD_CTX_new()) {
    if (md_ == nullptr || EVP_DigestInit_ex(md_, EVP_sha256(), nullptr) != 1) {
      why_ = "SHA-256 is not available";
    }
  }
  ~Transfer() { EVP_MD_CTX_free(md_); }
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;

  void add(std::uint64_t offset, std::span<const unsigned char> data) {
    moved_ += data.size();
    used_ = true;
    if (!why_.empty()) return;
    if (offset == next_) {
      hash(data);
      while (!ahead_.empty() && ahead_.begin()->first == next_) {
        auto node = ahead_.extract(ahead_.begin());
        aheadBytes_ -= node.mapped().size();
        hash({reinterpret_cast<const unsigned char*>(node.mapped().data()), node.mapped().size()});
      }
    } else if (offset < next_) {
      giveUp("parts were sent twice or overlap: no SHA-256");
    } else if (aheadBytes_ + data.size() > kMaxAhead || ahead_.contains(offset)) {
      giveUp("parts came too far out of order: no SHA-256");
    } else {
      ahead_.emplace(offset, std::string(reinterpret_cast<const char*>(data.data()), data.size()));
      aheadBytes_ += data.size();
    }
  }
  void failed(const std::string& why) {
    if (failure_.empty()) failure_ = why;
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
    if (why_.empty()) {
      unsigned char digest[EVP_MAX_MD_SIZE];
      unsigned int n = 0;
      if (EVP_DigestFinal_ex(md_, digest, &n) == 1 && n == 32) {
        char text[65];
        sodium_bin2hex(text, sizeof text, digest, n);
        hex = text;
      } else {
        giveUp("SHA-256 failed");
      }
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
    if (EVP_DigestUpdate(md_, data.data(), data.size()) != 1) giveUp("SHA-256 failed");
    next_ += data.size();
  }
  void giveUp(const std::string& why) {
    if (why_.empty()) why_ = why;
    ahead_.clear();
    aheadBytes_ = 0;
  }

  EVP_MD_CTX* md_;
  std::uint64_t next_ = 0;
  std::uint64_t moved_ = 0;
  bool used_ = false;
  std::map<std::uint64_t, std::string> ahead_;
  std::size_t aheadBytes_ = 0;
  std::string why_;      // why there is no SHA-256
  std::string failure_;  // the target refused a write or read
};

struct OpenFile {
  std::string path;
  std::uint32_t flags = 0;
  Transfer written;
  Transfer read;
};

struct Pending {
  std::uint8_t type = 0;
  std::string path;    // printable
  std::string second;  // the new name of a rename, a link's target
  std::string handle;  // READ, WRITE, FSETSTAT, CLOSE
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
  std::unordered_map<std::string, std::unique_ptr<OpenFile>> open;
  bool stopped = false;

  void stop(Output& out, const std::string& why) {
    if (stopped) return;
    stopped = true;
    out.stopped = "sftp decoding stopped: " + why;
    fromVendor.clear();
    fromTarget.clear();
  }

  /// Splits `buffer` + `bytes` into packets and hands each to `handle`.
  template <typename Handle>
  void packets(std::string& buffer, std::span<const unsigned char> bytes, Output& out,
               Handle handle) {
    if (stopped) return;
    buffer.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    std::size_t at = 0;
    while (!stopped && buffer.size() - at >= 4) {
      const auto* p = reinterpret_cast<const unsigned char*>(buffer.data()) + at;
      const std::size_t len = (std::size_t{p[0]} << 24) | (std::size_t{p[1]} << 16) |
                              (std::size_t{p[2]} << 8) | std::size_t{p[3]};
      if (len == 0 || len > kMaxPacket) {
        stop(out, "a packet of " + std::to_string(len) + " bytes");
        return;
      }
      if (buffer.size() - at - 4 < len) break;
      handle(std::span<const unsigned char>(p + 4, len), out);
      at += 4 + len;
    }
    if (!stopped) buffer.erase(0, at);
  }

  void expect(std::uint32_t id, Pending p, Output& out) {
    if (pending.size() >= kMaxPending && !pending.contains(id)) {
      return stop(out, "more than " + std::to_string(kMaxPending) + " requests in flight");
    }
    pending[id] = std::move(p);
  }

  OpenFile* file(const std::string& handle) {
    const auto it = open.find(handle);
    return it == open.end() ? nullptr : it->second.get();
  }

  void request(std::span<const unsigned char> packet, Output& out) {
    Cursor c(packet);
    const std::uint8_t type = c.u8();
    if (type == kInit) return;
    const std::uint32_t id = c.u32();
    Pending p;
    p.type = type;
    switch (type) {
      case kOpen:
        p.path = printablePath(c.string());
        p.flags = c.u32();
        break;
      case kClose:
        p.handle = c.string();
        if (!c.failed()) close(p.handle, "", out);
        break;
      case kRead:
        p.handle = c.string();
        p.offset = c.u64();
        (void)c.u32();  // the length asked for; the answer says how much came
        break;
      case kWrite: {
        p.handle = c.string();
        p.offset = c.u64();
        const auto data = c.bytes();
        if (OpenFile* f = c.failed() ? nullptr : file(p.handle)) f->written.add(p.offset, data);
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
        const OpenFile* f = file(handle);
        p.path = f != nullptr ? f->path : "(a file handle not seen opened)";
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
        if (name == "posix-rename@openssh.com") {
          p.type = kRename;
        } else if (name == "hardlink@openssh.com") {
          p.type = kSymlink;
        } else if (name == "lsetstat@openssh.com") {
          p.type = kSetstat;
          p.path = printablePath(c.string());
          break;
        } else if (name == "copy-data") {
          // A copy on the target between two open files: their bytes never pass here.
          const std::string from = c.string();
          (void)c.u64();
          (void)c.u64();
          const std::string to = c.string();
          if (OpenFile* f = c.failed() ? nullptr : file(to)) {
            const OpenFile* src = file(from);
            f->written.failed("content copied on the target from " +
                              (src != nullptr ? src->path : std::string("another file")) +
                              " (copy-data): not seen here");
          }
          return;
        } else {
          return;  // statvfs, fsync, limits, expand-path...: nothing happens to a file
        }
        p.path = printablePath(c.string());
        p.second = printablePath(c.string());
        if (p.type == kSymlink) std::swap(p.path, p.second);  // hardlink: (old, new)
        break;
      }
      default:
        return;  // reads of names and attributes: no file changes
    }
    if (c.failed()) return stop(out, "a malformed request (type " + std::to_string(type) + ")");
    if (type != kClose) expect(id, std::move(p), out);
  }

  void reply(std::span<const unsigned char> packet, Output& out) {
    Cursor c(packet);
    const std::uint8_t type = c.u8();
    if (type == kVersion) return;
    const std::uint32_t id = c.u32();
    if (c.failed()) return stop(out, "a malformed reply");
    const auto it = pending.find(id);
    if (it == pending.end()) return;  // an answer to something that changes no file
    Pending p = std::move(it->second);
    pending.erase(it);
    if (type == kHandle) {
      const std::string handle = c.string();
      if (c.failed()) return stop(out, "a malformed handle");
      if (p.type != kOpen) return;
      if (open.size() >= kMaxOpen && !open.contains(handle)) {
        return stop(out, "more than " + std::to_string(kMaxOpen) + " files open");
      }
      if (open.contains(handle)) close(handle, "its handle was given out again", out);
      auto f = std::make_unique<OpenFile>();
      f->path = std::move(p.path);
      f->flags = p.flags;
      open.emplace(handle, std::move(f));
      return;
    }
    if (type == kData) {
      const auto data = c.bytes();
      if (c.failed()) return stop(out, "a malformed data reply");
      if (p.type != kRead) return;
      if (OpenFile* f = file(p.handle)) f->read.add(p.offset, data);
      return;
    }
    if (type != kStatus) return;
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
            event((p.flags & kOpenWrite) != 0 ? FileOperation::upload : FileOperation::download,
                  std::move(p.path), failure.empty() ? "not opened" : failure));
        break;
      case kWrite:
        if (OpenFile* f = file(p.handle); f != nullptr && !failure.empty()) {
          f->written.failed("a write was " + failure);
        }
        break;
      case kRead:
        if (OpenFile* f = file(p.handle); f != nullptr && code != kStatusEof && !failure.empty()) {
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
        out.events.push_back(
            event(FileOperation::rename, std::move(p.path),
                  failure.empty() ? "to " + p.second : "to " + p.second + "; " + failure));
        break;
      case kSymlink:
        out.events.push_back(
            event(FileOperation::link, std::move(p.path),
                  failure.empty() ? "to " + p.second : "to " + p.second + "; " + failure));
        break;
      default:
        break;
    }
  }

  /// Reports what was moved through an open file and forgets it.
  void close(const std::string& handle, const std::string& how, Output& out) {
    const auto it = open.find(handle);
    if (it == open.end()) return;
    OpenFile& f = *it->second;
    // Opened for writing (even if nothing was written: the file was created or emptied), or
    // written: an upload. Read from: a download. Opened to read and never read: nothing moved.
    if ((f.flags & kOpenWrite) != 0 || f.written.used()) {
      std::string detail = how;
      auto e = event(FileOperation::upload, f.path, {}, f.written.moved());
      e.sha256 = f.written.finish(detail);
      e.detail = std::move(detail);
      out.events.push_back(std::move(e));
    }
    if (f.read.used()) {
      std::string detail = how;
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

void SftpObserver::fromVendor(std::span<const unsigned char> bytes, Output& out) {
  s_->packets(s_->fromVendor, bytes, out,
              [this](std::span<const unsigned char> p, Output& o) { s_->request(p, o); });
}

void SftpObserver::fromTarget(std::span<const unsigned char> bytes, Output& out) {
  s_->packets(s_->fromTarget, bytes, out,
              [this](std::span<const unsigned char> p, Output& o) { s_->reply(p, o); });
}

void SftpObserver::finish(Output& out) {
  std::vector<std::string> handles;
  for (const auto& [handle, file] : s_->open) handles.push_back(handle);
  for (const auto& handle : handles) s_->close(handle, "not closed (the channel ended)", out);
  s_->pending.clear();
}

}  // namespace conduit::ssh
