#include "audio_channel.hpp"

#include <freerdp/addin.h>
#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/rdpsnd.h>
#include <freerdp/codec/audio.h>
#include <freerdp/freerdp.h>
#include <winpr/synch.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "addin_provider.hpp"

namespace conduit::rdp::worker {

struct AudioChannel::Device {
  rdpsndDevicePlugin plugin;  // first: FreeRDP casts between the two
  AudioChannel* channel;
};

namespace {

void log(const std::string& line) {
  std::fprintf(stderr, "conduit-rdp-worker: audio: %s\n", line.c_str());
}

// About 5 s of 48 kHz stereo: beyond it the main loop is stuck (a broker that stopped
// reading); newer sound is dropped rather than held without bound.
constexpr std::size_t kMaxPendingBytes = 1u << 20;

// The session's channel (one per worker process), for the device FreeRDP creates.
AudioChannel* g_channel = nullptr;

AudioChannel* channelOf(rdpsndDevicePlugin* device) {
  return reinterpret_cast<AudioChannel::Device*>(device)->channel;
}

// C trampolines: no exception may unwind into FreeRDP.
BOOL formatSupported(rdpsndDevicePlugin* device, const AUDIO_FORMAT* f) noexcept {
  return f != nullptr && channelOf(device)->supports(f->wFormatTag, f->nChannels, f->nSamplesPerSec,
                                                     f->wBitsPerSample)
             ? TRUE
             : FALSE;
}
BOOL openDevice(rdpsndDevicePlugin* device, const AUDIO_FORMAT* f, UINT32) noexcept {
  if (f == nullptr) return FALSE;
  try {
    return channelOf(device)->open(f->nChannels, f->nSamplesPerSec) ? TRUE : FALSE;
  } catch (...) {
    return FALSE;
  }
}
BOOL setVolume(rdpsndDevicePlugin*, UINT32) noexcept {
  return TRUE;
}
UINT playDevice(rdpsndDevicePlugin* device, const BYTE* data, size_t size) noexcept {
  try {
    channelOf(device)->play(data, size);
  } catch (...) {  // out of memory: this piece of sound is lost, the session goes on
  }
  return 0;  // no playback latency on this side: the browser buffers
}
void closeDevice(rdpsndDevicePlugin* device) noexcept {
  channelOf(device)->close();
}
void freeDevice(rdpsndDevicePlugin*) noexcept {}  // AudioChannel owns it

UINT deviceEntry(PFREERDP_RDPSND_DEVICE_ENTRY_POINTS entry) noexcept {
  if (g_channel == nullptr || g_channel->device() == nullptr) return ERROR_INTERNAL_ERROR;
  entry->pRegisterRdpsndDevice(entry->rdpsnd, &g_channel->device()->plugin);
  return CHANNEL_RC_OK;
}

}  // namespace

void (*audioDeviceEntry())() {
  return reinterpret_cast<void (*)()>(deviceEntry);
}

AudioChannel::AudioChannel()
    : device_(std::make_unique<Device>()), event_(CreateEventA(nullptr, TRUE, FALSE, nullptr)) {
  device_->channel = this;
  device_->plugin.FormatSupported = formatSupported;
  device_->plugin.Open = openDevice;
  device_->plugin.SetVolume = setVolume;
  device_->plugin.Play = playDevice;
  device_->plugin.Close = closeDevice;
  device_->plugin.Free = freeDevice;
  // rdpsnd's own arguments: our device, only PCM (wFormatTag 1) from the server's list, and
  // the latency FreeRDP allows for sound queued ahead of real time before it drops some (its
  // default, 0, drops a third piece that comes in a burst; the browser buffers anyway).
  argStrings_ = {"rdpsnd", std::string("sys:") + kAudioDeviceName, "format:1", "latency:400"};
  for (auto& s : argStrings_) argPointers_.push_back(s.data());
  args_ = {static_cast<int>(argPointers_.size()), argPointers_.data()};
}

AudioChannel::~AudioChannel() {
  if (g_channel == this) g_channel = nullptr;
  if (dropped_ > 0)
    log(std::to_string(dropped_) + " bytes of sound dropped (the broker fell behind)");
  if (event_ != nullptr) CloseHandle(event_);
}

bool AudioChannel::load(rdpContext* context) {
  if (event_ == nullptr || !registerAddinProvider()) return false;
  g_channel = this;
  auto entry = reinterpret_cast<PVIRTUALCHANNELENTRYEX>(
      reinterpret_cast<void (*)()>(freerdp_channels_load_static_addin_entry(
          "rdpsnd", nullptr, nullptr,
          FREERDP_ADDIN_CHANNEL_STATIC | FREERDP_ADDIN_CHANNEL_ENTRYEX)));
  if (entry == nullptr) {
    log("this FreeRDP has no built-in rdpsnd channel");
    return false;
  }
  // ADDIN_ARGV's layout; rdpsnd reads it when the channel connects.
  static_assert(sizeof(Argv) == sizeof(ADDIN_ARGV));
  return freerdp_settings_set_bool(context->settings, FreeRDP_AudioPlayback, TRUE) &&
         freerdp_channels_client_load_ex(context->channels, context->settings, entry, &args_) == 0;
}

bool AudioChannel::supports(std::uint16_t tag, std::uint16_t channels, std::uint32_t rate,
                            std::uint16_t bits) const {
  return tag == WAVE_FORMAT_PCM && bits == 16 && (channels == 1 || channels == 2) &&
         rate >= kMinAudioRate && rate <= kMaxAudioRate;
}

bool AudioChannel::open(std::uint16_t channels, std::uint32_t rate) {
  if (!supports(WAVE_FORMAT_PCM, channels, rate, 16)) return false;
  std::lock_guard lock(mutex_);
  channels_ = static_cast<std::uint8_t>(channels);
  rate_ = rate;
  return true;
}

void AudioChannel::play(const std::uint8_t* data, std::size_t size) {
  std::lock_guard lock(mutex_);
  if (channels_ == 0 || data == nullptr) return;
  // Whole sample frames only (a server that sends half a frame is broken; its tail is dropped).
  const std::size_t frame = 2u * channels_;
  size -= size % frame;
  std::size_t at = 0;
  while (at < size) {
    const std::size_t n = std::min(size - at, kMaxAudioChunkBytes - kMaxAudioChunkBytes % frame);
    if (pendingBytes_ + n > kMaxPendingBytes) {
      dropped_ += size - at;
      break;
    }
    AudioChunk chunk;
    chunk.rate = rate_;
    chunk.channels = channels_;
    chunk.pcm.assign(data + at, data + at + n);
    pending_.push_back(std::move(chunk));
    pendingBytes_ += n;
    at += n;
  }
  SetEvent(event_);
}

void AudioChannel::close() {
  std::lock_guard lock(mutex_);
  channels_ = 0;
}

std::deque<AudioChunk> AudioChannel::take() {
  std::lock_guard lock(mutex_);
  std::deque<AudioChunk> out;
  out.swap(pending_);
  pendingBytes_ = 0;
  ResetEvent(event_);
  return out;
}

std::uint64_t AudioChannel::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace conduit::rdp::worker
