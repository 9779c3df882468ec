#include "rdp/integration/rdp_target.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace conduit::test {

namespace {

std::string randomPassword() {
  std::random_device rd;
  static constexpr char kChars[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  std::string out = "Pw-";
  for (int i = 0; i < 16; ++i) out.push_back(kChars[rd() % (sizeof kChars - 1)]);
  return out;
}

// Reads Xvfb's display number from the -displayfd pipe (a line "N\n").
int readDisplay(int fd, int timeoutMs) {
  std::string text;
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
  while (text.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return -1;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[32];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return -1;
    text.append(buf, static_cast<std::size_t>(n));
  }
  return std::stoi(text);
}

}  // namespace

namespace {

// Starts an X server that writes its display number to -displayfd (Xvfb, Xvnc) with `args`
// after that option; returns its display, or -1.
int startXOnce(std::unique_ptr<Process>& server, const std::string& binary,
               std::vector<std::string> args) {
  int pipeFds[2];
  if (::pipe2(pipeFds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  const int childEnd = ::fcntl(pipeFds[1], F_DUPFD, 3);  // without O_CLOEXEC: X inherits it
  args.insert(args.begin(), {binary, "-displayfd", std::to_string(childEnd)});
  server = std::make_unique<Process>(args);
  ::close(childEnd);
  ::close(pipeFds[1]);
  const int display = readDisplay(pipeFds[0], 10000);
  ::close(pipeFds[0]);
  return display;
}

// startXOnce, up to three times: once in a full test run (two tests at a time, each starting
// an X server) an Xvfb wrote no display number within 10 s and said nothing. A server that does
// not come up is killed and another started; the last one's messages go with the failure.
int startX(std::unique_ptr<Process>& server, const std::string& binary,
           const std::vector<std::string>& args) {
  for (int attempt = 1;; ++attempt) {
    const int display = startXOnce(server, binary, args);
    if (display >= 0 || attempt == 3) return display;
    server.reset();
  }
}

}  // namespace

RdpTarget::RdpTarget(Options options) : options_(std::move(options)) {
  if (options_.password.empty()) options_.password = randomPassword();

  // Xvfb picks a free display itself and writes its number to the -displayfd descriptor: no
  // race with other tests (or another engineer's X servers) over display numbers.
  display_ = startX(xvfb_, "/usr/bin/Xvfb", {"-screen", "0", "1024x768x24", "-nolisten", "tcp"});
  if (display_ < 0) {
    (void)xvfb_->wait(std::chrono::milliseconds(200));  // reads what it said, if anything
    throw std::runtime_error("Xvfb did not start (3 tries): " + xvfb_->errors());
  }
  const std::string displayEnv = "DISPLAY=:" + std::to_string(display_);

  std::vector<std::string> command = options_.command;
  if (command.empty()) command = {"sh", "-c", "cat > '" + file().string() + "'"};
  // 170x58 characters (~1020x754 px with the default font) fill the screen, so the pointer
  // (which starts at the centre) is over the xterm and keys go to it without a window manager.
  std::vector<std::string> xterm = {"/usr/bin/env", displayEnv,   "xterm",
                                    "-geometry",    "170x58+0+0", "-e"};
  xterm.insert(xterm.end(), command.begin(), command.end());
  xterm_ = std::make_unique<Process>(xterm);

  const auto [rc, sam] =
      runCommand({"winpr-hash", "-u", options_.user, "-p", options_.password, "-f", "sam"});
  if (rc != 0) throw std::runtime_error("winpr-hash failed: " + sam);
  const auto samFile = dir_ / "sam.txt";
  writeText(samFile, sam);

  for (int attempt = 0; attempt < 3 && port_ == 0; ++attempt) {
    const std::uint16_t port = freeLocalPort();
    server_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/env", displayEnv, "freerdp-shadow-cli", "/port:" + std::to_string(port),
        "/bind-address:127.0.0.1", "/sec:nla", "/sam-file:" + samFile.string()});
    if (waitForTcp(port, 10000)) port_ = port;
  }
  if (port_ == 0) throw std::runtime_error("freerdp-shadow-cli did not listen");
}

XrdpTarget::XrdpTarget(Options options) : options_(options) {
  const std::uint16_t rfb = freeLocalPort();
  const int display =
      startX(xvnc_, "/usr/bin/Xvnc",
             {"-geometry", "1024x768", "-depth", "24", "-rfbport", std::to_string(rfb),
              "-localhost", "-SecurityTypes", "None", "-nolisten", "tcp"});
  if (display < 0) throw std::runtime_error("Xvnc did not start: " + xvnc_->errors());
  display_ = display;
  // The same xterm as RdpTarget's: it fills the screen, so keys go to it without a window manager.
  xterm_ = std::make_unique<Process>(std::vector<std::string>{
      "/usr/bin/env", "DISPLAY=:" + std::to_string(display), "xterm", "-geometry", "170x58+0+0",
      "-e", "sh", "-c", "cat > '" + file().string() + "'"});
  const auto cert = dir_ / "cert.pem";
  const auto key = dir_ / "key.pem";
  const auto [rc, out] =
      runCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                  "/CN=xrdp-test", "-keyout", key.string(), "-out", cert.string()});
  if (rc != 0) throw std::runtime_error("openssl req failed: " + out);
  std::string channels = "rdpdr=false\nrdpsnd=false\ndrdynvc=false\ncliprdr=true\n";
  std::string chansrvPort;
  if (options_.drives || options_.audio) {
    // xrdp-chansrv listens on a socket named after the display in a directory compiled into
    // xrdp; xrdp connects to it when a client logs in (chansrvport), and it mounts the client's
    // drives with FUSE under $HOME/thinclient_drives.
    const std::filesystem::path sockets = "/run/xrdp/sockdir";
    std::filesystem::create_directories(sockets);
    std::filesystem::permissions(sockets,
                                 std::filesystem::perms::all | std::filesystem::perms::sticky_bit);
    const std::string n = std::to_string(display);
    for (const char* name : {"xrdp_chansrv_socket_", "xrdpapi_", "xrdp_chansrv_audio_out_socket_",
                             "xrdp_chansrv_audio_in_socket_"}) {
      std::filesystem::remove(sockets / (name + n));  // left by a run that was killed
    }
    std::filesystem::create_directories(dir_ / "home");
    chansrv_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/bin/env", "DISPLAY=:" + n, "HOME=" + (dir_ / "home").string(),
        "CHANSRV_LOG_PATH=" + dir_.path().string(), "/usr/sbin/xrdp-chansrv"});
    const auto socket = sockets / ("xrdp_chansrv_socket_" + n);
    for (int i = 0; i < 100 && !std::filesystem::exists(socket); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!std::filesystem::exists(socket)) {
      throw std::runtime_error("xrdp-chansrv did not listen: " + chansrv_->errors());
    }
    channels = std::string("rdpdr=") + (options_.drives ? "true" : "false") +
               "\nrdpsnd=" + (options_.audio ? "true" : "false") +
               "\ndrdynvc=false\ncliprdr=false\n";
    chansrvPort = "chansrvport=DISPLAY(" + n + ")\n";
  }
  for (int attempt = 0; attempt < 3 && port_ == 0; ++attempt) {
    const std::uint16_t port = freeLocalPort();
    // Only what this test needs: TLS, straight to the VNC display, the clipboard channel on
    // (xrdp's own; the worker keeps it off), nothing else.
    writeText(dir_ / "xrdp.ini",
              "[Globals]\nini_version=1\nfork=false\nport=tcp://127.0.0.1:" + std::to_string(port) +
                  "\nsecurity_layer=tls\ncrypt_level=high\ncertificate=" + cert.string() +
                  "\nkey_file=" + key.string() +
                  "\nssl_protocols=TLSv1.2, TLSv1.3\nautorun=vnc\n"
                  "allow_channels=true\nmax_bpp=32\nuse_fastpath=both\n"
                  "[Logging]\nLogFile=" +
                  (dir_ / "xrdp.log").string() +
                  "\nLogLevel=INFO\nEnableSyslog=false\n"
                  "[Channels]\n" +
                  channels +
                  "rail=false\nxrdpvr=false\n"
                  "[vnc]\nname=vnc\nlib=libvnc.so\nusername=na\n"
                  "password=ask\nip=127.0.0.1\nport=" +
                  std::to_string(rfb) + "\n" + chansrvPort);
    server_ = std::make_unique<Process>(std::vector<std::string>{
        "/usr/sbin/xrdp", "--nodaemon", "--config", (dir_ / "xrdp.ini").string()});
    if (waitForTcp(port, 10000)) port_ = port;
  }
  if (port_ == 0) throw std::runtime_error("xrdp did not listen: " + server_->errors());
}

std::filesystem::path XrdpTarget::audioSocket() const {
  return std::filesystem::path("/run/xrdp/sockdir") /
         ("xrdp_chansrv_audio_out_socket_" + std::to_string(display_));
}

void XrdpTarget::setClipboard(const std::string& text) {
  const auto source = dir_ / "clipboard.txt";
  writeText(source, text);
  clipboardOwner_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/env", "DISPLAY=:" + std::to_string(display_), "xclip",
                               "-quiet", "-selection", "clipboard", "-i", source.string()});
}

std::optional<std::string> XrdpTarget::clipboard() const {
  const auto [rc, out] = runCommand({"/usr/bin/env", "DISPLAY=:" + std::to_string(display_),
                                     "xclip", "-o", "-selection", "clipboard"});
  if (rc != 0) return std::nullopt;
  return out;
}

XrdpTarget::~XrdpTarget() {
  clipboardOwner_.reset();
  server_.reset();
  if (chansrv_) {
    chansrv_->signal(SIGTERM);  // it unmounts the drives on the way out
    (void)chansrv_->wait(std::chrono::seconds(5));
    chansrv_.reset();
    ::umount2(drives().c_str(), MNT_DETACH);  // in case it could not
  }
  xterm_.reset();
  xvnc_.reset();
}

RdpTarget::~RdpTarget() {
  server_.reset();
  xterm_.reset();
  xvfb_.reset();
}

void RdpTarget::stopServer() {
  if (server_) {
    server_->signal(SIGKILL);
    server_->wait(std::chrono::seconds(5));
  }
}

PrintTarget::PrintTarget(Options options) {
  const auto cert = dir_ / "cert.pem";
  const auto key = dir_ / "key.pem";
  const auto doc = dir_ / "document.ps";
  auto [rc, out] =
      runCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                  "/CN=print-test", "-keyout", key.string(), "-out", cert.string()});
  if (rc != 0) throw std::runtime_error("openssl req failed: " + out);
  std::tie(rc, out) = runCommand(
      {"sh", "-c",
       "openssl x509 -in '" + cert.string() + "' -outform DER | sha256sum | cut -c1-64"});
  if (rc != 0 || out.size() < 64) throw std::runtime_error("cannot hash the certificate: " + out);
  fingerprint_ = out.substr(0, 64);
  {
    std::ofstream f(doc, std::ios::binary);
    f << options.document;
  }
  port_ = freeLocalPort();
  server_ = std::make_unique<Process>(std::vector<std::string>{
      options.program, "--port", std::to_string(port_), "--cert", cert.string(), "--key",
      key.string(), "--document", doc.string(), "--copies", std::to_string(options.copies)});
  if (!server_->waitForLine("listening", std::chrono::seconds(10))) {
    throw std::runtime_error("conduit-test-rdp-printer did not listen: " + server_->errors());
  }
}

PrintTarget::~PrintTarget() = default;

std::string postScriptDocument(const std::string& text, std::size_t bytes) {
  std::string doc =
      "%!PS-Adobe-3.0\n%%Title: Pump station 3 report\n%%Creator: HMI\n%%Pages: 1\n"
      "%%EndComments\n";
  for (int i = 0; doc.size() + 200 < bytes; ++i) {
    doc += "% padding line " + std::to_string(i) + " of a large driver prologue\n";
  }
  doc += "%%Page: 1 1\n/Helvetica findfont 24 scalefont setfont\n72 700 moveto (" + text +
         ") show\nshowpage\n%%EOF\n";
  return doc;
}

}  // namespace conduit::test
