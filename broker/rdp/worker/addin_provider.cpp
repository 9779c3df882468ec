#include "addin_provider.hpp"

#include <freerdp/addin.h>
#include <freerdp/client/channels.h>

#include <string_view>

#include "audio_channel.hpp"
#include "printer_channel.hpp"

namespace conduit::rdp::worker {

namespace {

PVIRTUALCHANNELENTRY provider(LPCSTR name, LPCSTR subsystem, LPCSTR type, DWORD flags) noexcept {
  if (name != nullptr && subsystem != nullptr && std::string_view(name) == "rdpsnd" &&
      std::string_view(subsystem) == kAudioDeviceName) {
    // FreeRDP's loader hands every entry out as the plain channel entry type.
    return reinterpret_cast<PVIRTUALCHANNELENTRY>(audioDeviceEntry());
  }
  if (name != nullptr && subsystem != nullptr && std::string_view(name) == "printer" &&
      std::string_view(subsystem) == kPrinterBackendName) {
    return reinterpret_cast<PVIRTUALCHANNELENTRY>(printerBackendEntry());
  }
  if (name != nullptr && subsystem == nullptr && type != nullptr &&
      std::string_view(name) == "printer" && std::string_view(type) == "DeviceServiceEntry") {
    return reinterpret_cast<PVIRTUALCHANNELENTRY>(printerDeviceEntry(reinterpret_cast<void (*)()>(
        freerdp_channels_load_static_addin_entry(name, subsystem, type, flags))));
  }
  return freerdp_channels_load_static_addin_entry(name, subsystem, type, flags);
}

}  // namespace

bool registerAddinProvider() {
  return freerdp_register_addin_provider(provider, 0) == 0;
}

}  // namespace conduit::rdp::worker
