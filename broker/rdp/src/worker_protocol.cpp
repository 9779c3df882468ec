#include "conduit/rdp/worker_protocol.hpp"

#include <boost/json.hpp>
#include <boost/locale/encoding_utf.hpp>

#include <algorithm>
#include <array>

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

namespace {

void putU16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void putU32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xff));
}
std::uint16_t getU16(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint16_t>(b[at] | (b[at + 1] << 8));
}
std::uint32_t getU32(std::span<const std::uint8_t> b, std::size_t at) {
  return static_cast<std::uint32_t>(b[at]) | (static_cast<std::uint32_t>(b[at + 1]) << 8) |
         (static_cast<std::uint32_t>(b[at + 2]) << 16) |
         (static_cast<std::uint32_t>(b[at + 3]) << 24);
}

bool knownType(std::uint8_t t) {
  return (t >= 0x01 && t <= 0x07) || (t >= 0x81 && t <= 0x89);
}

Bytes jsonBody(const boost::json::object& o) {
  const std::string s = boost::json::serialize(o);
  return Bytes(s.begin(), s.end());
}

core::Result<boost::json::object> parseObject(std::span<const std::uint8_t> body,
                                              std::string_view what) {
  boost::system::error_code ec;
  auto v = boost::json::parse(
      std::string_view(reinterpret_cast<const char*>(body.data()), body.size()), ec);
  if (ec || !v.is_object()) {
    return fail(ErrorCode::invalid_argument, std::string(what) + " is not a JSON object");
  }
  return std::move(v.as_object());
}

std::optional<std::string> stringField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}
std::optional<std::int64_t> intField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}
bool boolField(const boost::json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_bool() && v->as_bool();
}

bool isHexSha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::string_view securityName(Security s) {
  switch (s) {
    case Security::nla:
      return "nla";
    case Security::tls:
      return "tls";
    case Security::any:
      break;
  }
  return "any";
}

}  // namespace

core::Result<std::vector<Frame>> FrameReader::feed(std::span<const std::uint8_t> bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
  std::vector<Frame> frames;
  std::size_t at = 0;
  while (buffer_.size() - at >= 5) {
    const std::uint32_t length = getU32(buffer_, at);
    if (length == 0 || length > kMaxFrameBytes) {
      return fail(ErrorCode::invalid_argument, "a frame of " + std::to_string(length) +
                                                   " bytes (limit " +
                                                   std::to_string(kMaxFrameBytes) + ")");
    }
    const std::uint8_t type = buffer_[at + 4];
    if (!knownType(type)) {
      return fail(ErrorCode::invalid_argument, "a frame of unknown type " + std::to_string(type));
    }
    if (buffer_.size() - at - 4 < length) break;
    Frame f;
    f.type = static_cast<MessageType>(type);
    f.body.assign(buffer_.begin() + static_cast<std::ptrdiff_t>(at + 5),
                  buffer_.begin() + static_cast<std::ptrdiff_t>(at + 4 + length));
    frames.push_back(std::move(f));
    at += 4 + length;
  }
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(at));
  return frames;
}

Bytes encodeFrame(MessageType type, std::span<const std::uint8_t> body) {
  Bytes out;
  out.reserve(5 + body.size());
  putU32(out, static_cast<std::uint32_t>(body.size() + 1));
  out.push_back(static_cast<std::uint8_t>(type));
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

Bytes encodeConnect(const ConnectRequest& r, std::span<const std::uint8_t> password) {
  const Bytes json = jsonBody({{"host", r.host},
                               {"port", r.port},
                               {"username", r.username},
                               {"domain", r.domain},
                               {"certificate_sha256", r.certificateSha256},
                               {"learn_certificate", r.learnCertificate},
                               {"width", r.width},
                               {"height", r.height},
                               {"security", securityName(r.security)},
                               {"clipboard", r.clipboard},
                               {"drive", r.drive},
                               {"drive_path", r.drivePath},
                               {"printer", r.printer},
                               {"audio", r.audio},
                               {"connect_timeout_ms", r.connectTimeoutMs},
                               {"keyframe_seconds", r.keyframeSeconds}});
  Bytes body;
  body.reserve(4 + json.size() + password.size());
  putU32(body, static_cast<std::uint32_t>(json.size()));
  body.insert(body.end(), json.begin(), json.end());
  body.insert(body.end(), password.begin(), password.end());
  return encodeFrame(MessageType::connect, body);
}

core::Result<ConnectRequest> decodeConnect(std::span<const std::uint8_t> body, Bytes& password) {
  if (body.size() < 4) return fail(ErrorCode::invalid_argument, "connect: short body");
  const std::uint32_t jsonBytes = getU32(body, 0);
  if (jsonBytes > body.size() - 4) {
    return fail(ErrorCode::invalid_argument, "connect: JSON longer than the frame");
  }
  auto o = parseObject(body.subspan(4, jsonBytes), "connect");
  if (!o) return o.error();
  ConnectRequest r;
  auto host = stringField(*o, "host");
  auto user = stringField(*o, "username");
  auto port = intField(*o, "port");
  auto width = intField(*o, "width");
  auto height = intField(*o, "height");
  if (!host || host->empty() || host->size() > 255 || !user || user->size() > 256 || !port ||
      *port < 1 || *port > 65535 || !width || !height) {
    return fail(ErrorCode::invalid_argument, "connect: host, port, username, width, height");
  }
  if (*width < kMinDesktop || *width > kMaxDesktopWidth || *height < kMinDesktop ||
      *height > kMaxDesktopHeight) {
    return fail(ErrorCode::invalid_argument, "connect: desktop size out of range");
  }
  r.host = *host;
  r.port = static_cast<std::uint16_t>(*port);
  r.username = *user;
  r.domain = stringField(*o, "domain").value_or("");
  r.certificateSha256 = stringField(*o, "certificate_sha256").value_or("");
  r.learnCertificate = boolField(*o, "learn_certificate");
  if (!r.learnCertificate && !isHexSha256(r.certificateSha256)) {
    return fail(ErrorCode::invalid_argument,
                "connect: certificate_sha256 must be 64 lowercase hex digits");
  }
  r.width = static_cast<int>(*width);
  r.height = static_cast<int>(*height);
  const std::string security = stringField(*o, "security").value_or("any");
  if (security == "nla") {
    r.security = Security::nla;
  } else if (security == "tls") {
    r.security = Security::tls;
  } else if (security == "any") {
    r.security = Security::any;
  } else {
    return fail(ErrorCode::invalid_argument, "connect: security is any, nla or tls");
  }
  r.clipboard = boolField(*o, "clipboard");
  r.drive = boolField(*o, "drive");
  r.drivePath = stringField(*o, "drive_path").value_or("");
  if (r.drive && (r.drivePath.empty() || r.drivePath.front() != '/' || r.drivePath.size() > 1024 ||
                  r.drivePath.find('\0') != std::string::npos)) {
    return fail(ErrorCode::invalid_argument, "connect: drive needs an absolute drive_path");
  }
  r.printer = boolField(*o, "printer");
  r.audio = boolField(*o, "audio");
  r.connectTimeoutMs = static_cast<int>(
      std::clamp<std::int64_t>(intField(*o, "connect_timeout_ms").value_or(15000), 1000, 120000));
  r.keyframeSeconds = static_cast<int>(
      std::clamp<std::int64_t>(intField(*o, "keyframe_seconds").value_or(30), 0, 3600));
  const auto rest = body.subspan(4 + jsonBytes);
  password.assign(rest.begin(), rest.end());
  return r;
}

Bytes encodeKey(const KeyEvent& key) {
  Bytes body;
  body.push_back(key.down ? 1 : 0);
  putU16(body, key.scancode);
  return encodeFrame(MessageType::key, body);
}

core::Result<KeyEvent> decodeKey(std::span<const std::uint8_t> body) {
  if (body.size() != 3 || body[0] > 1) return fail(ErrorCode::invalid_argument, "key: bad body");
  KeyEvent k{body[0] == 1, getU16(body, 1)};
  if (k.scancode == 0 || k.scancode > 0x1ff) {
    return fail(ErrorCode::invalid_argument, "key: scancode out of range");
  }
  return k;
}

Bytes encodePointer(const PointerEvent& p) {
  Bytes body;
  putU16(body, p.flags);
  putU16(body, p.x);
  putU16(body, p.y);
  return encodeFrame(MessageType::pointer, body);
}

core::Result<PointerEvent> decodePointer(std::span<const std::uint8_t> body) {
  if (body.size() != 6) return fail(ErrorCode::invalid_argument, "pointer: bad body");
  PointerEvent p{getU16(body, 0), getU16(body, 2), getU16(body, 4)};
  const bool wheel = (p.flags & kPtrWheel) != 0;
  std::uint16_t allowed = kPtrMove | kPtrDown | kPtrButton1 | kPtrButton2 | kPtrButton3;
  if (wheel) allowed = kPtrWheel | kPtrWheelNegative | kPtrRotationMask;
  if ((p.flags & ~allowed) != 0 || p.flags == 0) {
    return fail(ErrorCode::invalid_argument, "pointer: flags outside the allowed set");
  }
  return p;
}

Bytes encodeAck(std::uint32_t sequence) {
  Bytes body;
  putU32(body, sequence);
  return encodeFrame(MessageType::ack, body);
}

core::Result<std::uint32_t> decodeAck(std::span<const std::uint8_t> body) {
  if (body.size() != 4) return fail(ErrorCode::invalid_argument, "ack: bad body");
  return getU32(body, 0);
}

bool isValidUtf8(std::string_view text) {
  try {
    // Boost.Locale's decoder refuses overlong forms, surrogates and code points above
    // U+10FFFF (`stop` throws at the first invalid sequence).
    (void)boost::locale::conv::utf_to_utf<char32_t>(text.data(), text.data() + text.size(),
                                                    boost::locale::conv::stop);
    return true;
  } catch (const boost::locale::conv::conversion_error&) {
    return false;
  }
}

Bytes encodeClipboard(MessageType type, std::string_view utf8) {
  return encodeFrame(type, {reinterpret_cast<const std::uint8_t*>(utf8.data()), utf8.size()});
}

core::Result<std::string> decodeClipboard(std::span<const std::uint8_t> body) {
  if (body.size() > kMaxClipboardBytes) {
    return fail(ErrorCode::invalid_argument, "clipboard text of " + std::to_string(body.size()) +
                                                 " bytes (limit " +
                                                 std::to_string(kMaxClipboardBytes) + ")");
  }
  std::string text(reinterpret_cast<const char*>(body.data()), body.size());
  if (!isValidUtf8(text)) return fail(ErrorCode::invalid_argument, "clipboard text is not UTF-8");
  return text;
}

Bytes encodeConnected(const Connected& c) {
  return encodeFrame(
      MessageType::connected,
      jsonBody(
          {{"width", c.width}, {"height", c.height}, {"certificate_sha256", c.certificateSha256}}));
}

core::Result<Connected> decodeConnected(std::span<const std::uint8_t> body) {
  auto o = parseObject(body, "connected");
  if (!o) return o.error();
  auto w = intField(*o, "width");
  auto h = intField(*o, "height");
  auto cert = stringField(*o, "certificate_sha256");
  if (!w || !h || *w < 1 || *w > kMaxDesktopWidth || *h < 1 || *h > kMaxDesktopHeight || !cert ||
      !isHexSha256(*cert)) {
    return fail(ErrorCode::invalid_argument, "connected: width, height, certificate_sha256");
  }
  return Connected{static_cast<int>(*w), static_cast<int>(*h), *cert};
}

Bytes encodeTile(const Tile& t) {
  Bytes body;
  body.reserve(kTileHeaderBytes + t.image.size());
  putU16(body, t.x);
  putU16(body, t.y);
  putU16(body, t.width);
  putU16(body, t.height);
  body.push_back(static_cast<std::uint8_t>(t.format));
  body.insert(body.end(), t.image.begin(), t.image.end());
  return encodeFrame(MessageType::tile, body);
}

core::Result<Tile> decodeTile(std::span<const std::uint8_t> body, int desktopWidth,
                              int desktopHeight) {
  if (body.size() < kTileHeaderBytes) return fail(ErrorCode::invalid_argument, "tile: short");
  Tile t;
  t.x = getU16(body, 0);
  t.y = getU16(body, 2);
  t.width = getU16(body, 4);
  t.height = getU16(body, 6);
  if (t.width == 0 || t.height == 0 || t.x + t.width > desktopWidth ||
      t.y + t.height > desktopHeight) {
    return fail(ErrorCode::invalid_argument, "tile: rectangle outside the desktop");
  }
  const auto image = body.subspan(kTileHeaderBytes);
  static constexpr std::array<std::uint8_t, 8> kPng = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};
  static constexpr std::array<std::uint8_t, 3> kJpeg = {0xff, 0xd8, 0xff};
  switch (body[8]) {
    case static_cast<std::uint8_t>(TileFormat::png):
      if (image.size() < kPng.size() || !std::equal(kPng.begin(), kPng.end(), image.begin())) {
        return fail(ErrorCode::invalid_argument, "tile: not a PNG image");
      }
      t.format = TileFormat::png;
      break;
    case static_cast<std::uint8_t>(TileFormat::jpeg):
      if (image.size() < kJpeg.size() || !std::equal(kJpeg.begin(), kJpeg.end(), image.begin())) {
        return fail(ErrorCode::invalid_argument, "tile: not a JPEG image");
      }
      t.format = TileFormat::jpeg;
      break;
    default:
      return fail(ErrorCode::invalid_argument, "tile: unknown image format");
  }
  t.image.assign(image.begin(), image.end());
  return t;
}

Bytes encodeFrameEnd(const FrameEnd& e) {
  Bytes body;
  putU32(body, e.sequence);
  body.push_back(e.keyframe ? 1 : 0);
  return encodeFrame(MessageType::frame_end, body);
}

core::Result<FrameEnd> decodeFrameEnd(std::span<const std::uint8_t> body) {
  if (body.size() != 5 || body[4] > 1) {
    return fail(ErrorCode::invalid_argument, "frame_end: bad body");
  }
  return FrameEnd{getU32(body, 0), body[4] == 1};
}

Bytes encodeFailure(MessageType type, const Failure& f) {
  return encodeFrame(type, jsonBody({{"code", f.code}, {"message", f.message}}));
}

core::Result<Failure> decodeFailure(std::span<const std::uint8_t> body) {
  auto o = parseObject(body, "failure");
  if (!o) return o.error();
  auto code = stringField(*o, "code");
  auto message = stringField(*o, "message");
  if (!code || !message || code->size() > 32 || message->size() > 1024) {
    return fail(ErrorCode::invalid_argument, "failure: code and message");
  }
  return Failure{*code, *message};
}

Bytes encodeAudio(const AudioChunk& chunk) {
  Bytes body;
  body.reserve(kAudioHeaderBytes + chunk.pcm.size());
  putU32(body, chunk.rate);
  body.push_back(chunk.channels);
  body.insert(body.end(), chunk.pcm.begin(), chunk.pcm.end());
  return encodeFrame(MessageType::audio, body);
}

core::Result<AudioChunk> decodeAudio(std::span<const std::uint8_t> body) {
  if (body.size() <= kAudioHeaderBytes)
    return fail(ErrorCode::invalid_argument, "audio: no samples");
  AudioChunk chunk;
  chunk.rate = getU32(body, 0);
  chunk.channels = body[4];
  if (chunk.rate < kMinAudioRate || chunk.rate > kMaxAudioRate) {
    return fail(ErrorCode::invalid_argument, "audio: rate out of range");
  }
  if (chunk.channels < 1 || chunk.channels > 2) {
    return fail(ErrorCode::invalid_argument, "audio: 1 or 2 channels");
  }
  const auto samples = body.subspan(kAudioHeaderBytes);
  if (samples.size() > kMaxAudioChunkBytes || samples.size() % (2u * chunk.channels) != 0) {
    return fail(ErrorCode::invalid_argument, "audio: not whole sample frames within the limit");
  }
  chunk.pcm.assign(samples.begin(), samples.end());
  return chunk;
}

Bytes encodePrintData(const PrintData& data) {
  Bytes body;
  body.reserve(4 + data.bytes.size());
  putU32(body, data.job);
  body.insert(body.end(), data.bytes.begin(), data.bytes.end());
  return encodeFrame(MessageType::print_data, body);
}

core::Result<PrintData> decodePrintData(std::span<const std::uint8_t> body) {
  if (body.size() <= 4 || body.size() - 4 > kMaxPrintChunkBytes) {
    return fail(ErrorCode::invalid_argument, "print_data: a job id and 1 byte to 1 MiB");
  }
  return PrintData{getU32(body, 0), Bytes(body.begin() + 4, body.end())};
}

Bytes encodePrintEnd(const PrintEnd& end) {
  Bytes body;
  putU32(body, end.job);
  body.push_back(end.truncated ? 1 : 0);
  return encodeFrame(MessageType::print_end, body);
}

core::Result<PrintEnd> decodePrintEnd(std::span<const std::uint8_t> body) {
  if (body.size() != 5 || body[4] > 1) {
    return fail(ErrorCode::invalid_argument, "print_end: a job id and a status of 0 or 1");
  }
  return PrintEnd{getU32(body, 0), body[4] == 1};
}

}  // namespace conduit::rdp
