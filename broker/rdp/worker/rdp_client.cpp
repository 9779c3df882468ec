#include "rdp_client.hpp"

#include <freerdp/channels/channels.h>
#include <freerdp/event.h>
#include <freerdp/freerdp.h>
#include <freerdp/gdi/gdi.h>
#include <freerdp/input.h>
#include <freerdp/settings.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>
#include <winpr/synch.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

#include "clipboard_channel.hpp"
#include "config_dir.hpp"
#include "drive_channel.hpp"
#include "tile_encoder.hpp"

namespace conduit::rdp::worker {

namespace {

// ~30 frames/s: smooth enough for HMI screens, and bounds the encoding cost of a busy desktop.
constexpr auto kFrameInterval = std::chrono::milliseconds(33);
// Two frames in flight: enough to hide one round trip, few enough that a slow browser sees a
// fresh screen instead of a backlog (the damage keeps merging meanwhile).
constexpr std::uint32_t kMaxUnacked = 2;
// Quality 80: artefacts are hard to see in moving pictures, and tiles stay small.
constexpr int kJpegQuality = 80;
// 100 ms: how long the loop sleeps with nothing to do; input and screen changes wake it sooner.
constexpr DWORD kIdleWaitMs = 100;

void log(const std::string& line) {
  std::fprintf(stderr, "conduit-rdp-worker: %s\n", line.c_str());
}

struct WorkerContext {
  rdpContext base;
  RdpClient* client;
};

RdpClient* clientOf(rdpContext* context) {
  return reinterpret_cast<WorkerContext*>(context)->client;
}
RdpClient* clientOf(freerdp* instance) {
  return clientOf(instance->context);
}

// C trampolines: no exception may unwind into FreeRDP.
BOOL preConnect(freerdp* instance) noexcept {
  try {
    return clientOf(instance)->onPreConnect() ? TRUE : FALSE;
  } catch (...) {
    return FALSE;
  }
}

BOOL receiveChannelData(freerdp* instance, UINT16 channelId, const BYTE* data, size_t size,
                        UINT32 flags, size_t totalSize) noexcept {
  try {
    return clientOf(instance)->onChannelData(channelId, data, size, flags, totalSize) ? TRUE
                                                                                      : FALSE;
  } catch (...) {
    return FALSE;
  }
}

void channelConnected(void* context, ChannelConnectedEventArgs* e) noexcept {
  clientOf(static_cast<rdpContext*>(context))->onChannel(e->name, e->pInterface, true);
}
void channelDisconnected(void* context, ChannelDisconnectedEventArgs* e) noexcept {
  clientOf(static_cast<rdpContext*>(context))->onChannel(e->name, e->pInterface, false);
}

BOOL postConnect(freerdp* instance) noexcept {
  try {
    return clientOf(instance)->onPostConnect() ? TRUE : FALSE;
  } catch (...) {
    return FALSE;
  }
}

void postDisconnect(freerdp* instance) noexcept {
  if (instance->context != nullptr && clientOf(instance) != nullptr)
    clientOf(instance)->onPostDisconnect();
}

BOOL beginPaint(rdpContext* context) noexcept {
  clientOf(context)->onBeginPaint();
  return TRUE;
}

BOOL endPaint(rdpContext* context) noexcept {
  try {
    clientOf(context)->onEndPaint();
    return TRUE;
  } catch (...) {
    return FALSE;
  }
}

BOOL desktopResize(rdpContext* context) noexcept {
  try {
    return clientOf(context)->onDesktopResize() ? TRUE : FALSE;
  } catch (...) {
    return FALSE;
  }
}

int verifyX509(freerdp* instance, const BYTE* data, size_t length, const char*, UINT16,
               DWORD) noexcept {
  try {
    return clientOf(instance)->onVerifyCertificate(data, length);
  } catch (...) {
    return 0;
  }
}

// With ExternalCertificateManagement FreeRDP calls only VerifyX509Certificate; these refuse in
// case a code path ever reaches them, so nothing is accepted without the pin check.
DWORD verifyCertificateEx(freerdp*, const char*, UINT16, const char*, const char*, const char*,
                          const char*, DWORD) noexcept {
  return 0;
}
DWORD verifyChangedCertificateEx(freerdp*, const char*, UINT16, const char*, const char*,
                                 const char*, const char*, const char*, const char*, const char*,
                                 DWORD) noexcept {
  return 0;
}

// No interactive prompts: the broker supplied everything.
BOOL refuseAuthenticate(freerdp*, char**, char**, char**) noexcept {
  return FALSE;
}

// SHA-256 of the certificate's DER, lowercase hex; empty if the PEM does not parse.
std::string derSha256(const unsigned char* pem, std::size_t length) {
  if (length > static_cast<std::size_t>(INT32_MAX)) return {};
  BIO* bio = BIO_new_mem_buf(pem, static_cast<int>(length));
  if (bio == nullptr) return {};
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return {};
  unsigned char* der = nullptr;
  const int derLength = i2d_X509(cert, &der);
  X509_free(cert);
  if (derLength <= 0) return {};
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digestLength = 0;
  const int ok = EVP_Digest(der, static_cast<std::size_t>(derLength), digest.data(), &digestLength,
                            EVP_sha256(), nullptr);
  OPENSSL_free(der);
  if (ok != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < digestLength; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

bool isSha256Hex(const std::string& text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

void wipeSetting(rdpSettings* settings, size_t id) {
  const char* value = freerdp_settings_get_string(settings, id);
  if (value != nullptr) sodium_memzero(const_cast<char*>(value), std::strlen(value));
}

}  // namespace

RdpClient::RdpClient(BrokerLink& link, ConnectRequest request, std::string configDir)
    : link_(link), request_(std::move(request)), configDir_(std::move(configDir)) {}

RdpClient::~RdpClient() {
  if (instance_ != nullptr) {
    if (instance_->context != nullptr) {
      wipeSetting(instance_->settings, FreeRDP_Password);
      freerdp_context_free(instance_);
    }
    freerdp_free(instance_);
  }
}

int RdpClient::desktopWidth() const {
  return static_cast<int>(freerdp_settings_get_uint32(instance_->settings, FreeRDP_DesktopWidth));
}
int RdpClient::desktopHeight() const {
  return static_cast<int>(freerdp_settings_get_uint32(instance_->settings, FreeRDP_DesktopHeight));
}

bool RdpClient::configure(Bytes& password) {
  instance_ = freerdp_new();
  if (instance_ == nullptr) return false;
  instance_->ContextSize = sizeof(WorkerContext);
  instance_->PreConnect = preConnect;
  instance_->PostConnect = postConnect;
  instance_->PostDisconnect = postDisconnect;
  instance_->VerifyX509Certificate = verifyX509;
  instance_->VerifyCertificateEx = verifyCertificateEx;
  instance_->VerifyChangedCertificateEx = verifyChangedCertificateEx;
  instance_->Authenticate = refuseAuthenticate;
  instance_->GatewayAuthenticate = refuseAuthenticate;
  if (!freerdp_context_new(instance_)) return false;
  reinterpret_cast<WorkerContext*>(instance_->context)->client = this;
  rdpSettings* s = instance_->settings;

  // The password goes through a NUL-terminated copy that is wiped right after FreeRDP copied it.
  std::string secret(password.begin(), password.end());
  bool ok = freerdp_settings_set_string(s, FreeRDP_Password, secret.c_str());
  sodium_memzero(secret.data(), secret.size());
  sodium_memzero(password.data(), password.size());
  ok =
      ok && freerdp_settings_set_string(s, FreeRDP_ServerHostname, request_.host.c_str()) &&
      freerdp_settings_set_uint32(s, FreeRDP_ServerPort, request_.port) &&
      freerdp_settings_set_string(s, FreeRDP_Username, request_.username.c_str()) &&
      (request_.domain.empty() ||
       freerdp_settings_set_string(s, FreeRDP_Domain, request_.domain.c_str())) &&
      freerdp_settings_set_uint32(s, FreeRDP_DesktopWidth, static_cast<UINT32>(request_.width)) &&
      freerdp_settings_set_uint32(s, FreeRDP_DesktopHeight, static_cast<UINT32>(request_.height)) &&
      freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32) &&
      freerdp_settings_set_uint32(s, FreeRDP_TcpConnectTimeout,
                                  static_cast<UINT32>(request_.connectTimeoutMs));
  // Security: standard RDP security (RC4, no server authentication) never; NLA authenticates
  // before the server shows a logon screen; TLS alone only when the request allows it.
  const bool nla = request_.security != Security::tls;
  const bool tls = request_.security != Security::nla;
  ok = ok && freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, nla ? TRUE : FALSE) &&
       freerdp_settings_set_bool(s, FreeRDP_TlsSecurity, tls ? TRUE : FALSE) &&
       freerdp_settings_set_bool(s, FreeRDP_RdpSecurity, FALSE) &&
       freerdp_settings_set_bool(s, FreeRDP_ExtSecurity, FALSE) &&
       freerdp_settings_set_bool(s, FreeRDP_NegotiateSecurityLayer, TRUE);
  // Certificates: checked only against the pin (VerifyX509Certificate); no CA or name check
  // (targets use self-signed certificates named after themselves), no auto-accept, and no
  // known_hosts store (ExternalCertificateManagement skips it; a worker writes no files).
  ok = ok && freerdp_settings_set_bool(s, FreeRDP_IgnoreCertificate, FALSE) &&
       freerdp_settings_set_bool(s, FreeRDP_AutoAcceptCertificate, FALSE) &&
       freerdp_settings_set_bool(s, FreeRDP_ExternalCertificateManagement, TRUE) &&
       freerdp_settings_set_string(s, FreeRDP_ConfigPath, configDir_.c_str());
  // Redirection: nothing of the vendor's machine reaches the target and nothing of the target
  // reaches the vendor except pixels and, where policy allows, clipboard text, the session's
  // drive and sound (onPreConnect loads those channels itself); channels that are not opened
  // cannot be exploited.
  for (const int id :
       {FreeRDP_RedirectClipboard, FreeRDP_DeviceRedirection, FreeRDP_RedirectDrives,
        FreeRDP_RedirectPrinters, FreeRDP_RedirectSmartCards, FreeRDP_RedirectSerialPorts,
        FreeRDP_RedirectParallelPorts, FreeRDP_AudioPlayback, FreeRDP_AudioCapture,
        FreeRDP_RemoteConsoleAudio, FreeRDP_SupportDynamicChannels, FreeRDP_SupportGraphicsPipeline,
        FreeRDP_SupportDisplayControl, FreeRDP_AutoReconnectionEnabled, FreeRDP_UseMultimon}) {
    ok = ok && freerdp_settings_set_bool(s, static_cast<size_t>(id), FALSE);
  }
  ok = ok && freerdp_settings_set_bool(s, FreeRDP_SoftwareGdi, TRUE);
  if (request_.drive || request_.audio || request_.printer) {
    // The session's drive (the directory the broker made); FreeRDP's drive device serves it.
    // With sound or a printer but no drive, the channel opens without a drive (Windows wants
    // it for sound; the printer is a device on it).
    drive_ = std::make_unique<DriveChannel>(request_.drive ? request_.drivePath : "");
    ok = ok && drive_->configure(s);
    instance_->ReceiveChannelData = receiveChannelData;
  }
  if (request_.printer) {
    printer_ = std::make_unique<PrinterChannel>();
    ok = ok && printer_->configure(s);
  }
  // Audio output only (the channel asks the server for PCM); AudioCapture stays off.
  if (request_.audio) audio_ = std::make_unique<AudioChannel>();
  if (request_.clipboard) clipboard_ = std::make_unique<ClipboardChannel>();
  return ok;
}

bool RdpClient::onChannelData(std::uint16_t channelId, const std::uint8_t* data, std::size_t size,
                              std::uint32_t flags, std::size_t totalSize) {
  if (drive_) return drive_->receive(instance_, channelId, data, size, flags, totalSize);
  return freerdp_channels_data(instance_, channelId, data, size, flags, totalSize) != FALSE;
}

bool RdpClient::onPreConnect() {
  rdpContext* context = instance_->context;
  if (drive_ && !DriveChannel::load(context)) {
    log("cannot load the drive channel");
    return false;
  }
  if (audio_ && !audio_->load(context)) {
    log("cannot load the audio channel");
    return false;
  }
  if (!clipboard_) return true;
  if (!clipboard_->load(context)) {
    log("cannot load the clipboard channel");
    return false;
  }
  return PubSub_SubscribeChannelConnected(context->pubSub, channelConnected) >= 0 &&
         PubSub_SubscribeChannelDisconnected(context->pubSub, channelDisconnected) >= 0;
}

void RdpClient::onChannel(const char* name, void* channelInterface, bool connected) {
  if (!clipboard_ || name == nullptr || std::string_view(name) != "cliprdr") return;
  if (connected) {
    clipboard_->attach(channelInterface);
  } else {
    clipboard_->detach();
  }
}

int RdpClient::fail(const std::string& code, const std::string& message) {
  log("failed (" + code + "): " + message);
  link_.send(encodeFailure(MessageType::failed, Failure{code, message}));
  return 1;
}

int RdpClient::reportConnectFailure() {
  const UINT32 error = freerdp_get_last_error(instance_->context);
  const std::string target = request_.host + ":" + std::to_string(request_.port);
  log(std::string("connect failed: ") + freerdp_get_last_error_string(error));
  if (certificateRejected_) {
    return fail("certificate", "the server presented certificate " + presentedSha256_ +
                                   ", expected " + request_.certificateSha256);
  }
  switch (error) {
    case FREERDP_ERROR_CONNECT_LOGON_FAILURE:
    case FREERDP_ERROR_AUTHENTICATION_FAILED:
    case FREERDP_ERROR_CONNECT_WRONG_PASSWORD:
    case FREERDP_ERROR_CONNECT_ACCOUNT_DISABLED:
    case FREERDP_ERROR_CONNECT_ACCOUNT_LOCKED_OUT:
    case FREERDP_ERROR_CONNECT_ACCOUNT_EXPIRED:
    case FREERDP_ERROR_CONNECT_ACCOUNT_RESTRICTION:
    case FREERDP_ERROR_CONNECT_PASSWORD_EXPIRED:
    case FREERDP_ERROR_CONNECT_PASSWORD_MUST_CHANGE:
    case FREERDP_ERROR_CONNECT_PASSWORD_CERTAINLY_EXPIRED:
      return fail("credentials", "the target refused the account or password");
    case FREERDP_ERROR_CONNECT_TRANSPORT_FAILED:
      // FreeRDP reports a refused NLA password only as a transport failure. Once the TLS
      // handshake reached the certificate check, the network is fine: NLA refused us.
      if (certificateSeen_ && request_.security != Security::tls)
        return fail("credentials", "the target refused the account or password");
      return fail("unreachable", "cannot connect to " + target);
    case FREERDP_ERROR_DNS_ERROR:
    case FREERDP_ERROR_DNS_NAME_NOT_FOUND:
      return fail("unreachable", "cannot resolve " + target);
    case FREERDP_ERROR_CONNECT_FAILED:
    case FREERDP_ERROR_CONNECT_CANCELLED:
      return fail("unreachable", "cannot connect to " + target);
    default:
      if (!certificateSeen_) return fail("unreachable", "cannot connect to " + target);
      return fail("protocol", std::string("the RDP connection failed: ") +
                                  freerdp_get_last_error_string(error));
  }
}

int RdpClient::run(Bytes& password) {
  if (!request_.learnCertificate && !isSha256Hex(request_.certificateSha256)) {
    sodium_memzero(password.data(), password.size());
    return fail("certificate", "no valid certificate pin (64 lowercase hex digits) was given");
  }
  if (!configure(password)) return fail("internal", "cannot set up the RDP client");
  const auto started = std::chrono::steady_clock::now();
  log("connecting to " + request_.host + ":" + std::to_string(request_.port));
  const BOOL connected = freerdp_connect(instance_);
  wipeSetting(instance_->settings, FreeRDP_Password);
  // Only the connect's certificate store needed it, unless a printer is offered: FreeRDP's
  // printer device writes its driver name there on rdpdr's own thread, which may still run;
  // the directory then goes when the session ends (main).
  if (!request_.printer) removeConfigDir(configDir_);
  if (!connected) return reportConnectFailure();
  connectedAt_ = std::chrono::steady_clock::now();
  log("connected in " +
      std::to_string(
          std::chrono::duration_cast<std::chrono::milliseconds>(connectedAt_ - started).count()) +
      " ms, desktop " + std::to_string(desktopWidth()) + "x" + std::to_string(desktopHeight()));
  if (!link_.send(encodeConnected(Connected{desktopWidth(), desktopHeight(), presentedSha256_}))) {
    log("the broker is gone");
    freerdp_disconnect(instance_);
    return 1;
  }
  if (request_.learnCertificate) {
    log("certificate learnt; closing");
    freerdp_disconnect(instance_);
    return 0;
  }
  return loop();
}

int RdpClient::loop() {
  HANDLE socketEvent = CreateFileDescriptorEventA(nullptr, FALSE, FALSE, link_.fd(), WINPR_FD_READ);
  if (socketEvent == nullptr) return fail("internal", "cannot watch the broker socket");
  int exitCode = 0;
  bool running = true;
  while (running) {
    std::array<HANDLE, 64> handles{};
    DWORD own = 0;
    handles[own++] = socketEvent;
    if (clipboard_) handles[own++] = clipboard_->event();
    if (audio_) handles[own++] = audio_->event();
    if (printer_) handles[own++] = printer_->event();
    const DWORD count = freerdp_get_event_handles(instance_->context, handles.data() + own,
                                                  static_cast<DWORD>(handles.size() - own));
    if (count == 0) {
      exitCode = fail("internal", "cannot get the RDP event handles");
      break;
    }
    // Short waits while damage is held back by pacing, so the next frame leaves on time.
    const DWORD wait = damage_ && !damage_->empty() ? 10 : kIdleWaitMs;
    WaitForMultipleObjects(count + own, handles.data(), FALSE, wait);
    if (!freerdp_check_event_handles(instance_->context) || freerdp_shall_disconnect(instance_)) {
      const UINT32 error = freerdp_get_last_error(instance_->context);
      log(std::string("the server ended the session: ") + freerdp_get_last_error_string(error));
      link_.send(
          encodeFailure(MessageType::closed, Failure{"server", "the server ended the session"}));
      break;
    }
    auto frames = link_.poll();
    if (!frames) {
      log("broker link: " + frames.error().message);
      exitCode = 1;
      break;
    }
    for (const auto& frame : *frames) {
      const Step step = handle(frame);
      if (step == Step::keep) continue;
      exitCode = step == Step::closed ? 0 : 1;
      running = false;
      break;
    }
    if (running && !sendChannelData()) {
      log("the broker is gone");
      exitCode = 1;
      break;
    }
    if (running && !maybeSendFrame()) {
      log("the broker is gone");
      exitCode = 1;
      break;
    }
  }
  CloseHandle(socketEvent);
  freerdp_disconnect(instance_);
  return exitCode;
}

bool RdpClient::sendChannelData() {
  if (clipboard_) {
    for (const auto& text : clipboard_->take()) {
      if (!link_.send(encodeClipboard(MessageType::target_clipboard, text))) return false;
    }
  }
  if (audio_) {
    for (const auto& chunk : audio_->take()) {
      if (!link_.send(encodeAudio(chunk))) return false;
    }
  }
  if (printer_) {
    for (const auto& frame : printer_->take()) {
      if (!link_.send(frame)) return false;
    }
  }
  return true;
}

RdpClient::Step RdpClient::handle(const Frame& frame) {
  switch (frame.type) {
    case MessageType::key: {
      auto key = decodeKey(frame.body);
      if (!key) break;
      freerdp_input_send_keyboard_event_ex(instance_->input, key->down ? TRUE : FALSE,
                                           key->scancode);
      return Step::keep;
    }
    case MessageType::pointer: {
      auto pointer = decodePointer(frame.body);
      if (!pointer) break;
      const auto x = std::min<int>(pointer->x, desktopWidth() - 1);
      const auto y = std::min<int>(pointer->y, desktopHeight() - 1);
      freerdp_input_send_mouse_event(instance_->input, pointer->flags, static_cast<UINT16>(x),
                                     static_cast<UINT16>(y));
      return Step::keep;
    }
    case MessageType::ack: {
      auto sequence = decodeAck(frame.body);
      if (!sequence || *sequence > sentSequence_) break;
      ackedSequence_ = std::max(ackedSequence_, *sequence);
      return Step::keep;
    }
    case MessageType::refresh:
      keyframePending_ = true;
      return Step::keep;
    case MessageType::clipboard: {
      if (!clipboard_) break;  // the broker sends none where the clipboard is off
      auto text = decodeClipboard(frame.body);
      if (!text) break;
      clipboard_->offer(*text);
      // The channel keeps its own (UTF-16) copy; these are wiped, not just freed.
      sodium_memzero(text->data(), text->size());
      sodium_memzero(const_cast<std::uint8_t*>(frame.body.data()), frame.body.size());
      return Step::keep;
    }
    case MessageType::close:
      log("closed by the broker");
      return Step::closed;
    default:
      break;
  }
  log("bad frame from the broker (type " + std::to_string(static_cast<int>(frame.type)) + ")");
  return Step::error;
}

bool RdpClient::maybeSendFrame() {
  if (!damage_) return true;
  const auto now = std::chrono::steady_clock::now();
  if (request_.keyframeSeconds > 0 &&
      now - lastKeyframe_ >= std::chrono::seconds(request_.keyframeSeconds))
    keyframePending_ = true;
  if (damage_->empty() && !keyframePending_) return true;
  if (sentSequence_ - ackedSequence_ >= kMaxUnacked) return true;
  if (now - lastFrame_ < kFrameInterval) return true;

  const bool keyframe = keyframePending_;
  rdpGdi* gdi = instance_->context->gdi;
  const PixelView view{gdi->primary_buffer, gdi->stride, gdi->width, gdi->height};
  // The frame's tiles and its end in one write: one system call (and one wake-up of the
  // broker) per frame instead of one per tile; a full-screen change is a couple of hundred
  // tiles.
  Bytes out;
  for (const auto& plan : damage_->take(keyframe)) {
    auto image = encodeTile(view, plan.rect, plan.jpeg, kJpegQuality);
    if (!image) {
      log("tile encoding failed");
      continue;
    }
    Tile tile{static_cast<std::uint16_t>(plan.rect.x),
              static_cast<std::uint16_t>(plan.rect.y),
              static_cast<std::uint16_t>(plan.rect.width),
              static_cast<std::uint16_t>(plan.rect.height),
              image->jpeg ? TileFormat::jpeg : TileFormat::png,
              std::move(image->bytes)};
    const Bytes frame = encodeTile(tile);
    out.insert(out.end(), frame.begin(), frame.end());
  }
  ++sentSequence_;
  const Bytes end = encodeFrameEnd(FrameEnd{sentSequence_, keyframe});
  out.insert(out.end(), end.begin(), end.end());
  if (!link_.send(out)) return false;
  if (sentSequence_ == 1) {
    log("first frame " +
        std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - connectedAt_)
                           .count()) +
        " ms after connect");
  }
  lastFrame_ = now;
  if (keyframe) {
    keyframePending_ = false;
    lastKeyframe_ = now;
  }
  return true;
}

bool RdpClient::onPostConnect() {
  if (!gdi_init(instance_, PIXEL_FORMAT_BGRX32)) return false;
  rdpUpdate* update = instance_->update;
  update->BeginPaint = beginPaint;
  update->EndPaint = endPaint;
  update->DesktopResize = desktopResize;
  rdpGdi* gdi = instance_->context->gdi;
  damage_ = std::make_unique<DamageGrid>(gdi->width, gdi->height);
  return true;
}

void RdpClient::onPostDisconnect() {
  if (instance_->context->gdi != nullptr) gdi_free(instance_);
  damage_.reset();
}

void RdpClient::onBeginPaint() {
  rdpGdi* gdi = instance_->context->gdi;
  if (gdi == nullptr || gdi->primary == nullptr) return;
  gdi->primary->hdc->hwnd->invalid->null = TRUE;
}

void RdpClient::onEndPaint() {
  rdpGdi* gdi = instance_->context->gdi;
  if (gdi == nullptr || gdi->primary == nullptr || !damage_) return;
  HGDI_WND hwnd = gdi->primary->hdc->hwnd;
  if (hwnd->ninvalid > 0) {
    for (INT32 i = 0; i < hwnd->ninvalid; ++i) {
      const auto& r = hwnd->cinvalid[i];
      damage_->add(Rect{r.x, r.y, r.w, r.h});
    }
  } else if (!hwnd->invalid->null) {
    damage_->add(Rect{hwnd->invalid->x, hwnd->invalid->y, hwnd->invalid->w, hwnd->invalid->h});
  }
  hwnd->invalid->null = TRUE;
  hwnd->ninvalid = 0;
}

bool RdpClient::onDesktopResize() {
  // The broker and the browser keep the size announced in `connected`: a server that resizes
  // gets a GDI of the new size, and tiles stay inside the announced desktop.
  rdpGdi* gdi = instance_->context->gdi;
  if (!gdi_resize(gdi, freerdp_settings_get_uint32(instance_->settings, FreeRDP_DesktopWidth),
                  freerdp_settings_get_uint32(instance_->settings, FreeRDP_DesktopHeight)))
    return false;
  damage_ = std::make_unique<DamageGrid>(std::min(gdi->width, request_.width),
                                         std::min(gdi->height, request_.height));
  keyframePending_ = true;
  return true;
}

int RdpClient::onVerifyCertificate(const unsigned char* pem, std::size_t length) {
  certificateSeen_ = true;
  presentedSha256_ = derSha256(pem, length);
  if (presentedSha256_.empty()) {
    log("the server certificate does not parse");
    certificateRejected_ = true;
    return 0;
  }
  if (request_.learnCertificate) {
    log("learning server certificate " + presentedSha256_);
    return 2;  // this session only; nothing is stored
  }
  if (sodium_memcmp(presentedSha256_.data(), request_.certificateSha256.data(), 64) == 0 &&
      request_.certificateSha256.size() == 64) {
    return 2;
  }
  log("server certificate " + presentedSha256_ + " is not the pinned " +
      request_.certificateSha256);
  certificateRejected_ = true;
  return 0;
}

}  // namespace conduit::rdp::worker
