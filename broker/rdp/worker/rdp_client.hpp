#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "audio_channel.hpp"
#include "broker_link.hpp"
#include "clipboard_channel.hpp"
#include "conduit/rdp/worker_protocol.hpp"
#include "damage_grid.hpp"
#include "drive_channel.hpp"
#include "printer_channel.hpp"

struct rdp_freerdp;
struct rdp_context;

namespace conduit::rdp::worker {

/// One FreeRDP 2 client session driven by the broker's frames: connects with the request's
/// settings (certificate pinned, every redirection off but clipboard text, the session's drive
/// and audio output where allowed), streams the software GDI's changes as tiles and the
/// target's sound as audio frames, and forwards keyboard and pointer input and clipboard text.
/// Single-threaded but for the clipboard and audio channels' own threads.
class RdpClient {
 public:
  /// `configDir`: an empty directory FreeRDP may treat as its configuration path (its
  /// certificate store insists on one; nothing is written there).
  RdpClient(BrokerLink& link, ConnectRequest request, std::string configDir);
  ~RdpClient();
  RdpClient(const RdpClient&) = delete;
  RdpClient& operator=(const RdpClient&) = delete;

  /// Connects (wiping `password` once FreeRDP holds it) and runs the session until it ends.
  /// Returns the process exit code: 0 after a clean close (broker or server), non-zero after a
  /// failure (reported to the broker first when possible).
  int run(Bytes& password);

  // FreeRDP callbacks (called through noexcept C trampolines).
  bool onPreConnect();
  bool onChannelData(std::uint16_t channelId, const std::uint8_t* data, std::size_t size,
                     std::uint32_t flags, std::size_t totalSize);
  void onChannel(const char* name, void* channelInterface, bool connected);
  bool onPostConnect();
  void onPostDisconnect();
  void onBeginPaint();
  void onEndPaint();
  bool onDesktopResize();
  int onVerifyCertificate(const unsigned char* pem, std::size_t length);

 private:
  bool configure(Bytes& password);
  int fail(const std::string& code, const std::string& message);
  int reportConnectFailure();
  int loop();
  enum class Step { keep, closed, error };
  Step handle(const Frame& frame);
  bool maybeSendFrame();
  /// Sends what the clipboard, audio and printer channels have for the broker; false if it is
  /// gone.
  bool sendChannelData();
  int desktopWidth() const;
  int desktopHeight() const;

  BrokerLink& link_;
  ConnectRequest request_;
  std::string configDir_;
  rdp_freerdp* instance_ = nullptr;
  std::unique_ptr<DamageGrid> damage_;
  std::unique_ptr<ClipboardChannel> clipboard_;  // only where the request allows it
  std::unique_ptr<DriveChannel> drive_;          // likewise
  std::unique_ptr<AudioChannel> audio_;          // likewise
  std::unique_ptr<PrinterChannel> printer_;      // likewise
  std::string presentedSha256_;
  bool certificateSeen_ = false;
  bool certificateRejected_ = false;
  bool keyframePending_ = true;  // the first frame after connect is a keyframe
  std::uint32_t sentSequence_ = 0;
  std::uint32_t ackedSequence_ = 0;
  std::chrono::steady_clock::time_point lastFrame_{};
  std::chrono::steady_clock::time_point lastKeyframe_{};
  std::chrono::steady_clock::time_point connectedAt_{};
};

}  // namespace conduit::rdp::worker
