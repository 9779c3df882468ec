#include "drive_channel.hpp"

#include <freerdp/addin.h>
#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/freerdp.h>
#include <freerdp/settings.h>
#include <freerdp/svc.h>
#include <winpr/string.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "addin_provider.hpp"
#include "conduit/rdp/worker_protocol.hpp"

namespace conduit::rdp::worker {

namespace {

void log(const std::string& line) {
  std::fprintf(stderr, "conduit-rdp-worker: %s\n", line.c_str());
}

// MS-RDPEFS 2.2.1.1 shared header: u16 component, u16 packet id (little endian).
// FreeRDP 2's headers do not name the static channel.
constexpr std::string_view kChannelName = "rdpdr";
constexpr std::uint16_t kCoreComponent = 0x4472;    // RDPDR_CTYP_CORE
constexpr std::uint16_t kClientIdConfirm = 0x4343;  // PAKID_CORE_CLIENTID_CONFIRM
constexpr std::uint16_t kUserLoggedOn = 0x554C;     // PAKID_CORE_USER_LOGGEDON

std::uint16_t u16At(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}

}  // namespace

bool DriveChannel::configure(rdpSettings* settings) const {
  if (path_.empty()) return freerdp_settings_set_bool(settings, FreeRDP_DeviceRedirection, TRUE);
  // Owned by the settings once added: freed with free(), so allocated with calloc/strdup.
  auto* drive = static_cast<RDPDR_DRIVE*>(std::calloc(1, sizeof(RDPDR_DRIVE)));
  if (drive == nullptr) return false;
  drive->Type = RDPDR_DTYP_FILESYSTEM;
  drive->Name = _strdup(std::string(kDriveName).c_str());
  drive->Path = _strdup(path_.c_str());
  if (drive->Name == nullptr || drive->Path == nullptr ||
      !freerdp_device_collection_add(settings, reinterpret_cast<RDPDR_DEVICE*>(drive))) {
    std::free(drive->Name);
    std::free(drive->Path);
    std::free(drive);
    return false;
  }
  return freerdp_settings_set_bool(settings, FreeRDP_DeviceRedirection, TRUE) &&
         freerdp_settings_set_bool(settings, FreeRDP_RedirectDrives, TRUE);
}

bool DriveChannel::load(rdpContext* context) {
  // rdpdr loads its drive device through the process's addin provider.
  if (!registerAddinProvider()) {
    log("cannot register FreeRDP's built-in addins");
    return false;
  }
  // As ClipboardChannel::load: only this channel, through its "Ex" entry.
  auto entry = reinterpret_cast<PVIRTUALCHANNELENTRYEX>(
      reinterpret_cast<void (*)()>(freerdp_channels_load_static_addin_entry(
          kChannelName.data(), nullptr, nullptr,
          FREERDP_ADDIN_CHANNEL_STATIC | FREERDP_ADDIN_CHANNEL_ENTRYEX)));
  if (entry == nullptr) {
    log("this FreeRDP has no built-in rdpdr channel");
    return false;
  }
  return freerdp_channels_client_load_ex(context->channels, context->settings, entry,
                                         context->settings) == 0;
}

bool DriveChannel::receive(freerdp* instance, std::uint16_t channelId, const std::uint8_t* data,
                           std::size_t size, std::uint32_t flags, std::size_t totalSize) {
  // Only whole PDUs in one chunk are looked at: both PDUs concerned are a few bytes long.
  const bool whole = (flags & CHANNEL_FLAG_FIRST) != 0 && (flags & CHANNEL_FLAG_LAST) != 0;
  const char* name = freerdp_channels_get_name_by_id(instance, channelId);
  if (!whole || size < 4 || name == nullptr || std::string_view(name) != kChannelName ||
      u16At(data) != kCoreComponent) {
    return freerdp_channels_data(instance, channelId, data, size, flags, totalSize) != FALSE;
  }
  const std::uint16_t packet = u16At(data + 2);
  if (packet == kUserLoggedOn && !confirmed_) {
    log("the server said 'user logged on' before its capabilities; handing it on after them");
    heldLogon_.assign(data, data + size);
    return true;
  }
  const bool ok = freerdp_channels_data(instance, channelId, data, size, flags, totalSize) != FALSE;
  if (packet == kClientIdConfirm) {
    confirmed_ = true;
    if (ok && !heldLogon_.empty()) {
      std::vector<std::uint8_t> held;
      held.swap(heldLogon_);
      return freerdp_channels_data(instance, channelId, held.data(), held.size(), flags,
                                   held.size()) != FALSE;
    }
  }
  return ok;
}

}  // namespace conduit::rdp::worker
