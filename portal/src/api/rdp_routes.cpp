// Browser RDP: a WebSocket carrying one remote desktop (docs/api.md "Browser RDP"). The broker
// sends tiles and frame ends as binary messages; the browser sends input, acknowledgements
// and requests as JSON, checked here before anything reaches the session.
#include <spdlog/spdlog.h>

#include <functional>
#include <system_error>
#include <thread>

#include "session_socket.hpp"

namespace conduit::portal {

namespace {

// A file for the session's drive arrives in binary messages of at most this size, after a
// drive_put naming it; the whole file is held here until it is complete (at most
// kMaxUploadBytes, the broker's own limit per file on the drive).
constexpr std::size_t kMaxUploadChunk = 256 * 1024;
constexpr std::size_t kMaxUploadBytes = 256u << 20;
// A file from the drive goes to the browser in pieces of this size, each after the browser
// asked for it (drive_more): one piece in flight, so a large file never piles up in the
// socket's send queue (which closes a socket that falls 8 MiB behind).
constexpr std::size_t kDownloadChunk = 1u << 20;
// The first byte of the binary messages that carry a file from the drive (after its
// drive_file header); tiles and frame ends start with 0x82 and 0x83.
constexpr char kDriveDataType = static_cast<char>(0x90);
// drive_list, drive_put and drive_get a second; past that they are refused until the next
// second.
constexpr int kMaxDriveRequestsPerSecond = 10;
// Sound goes only while at most this much waits for the browser: 512 KiB is about 3 s of
// 44.1 kHz stereo, or a few desktop frames.
constexpr std::size_t kAudioQueueRoom = 512 * 1024;
constexpr const char* kDriveBusy = "the previous drive request is still being handled";

// RDP pointer flags a browser may send (MS-RDPBCGR 2.2.8.1.1.3.1.1.3).
constexpr std::int64_t kPointerFlagsMask = 0xF800 | 0x0200 | 0x0100 | 0x01FF;

std::optional<std::int64_t> intField(const boost::json::object& o, std::string_view key,
                                     std::int64_t lo, std::int64_t hi) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  const std::int64_t n = v->as_int64();
  if (n < lo || n > hi) return std::nullopt;
  return n;
}

class RdpSocket final : public SessionSocket<RemoteDesktop> {
 public:
  RdpSocket(ApiState& s, std::string user, std::string asset, std::string source,
            std::string cookie, int width, int height)
      : SessionSocket(s, std::move(user), std::move(asset), std::move(cookie), "web_rdp",
                      "the browser closed the desktop"),
        source_(std::move(source)),
        width_(width),
        height_(height) {}

  ~RdpSocket() override {
    // A drive job still running uses this socket and its session: it ends first (at most about
    // a second; the session, closed with the socket, refuses the drive at once).
    if (driveJob_.joinable()) driveJob_.join();
  }
  RdpSocket(const RdpSocket&) = delete;
  RdpSocket& operator=(const RdpSocket&) = delete;

  // 512 KiB: clipboard text of up to 65,535 bytes as a JSON string, where escaping can make
  // a character up to six bytes (\u0001).
  std::size_t maxMessageBytes() const override { return 512 * 1024; }

  void onMessage(std::string data, bool binary) override {
    std::lock_guard lock(mutex_);
    if (binary) return uploadChunk(data);
    boost::system::error_code ec;
    auto msg = boost::json::parse(data, ec);
    const auto* o = msg.if_object();
    const auto* type = o ? o->if_contains("type") : nullptr;
    if (ec || !type || !type->is_string()) {
      return refuse("a message the remote desktop does not understand");
    }
    if (!session_) return;  // still connecting: input before the desktop exists is dropped
    if (*type == "key") {
      const auto code = intField(*o, "code", 1, 0x1FF);
      const auto* down = o->if_contains("down");
      if (!code || !down || !down->is_bool()) return refuse("key needs code 1-511 and down");
      session_->key(static_cast<std::uint16_t>(*code), down->as_bool());
    } else if (*type == "pointer") {
      const auto x = intField(*o, "x", 0, session_->width() - 1);
      const auto y = intField(*o, "y", 0, session_->height() - 1);
      const auto flags = intField(*o, "flags", 1, 0xFFFF);
      if (!x || !y || !flags || (*flags & ~kPointerFlagsMask) != 0) {
        return refuse("pointer needs x and y on the desktop and RDP pointer flags");
      }
      session_->pointer(static_cast<std::uint16_t>(*flags), static_cast<std::uint16_t>(*x),
                        static_cast<std::uint16_t>(*y));
    } else if (*type == "ack") {
      const auto seq = intField(*o, "seq", 0, 0xFFFFFFFFll);
      if (!seq) return refuse("ack needs seq");
      session_->ack(static_cast<std::uint32_t>(*seq));
    } else if (*type == "cad") {
      session_->ctrlAltDel();
    } else if (*type == "refresh") {
      session_->refresh();
    } else if (*type == "clipboard") {
      const auto* text = o->if_contains("text");
      if (!text || !text->is_string()) return refuse("clipboard needs text");
      // Refused text (the policy, the size) is said to the vendor; the desktop goes on.
      if (auto st = session_->clipboard(std::string(text->as_string())); !st) {
        peer_->sendText(boost::json::serialize(
            boost::json::object{{"type", "clipboard_refused"}, {"message", st.error().message}}));
      }
    } else if (*type == "drive_list" || *type == "drive_put" || *type == "drive_get" ||
               *type == "print_get") {
      driveRequest(type->as_string(), *o);
    } else if (*type == "drive_more") {
      // None in progress (it was replaced by a newer drive_get): said, the desktop goes on.
      if (!download_) {
        if (driveRate()) driveRefused("", driveBusy_ ? kDriveBusy : "no file is being saved");
        return;
      }
      sendDownloadChunk();
    } else {
      refuse("unknown message type");
    }
  }

 private:
  struct Upload {
    std::string name;
    std::uint64_t size = 0;
    std::vector<std::uint8_t> bytes;
    std::uint64_t received = 0;
    bool refused = false;  // said already; the bytes are dropped
  };

  struct Download {
    std::vector<std::uint8_t> bytes;
    std::size_t sent = 0;
  };

  // Under mutex_: drive_list, drive_put, drive_get.
  void driveRequest(const boost::json::string& type, const boost::json::object& o) {
    const auto* name = o.if_contains("name");
    const std::string file = name && name->is_string() && name->as_string().size() <= 1024
                                 ? std::string(name->as_string())
                                 : std::string();
    if (type != "drive_list" && file.empty()) return refuse(std::string(type) + " needs name");
    if (type == "drive_put") {
      if (upload_) return refuse("drive_put while another file is still arriving");
      const auto* sizeValue = o.if_contains("size");
      if (!sizeValue || !sizeValue->is_int64() || sizeValue->as_int64() < 0) {
        return refuse("drive_put needs name and size");
      }
      // The announced bytes follow at once: a refused file's are read and dropped (never
      // held), so the vendor learns why at once and the socket stays usable.
      upload_ = Upload{file, static_cast<std::uint64_t>(sizeValue->as_int64()), {}, 0, false};
      std::optional<std::string> refusal;
      // One file at a time, so a socket holds at most one file in memory: a save the page
      // left unfinished (it sends drive_put only when idle) is dropped.
      download_.reset();
      if (!driveRate()) {
        refusal = "more than " + std::to_string(kMaxDriveRequestsPerSecond) +
                  " drive requests in a second";
      } else if (driveBusy_) {
        refusal = kDriveBusy;  // (the drive is locked by the job: checking it would wait)
      } else if (upload_->size > kMaxUploadBytes) {
        refusal = "a file on the drive may hold at most " + std::to_string(kMaxUploadBytes >> 20) +
                  " MiB";
      } else if (auto st = session_->driveAccepts(file, upload_->size); !st) {
        refusal = st.error().message;
      }
      if (refusal) {
        upload_->refused = true;
        driveRefused(file, *refusal);
      } else {
        upload_->bytes.reserve(static_cast<std::size_t>(upload_->size));
      }
      if (upload_->size == 0) finishUpload();
      return;
    }
    if (!driveRate()) {
      return driveRefused(file, "more than " + std::to_string(kMaxDriveRequestsPerSecond) +
                                    " drive requests in a second");
    }
    if (driveBusy_) return driveRefused(file, kDriveBusy);
    if (type == "drive_list") return sendDriveList(session_->driveList());
    if (upload_) return driveRefused(file, "a file is still arriving");
    // drive_get (print_get: a document the target printed): read and recorded whole (at most
    // 256 MiB) by a job, then sent piece by piece; one not fetched to its end is dropped first.
    download_.reset();
    const bool print = type == "print_get";
    startDriveJob(file, [file, print](RemoteDesktop& desk) {
      auto content = print ? desk.printGet(file) : desk.driveGet(file);
      return [file, print, content = std::move(content)](RdpSocket& self) mutable {
        if (!content) return self.driveRefused(file, content.error().message);
        self.peer_->sendText(boost::json::serialize(
            boost::json::object{{"type", print ? "print_file" : "drive_file"},
                                {"name", file},
                                {"size", content->first.size()},
                                {"sha256", content->second}}));
        self.download_ = Download{std::move(content->first), 0};
        self.sendDownloadChunk();
      };
    });
  }

  /// Runs `work(desktop)` on a thread of its own and then, under mutex_, what it returns
  /// (`void(RdpSocket&)`). Under mutex_. The drive's file work (hashing, writing or reading up
  /// to 256 MiB, about a second) never holds one of the portal's threads, which serve every
  /// other socket and request; this socket goes on meanwhile (input, frames), and its other
  /// drive requests are refused until the job is done (one at a time, as the drive's lock
  /// would make them anyway). The thread holds no reference to the socket: the socket's
  /// destructor waits for it, so the session (and its recording's sealing) still ends where
  /// the socket ends, which the server's shutdown waits for, never on this thread.
  template <class Work>
  void startDriveJob(const std::string& name, Work work) {
    if (driveJob_.joinable()) driveJob_.join();  // done: it cleared driveBusy_ under mutex_
    RemoteDesktop* desk = session_.get();        // set before any drive request, kept to the end
    try {
      driveJob_ = std::thread([this, desk, name, work = std::move(work)]() mutable {
        std::function<void(RdpSocket&)> finish;
        try {
          finish = work(*desk);
        } catch (const std::exception& e) {  // e.g. bad_alloc: this file fails, not the broker
          finish = [name, what = std::string(e.what())](RdpSocket& self) {
            self.driveRefused(name, "the broker could not handle the file: " + what);
          };
        }
        std::lock_guard lock(mutex_);
        driveBusy_ = false;
        try {
          finish(*this);
        } catch (...) {  // the answer could not be sent; the socket's state stays consistent
        }
      });
      driveBusy_ = true;  // the thread waits for mutex_, held here, before it reads this
    } catch (const std::system_error&) {
      driveRefused(name, "the broker cannot take a file now; try again");
    }
  }

  bool driveRate() {
    const auto now = std::chrono::steady_clock::now();
    if (now - driveWindow_ >= std::chrono::seconds{1}) {
      driveWindow_ = now;
      driveRequests_ = 0;
    }
    return ++driveRequests_ <= kMaxDriveRequestsPerSecond;
  }

  // Under mutex_: the next piece of the file being saved (none for an empty file).
  void sendDownloadChunk() {
    const std::size_t n = std::min(kDownloadChunk, download_->bytes.size() - download_->sent);
    if (n > 0) {
      std::string message;
      message.reserve(1 + n);
      message.push_back(kDriveDataType);
      message.append(reinterpret_cast<const char*>(download_->bytes.data() + download_->sent), n);
      download_->sent += n;
      peer_->sendBinary(std::move(message));
    }
    if (download_->sent == download_->bytes.size()) download_.reset();
  }

  // Under mutex_. Binary messages carry only the drive_put's bytes, nothing else.
  void uploadChunk(const std::string& data) {
    if (!session_ || !upload_) return refuse("binary data without a drive_put");
    if (data.size() > kMaxUploadChunk || data.size() > upload_->size - upload_->received) {
      return refuse("more file data than the drive_put announced, or a chunk over 256 KiB");
    }
    upload_->received += data.size();
    if (!upload_->refused) upload_->bytes.insert(upload_->bytes.end(), data.begin(), data.end());
    if (upload_->received == upload_->size) finishUpload();
  }

  void finishUpload() {
    Upload up = std::move(*upload_);
    upload_.reset();
    if (up.refused) return;
    const std::string name = up.name;
    startDriveJob(name, [up = std::move(up)](RemoteDesktop& desk) mutable {
      auto sha = desk.drivePut(up.name, up.bytes);
      std::vector<std::uint8_t>().swap(up.bytes);  // the file's memory goes now
      auto listing = sha ? desk.driveList() : core::Result<std::string>(std::string());
      return [name = std::move(up.name), size = up.size, sha = std::move(sha),
              listing = std::move(listing)](RdpSocket& self) {
        if (!sha) return self.driveRefused(name, sha.error().message);
        self.peer_->sendText(boost::json::serialize(boost::json::object{
            {"type", "drive_put_done"}, {"name", name}, {"size", size}, {"sha256", *sha}}));
        self.sendDriveList(listing);
      };
    });
  }

  void sendDriveList(const core::Result<std::string>& listing) {
    if (!listing) return driveRefused("", listing.error().message);
    boost::system::error_code ec;
    auto v = boost::json::parse(*listing, ec);
    if (ec || !v.is_object()) return driveRefused("", "the drive's listing is broken");
    auto& o = v.as_object();
    o["type"] = "drive";
    peer_->sendText(boost::json::serialize(o));
  }

  // Said to the vendor; the desktop goes on.
  void driveRefused(const std::string& name, const std::string& why) {
    peer_->sendText(boost::json::serialize(
        boost::json::object{{"type", "drive_refused"}, {"name", name}, {"message", why}}));
  }

  core::Result<std::unique_ptr<RemoteDesktop>> start(const std::shared_ptr<WsPeer>& peer) override {
    RemoteDesktopIo io;
    // Sent by the session before its first frame (the page sizes its canvas from it).
    io.started = [peer](const RemoteDesktopStarted& s) {
      peer->sendText(boost::json::serialize(
          boost::json::object{{"type", "started"},
                              {"session_id", s.sessionId},
                              {"width", s.width},
                              {"height", s.height},
                              {"clipboard", s.clipboardToTarget || s.clipboardFromTarget},
                              {"clipboard_to_target", s.clipboardToTarget},
                              {"clipboard_from_target", s.clipboardFromTarget},
                              {"drive", s.drive},
                              {"audio", s.audio},
                              {"printer", s.printer}}));
    };
    io.printed = [peer](const RemoteDesktopPrinted& p) {
      peer->sendText(boost::json::serialize(boost::json::object{{"type", "printed"},
                                                                {"name", p.name},
                                                                {"size", p.size},
                                                                {"sha256", p.sha256},
                                                                {"note", p.note}}));
    };
    io.clipboard = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "clipboard"}, {"text", text}}));
    };
    io.frame = [peer](std::string bytes) { peer->sendBinary(std::move(bytes)); };
    // Sound only while little waits for the browser: late sound is useless, and it must not
    // fill the queue that ends a desktop whose browser falls behind.
    io.audio = [peer](std::string bytes) {
      peer->sendBinaryIfRoom(std::move(bytes), kAudioQueueRoom);
    };
    io.notice = [peer](const std::string& text) {
      peer->sendText(
          boost::json::serialize(boost::json::object{{"type", "notice"}, {"message", text}}));
    };
    io.closed = [peer](const std::string& reason) {
      peer->sendText(closedMessage(reason));
      peer->close(reason);
    };
    return s_.desktops->start(user_, asset_, source_, width_, height_, std::move(io));
  }

  std::optional<boost::json::object> startedMessage(const RemoteDesktop&) override {
    return std::nullopt;  // io.started sent it, ahead of the first frame
  }

  std::string source_;
  int width_, height_;
  std::optional<Upload> upload_;      // a drive_put whose bytes are still arriving
  std::optional<Download> download_;  // a file from the drive not yet sent to its end
  bool driveBusy_ = false;            // a drive job runs (startDriveJob)
  std::thread driveJob_;              // the last drive job's thread; joined before the next
  std::chrono::steady_clock::time_point driveWindow_{};
  int driveRequests_ = 0;
};

/// ?width=/?height= within the desktop limits, or the fallback.
int dimension(const HttpRequest& r, std::string_view key, int lo, int hi, int fallback) {
  const std::string v = queryParam(r, key);
  if (v.empty() || v.size() > 5 || v.find_first_not_of("0123456789") != std::string::npos) {
    return fallback;
  }
  return std::clamp(std::stoi(v), lo, hi);
}

}  // namespace

void addRdpRoutes(Router& router, ApiState& s) {
  router.addWebSocket("/api/v1/rdp", [&s](const HttpRequest& r) -> WsAccept {
    std::lock_guard lock(s.mutex);
    auto caller =
        socketCaller(s, r, SocketCredentials::session, {core::Role::vendor}, "the remote desktop");
    if (!caller) return {errorResponse(caller.error()), nullptr};
    const std::string asset = queryParam(r, "asset");
    if (asset.empty() || asset.size() > 200) {
      return {jsonError(400, "bad_request", "name the asset: ?asset=NAME"), nullptr};
    }
    if (s.desktops == nullptr) {
      return {jsonError(503, "unavailable", "browser RDP is not available on this broker"),
              nullptr};
    }
    // 200x200 to 4096x2160 (broker/rdp's limits); the browser asks for its window's size.
    return {{},
            std::make_shared<RdpSocket>(s, caller->user.username, asset, r.remoteAddress,
                                        caller->cookieValue, dimension(r, "width", 200, 4096, 1024),
                                        dimension(r, "height", 200, 2160, 768))};
  });
}

}  // namespace conduit::portal
