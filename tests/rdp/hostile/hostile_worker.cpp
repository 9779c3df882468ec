// A hostile (compromised) RDP worker for the broker's tests, which a real worker cannot be made
// to be on purpose: it speaks the worker protocol (docs/rdp.md "Worker protocol"), answers
// `connect` as the pinned server, ends one frame and then sends 30 clipboard texts at once (a
// target changing its clipboard faster than a person copies, or clipboard text in a session
// without the clipboard). With CONDUIT_HOSTILE_PACE_MS=N in its environment it sends one text
// ("paced I") every N ms instead, until the broker's close. Then it waits for that close. With
// CONDUIT_HOSTILE_SEND=audio it sends sound (46 ms of 44.1 kHz stereo PCM per frame) instead of
// clipboard text and no frame end; with frame+audio, the frame end and then sound; with
// bad-audio, sound at 0 Hz; with flip-audio, sound whose rate changes with every piece; with
// print, the frame end and then printed documents (a one-page PostScript each, in two pieces)
// instead of clipboard text.
#include <poll.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <string>
#include <string_view>

#include "conduit/rdp/worker_protocol.hpp"

using namespace conduit::rdp;

namespace {

bool writeAll(int fd, const Bytes& bytes) {
  std::size_t at = 0;
  while (at < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + at, bytes.size() - at);
    if (n <= 0) return false;
    at += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || std::string_view(argv[1]) != "--fd") return 2;
  int fd = -1;
  const std::string_view text(argv[2]);
  if (std::from_chars(text.data(), text.data() + text.size(), fd).ec != std::errc()) return 2;

  // The connect frame: only its certificate pin is needed, to answer as the pinned server.
  FrameReader reader;
  ConnectRequest request;
  Bytes password;
  bool connected = false;
  std::uint8_t buf[65536];
  while (!connected) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return 1;
    auto frames = reader.feed({buf, static_cast<std::size_t>(n)});
    if (!frames) return 1;
    for (const auto& f : *frames) {
      if (f.type != MessageType::connect) continue;
      auto r = decodeConnect(f.body, password);
      if (!r) return 1;
      request = *r;
      connected = true;
    }
  }
  const char* pace = std::getenv("CONDUIT_HOSTILE_PACE_MS");
  const int paceMs = pace != nullptr ? std::atoi(pace) : 0;
  const char* send = std::getenv("CONDUIT_HOSTILE_SEND");
  const std::string_view what = send != nullptr ? send : "";
  const bool audio =
      what == "audio" || what == "frame+audio" || what == "bad-audio" || what == "flip-audio";
  const bool print = what == "print";
  Bytes out = encodeConnected(Connected{request.width, request.height, request.certificateSha256});
  if (!audio || what == "frame+audio") {
    const Bytes end = encodeFrameEnd(FrameEnd{1, false});
    out.insert(out.end(), end.begin(), end.end());
  }
  std::uint32_t job = 0;
  const auto message = [audio, print, what, &job](const std::string& body) {
    if (print) {
      const std::string doc = "%!PS\n/Helvetica findfont 12 scalefont setfont 72 700 moveto (" +
                              body + ") show\nshowpage\n";
      const std::size_t half = doc.size() / 2;
      ++job;
      Bytes frames =
          encodePrintData({job, Bytes(doc.begin(), doc.begin() + static_cast<long>(half))});
      const Bytes rest =
          encodePrintData({job, Bytes(doc.begin() + static_cast<long>(half), doc.end())});
      const Bytes end = encodePrintEnd({job, false});
      frames.insert(frames.end(), rest.begin(), rest.end());
      frames.insert(frames.end(), end.begin(), end.end());
      return frames;
    }
    if (!audio) return encodeClipboard(MessageType::target_clipboard, body);
    AudioChunk chunk;
    chunk.pcm.assign(8192, static_cast<std::uint8_t>(body.size()));
    if (what == "bad-audio") chunk.rate = 0;  // no RDP server plays sound at 0 Hz
    // flip-audio: every other piece at 22,050 Hz (a target switching formats all the time).
    if (what == "flip-audio" && body.back() % 2 == 1) chunk.rate = 22050;
    return encodeAudio(chunk);
  };
  for (int i = 0; i < 30 && paceMs <= 0; ++i) {
    const Bytes clip = message("flood " + std::to_string(i));
    out.insert(out.end(), clip.begin(), clip.end());
  }
  if (!writeAll(fd, out)) return 1;
  // Until the broker says close (or goes away); paced texts meanwhile.
  for (int i = 0;; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, paceMs > 0 ? paceMs : -1) > 0) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return 0;
      auto frames = reader.feed({buf, static_cast<std::size_t>(n)});
      if (!frames) return 1;
      for (const auto& f : *frames) {
        if (f.type == MessageType::close) return 0;
      }
    } else if (paceMs > 0 && !writeAll(fd, message("paced " + std::to_string(i)))) {
      return 1;
    }
  }
}
