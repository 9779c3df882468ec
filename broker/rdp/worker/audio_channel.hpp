#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "conduit/rdp/worker_protocol.hpp"

struct rdp_context;

namespace conduit::rdp::worker {

/// The RDP audio output channel (rdpsnd, MS-RDPEA) for one session, where policy allows audio:
/// FreeRDP's own rdpsnd client negotiates with the server and hands the sound to this object
/// as FreeRDP's playback device "conduit" (instead of PulseAudio or ALSA, which a worker has
/// neither of); the samples go to the broker as audio frames and on to the browser. Only PCM
/// is asked for (16-bit, 1-2 channels, 8-48 kHz): the browser plays it as it comes, and no
/// codec runs on the server's bytes beyond FreeRDP's channel parsing. Audio input (the vendor's
/// microphone) is never opened.
///
/// FreeRDP calls the device on the channel's own thread; it only queues under the mutex and
/// wakes the main loop through `event()`. A worker runs one session, so FreeRDP's device entry
/// finds this object through a process-wide pointer set by load(). The device belongs to this
/// object, not to FreeRDP (whose Free does nothing): FreeRDP frees it at disconnect while its
/// playback thread may still call it, and stops that thread only when the context is freed,
/// which RdpClient does before this object goes.
class AudioChannel {
 public:
  AudioChannel();
  ~AudioChannel();
  AudioChannel(const AudioChannel&) = delete;
  AudioChannel& operator=(const AudioChannel&) = delete;

  /// Loads the static channel so the connection asks the server for it (in PreConnect).
  bool load(rdp_context* context);
  /// A WinPR event, set while sound waits in take().
  void* event() const noexcept { return event_; }
  /// The sound played since the last call, oldest first, in chunks of at most
  /// kMaxAudioChunkBytes; resets event().
  std::deque<AudioChunk> take();
  /// Bytes dropped because the main loop fell behind (more than a few seconds queued).
  std::uint64_t dropped() const;

  // The playback device (channel thread).
  bool supports(std::uint16_t tag, std::uint16_t channels, std::uint32_t rate,
                std::uint16_t bits) const;
  bool open(std::uint16_t channels, std::uint32_t rate);
  void play(const std::uint8_t* data, std::size_t size);
  void close();
  /// The FreeRDP device (an rdpsndDevicePlugin) FreeRDP's entry registers.
  struct Device;
  Device* device() noexcept { return device_.get(); }

 private:
  std::unique_ptr<Device> device_;
  mutable std::mutex mutex_;
  void* event_ = nullptr;
  std::uint8_t channels_ = 0;  // of the open format; 0: closed
  std::uint32_t rate_ = 0;
  std::deque<AudioChunk> pending_;
  std::size_t pendingBytes_ = 0;
  std::uint64_t dropped_ = 0;
  // rdpsnd's arguments (it keeps the pointer until the connection): the device, PCM only.
  std::vector<std::string> argStrings_;
  std::vector<char*> argPointers_;
  struct Argv {
    int argc;
    char** argv;
  } args_{};
};

/// The name rdpsnd loads AudioChannel's playback device under, and its entry point (as the
/// type FreeRDP's addin loader returns): for the worker's addin provider (addin_provider.hpp).
inline constexpr const char* kAudioDeviceName = "conduit";
void (*audioDeviceEntry())();

}  // namespace conduit::rdp::worker
