// conduit-test-rdp-printer: an RDP server that prints. It stands in for a Windows target's print
// spooler, which no RDP server that runs here has (xrdp's channel server takes drives and
// smartcards only): it accepts one client on 127.0.0.1 (TLS with the given certificate, no NLA,
// any account), speaks the server side of the device redirection channel (rdpdr, MS-RDPEFS),
// and when the client announces a printer, prints a document to it the way Windows does
// (MS-RDPEPC 3.2.5.1.2): a create, writes of at most 16 KiB, a close. It says on stderr what
// happens ("printer NAME announced (driver D)", "printed N bytes to NAME"), so a test knows what
// the target saw and sent. Serves clients one after the other (a probe of its certificate,
// then the session) until it is killed.
//
// The rdpdr server side is written here rather than taken from FreeRDP's server library: that
// one insists on a byte a printer's create reply does not carry (FreeRDP's own printer device
// sends FileId only, as MS-RDPEFS allows), drops the reply and stops the channel.
//
//   conduit-test-rdp-printer --port P --cert FILE --key FILE --document FILE [--copies N]
//
// A test tool, not part of the product: it trusts its arguments and serves one client at a time.
#include <freerdp/channels/channels.h>
#include <freerdp/channels/wtsvc.h>
#include <freerdp/freerdp.h>
#include <freerdp/listener.h>
#include <freerdp/peer.h>
#include <freerdp/settings.h>
#include <winpr/ssl.h>
#include <winpr/synch.h>
#include <winpr/wtsapi.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t kWriteBytes = 16 * 1024;

// MS-RDPEFS 2.2.1.1: the shared header's component and packet ids.
constexpr std::uint16_t kCore = 0x4472;
constexpr std::uint16_t kServerAnnounce = 0x496E;
constexpr std::uint16_t kClientAnnounceReply = 0x4343;  // and the server's client-id confirm
constexpr std::uint16_t kClientName = 0x434E;
constexpr std::uint16_t kServerCapability = 0x5350;
constexpr std::uint16_t kClientCapability = 0x4350;
constexpr std::uint16_t kUserLoggedOn = 0x554C;
constexpr std::uint16_t kDeviceListAnnounce = 0x4441;
constexpr std::uint16_t kDeviceReply = 0x6472;
constexpr std::uint16_t kIoRequest = 0x4952;
constexpr std::uint16_t kIoCompletion = 0x4943;
constexpr std::uint32_t kDevicePrinter = 4;  // RDPDR_DTYP_PRINT
constexpr std::uint32_t kCreate = 0, kClose = 2, kWrite = 4;

struct Options {
  int port = 0;
  std::string cert, key;
  std::vector<char> document;
  int copies = 1;
};

void say(const std::string& line) {
  std::fprintf(stderr, "%s\n", line.c_str());
}

class Out {
 public:
  Out(std::uint16_t packet) {
    u16(kCore);
    u16(packet);
  }
  Out& u8(std::uint8_t v) {
    b_.push_back(static_cast<char>(v));
    return *this;
  }
  Out& u16(std::uint16_t v) {
    return u8(static_cast<std::uint8_t>(v)).u8(static_cast<std::uint8_t>(v >> 8));
  }
  Out& u32(std::uint32_t v) {
    return u16(static_cast<std::uint16_t>(v)).u16(static_cast<std::uint16_t>(v >> 16));
  }
  Out& u64(std::uint64_t v) {
    return u32(static_cast<std::uint32_t>(v)).u32(static_cast<std::uint32_t>(v >> 32));
  }
  Out& zeros(std::size_t n) {
    b_.append(n, '\0');
    return *this;
  }
  Out& bytes(const char* p, std::size_t n) {
    b_.append(p, n);
    return *this;
  }
  std::string& data() { return b_; }

 private:
  std::string b_;
};

class In {
 public:
  In(const std::string& b, std::size_t at) : b_(b), at_(at) {}
  bool has(std::size_t n) const { return at_ + n <= b_.size(); }
  std::uint32_t u32() {
    if (!has(4)) {
      at_ = b_.size() + 1;
      return 0;
    }
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i)
      v = (v << 8) | static_cast<std::uint8_t>(b_[at_ + static_cast<std::size_t>(i)]);
    at_ += 4;
    return v;
  }
  void skip(std::size_t n) { at_ += n; }
  bool ok() const { return at_ <= b_.size(); }
  // UTF-16LE of `n` bytes, ASCII only (what the tests name), without its NUL.
  std::string utf16(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i + 1 < n && has(i + 2); i += 2) {
      const char c = b_[at_ + i];
      if (c == '\0') break;
      out.push_back(c);
    }
    at_ += n;
    return out;
  }

 private:
  const std::string& b_;
  std::size_t at_;
};

// The server side of rdpdr for one client, on the main loop's thread.
class Spooler {
 public:
  Spooler(HANDLE channel, const Options& options) : channel_(channel), options_(options) {}

  void start() { send(Out(kServerAnnounce).u16(1).u16(0x000C).u32(1)); }

  void receive(const std::string& pdu) {
    In in(pdu, 4);
    if (pdu.size() < 4) return;
    const auto packet = static_cast<std::uint16_t>(static_cast<std::uint8_t>(pdu[2]) |
                                                   (static_cast<std::uint8_t>(pdu[3]) << 8));
    switch (packet) {
      case kClientName: {
        // General (protocol 1.12, user-logged-on PDUs) and printer capability sets.
        Out caps(kServerCapability);
        caps.u16(2).u16(0);
        caps.u16(1)
            .u16(44)
            .u32(2)
            .u32(0)
            .u32(0)
            .u16(1)
            .u16(0x000C)
            .u32(0xFFFF)
            .u32(0)
            .u32(7)
            .u32(0)
            .u32(0)
            .u32(0);
        caps.u16(2).u16(8).u32(1);
        send(caps);
        send(Out(kClientAnnounceReply).u16(1).u16(0x000C).u32(1));
        break;
      }
      case kClientCapability:
        send(Out(kUserLoggedOn));
        break;
      case kDeviceListAnnounce:
        devices(in);
        break;
      case kIoCompletion:
        completion(in);
        break;
      default:
        break;
    }
  }

 private:
  void send(Out& out) {
    auto& d = out.data();
    ULONG written = 0;
    if (!WTSVirtualChannelWrite(channel_, d.data(), static_cast<ULONG>(d.size()), &written)) {
      say("error: cannot write to rdpdr");
    }
  }
  void send(Out&& out) { send(out); }

  void devices(In& in) {
    const std::uint32_t count = in.u32();
    for (std::uint32_t i = 0; i < count && in.ok(); ++i) {
      const std::uint32_t type = in.u32();
      const std::uint32_t id = in.u32();
      in.skip(8);  // PreferredDosName
      const std::uint32_t length = in.u32();
      if (type != kDevicePrinter) {
        in.skip(length);
        continue;
      }
      // DR_PRN_DEVICE_ANNOUNCE's data (MS-RDPEPC 2.2.2.1).
      in.u32();  // Flags
      in.u32();  // CodePage
      const std::uint32_t pnp = in.u32();
      const std::uint32_t driver = in.u32();
      const std::uint32_t name = in.u32();
      const std::uint32_t cached = in.u32();
      in.skip(pnp);
      const std::string driverName = in.utf16(driver);
      printer_ = in.utf16(name);
      in.skip(cached);
      if (!in.ok()) return say("error: a printer announcement cut short");
      say("printer " + printer_ + " announced (driver " + driverName + ")");
      send(Out(kDeviceReply).u32(id).u32(0));
      device_ = id;
      copiesLeft_ = options_.copies;
      create();
      return;
    }
  }

  // A Device I/O Request header (MS-RDPEFS 2.2.1.4) for the printer; returns its id.
  Out request(std::uint32_t major, std::uint32_t file) {
    pending_[++completion_] = major;
    Out out(kIoRequest);
    out.u32(device_).u32(file).u32(completion_).u32(major).u32(0);
    return out;
  }

  void create() {
    sent_ = 0;
    // DesiredAccess GENERIC_WRITE, no size or attributes, no sharing, FILE_OVERWRITE_IF, no
    // options, no path: what a spooler opening a printer port sends.
    send(request(kCreate, 0).u32(0x40000000).u64(0).u32(0).u32(0).u32(5).u32(0).u32(0));
  }

  void writeNext() {
    const auto& doc = options_.document;
    const std::size_t n = std::min(kWriteBytes, doc.size() - sent_);
    if (n == 0) {
      send(request(kClose, file_).zeros(32));
      return;
    }
    send(request(kWrite, file_)
             .u32(static_cast<std::uint32_t>(n))
             .u64(sent_)
             .zeros(20)
             .bytes(doc.data() + sent_, n));
  }

  void completion(In& in) {
    in.u32();  // DeviceId
    const std::uint32_t id = in.u32();
    const std::uint32_t status = in.u32();
    const auto it = pending_.find(id);
    if (it == pending_.end()) return say("error: a completion for no request");
    const std::uint32_t major = it->second;
    pending_.erase(it);
    if (status != 0) {
      return say("error: the client failed request " + std::to_string(major) + " (" +
                 std::to_string(status) + ")");
    }
    if (major == kCreate) {
      file_ = in.u32();
      if (!in.ok()) return say("error: a create reply without a FileId");
      writeNext();
    } else if (major == kWrite) {
      const std::uint32_t written = in.u32();
      if (!in.ok()) return say("error: a write reply without a length");
      sent_ += written;
      writeNext();
    } else if (major == kClose) {
      say("printed " + std::to_string(sent_) + " bytes to " + printer_);
      if (--copiesLeft_ > 0) create();
    }
  }

  HANDLE channel_;
  const Options& options_;
  std::string printer_;
  std::uint32_t device_ = 0;
  std::uint32_t file_ = 0;
  std::uint32_t completion_ = 0;
  std::map<std::uint32_t, std::uint32_t> pending_;  // completion id -> major function
  std::size_t sent_ = 0;
  int copiesLeft_ = 0;
};

BOOL postConnect(freerdp_peer*) {
  return TRUE;
}
// The channel opens once the connection is active, as Windows opens it: the client takes
// channel data only after the capability exchange.
bool g_active = false;
BOOL activate(freerdp_peer*) {
  g_active = true;
  return TRUE;
}

// Serves one client until it disconnects (on the listener's thread: the next waits).
BOOL serve(freerdp_listener* listener, freerdp_peer* client) {
  const auto& options = *static_cast<const Options*>(listener->param1);
  g_active = false;
  if (!freerdp_peer_context_new(client)) return FALSE;
  rdpSettings* s = client->settings;
  if (!freerdp_settings_set_string(s, FreeRDP_CertificateFile, options.cert.c_str()) ||
      !freerdp_settings_set_string(s, FreeRDP_PrivateKeyFile, options.key.c_str()) ||
      !freerdp_settings_set_bool(s, FreeRDP_RdpSecurity, FALSE) ||
      !freerdp_settings_set_bool(s, FreeRDP_TlsSecurity, TRUE) ||
      !freerdp_settings_set_bool(s, FreeRDP_NlaSecurity, FALSE) ||
      !freerdp_settings_set_uint32(s, FreeRDP_ColorDepth, 32)) {
    return FALSE;
  }
  client->PostConnect = postConnect;
  client->Activate = activate;
  if (!client->Initialize(client)) return FALSE;
  HANDLE vcm = WTSOpenServerA(reinterpret_cast<LPSTR>(client->context));
  if (vcm == nullptr || vcm == INVALID_HANDLE_VALUE) return FALSE;
  say("client connected");
  HANDLE channel = nullptr;
  HANDLE channelEvent = nullptr;
  std::unique_ptr<Spooler> spooler;
  std::vector<char> buffer(1 << 20);
  for (;;) {
    HANDLE handles[32];
    DWORD count = client->GetEventHandles(client, handles, 30);
    if (count == 0) break;
    handles[count++] = WTSVirtualChannelManagerGetEventHandle(vcm);
    if (channelEvent != nullptr) handles[count++] = channelEvent;
    if (WaitForMultipleObjects(count, handles, FALSE, INFINITE) == WAIT_FAILED) break;
    if (!client->CheckFileDescriptor(client)) break;
    if (!WTSVirtualChannelManagerCheckFileDescriptor(vcm)) break;
    if (channel == nullptr && g_active && WTSVirtualChannelManagerIsChannelJoined(vcm, "rdpdr")) {
      channel = WTSVirtualChannelOpen(vcm, WTS_CURRENT_SESSION, const_cast<LPSTR>("rdpdr"));
      void* query = nullptr;
      DWORD length = 0;
      if (channel != nullptr &&
          WTSVirtualChannelQuery(channel, WTSVirtualEventHandle, &query, &length) &&
          length == sizeof(HANDLE)) {
        channelEvent = *static_cast<HANDLE*>(query);
        WTSFreeMemory(query);
        spooler = std::make_unique<Spooler>(channel, options);
        spooler->start();
        say("rdpdr open");
      }
    }
    ULONG read = 0;
    while (channel != nullptr &&
           WTSVirtualChannelRead(channel, 0, buffer.data(), static_cast<ULONG>(buffer.size()),
                                 &read) &&
           read > 0) {
      spooler->receive(std::string(buffer.data(), read));
    }
  }
  say("client left");
  if (channel != nullptr) WTSVirtualChannelClose(channel);
  client->Disconnect(client);
  WTSCloseServer(vcm);
  freerdp_peer_context_free(client);
  freerdp_peer_free(client);
  return TRUE;
}

int usage() {
  std::fprintf(stderr,
               "usage: conduit-test-rdp-printer --port P --cert FILE --key FILE --document FILE "
               "[--copies N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--port") {
      options.port = std::atoi(value.c_str());
    } else if (flag == "--cert") {
      options.cert = value;
    } else if (flag == "--key") {
      options.key = value;
    } else if (flag == "--copies") {
      options.copies = std::max(1, std::atoi(value.c_str()));
    } else if (flag == "--document") {
      std::ifstream in(value, std::ios::binary);
      options.document.assign(std::istreambuf_iterator<char>(in), {});
      if (!in.good() && !in.eof()) return usage();
    } else {
      return usage();
    }
  }
  if (options.port <= 0 || options.cert.empty() || options.key.empty() ||
      options.document.empty()) {
    return usage();
  }
  WTSRegisterWtsApiFunctionTable(FreeRDP_InitWtsApi());
  winpr_InitializeSSL(WINPR_SSL_INIT_DEFAULT);
  freerdp_listener* listener = freerdp_listener_new();
  if (listener == nullptr) return 1;
  listener->param1 = &options;
  listener->PeerAccepted = serve;
  if (!listener->Open(listener, "127.0.0.1", static_cast<UINT16>(options.port))) {
    std::fprintf(stderr, "cannot listen on 127.0.0.1:%d\n", options.port);
    return 1;
  }
  say("listening");
  for (;;) {
    HANDLE handles[32];
    const DWORD count = listener->GetEventHandles(listener, handles, 32);
    if (count == 0 || WaitForMultipleObjects(count, handles, FALSE, INFINITE) == WAIT_FAILED ||
        !listener->CheckFileDescriptor(listener)) {
      break;
    }
  }
  listener->Close(listener);
  freerdp_listener_free(listener);
  return 1;
}
