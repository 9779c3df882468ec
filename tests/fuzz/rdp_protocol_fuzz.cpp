// libFuzzer target: the broker <-> RDP worker framing (FrameReader) and every body decoder on
// hostile bytes, fed in pieces whose sizes the input chooses.
//
// fuzz-sources: broker/rdp/src/worker_protocol.cpp broker/core/src/result.cpp
// fuzz-includes: broker/rdp/include broker/core/include
// fuzz-libs: -lboost_json
//
// Input: u16 LE desktop width, u16 LE desktop height (clamped into the allowed range), then
// pieces until the input ends: one byte n, then the next n bytes of the stream (n = 0: the
// rest of the input in one piece).
// Checked: the reader holds at most one partial frame and, after an error, nothing more is
// trusted; the same stream read in one piece gives the same frames (or the same error at the
// same frame); a decoded tile lies inside the desktop with a known format and its signature;
// re-encoding a decoded key, pointer, ack or frame_end gives the same frame; decodeConnect's
// password is exactly the body after the JSON, and a decoded connect re-encodes to one that
// decodes to the same request and password.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <span>
#include <vector>

#include "conduit/rdp/worker_protocol.hpp"

using namespace conduit;
using namespace conduit::rdp;

namespace {

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

bool sameRequest(const ConnectRequest& a, const ConnectRequest& b) {
  return a.host == b.host && a.port == b.port && a.username == b.username && a.domain == b.domain &&
         a.certificateSha256 == b.certificateSha256 && a.learnCertificate == b.learnCertificate &&
         a.width == b.width && a.height == b.height && a.security == b.security &&
         a.clipboard == b.clipboard && a.drive == b.drive && a.printer == b.printer &&
         a.audio == b.audio && a.connectTimeoutMs == b.connectTimeoutMs &&
         a.keyframeSeconds == b.keyframeSeconds;
}

Bytes framed(const Frame& f) {
  return encodeFrame(f.type, f.body);
}

void checkFrame(const Frame& f, int desktopWidth, int desktopHeight) {
  FUZZ_CHECK(f.body.size() + 1 <= kMaxFrameBytes);
  const std::span<const std::uint8_t> body(f.body);
  switch (f.type) {
    case MessageType::connect: {
      Bytes password = {0xaa};
      auto r = decodeConnect(body, password);
      if (!r) break;
      FUZZ_CHECK(body.size() >= 4);
      const std::uint32_t jsonBytes =
          static_cast<std::uint32_t>(body[0]) | (static_cast<std::uint32_t>(body[1]) << 8) |
          (static_cast<std::uint32_t>(body[2]) << 16) | (static_cast<std::uint32_t>(body[3]) << 24);
      FUZZ_CHECK(jsonBytes <= body.size() - 4);
      const auto rest = body.subspan(4 + jsonBytes);
      FUZZ_CHECK(std::equal(password.begin(), password.end(), rest.begin(), rest.end()));
      FUZZ_CHECK(!r->host.empty() && r->host.size() <= 255 && r->username.size() <= 256);
      FUZZ_CHECK(r->port >= 1);
      FUZZ_CHECK(r->width >= kMinDesktop && r->width <= kMaxDesktopWidth);
      FUZZ_CHECK(r->height >= kMinDesktop && r->height <= kMaxDesktopHeight);
      FUZZ_CHECK(r->learnCertificate || r->certificateSha256.size() == 64);
      FUZZ_CHECK(r->connectTimeoutMs >= 1000 && r->connectTimeoutMs <= 120000);
      FUZZ_CHECK(r->keyframeSeconds >= 0 && r->keyframeSeconds <= 3600);
      // What the broker would write from the decoded request decodes to the same thing.
      const Bytes again = encodeConnect(*r, password);
      Bytes password2;
      auto r2 = decodeConnect(std::span(again).subspan(5), password2);
      FUZZ_CHECK(r2.ok());
      FUZZ_CHECK(sameRequest(*r, *r2));
      FUZZ_CHECK(password2 == password);
      break;
    }
    case MessageType::key: {
      auto k = decodeKey(body);
      if (!k) break;
      FUZZ_CHECK(k->scancode >= 1 && k->scancode <= 0x1ff);
      FUZZ_CHECK(encodeKey(*k) == framed(f));
      break;
    }
    case MessageType::pointer: {
      auto p = decodePointer(body);
      if (!p) break;
      FUZZ_CHECK(p->flags != 0);
      if ((p->flags & kPtrWheel) != 0) {
        FUZZ_CHECK((p->flags & ~(kPtrWheel | kPtrWheelNegative | kPtrRotationMask)) == 0);
      } else {
        FUZZ_CHECK((p->flags & ~(kPtrMove | kPtrDown | kPtrButton1 | kPtrButton2 | kPtrButton3)) ==
                   0);
      }
      FUZZ_CHECK(encodePointer(*p) == framed(f));
      break;
    }
    case MessageType::ack: {
      auto a = decodeAck(body);
      if (a) FUZZ_CHECK(encodeAck(*a) == framed(f));
      break;
    }
    case MessageType::frame_end: {
      auto e = decodeFrameEnd(body);
      if (e) FUZZ_CHECK(encodeFrameEnd(*e) == framed(f));
      break;
    }
    case MessageType::tile: {
      auto t = decodeTile(body, desktopWidth, desktopHeight);
      if (!t) break;
      FUZZ_CHECK(t->width > 0 && t->height > 0);
      FUZZ_CHECK(int{t->x} + int{t->width} <= desktopWidth);
      FUZZ_CHECK(int{t->y} + int{t->height} <= desktopHeight);
      FUZZ_CHECK(t->format == TileFormat::png || t->format == TileFormat::jpeg);
      if (t->format == TileFormat::png) {
        FUZZ_CHECK(t->image.size() >= 8 && t->image[0] == 0x89 && t->image[1] == 'P');
      } else {
        FUZZ_CHECK(t->image.size() >= 3 && t->image[0] == 0xff && t->image[1] == 0xd8);
      }
      FUZZ_CHECK(t->image.size() + kTileHeaderBytes == body.size());
      FUZZ_CHECK(encodeTile(*t) == framed(f));
      break;
    }
    case MessageType::connected: {
      auto c = decodeConnected(body);
      if (!c) break;
      FUZZ_CHECK(c->width >= 1 && c->width <= kMaxDesktopWidth);
      FUZZ_CHECK(c->height >= 1 && c->height <= kMaxDesktopHeight);
      FUZZ_CHECK(c->certificateSha256.size() == 64);
      const Bytes frame = encodeConnected(*c);
      auto again = decodeConnected(std::span(frame).subspan(5));
      FUZZ_CHECK(again.ok() && again->width == c->width && again->height == c->height &&
                 again->certificateSha256 == c->certificateSha256);
      break;
    }
    case MessageType::failed:
    case MessageType::closed: {
      auto e = decodeFailure(body);
      if (!e) break;
      FUZZ_CHECK(e->code.size() <= 32 && e->message.size() <= 1024);
      const Bytes frame = encodeFailure(f.type, *e);
      auto again = decodeFailure(std::span(frame).subspan(5));
      FUZZ_CHECK(again.ok() && again->code == e->code && again->message == e->message);
      break;
    }
    case MessageType::clipboard:
    case MessageType::target_clipboard: {
      auto text = decodeClipboard(body);
      if (!text) break;
      // Accepted text is within the limit, valid UTF-8 and re-encodes to the same frame.
      FUZZ_CHECK(text->size() <= kMaxClipboardBytes && isValidUtf8(*text));
      FUZZ_CHECK(encodeClipboard(f.type, *text) == framed(f));
      break;
    }
    case MessageType::audio: {
      auto a = decodeAudio(body);
      if (!a) break;
      // Accepted sound is whole frames within the limits and re-encodes to the same frame.
      FUZZ_CHECK(a->rate >= kMinAudioRate && a->rate <= kMaxAudioRate);
      FUZZ_CHECK(a->channels == 1 || a->channels == 2);
      FUZZ_CHECK(!a->pcm.empty() && a->pcm.size() <= kMaxAudioChunkBytes &&
                 a->pcm.size() % (2u * a->channels) == 0);
      FUZZ_CHECK(encodeAudio(*a) == framed(f));
      break;
    }
    case MessageType::print_data: {
      auto d = decodePrintData(body);
      if (!d) break;
      FUZZ_CHECK(!d->bytes.empty() && d->bytes.size() <= kMaxPrintChunkBytes);
      FUZZ_CHECK(encodePrintData(*d) == framed(f));
      break;
    }
    case MessageType::print_end: {
      auto e = decodePrintEnd(body);
      if (!e) break;
      FUZZ_CHECK(encodePrintEnd(*e) == framed(f));
      break;
    }
    case MessageType::refresh:
    case MessageType::close:
      break;
    default:
      std::abort();  // FrameReader let an unknown type through
  }
}

void writeSeeds(const char* dir) {
  std::filesystem::create_directories(dir);
  auto seed = [&](const char* name, const Bytes& stream, std::uint8_t piece) {
    Bytes input = {0x00, 0x04, 0x00, 0x03};  // 1024 x 768
    for (std::size_t at = 0; at < stream.size(); at += piece) {
      const std::size_t n = std::min<std::size_t>(piece, stream.size() - at);
      input.push_back(static_cast<std::uint8_t>(n));
      input.insert(input.end(), stream.begin() + static_cast<std::ptrdiff_t>(at),
                   stream.begin() + static_cast<std::ptrdiff_t>(at + n));
    }
    std::ofstream(std::filesystem::path(dir) / name, std::ios::binary)
        .write(reinterpret_cast<const char*>(input.data()),
               static_cast<std::streamsize>(input.size()));
  };
  auto append = [](Bytes& to, const Bytes& frame) {
    to.insert(to.end(), frame.begin(), frame.end());
  };

  ConnectRequest r;
  r.host = "10.0.0.5";
  r.username = "operator";
  r.certificateSha256 = std::string(64, 'a');
  const Bytes password = {'p', '}', '{', 0};
  Bytes toWorker = encodeConnect(r, password);
  append(toWorker, encodeKey({true, 0x1e}));
  append(toWorker, encodeKey({false, 0x148}));
  append(toWorker, encodePointer({kPtrMove, 100, 200}));
  append(toWorker, encodePointer({kPtrDown | kPtrButton1, 100, 200}));
  append(toWorker, encodePointer({kPtrWheel | kPtrWheelNegative | 0x0088, 0, 0}));
  append(toWorker, encodeAck(3));
  append(toWorker, encodeFrame(MessageType::refresh, {}));
  append(toWorker, encodeFrame(MessageType::close, {}));
  seed("seed-to-worker", toWorker, 7);

  const Bytes png = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13};
  const Bytes jpeg = {0xff, 0xd8, 0xff, 0xe0};
  Bytes toBroker = encodeConnected({1024, 768, std::string(64, 'b')});
  append(toBroker, encodeTile({0, 0, 256, 256, TileFormat::png, png}));
  append(toBroker, encodeTile({768, 512, 256, 256, TileFormat::jpeg, jpeg}));
  append(toBroker, encodeFrameEnd({1, true}));
  append(toBroker, encodeFailure(MessageType::closed, {"server", "logged off"}));
  seed("seed-to-broker", toBroker, 13);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CONDUIT_FUZZ_SEED_DIR");
  if (dir != nullptr && *dir != '\0') writeSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  const int desktopWidth = std::clamp(data[0] | (data[1] << 8), kMinDesktop, kMaxDesktopWidth);
  const int desktopHeight = std::clamp(data[2] | (data[3] << 8), kMinDesktop, kMaxDesktopHeight);

  FrameReader piecewise;
  std::vector<Frame> frames;
  Bytes stream;
  bool failed = false;
  std::size_t at = 4;
  while (at < size && !failed) {
    std::size_t n = data[at++];
    if (n == 0) n = size - at;
    n = std::min(n, size - at);
    const std::span<const std::uint8_t> piece(data + at, n);
    at += n;
    stream.insert(stream.end(), piece.begin(), piece.end());
    auto got = piecewise.feed(piece);
    if (!got) {
      failed = true;
      break;
    }
    for (auto& f : *got) {
      checkFrame(f, desktopWidth, desktopHeight);
      frames.push_back(std::move(f));
    }
    // At most one partial frame: never a whole frame left behind.
    FUZZ_CHECK(piecewise.buffered() <= 4 + std::size_t{kMaxFrameBytes});
    if (piecewise.buffered() >= 5) {
      const std::uint8_t* partial = stream.data() + (stream.size() - piecewise.buffered());
      const std::uint32_t length = static_cast<std::uint32_t>(partial[0]) |
                                   (static_cast<std::uint32_t>(partial[1]) << 8) |
                                   (static_cast<std::uint32_t>(partial[2]) << 16) |
                                   (static_cast<std::uint32_t>(partial[3]) << 24);
      FUZZ_CHECK(length >= 1 && length <= kMaxFrameBytes);
      FUZZ_CHECK(piecewise.buffered() < 4 + std::size_t{length});
    }
  }

  // The same bytes in one piece give the same frames, or an error where the pieces gave one.
  FrameReader whole;
  auto all = whole.feed(stream);
  if (failed) {
    FUZZ_CHECK(!all.ok());
  } else {
    FUZZ_CHECK(all.ok());
    FUZZ_CHECK(all->size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      FUZZ_CHECK((*all)[i].type == frames[i].type && (*all)[i].body == frames[i].body);
    }
    FUZZ_CHECK(whole.buffered() == piecewise.buffered());
  }
  return 0;
}
