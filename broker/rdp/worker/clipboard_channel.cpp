#include "clipboard_channel.hpp"

#include <freerdp/channels/channels.h>
#include <freerdp/client/channels.h>
#include <freerdp/client/cliprdr.h>
#include <freerdp/freerdp.h>
#include <sodium.h>
#include <winpr/synch.h>
#include <winpr/user.h>

#include <boost/locale/encoding_utf.hpp>
#include <cstdio>
#include <utility>

namespace conduit::rdp::worker {

namespace {

void log(const std::string& line) {
  std::fprintf(stderr, "conduit-rdp-worker: clipboard: %s\n", line.c_str());
}

ClipboardChannel* channelOf(CliprdrClientContext* context) {
  return static_cast<ClipboardChannel*>(context->custom);
}

// C trampolines: no exception may unwind into FreeRDP; a failure is an error code.
UINT monitorReady(CliprdrClientContext* c, const CLIPRDR_MONITOR_READY*) noexcept {
  try {
    return channelOf(c)->onMonitorReady();
  } catch (...) {
    return ERROR_INTERNAL_ERROR;
  }
}
UINT serverCapabilities(CliprdrClientContext*, const CLIPRDR_CAPABILITIES*) noexcept {
  return CHANNEL_RC_OK;  // FreeRDP keeps what the server supports; ours are fixed below
}
UINT serverFormatList(CliprdrClientContext* c, const CLIPRDR_FORMAT_LIST* list) noexcept {
  try {
    return channelOf(c)->onServerFormatList(list);
  } catch (...) {
    return ERROR_INTERNAL_ERROR;
  }
}
UINT serverFormatListResponse(CliprdrClientContext*, const CLIPRDR_FORMAT_LIST_RESPONSE*) noexcept {
  return CHANNEL_RC_OK;
}
UINT serverLockClipboardData(CliprdrClientContext*, const CLIPRDR_LOCK_CLIPBOARD_DATA*) noexcept {
  return CHANNEL_RC_OK;  // locking matters for file contents only, which are never fetched
}
UINT serverUnlockClipboardData(CliprdrClientContext*,
                               const CLIPRDR_UNLOCK_CLIPBOARD_DATA*) noexcept {
  return CHANNEL_RC_OK;
}
UINT serverFormatDataRequest(CliprdrClientContext* c,
                             const CLIPRDR_FORMAT_DATA_REQUEST* request) noexcept {
  try {
    return channelOf(c)->onServerFormatDataRequest(request);
  } catch (...) {
    return ERROR_INTERNAL_ERROR;
  }
}
UINT serverFormatDataResponse(CliprdrClientContext* c,
                              const CLIPRDR_FORMAT_DATA_RESPONSE* response) noexcept {
  try {
    return channelOf(c)->onServerFormatDataResponse(response);
  } catch (...) {
    return ERROR_INTERNAL_ERROR;
  }
}
UINT serverFileContentsRequest(CliprdrClientContext* c,
                               const CLIPRDR_FILE_CONTENTS_REQUEST* request) noexcept {
  try {
    return channelOf(c)->onServerFileContentsRequest(request);
  } catch (...) {
    return ERROR_INTERNAL_ERROR;
  }
}

// UTF-16LE bytes up to the first NUL (or the end) -> UTF-8; invalid sequences are skipped.
std::string fromUtf16le(const BYTE* data, std::size_t bytes) {
  std::u16string units;
  units.reserve(bytes / 2);
  for (std::size_t i = 0; i + 1 < bytes; i += 2) {
    const auto unit = static_cast<char16_t>(data[i] | (data[i + 1] << 8));
    if (unit == 0) break;
    units.push_back(unit);
  }
  return boost::locale::conv::utf_to_utf<char>(units, boost::locale::conv::skip);
}

// CF_TEXT (the server's ANSI code page, in practice Windows-1252 or ASCII) up to the first
// NUL -> UTF-8, taking each byte as Latin-1: exact for ASCII, close for the rest.
std::string fromAnsi(const BYTE* data, std::size_t bytes) {
  std::u16string units;
  for (std::size_t i = 0; i < bytes && data[i] != 0; ++i) units.push_back(data[i]);
  return boost::locale::conv::utf_to_utf<char>(units, boost::locale::conv::skip);
}

}  // namespace

ClipboardChannel::ClipboardChannel() : event_(CreateEventA(nullptr, TRUE, FALSE, nullptr)) {}

ClipboardChannel::~ClipboardChannel() {
  if (!vendorText_.empty()) sodium_memzero(vendorText_.data(), vendorText_.size());
  if (event_ != nullptr) CloseHandle(event_);
}

bool ClipboardChannel::load(rdpContext* context) {
  if (event_ == nullptr) return false;
  // Only this channel: freerdp_client_load_addins would also load what other settings name.
  // With FREERDP_ADDIN_CHANNEL_ENTRYEX the returned entry has the "Ex" signature (FreeRDP's
  // API returns every entry as the plain type); through void(*)() as GCC wants for that.
  auto entry = reinterpret_cast<PVIRTUALCHANNELENTRYEX>(
      reinterpret_cast<void (*)()>(freerdp_channels_load_static_addin_entry(
          CLIPRDR_SVC_CHANNEL_NAME, nullptr, nullptr,
          FREERDP_ADDIN_CHANNEL_STATIC | FREERDP_ADDIN_CHANNEL_ENTRYEX)));
  if (entry == nullptr) {
    log("this FreeRDP has no built-in cliprdr channel");
    return false;
  }
  return freerdp_channels_client_load_ex(context->channels, context->settings, entry, nullptr) == 0;
}

void ClipboardChannel::attach(void* channelInterface) {
  auto* cliprdr = static_cast<CliprdrClientContext*>(channelInterface);
  std::lock_guard lock(mutex_);
  cliprdr_ = cliprdr;
  cliprdr->custom = this;
  cliprdr->MonitorReady = monitorReady;
  cliprdr->ServerCapabilities = serverCapabilities;
  cliprdr->ServerFormatList = serverFormatList;
  cliprdr->ServerFormatListResponse = serverFormatListResponse;
  cliprdr->ServerLockClipboardData = serverLockClipboardData;
  cliprdr->ServerUnlockClipboardData = serverUnlockClipboardData;
  cliprdr->ServerFormatDataRequest = serverFormatDataRequest;
  cliprdr->ServerFormatDataResponse = serverFormatDataResponse;
  cliprdr->ServerFileContentsRequest = serverFileContentsRequest;
  log("channel open");
}

void ClipboardChannel::detach() {
  std::lock_guard lock(mutex_);
  if (cliprdr_ != nullptr) cliprdr_->custom = nullptr;
  cliprdr_ = nullptr;
  ready_ = false;
}

unsigned ClipboardChannel::onMonitorReady() {
  std::lock_guard lock(mutex_);
  if (cliprdr_ == nullptr) return ERROR_INTERNAL_ERROR;
  // Long format names (what current servers use) and nothing else: no file clipboard (no
  // CB_STREAM_FILECLIP_ENABLED), no clipboard data locking.
  CLIPRDR_GENERAL_CAPABILITY_SET general{};
  general.capabilitySetType = CB_CAPSTYPE_GENERAL;
  general.capabilitySetLength = CB_CAPSTYPE_GENERAL_LEN;
  general.version = CB_CAPS_VERSION_2;
  general.generalFlags = CB_USE_LONG_FORMAT_NAMES;
  CLIPRDR_CAPABILITIES caps{};
  caps.msgType = CB_CLIP_CAPS;
  caps.cCapabilitiesSets = 1;
  caps.capabilitySets = reinterpret_cast<CLIPRDR_CAPABILITY_SET*>(&general);
  if (const UINT rc = cliprdr_->ClientCapabilities(cliprdr_, &caps); rc != CHANNEL_RC_OK) return rc;
  ready_ = true;
  // The protocol requires a format list now, empty unless the vendor already sent text.
  return sendFormatList();
}

unsigned ClipboardChannel::sendFormatList() {
  CLIPRDR_FORMAT text{CF_UNICODETEXT, nullptr};
  CLIPRDR_FORMAT_LIST list{};
  list.msgType = CB_FORMAT_LIST;
  list.numFormats = haveVendorText_ ? 1 : 0;
  list.formats = haveVendorText_ ? &text : nullptr;
  return cliprdr_->ClientFormatList(cliprdr_, &list);
}

void ClipboardChannel::offer(const std::string& utf8) {
  std::lock_guard lock(mutex_);
  if (!vendorText_.empty()) sodium_memzero(vendorText_.data(), vendorText_.size());
  vendorText_.clear();
  std::u16string units = boost::locale::conv::utf_to_utf<char16_t>(utf8);
  // Reserved at once so that growing leaves no copies of the text behind in freed memory.
  vendorText_.reserve(2 * units.size() + 2);
  for (const char16_t unit : units) {
    vendorText_.push_back(static_cast<std::uint8_t>(unit & 0xff));
    vendorText_.push_back(static_cast<std::uint8_t>(unit >> 8));
  }
  vendorText_.push_back(0);
  vendorText_.push_back(0);
  if (!units.empty()) sodium_memzero(units.data(), units.size() * sizeof(char16_t));
  haveVendorText_ = !utf8.empty();
  if (cliprdr_ != nullptr && ready_ && sendFormatList() != CHANNEL_RC_OK)
    log("cannot announce the vendor's text");
}

unsigned ClipboardChannel::onServerFormatList(const void* formatList) {
  const auto* list = static_cast<const CLIPRDR_FORMAT_LIST*>(formatList);
  std::lock_guard lock(mutex_);
  if (cliprdr_ == nullptr) return ERROR_INTERNAL_ERROR;
  // The target owns the clipboard now: the vendor's text is no longer offered or kept.
  haveVendorText_ = false;
  if (!vendorText_.empty()) sodium_memzero(vendorText_.data(), vendorText_.size());
  vendorText_.clear();
  CLIPRDR_FORMAT_LIST_RESPONSE response{};
  response.msgType = CB_FORMAT_LIST_RESPONSE;
  response.msgFlags = CB_RESPONSE_OK;
  if (const UINT rc = cliprdr_->ClientFormatListResponse(cliprdr_, &response); rc != CHANNEL_RC_OK)
    return rc;
  bool unicode = false;
  bool ansi = false;
  for (UINT32 i = 0; i < list->numFormats; ++i) {
    unicode = unicode || list->formats[i].formatId == CF_UNICODETEXT;
    ansi = ansi || list->formats[i].formatId == CF_TEXT;
  }
  if (!unicode && !ansi) return CHANNEL_RC_OK;  // an image or files: not passed on
  // Fetched at once (not when the vendor pastes): the browser cannot ask synchronously.
  // 16 unanswered requests: a server that lists formats without ever answering is broken.
  if (requestedFormats_.size() >= 16) return ERROR_INTERNAL_ERROR;
  CLIPRDR_FORMAT_DATA_REQUEST request{};
  request.msgType = CB_FORMAT_DATA_REQUEST;
  request.requestedFormatId = unicode ? CF_UNICODETEXT : CF_TEXT;
  const UINT rc = cliprdr_->ClientFormatDataRequest(cliprdr_, &request);
  if (rc == CHANNEL_RC_OK) requestedFormats_.push_back(request.requestedFormatId);
  return rc;
}

unsigned ClipboardChannel::onServerFormatDataResponse(const void* formatDataResponse) {
  const auto* response = static_cast<const CLIPRDR_FORMAT_DATA_RESPONSE*>(formatDataResponse);
  std::lock_guard lock(mutex_);
  if (requestedFormats_.empty()) return CHANNEL_RC_OK;  // nothing was asked: not passed on
  const std::uint32_t format = requestedFormats_.front();
  requestedFormats_.pop_front();
  if ((response->msgFlags & CB_RESPONSE_OK) == 0 || response->requestedFormatData == nullptr) {
    return CHANNEL_RC_OK;  // the server could not give it: nothing to pass
  }
  std::string text = format == CF_UNICODETEXT
                         ? fromUtf16le(response->requestedFormatData, response->dataLen)
                         : fromAnsi(response->requestedFormatData, response->dataLen);
  if (text.size() > kMaxClipboardBytes) {
    log("the target's clipboard text (" + std::to_string(text.size()) +
        " bytes) is over the limit; not passed on");
    return CHANNEL_RC_OK;
  }
  fromTarget_.push_back(std::move(text));
  SetEvent(event_);
  return CHANNEL_RC_OK;
}

unsigned ClipboardChannel::onServerFormatDataRequest(const void* formatDataRequest) {
  const auto* request = static_cast<const CLIPRDR_FORMAT_DATA_REQUEST*>(formatDataRequest);
  std::lock_guard lock(mutex_);
  if (cliprdr_ == nullptr) return ERROR_INTERNAL_ERROR;
  CLIPRDR_FORMAT_DATA_RESPONSE response{};
  response.msgType = CB_FORMAT_DATA_RESPONSE;
  if (haveVendorText_ && request->requestedFormatId == CF_UNICODETEXT) {
    response.msgFlags = CB_RESPONSE_OK;
    response.dataLen = static_cast<UINT32>(vendorText_.size());
    response.requestedFormatData = vendorText_.data();
  } else {
    response.msgFlags = CB_RESPONSE_FAIL;  // only the offered format is ever given
  }
  return cliprdr_->ClientFormatDataResponse(cliprdr_, &response);
}

unsigned ClipboardChannel::onServerFileContentsRequest(const void* fileContentsRequest) {
  const auto* request = static_cast<const CLIPRDR_FILE_CONTENTS_REQUEST*>(fileContentsRequest);
  std::lock_guard lock(mutex_);
  if (cliprdr_ == nullptr) return ERROR_INTERNAL_ERROR;
  // No file is ever offered; a request for one is answered with a failure.
  CLIPRDR_FILE_CONTENTS_RESPONSE response{};
  response.msgType = CB_FILECONTENTS_RESPONSE;
  response.msgFlags = CB_RESPONSE_FAIL;
  response.streamId = request->streamId;
  return cliprdr_->ClientFileContentsResponse(cliprdr_, &response);
}

std::deque<std::string> ClipboardChannel::take() {
  std::lock_guard lock(mutex_);
  ResetEvent(event_);
  return std::exchange(fromTarget_, {});
}

}  // namespace conduit::rdp::worker
