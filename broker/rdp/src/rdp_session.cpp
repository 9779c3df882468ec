#include "conduit/rdp/rdp_session.hpp"

#include <poll.h>
#include <pthread.h>
#include <sodium.h>

#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <ctime>
#include <mutex>
#include <optional>
#include <thread>
#include <variant>

#include "conduit/rdp/drive_folder.hpp"
#include "conduit/recorder/record.hpp"
#include "session_printer.hpp"
#include "worker_process.hpp"

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

namespace {

// Recording channels: 0 carries notices (as in SSH sessions), 2 the desktop.
constexpr std::uint32_t kNoticeChannel = 0;
constexpr std::uint32_t kDesktopChannel = 2;
// Wakes for worker output, close and input at once; bounds only how late the once-a-second
// access re-check runs.
constexpr int kPollMs = 100;
// 256 KiB per read: a few tiles; the reader keeps at most one partial frame.
constexpr std::size_t kReadBytes = 256 * 1024;
// A browser that has not acknowledged a frame for this long is behind: it gets no sound.
constexpr std::chrono::steady_clock::duration kAudioBehind = std::chrono::seconds{2};

std::int64_t nowTicks() {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}

std::string nextSessionId() {
  // Ids name recording files and registry rows: unique within the broker process.
  static std::atomic<std::uint64_t> counter{0};
  return "rdp-" + std::to_string(::time(nullptr)) + "-" + std::to_string(++counter);
}

/// Where a file on the session's drive is for the target: Windows shows redirected drives
/// under \\tsclient.
std::string drivePathOf(std::string_view name) {
  return "\\\\tsclient\\" + std::string(kDriveName) + "\\" + std::string(name);
}

std::span<const unsigned char> bytesOf(std::string_view s) {
  return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

/// Reads worker frames until at least one arrives or the deadline passes; returns all read.
core::Result<std::vector<Frame>> awaitFrames(WorkerProcess& worker, FrameReader& reader,
                                             std::chrono::steady_clock::time_point deadline) {
  std::vector<std::uint8_t> buf(64 * 1024);
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return fail(ErrorCode::unavailable, "the RDP target did not answer in time");
    }
    pollfd p{worker.fd(), POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    const ssize_t n = ::read(worker.fd(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return fail(ErrorCode::unavailable, "the RDP worker stopped while connecting (" +
                                              worker.stop(std::chrono::milliseconds{500}) + ")");
    }
    auto frames = reader.feed({buf.data(), static_cast<std::size_t>(n)});
    if (!frames) return fail(ErrorCode::unavailable, "the RDP worker broke the protocol");
    if (!frames->empty()) return frames;
  }
}

}  // namespace

class RdpSession::Impl : public std::enable_shared_from_this<RdpSession::Impl> {
 public:
  Impl(RdpBackend& backend, RdpSessionOptions options, RdpSessionRequest request, RdpSessionIo io)
      : backend_(backend),
        options_(std::move(options)),
        request_(std::move(request)),
        io_(std::move(io)),
        sessionId_(nextSessionId()) {}

  ~Impl() {
    printer_.reset();  // its thread wakes the session through wake_
    if (wake_ >= 0) ::close(wake_);
  }

  core::Status open() {
    const RdpDecision d = backend_.checkAccess(request_.user, request_.asset, request_.source);
    if (const auto* no = std::get_if<RdpRefuse>(&d)) {
      return fail(ErrorCode::permission_denied, no->reason);
    }
    allow_ = std::get<RdpAllow>(d);
    auto plan = backend_.prepareTarget(request_.user, request_.asset, sessionId_, request_.source);
    if (!plan) return plan.error();
    hold_ = plan->hold;
    if (plan->certificateSha256.empty()) {
      const std::string why = "the RDP endpoint of " + request_.asset +
                              " has no pinned certificate; an administrator must pin it first";
      backend_.targetFailed(request_.user, request_.asset, request_.source, why);
      return fail(ErrorCode::conflict, why);
    }
    auto worker = WorkerProcess::spawn(options_.workerPath);
    if (!worker) return worker.error();
    worker_ = std::move(*worker);

    ConnectRequest c;
    c.host = plan->host;
    c.port = plan->port;
    c.username = plan->username;
    c.domain = plan->domain;
    c.certificateSha256 = plan->certificateSha256;
    c.width = request_.width;
    c.height = request_.height;
    c.clipboard = allow_.limits.rdp.clipboard();
    clipboardChannel_ = c.clipboard;
    toTargetAllowed_ = allow_.limits.rdp.clipboardToTarget;
    fromTargetAllowed_ = allow_.limits.rdp.clipboardFromTarget;
    recordKeystrokes_ = allow_.limits.recordKeystrokes;
    if (allow_.limits.rdp.drive) {
      auto folder = DriveFolder::create(DriveFolder::workerOwner());
      if (!folder) return failConnect("the session's drive: " + folder.error().message);
      drive_ = std::move(*folder);
      c.drive = true;
      c.drivePath = drive_->path();
      driveChannel_ = true;
      driveAllowed_ = true;
    }
    c.printer = allow_.limits.rdp.printer;
    printerChannel_ = c.printer;
    c.audio = allow_.limits.rdp.audio;
    audioChannel_ = c.audio;
    audioAllowed_ = c.audio;
    c.connectTimeoutMs = static_cast<int>(options_.connectTimeout.count());
    c.keyframeSeconds = options_.keyframeSeconds;
    Bytes frame = encodeConnect(c, plan->password.reveal());
    plan->password = {};  // wiped: the worker has its own copy now, the broker needs none
    auto sent = worker_->write(frame);
    sodium_memzero(frame.data(), frame.size());
    if (!sent) return failConnect(sent.error().message);

    auto frames = awaitFrames(
        *worker_, reader_,
        std::chrono::steady_clock::now() + options_.connectTimeout + std::chrono::seconds{5});
    if (!frames) return failConnect(frames.error().message);
    // Only connected or failed come first; tiles may follow connected in the same read.
    const Frame* first = &frames->front();
    pending_.assign(std::make_move_iterator(frames->begin() + 1),
                    std::make_move_iterator(frames->end()));
    if (first->type == MessageType::failed || first->type == MessageType::closed) {
      auto f = decodeFailure(first->body);
      return failConnect(f ? f->message : "the RDP worker reported a failure it could not name");
    }
    if (first->type != MessageType::connected) {
      return failConnect("the RDP worker broke the protocol");
    }
    auto connected = decodeConnected(first->body);
    if (!connected) return failConnect("the RDP worker broke the protocol");
    if (connected->certificateSha256 != plan->certificateSha256) {
      return failConnect("the RDP target presented certificate " + connected->certificateSha256 +
                         ", not the pinned " + plan->certificateSha256);
    }
    width_ = connected->width;
    height_ = connected->height;

    auto recording = backend_.openRecording(sessionId_, allow_);
    if (!recording) {
      (void)worker_->write(encodeFrame(MessageType::close, {}));
      worker_->stop(std::chrono::seconds{1});
      return recording.error();
    }
    recording_ = std::move(*recording);
    if (recording_) {
      (void)recording_->append(
          recorder::RecordKind::marker, kNoticeChannel, recorder::Direction::none,
          bytesOf("RDP session " + sessionId_ + " to " + request_.asset + " for " + request_.user));
      // On an RDP channel a resize record carries the desktop's size in pixels.
      if (auto st = recording_->append(
              recorder::RecordKind::resize, kDesktopChannel, recorder::Direction::to_client,
              recorder::encodeResize(
                  {static_cast<std::uint32_t>(width_), static_cast<std::uint32_t>(height_)}));
          !st) {
        (void)worker_->write(encodeFrame(MessageType::close, {}));
        worker_->stop(std::chrono::seconds{1});
        return fail(ErrorCode::unavailable, "the recording failed: " + st.error().message);
      }
    }
    wake_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (wake_ < 0) return failConnect("eventfd failed");
    if (printerChannel_) {
      const int wake = wake_;
      SessionPrinter::Hooks hooks;
      hooks.recordFile = [this](const recorder::FileTransferEvent& e) {
        return recordFile(e, recorder::Direction::to_client);
      };
      hooks.recordNotice = [this](const std::string& text) {
        return !recording_ || recording_
                                  ->append(recorder::RecordKind::marker, kNoticeChannel,
                                           recorder::Direction::none, bytesOf(text))
                                  .ok();
      };
      hooks.offered = io_.printed;
      hooks.wake = [wake] {
        const std::uint64_t one = 1;
        (void)!::write(wake, &one, sizeof one);
      };
      printer_ = std::make_unique<SessionPrinter>(options_, std::move(hooks), sessionId_);
    }
    backend_.sessionStarted(sessionId_, request_.user, request_.asset, request_.source, allow_);
    spdlog::info("event=rdp_session_started session={} user={} asset={} desktop={}x{}", sessionId_,
                 request_.user, request_.asset, width_, height_);
    return core::Done{};
  }

  void run() {
    // Engineers joining the live view get a keyframe first; weak: the hub may outlive us.
    backend_.liveDesktop(sessionId_, width_, height_, [weak = weak_from_this()] {
      if (auto self = weak.lock()) self->refresh();
    });
    thread_ = std::thread([self = shared_from_this()] {
      pthread_setname_np(pthread_self(), "rdp-session");  // for top -H, perf and gdb
      self->loop();
    });
  }

  void input(const Bytes& frame, std::optional<std::string> recordAs) {
    if (ended_.load()) return;
    if (!withinRate(inputRate_, options_.maxInputPerSecond, "input events")) return;
    if (recordAs && recording_ && recordKeystrokes_.load()) {
      const auto payload = recorder::encodeProtocolEvent({"rdp", "allow", *recordAs});
      if (!recording_->append(recorder::RecordKind::protocol_event, kDesktopChannel,
                              recorder::Direction::to_target, payload)) {
        requestClose("the recording failed");
        return;
      }
    }
    bytesToTarget_ += frame.size();
    if (auto st = worker_->write(frame); !st) requestClose(st.error().message);
  }

  core::Status clipboard(const std::string& text) {
    if (ended_.load()) return fail(ErrorCode::unavailable, "the remote desktop has ended");
    // Counted first, refused texts too: each costs parsing and checking.
    if (!withinRate(clipboardRate_, options_.maxClipboardPerSecond, "clipboard texts")) {
      return fail(ErrorCode::unavailable, "more than " +
                                              std::to_string(options_.maxClipboardPerSecond) +
                                              " clipboard texts in a second: the session ends");
    }
    std::optional<core::Error> refused;
    if (!clipboardChannel_ || !toTargetAllowed_.load()) {
      refused = core::Error{ErrorCode::permission_denied,
                            std::string("the policy does not allow ") +
                                (clipboardChannel_ ? "clipboard text to " : "the clipboard on ") +
                                request_.asset};
    } else if (text.size() > kMaxClipboardBytes || !isValidUtf8(text)) {
      refused = core::Error{ErrorCode::invalid_argument,
                            "clipboard text must be UTF-8 of at most " +
                                std::to_string(kMaxClipboardBytes) + " bytes"};
    }
    if (refused) {
      // An attempt refused is recorded (its size only) and shown live, as a passing one is.
      const std::string summary = std::to_string(text.size()) +
                                  " bytes pasted by the vendor, not passed on: " + refused->message;
      if (!recordClipboard(recorder::Direction::to_target, "deny", summary)) {
        requestClose("the recording failed");
        return fail(ErrorCode::unavailable, "the recording failed");
      }
      liveClipboard(recorder::Direction::to_target, "deny", summary);
      return *refused;
    }
    // Recorded before it reaches the target: what cannot be recorded does not pass.
    if (!recordClipboard(recorder::Direction::to_target, "allow", text)) {
      requestClose("the recording failed");
      return fail(ErrorCode::unavailable, "the recording failed");
    }
    bytesToTarget_ += text.size();
    if (auto st = worker_->write(encodeClipboard(MessageType::clipboard, text)); !st) {
      requestClose(st.error().message);
      return st.error();
    }
    liveClipboard(recorder::Direction::to_target, "allow", text);
    return core::Done{};
  }

  core::Result<std::vector<DriveFile>> driveList() {
    std::lock_guard lock(driveMutex_);
    if (auto st = driveUsable(); !st) return st.error();
    return drive_->list();
  }

  core::Status driveAccepts(const std::string& name, std::uint64_t size) {
    std::lock_guard lock(driveMutex_);
    if (auto st = driveUsable(); !st) return st.error();
    return drive_->accepts(name, size);
  }

  core::Result<std::string> drivePut(const std::string& name, std::span<const std::uint8_t> bytes) {
    std::lock_guard lock(driveMutex_);
    if (auto st = driveUsable(); !st) return st.error();
    // Recorded (and so shown to auditors) before the target can see a byte of it: what cannot
    // be recorded does not reach the drive.
    bool recorded = false;
    auto sha = drive_->put(name, bytes, [&](const std::string& sha256) -> core::Status {
      recorder::FileTransferEvent e{recorder::FileOperation::upload, bytes.size(),
                                    drivePathOf(name), "put on the session's drive by the vendor",
                                    sha256};
      if (!recordFile(e, recorder::Direction::to_target)) {
        requestClose("the recording failed");
        return fail(ErrorCode::unavailable, "the recording failed");
      }
      recorded = true;
      return core::Done{};
    });
    if (sha) {
      bytesToTarget_ += bytes.size();
    } else if (recorded && recording_) {
      // Recorded, then not placed (the target took the name meanwhile): said after it, so the
      // recording does not claim a file that never crossed.
      const std::string notice = "the upload of " + drivePathOf(name) +
                                 " above did not reach the drive: " + sha.error().message;
      (void)recording_->append(recorder::RecordKind::marker, kNoticeChannel,
                               recorder::Direction::none, bytesOf(notice));
      spdlog::warn("event=file_transfer_not_placed session={} path=\"{}\" reason=\"{}\"",
                   sessionId_, drivePathOf(name), sha.error().message);
      backend_.liveText(sessionId_, recorder::liveFileJson(
                                        {recorder::FileOperation::upload, 0, drivePathOf(name),
                                         "did not reach the drive: " + sha.error().message, ""}));
    }
    return sha;
  }

  core::Result<DriveContent> driveGet(const std::string& name) {
    std::lock_guard lock(driveMutex_);
    if (auto st = driveUsable(); !st) return st.error();
    auto content = drive_->get(name);
    if (!content) return content.error();
    recorder::FileTransferEvent e{recorder::FileOperation::download, content->bytes.size(),
                                  drivePathOf(name), "taken from the session's drive by the vendor",
                                  content->sha256};
    if (!recordFile(e, recorder::Direction::to_client)) {
      requestClose("the recording failed");
      return fail(ErrorCode::unavailable, "the recording failed");
    }
    bytesToVendor_ += content->bytes.size();
    return content;
  }

  core::Result<DriveContent> printGet(const std::string& name) {
    if (ended_.load()) return fail(ErrorCode::unavailable, "the remote desktop has ended");
    if (!printer_ || !printer_->allowed()) {
      return fail(ErrorCode::permission_denied,
                  "the policy does not allow printing from " + request_.asset);
    }
    auto doc = printer_->get(name);
    if (!doc) return doc.error();
    recorder::FileTransferEvent e{recorder::FileOperation::download, doc->bytes.size(),
                                  SessionPrinter::pathOf(name),
                                  "a printed document saved by the vendor", doc->sha256};
    if (!recordFile(e, recorder::Direction::to_client)) {
      requestClose("the recording failed");
      return fail(ErrorCode::unavailable, "the recording failed");
    }
    bytesToVendor_ += doc->bytes.size();
    return DriveContent{std::move(doc->bytes), std::move(doc->sha256)};
  }

  bool driveOffered() const { return driveChannel_; }

  void ack(std::uint32_t sequence) {
    if (ended_.load()) return;
    // Plain comparison, as the worker makes it: sequence numbers never wrap (2^32 frames at 30
    // a second take 4.5 years). A wrapping comparison let an ack far ahead pass as an old one,
    // and the worker then ended the session as broken by the broker.
    if (!sentAny_.load() || sequence > lastSent_.load()) {
      requestClose("the browser acknowledged frame " + std::to_string(sequence) +
                   ", which was never sent");
      return;
    }
    if (sequence > lastAcked_.load()) {  // an old one says nothing about the browser now
      lastAcked_ = sequence;
      waitingSince_ = nowTicks();
    }
    if (auto st = worker_->write(encodeAck(sequence)); !st) requestClose(st.error().message);
  }

  void refresh() {
    if (ended_.load()) return;
    if (auto st = worker_->write(encodeFrame(MessageType::refresh, {})); !st) {
      requestClose(st.error().message);
    }
  }

  void requestClose(const std::string& reason) {
    {
      std::lock_guard lock(closeMutex_);
      if (!closeReason_) closeReason_ = reason;
    }
    const std::uint64_t one = 1;
    if (wake_ >= 0) (void)!::write(wake_, &one, sizeof one);
  }

  void join() {
    if (!thread_.joinable()) return;
    if (thread_.get_id() == std::this_thread::get_id()) {
      thread_.detach();  // called from io.closed on the session's own thread
    } else {
      thread_.join();
    }
  }

  const std::string& sessionId() const { return sessionId_; }
  int width() const { return width_; }
  int height() const { return height_; }

 private:
  core::Status failConnect(const std::string& why) {
    backend_.targetFailed(request_.user, request_.asset, request_.source, why);
    if (worker_) {
      (void)worker_->write(encodeFrame(MessageType::close, {}), std::chrono::milliseconds{100});
      worker_->stop(std::chrono::milliseconds{500});
    }
    return fail(ErrorCode::unavailable, why);
  }

  /// Events in the current one-second window.
  struct Rate {
    std::chrono::steady_clock::time_point window{};
    int count = 0;
    /// Counts one event; how many this second has had, this one included.
    int add() {
      const auto now = std::chrono::steady_clock::now();
      if (now - window >= std::chrono::seconds{1}) {
        window = now;
        count = 0;
      }
      return ++count;
    }
  };
  /// Counts one event of a kind the browser may send at most `max` times a second; past that
  /// the session ends (a broken or hostile browser).
  bool withinRate(Rate& rate, int max, const char* what) {
    std::lock_guard lock(inputMutex_);
    if (rate.add() <= max) return true;
    requestClose("the browser sent more than " + std::to_string(max) + " " + what + " in a second");
    return false;
  }

  /// Under driveMutex_: the drive exists, the policy still allows it, the session runs.
  core::Status driveUsable() const {
    if (ended_.load()) return fail(ErrorCode::unavailable, "the remote desktop has ended");
    if (!drive_ || !driveAllowed_.load()) {
      return fail(ErrorCode::permission_denied,
                  "the policy does not allow a drive on " + request_.asset);
    }
    return core::Done{};
  }

  /// A file moved through the drive or printed: recorded, logged, shown live. False if
  /// recording failed.
  bool recordFile(const recorder::FileTransferEvent& e, recorder::Direction direction) {
    if (recording_ && !recording_
                           ->append(recorder::RecordKind::file_transfer, kDesktopChannel, direction,
                                    recorder::encodeFileTransfer(e))
                           .ok()) {
      return false;
    }
    spdlog::info(
        "event=file_transfer session={} user={} operation={} path=\"{}\" size={} sha256={}",
        sessionId_, request_.user, recorder::fileOperationName(e.operation), e.path, e.size,
        e.sha256);
    backend_.liveText(sessionId_, recorder::liveFileJson(e));
    return true;
  }

  /// A clipboard text as a protocol event (protocol "clipboard", the text as its summary):
  /// replay and export show it, the full-text index finds it. False if recording failed.
  bool recordClipboard(recorder::Direction direction, const char* decision,
                       const std::string& summary) {
    return !recording_ ||
           recording_
               ->append(recorder::RecordKind::protocol_event, kDesktopChannel, direction,
                        recorder::encodeProtocolEvent({"clipboard", decision, summary}))
               .ok();
  }

  /// The same for engineers watching live (what a vendor pastes into an HMI is what they
  /// supervise), once it has passed or been refused.
  void liveClipboard(recorder::Direction direction, const char* decision,
                     const std::string& summary) {
    backend_.liveText(
        sessionId_,
        boost::json::serialize(boost::json::object{
            {"type", "clipboard"},
            {"direction", direction == recorder::Direction::to_target ? "to_target" : "to_client"},
            {"decision", decision},
            {"text", summary}}));
  }

  /// Sound the target played; a reason when the session must end. Passed on to the browser
  /// as it comes; a browser that has left a frame unacknowledged for kAudioBehind (not
  /// reading, or a tab in the background) gets none until it catches up: late sound is useless
  /// and would only fill the portal's send queue. The recording notes when sound starts (and
  /// its format) but not the sound itself.
  std::optional<std::string> audio(const Frame& f) {
    if (!audioChannel_) {
      return std::string("the RDP worker broke the protocol: sound with audio off");
    }
    auto chunk = decodeAudio(f.body);
    if (!chunk) return "the RDP worker broke the protocol: " + chunk.error().message;
    if (!audioAllowed_.load()) return std::nullopt;  // the policy dropped it mid-session
    const std::uint32_t format = chunk->rate * 4 + chunk->channels;
    const auto now = std::chrono::steady_clock::now();
    if (format != audioFormat_) {
      audioFormat_ = format;
      ++formatChanges_;
    }
    // The recording says which format plays, at most once a second: a target switching formats
    // faster fills the recording, not the speaker. A format that still plays a second later is
    // noted then; the count of changes goes in at the end.
    if (format != notedFormat_ && now - lastFormatMarker_ >= std::chrono::seconds{1}) {
      notedFormat_ = format;
      lastFormatMarker_ = now;
      ++formatNotes_;
      const std::string text = "sound from the target: PCM " + std::to_string(chunk->rate) +
                               " Hz, " + std::to_string(chunk->channels) +
                               (chunk->channels == 1 ? " channel" : " channels") +
                               " (passed to the browser, not recorded)";
      if (recording_ && !recording_->append(recorder::RecordKind::marker, kNoticeChannel,
                                            recorder::Direction::none, bytesOf(text))) {
        return "the recording failed";
      }
    }
    if (sentAny_.load() && lastSent_.load() > lastAcked_.load() &&
        nowTicks() - waitingSince_.load() > kAudioBehind.count()) {
      ++audioDropped_;
      return std::nullopt;
    }
    if (io_.audio) io_.audio(toBrowser(f));
    return std::nullopt;
  }

  /// Text copied on the target; a reason when the session must end.
  std::optional<std::string> fromTargetClipboard(const Frame& f) {
    if (!clipboardChannel_) {
      return std::string(
          "the RDP worker broke the protocol: clipboard text with the clipboard off");
    }
    auto text = decodeClipboard(f.body);
    if (!text) return "the RDP worker broke the protocol: " + text.error().message;
    // A target that changes its clipboard faster than a person copies (a hostile one
    // overwriting what the vendor sees, or filling the recording): past the rate, one record
    // says so for that second and the rest are dropped unrecorded. The session goes on: the
    // vendor did nothing wrong.
    const int seen = targetClipboardRate_.add();
    const int max = options_.maxClipboardPerSecond;
    if (seen > max + 1) return std::nullopt;
    // Not passed on: over the rate, one way only, or the policy changed during the session.
    // Recorded by size only.
    std::string refusal;
    if (seen > max) {
      refusal = "more than " + std::to_string(max) +
                " clipboard texts in a second from the target (the rest of that second's are "
                "dropped unrecorded)";
    } else if (!fromTargetAllowed_.load()) {
      refusal = "the policy does not allow clipboard text from " + request_.asset;
    }
    if (!refusal.empty()) {
      const std::string summary =
          std::to_string(text->size()) + " bytes copied on the target, not passed on: " + refusal;
      if (!recordClipboard(recorder::Direction::to_client, "deny", summary)) {
        return "the recording failed";
      }
      liveClipboard(recorder::Direction::to_client, "deny", summary);
      return std::nullopt;
    }
    if (!recordClipboard(recorder::Direction::to_client, "allow", *text)) {
      return "the recording failed";
    }
    bytesToVendor_ += text->size();
    if (io_.clipboard) io_.clipboard(*text);
    liveClipboard(recorder::Direction::to_client, "allow", *text);
    return std::nullopt;
  }

  void loop() {
    // Before any frame, so the browser sizes its canvas before it draws.
    if (io_.started) {
      io_.started(RdpStarted{sessionId_, width_, height_, toTargetAllowed_.load(),
                             fromTargetAllowed_.load(), driveChannel_, audioChannel_,
                             printerChannel_});
    }
    std::string reason = run_loop();
    end(std::move(reason));
  }

  std::string run_loop() {
    std::vector<std::uint8_t> buf(kReadBytes);
    auto nextCheck = std::chrono::steady_clock::now() + std::chrono::seconds{1};
    // Frames read together with `connected` while starting.
    for (const auto& f : pending_) {
      if (auto why = handle(f)) return *why;
    }
    pending_.clear();
    while (true) {
      {
        std::lock_guard lock(closeMutex_);
        if (closeReason_) return *closeReason_;
      }
      pollfd p[2] = {{worker_->fd(), POLLIN, 0}, {wake_, POLLIN, 0}};
      const int r = ::poll(p, 2, kPollMs);
      if (r < 0 && errno != EINTR) return "poll failed";
      if (r > 0 && (p[1].revents & POLLIN)) {
        std::uint64_t v;
        (void)!::read(wake_, &v, sizeof v);
      }
      if (r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR))) {
        const ssize_t n = ::read(worker_->fd(), buf.data(), buf.size());
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
          const std::string how = worker_->stop(std::chrono::milliseconds{500});
          spdlog::warn("event=rdp_worker_stopped session={} how=\"{}\"", sessionId_, how);
          return "the RDP worker stopped unexpectedly (" + how + ")";
        }
        if (n > 0) {
          auto frames = reader_.feed({buf.data(), static_cast<std::size_t>(n)});
          if (!frames) return "the RDP worker broke the protocol: " + frames.error().message;
          for (auto& f : *frames) {
            if (auto why = handle(f)) return *why;
          }
        }
      }
      if (printer_) {
        if (auto why = printer_->finish()) return *why;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextCheck) {
        nextCheck = now + std::chrono::seconds{1};
        if (auto why = enforce()) return *why;
      }
    }
  }

  /// One worker frame; a reason when the session must end.
  std::optional<std::string> handle(const Frame& f) {
    switch (f.type) {
      case MessageType::tile: {
        auto tile = decodeTile(f.body, width_, height_);
        if (!tile) return "the RDP worker sent a bad tile: " + tile.error().message;
        if (recording_) {
          recorder::RdpTile t{tile->x,
                              tile->y,
                              tile->width,
                              tile->height,
                              static_cast<std::uint32_t>(tile->format),
                              std::move(tile->image)};
          if (!recording_->append(recorder::RecordKind::rdp_update, kDesktopChannel,
                                  recorder::Direction::to_client, recorder::encodeRdpTile(t))) {
            return "the recording failed";
          }
        }
        forward(f);
        return std::nullopt;
      }
      case MessageType::frame_end: {
        auto end = decodeFrameEnd(f.body);
        if (!end) return "the RDP worker broke the protocol: " + end.error().message;
        // Frame ends are recorded too (an rdp_update of size 0x0, format 0, the frame end's
        // body as pixels): replay draws whole frames and seeks to keyframes.
        if (recording_ && !recording_->append(recorder::RecordKind::rdp_update, kDesktopChannel,
                                              recorder::Direction::to_client,
                                              recorder::encodeRdpTile({0, 0, 0, 0, 0, f.body}))) {
          return "the recording failed";
        }
        if (!sentAny_.load() || lastSent_.load() == lastAcked_.load()) waitingSince_ = nowTicks();
        lastSent_ = end->sequence;
        sentAny_ = true;
        forward(f);
        return std::nullopt;
      }
      case MessageType::target_clipboard:
        return fromTargetClipboard(f);
      case MessageType::audio:
        return audio(f);
      case MessageType::print_data:
      case MessageType::print_end:
        if (!printer_) {
          return std::string("the RDP worker sent a printed document the session does not allow");
        }
        return printer_->frame(f);
      case MessageType::closed:
      case MessageType::failed: {
        auto why = decodeFailure(f.body);
        return why ? "the RDP target ended the session: " + why->message
                   : std::string("the RDP worker broke the protocol");
      }
      default:
        return "the RDP worker broke the protocol: unexpected frame type " +
               std::to_string(static_cast<int>(f.type));
    }
  }

  /// The browser's binary message for a worker frame (the frame without its length), counted.
  std::string toBrowser(const Frame& f) {
    std::string message;
    message.reserve(1 + f.body.size());
    message.push_back(static_cast<char>(f.type));
    message.append(reinterpret_cast<const char*>(f.body.data()), f.body.size());
    bytesToVendor_ += message.size();
    return message;
  }

  void forward(const Frame& f) {
    std::string message = toBrowser(f);
    backend_.liveFrame(sessionId_, message);
    io_.frame(std::move(message));
  }

  /// Window end, revocation and kill: re-checked every second, as in the SSH gateway.
  std::optional<std::string> enforce() {
    const RdpDecision d = backend_.recheckAccess(request_.user, request_.asset, request_.source);
    if (const auto* no = std::get_if<RdpRefuse>(&d)) return "access ended: " + no->reason;
    allow_ = std::get<RdpAllow>(d);
    // A policy that no longer allows the clipboard (a way) stops it now; one that newly allows
    // it cannot open the channel of a running session.
    toTargetAllowed_ = clipboardChannel_ && allow_.limits.rdp.clipboardToTarget;
    fromTargetAllowed_ = clipboardChannel_ && allow_.limits.rdp.clipboardFromTarget;
    recordKeystrokes_ = allow_.limits.recordKeystrokes;
    // Likewise the drive: a policy that drops it refuses files from now on.
    driveAllowed_ = driveChannel_ && allow_.limits.rdp.drive;
    // And the sound: a policy that drops it silences the session from now on.
    audioAllowed_ = audioChannel_ && allow_.limits.rdp.audio;
    // And the printer: documents printed from now on are recorded, not passed on.
    if (printer_) printer_->allow(allow_.limits.rdp.printer);
    const auto now = std::chrono::time_point_cast<core::Seconds>(std::chrono::system_clock::now());
    if (!warned_ && now >= allow_.until - allow_.limits.warningPeriod) {
      warned_ = true;
      const auto left = std::chrono::duration_cast<std::chrono::minutes>(allow_.until - now);
      const std::string text = "your access window ends at " + core::formatTime(allow_.until) +
                               " (in " + std::to_string(left.count()) + " min); save your work.";
      if (recording_) {
        (void)recording_->append(recorder::RecordKind::marker, kNoticeChannel,
                                 recorder::Direction::none, bytesOf(text));
      }
      io_.notice(text);
    }
    return std::nullopt;
  }

  void end(std::string reason) {
    ended_ = true;
    (void)worker_->write(encodeFrame(MessageType::close, {}), std::chrono::milliseconds{200});
    const std::string how = worker_->stop(std::chrono::seconds{2});
    // A conversion still running is stopped; documents not offered yet are recorded as such.
    if (printer_) printer_->end();
    {
      // The worker is gone: nothing uses the drive any more; what is left on it is removed.
      std::lock_guard lock(driveMutex_);
      drive_.reset();
    }
    if (recording_ && formatChanges_ > formatNotes_) {
      (void)recording_->append(
          recorder::RecordKind::marker, kNoticeChannel, recorder::Direction::none,
          bytesOf("the target's sound started or changed format " + std::to_string(formatChanges_) +
                  " times; " + std::to_string(formatNotes_) + " noted (at most one a second)"));
    }
    if (recording_) {
      (void)recording_->append(recorder::RecordKind::marker, kNoticeChannel,
                               recorder::Direction::none, bytesOf("session ended: " + reason));
      if (auto st = backend_.closeRecording(sessionId_, *recording_); !st) {
        reason += " (the recording could not be sealed: " + st.error().message + ")";
      }
    }
    backend_.sessionEnded(sessionId_, reason, bytesToTarget_.load(), bytesToVendor_.load());
    spdlog::info(
        "event=rdp_session_ended session={} reason=\"{}\" worker=\"{}\" audio_chunks_held_back={}",
        sessionId_, reason, how, audioDropped_);
    hold_.reset();
    io_.closed(reason);
  }

  RdpBackend& backend_;
  RdpSessionOptions options_;
  RdpSessionRequest request_;
  RdpSessionIo io_;
  const std::string sessionId_;
  RdpAllow allow_;
  std::shared_ptr<void> hold_;
  std::unique_ptr<WorkerProcess> worker_;
  std::unique_ptr<recorder::RecordingWriter> recording_;
  FrameReader reader_;
  std::vector<Frame> pending_;
  int width_ = 0;
  int height_ = 0;
  int wake_ = -1;
  std::thread thread_;
  std::atomic<bool> ended_{false};
  std::atomic<std::uint32_t> lastSent_{0};
  std::atomic<bool> sentAny_{false};
  std::atomic<std::uint64_t> bytesToTarget_{0};
  std::atomic<std::uint64_t> bytesToVendor_{0};
  bool warned_ = false;
  bool clipboardChannel_ = false;               // the worker opened the clipboard channel
  std::atomic<bool> toTargetAllowed_{false};    // and the policy still allows pasting
  std::atomic<bool> fromTargetAllowed_{false};  // and copying
  std::atomic<bool> recordKeystrokes_{false};
  bool audioChannel_ = false;              // the worker opened the audio channel
  std::atomic<bool> audioAllowed_{false};  // and the policy still allows sound
  std::uint32_t audioFormat_ = 0;          // of the last chunk (rate * 4 + channels)
  std::uint32_t notedFormat_ = 0;          // the last one the recording named
  std::uint64_t audioDropped_ = 0;         // chunks held back from a browser behind
  std::uint64_t formatChanges_ = 0;        // the first format counts as one
  std::uint64_t formatNotes_ = 0;
  std::chrono::steady_clock::time_point lastFormatMarker_{};
  std::atomic<std::uint32_t> lastAcked_{0};
  // steady_clock ticks of the last ack, or of the frame sent when all were acknowledged.
  std::atomic<std::int64_t> waitingSince_{0};
  bool printerChannel_ = false;              // the worker offers the target a printer
  std::unique_ptr<SessionPrinter> printer_;  // where it does
  bool driveChannel_ = false;                // the worker offers the session's drive
  std::atomic<bool> driveAllowed_{false};    // and the policy still allows it
  std::mutex driveMutex_;                    // drive_ and the files on it
  std::unique_ptr<DriveFolder> drive_;
  std::mutex closeMutex_;
  std::optional<std::string> closeReason_;
  std::mutex inputMutex_;  // the rates
  Rate inputRate_;
  Rate clipboardRate_;
  Rate targetClipboardRate_;  // the session's thread only
};

core::Result<std::unique_ptr<RdpSession>> RdpSession::start(RdpBackend& backend,
                                                            const RdpSessionOptions& options,
                                                            RdpSessionRequest request,
                                                            RdpSessionIo io) {
  if (request.width < kMinDesktop || request.width > kMaxDesktopWidth ||
      request.height < kMinDesktop || request.height > kMaxDesktopHeight) {
    return fail(ErrorCode::invalid_argument,
                "the desktop size must be within " + std::to_string(kMinDesktop) + "x" +
                    std::to_string(kMinDesktop) + " and " + std::to_string(kMaxDesktopWidth) + "x" +
                    std::to_string(kMaxDesktopHeight));
  }
  if (!io.frame || !io.notice || !io.closed) {
    return fail(ErrorCode::invalid_argument, "every RDP session callback is required");
  }
  auto impl = std::make_shared<Impl>(backend, options, std::move(request), std::move(io));
  if (auto st = impl->open(); !st) return st.error();
  impl->run();
  return std::unique_ptr<RdpSession>(new RdpSession(std::move(impl)));
}

RdpSession::~RdpSession() {
  impl_->requestClose("the browser closed the desktop");
  impl_->join();
}

void RdpSession::key(const KeyEvent& k) {
  char what[32];
  std::snprintf(what, sizeof what, "key 0x%03x %s", k.scancode, k.down ? "down" : "up");
  impl_->input(encodeKey(k), std::string(what));
}

void RdpSession::pointer(const PointerEvent& p) {
  impl_->input(encodePointer(p), std::nullopt);
}

void RdpSession::ctrlAltDel() {
  // Left Ctrl (0x1d), left Alt (0x38), Delete (0x53, extended).
  static constexpr std::array<std::uint16_t, 3> kCtrlAltDel = {0x1d, 0x38, 0x153};
  for (const std::uint16_t code : kCtrlAltDel) key({true, code});
  for (auto it = kCtrlAltDel.rbegin(); it != kCtrlAltDel.rend(); ++it) key({false, *it});
}

void RdpSession::ack(std::uint32_t sequence) {
  impl_->ack(sequence);
}
void RdpSession::refresh() {
  impl_->refresh();
}
core::Status RdpSession::clipboard(const std::string& text) {
  return impl_->clipboard(text);
}
core::Result<std::vector<DriveFile>> RdpSession::driveList() {
  return impl_->driveList();
}
core::Status RdpSession::driveAccepts(const std::string& name, std::uint64_t size) {
  return impl_->driveAccepts(name, size);
}
core::Result<std::string> RdpSession::drivePut(const std::string& name,
                                               std::span<const std::uint8_t> bytes) {
  return impl_->drivePut(name, bytes);
}
core::Result<DriveContent> RdpSession::driveGet(const std::string& name) {
  return impl_->driveGet(name);
}
core::Result<DriveContent> RdpSession::printGet(const std::string& name) {
  return impl_->printGet(name);
}
void RdpSession::close(const std::string& reason) {
  impl_->requestClose(reason);
}
std::string RdpSession::sessionId() const {
  return impl_->sessionId();
}
int RdpSession::width() const {
  return impl_->width();
}
int RdpSession::height() const {
  return impl_->height();
}

}  // namespace conduit::rdp
