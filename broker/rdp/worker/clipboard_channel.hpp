#pragma once

#include <deque>
#include <mutex>
#include <string>

#include "conduit/rdp/worker_protocol.hpp"

struct _cliprdr_client_context;
struct rdp_context;

namespace conduit::rdp::worker {

/// The RDP clipboard channel (cliprdr, MS-RDPECLIP), text only, for one session: text the
/// vendor sends is offered to the target as its clipboard (CF_UNICODETEXT); text copied on
/// the target is fetched at once and handed to the main loop. Files, images and other formats
/// are never offered or fetched (the capabilities announce no file clipboard).
///
/// FreeRDP 2 calls the server's messages on the channel's own thread; they only touch this
/// object under its mutex and wake the main loop through `event()`. Everything else is called
/// on the main thread.
class ClipboardChannel {
 public:
  ClipboardChannel();
  ~ClipboardChannel();
  ClipboardChannel(const ClipboardChannel&) = delete;
  ClipboardChannel& operator=(const ClipboardChannel&) = delete;

  /// Loads the static channel so the connection asks the server for it (in PreConnect).
  bool load(rdp_context* context);
  /// The channel's interface from FreeRDP's ChannelConnected event (main thread).
  void attach(void* channelInterface);
  void detach();
  /// A WinPR event, set while text from the target waits in take().
  void* event() const noexcept { return event_; }
  /// The vendor's text (UTF-8, already checked): the target's clipboard from now on. Empty
  /// text empties it.
  void offer(const std::string& utf8);
  /// Texts copied on the target since the last call, oldest first (UTF-8, each within
  /// kMaxClipboardBytes); resets event().
  std::deque<std::string> take();

  // The server's messages (through noexcept C trampolines, on the channel's thread).
  unsigned onMonitorReady();
  unsigned onServerFormatList(const void* formatList);
  unsigned onServerFormatDataRequest(const void* request);
  unsigned onServerFormatDataResponse(const void* response);
  unsigned onServerFileContentsRequest(const void* request);

 private:
  unsigned sendFormatList();  // under mutex_

  std::mutex mutex_;
  _cliprdr_client_context* cliprdr_ = nullptr;
  void* event_ = nullptr;
  bool ready_ = false;           // the server sent Monitor Ready: formats may be announced
  bool haveVendorText_ = false;  // announce CF_UNICODETEXT
  Bytes vendorText_;             // UTF-16LE with its terminating NUL
  // The formats of the data requests sent and not answered yet, oldest first: the server
  // answers in order, and a second format list may come before the first answer.
  std::deque<std::uint32_t> requestedFormats_;
  std::deque<std::string> fromTarget_;
};

}  // namespace conduit::rdp::worker
