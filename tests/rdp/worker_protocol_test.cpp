// The broker <-> RDP worker framing: every encoder round-trips through its decoder, the frame
// reader gives the same frames for any split of the stream, and every decoder refuses what a
// broken or hostile peer could send (sizes, flags, rectangles, signatures) with the reason.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "conduit/rdp/worker_protocol.hpp"

using namespace conduit;
using namespace conduit::rdp;

namespace {

const std::string kFingerprint(64, 'a');

Bytes bytesOf(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// The body of a whole frame written by an encoder (drops the length and the type).
std::span<const std::uint8_t> bodyOf(const Bytes& frame) {
  REQUIRE(frame.size() >= 5);
  return std::span(frame).subspan(5);
}

// Reads one whole frame written by an encoder and checks its length prefix and type.
Frame readOne(const Bytes& frame, MessageType type) {
  FrameReader reader;
  auto frames = reader.feed(frame);
  REQUIRE(frames.ok());
  REQUIRE(frames->size() == 1);
  CHECK((*frames)[0].type == type);
  CHECK(reader.buffered() == 0);
  return (*frames)[0];
}

// A connect body: u32 LE JSON length, the JSON, then `rest` (the password).
Bytes connectBody(const std::string& json, const Bytes& rest = {}) {
  Bytes body;
  const auto n = static_cast<std::uint32_t>(json.size());
  for (int i = 0; i < 4; ++i) body.push_back(static_cast<std::uint8_t>((n >> (8 * i)) & 0xff));
  body.insert(body.end(), json.begin(), json.end());
  body.insert(body.end(), rest.begin(), rest.end());
  return body;
}

std::string connectJson(const std::string& overrides = "") {
  std::string j = R"({"host":"10.0.0.5","port":3389,"username":"op","width":1280,"height":720)";
  if (overrides.empty()) j += R"(,"certificate_sha256":")" + kFingerprint + "\"";
  j += overrides;
  return j + "}";
}

Bytes pointerBody(std::uint16_t flags, std::uint16_t x = 10, std::uint16_t y = 20) {
  const Bytes frame = encodePointer({flags, x, y});
  return Bytes(frame.begin() + 5, frame.end());
}

Bytes tileBody(std::uint16_t x, std::uint16_t y, std::uint16_t w, std::uint16_t h,
               std::uint8_t format, const Bytes& image) {
  Bytes body = {static_cast<std::uint8_t>(x & 0xff),
                static_cast<std::uint8_t>(x >> 8),
                static_cast<std::uint8_t>(y & 0xff),
                static_cast<std::uint8_t>(y >> 8),
                static_cast<std::uint8_t>(w & 0xff),
                static_cast<std::uint8_t>(w >> 8),
                static_cast<std::uint8_t>(h & 0xff),
                static_cast<std::uint8_t>(h >> 8),
                format};
  body.insert(body.end(), image.begin(), image.end());
  return body;
}

const Bytes kPng = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
const Bytes kJpeg = {0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F'};

}  // namespace

TEST_CASE("encodeFrame writes the length of type and body, then the type", "[rdp][framing]") {
  const Bytes body = {1, 2, 3};
  const Bytes frame = encodeFrame(MessageType::tile, body);
  CHECK(frame == Bytes{4, 0, 0, 0, 0x82, 1, 2, 3});
  CHECK(encodeFrame(MessageType::refresh, {}) == Bytes{1, 0, 0, 0, 0x05});
}

TEST_CASE("FrameReader gives the same frames for every split of the stream", "[rdp][framing]") {
  Bytes stream;
  std::vector<Bytes> frames = {encodeKey({true, 0x1e}), encodeFrame(MessageType::refresh, {}),
                               encodeTile({0, 0, 16, 16, TileFormat::png, kPng}),
                               encodeFrameEnd({7, true}), encodeAck(7)};
  for (const auto& f : frames) stream.insert(stream.end(), f.begin(), f.end());

  auto check = [&](const std::vector<Frame>& got) {
    REQUIRE(got.size() == frames.size());
    for (std::size_t i = 0; i < frames.size(); ++i) {
      CHECK(static_cast<std::uint8_t>(got[i].type) == frames[i][4]);
      CHECK(got[i].body == Bytes(frames[i].begin() + 5, frames[i].end()));
    }
  };

  SECTION("in one feed") {
    FrameReader reader;
    auto got = reader.feed(stream);
    REQUIRE(got.ok());
    check(*got);
    CHECK(reader.buffered() == 0);
  }
  SECTION("split in two at every byte") {
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      INFO("cut at " << cut);
      FrameReader reader;
      auto first = reader.feed(std::span(stream).first(cut));
      REQUIRE(first.ok());
      auto second = reader.feed(std::span(stream).subspan(cut));
      REQUIRE(second.ok());
      std::vector<Frame> all = std::move(*first);
      all.insert(all.end(), second->begin(), second->end());
      check(all);
      CHECK(reader.buffered() == 0);
    }
  }
  SECTION("one byte at a time") {
    FrameReader reader;
    std::vector<Frame> all;
    for (std::size_t i = 0; i < stream.size(); ++i) {
      auto got = reader.feed(std::span(stream).subspan(i, 1));
      REQUIRE(got.ok());
      all.insert(all.end(), got->begin(), got->end());
      // Holds at most one partial frame.
      CHECK(reader.buffered() < 5 + kPng.size() + kTileHeaderBytes);
    }
    check(all);
  }
  SECTION("a partial frame stays buffered until it is whole") {
    FrameReader reader;
    const Bytes key = encodeKey({false, 0x2a});
    auto got = reader.feed(std::span(key).first(key.size() - 1));
    REQUIRE(got.ok());
    CHECK(got->empty());
    CHECK(reader.buffered() == key.size() - 1);
    got = reader.feed(std::span(key).last(1));
    REQUIRE(got.ok());
    CHECK(got->size() == 1);
    CHECK(reader.buffered() == 0);
  }
}

TEST_CASE("FrameReader refuses lengths and types a peer cannot send", "[rdp][framing]") {
  FrameReader reader;
  SECTION("length 0") {
    auto got = reader.feed(Bytes{0, 0, 0, 0, 0x02});
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().code == core::ErrorCode::invalid_argument);
  }
  SECTION("length above kMaxFrameBytes, refused before the body arrives") {
    const std::uint32_t n = kMaxFrameBytes + 1;
    auto got = reader.feed(Bytes{
        static_cast<std::uint8_t>(n & 0xff), static_cast<std::uint8_t>((n >> 8) & 0xff),
        static_cast<std::uint8_t>((n >> 16) & 0xff), static_cast<std::uint8_t>(n >> 24), 0x82});
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message.find("limit") != std::string::npos);
  }
  SECTION("length exactly kMaxFrameBytes is waited for") {
    const std::uint32_t n = kMaxFrameBytes;
    auto got = reader.feed(Bytes{
        static_cast<std::uint8_t>(n & 0xff), static_cast<std::uint8_t>((n >> 8) & 0xff),
        static_cast<std::uint8_t>((n >> 16) & 0xff), static_cast<std::uint8_t>(n >> 24), 0x82});
    REQUIRE(got.ok());
    CHECK(got->empty());
  }
  SECTION("unknown types") {
    for (int t : {0x00, 0x08, 0x80, 0x8a, 0xff}) {
      FrameReader r;
      auto got = r.feed(Bytes{1, 0, 0, 0, static_cast<std::uint8_t>(t)});
      INFO("type " << t);
      REQUIRE_FALSE(got.ok());
      CHECK(got.error().message.find("unknown type") != std::string::npos);
    }
  }
  SECTION("a bad frame after a good one in the same feed") {
    Bytes stream = encodeAck(1);
    stream.insert(stream.end(), {0, 0, 0, 0, 0x04});
    CHECK_FALSE(reader.feed(stream).ok());
  }
  SECTION("every known type is accepted") {
    for (int t : {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                  0x87, 0x88, 0x89}) {
      FrameReader r;
      auto got = r.feed(Bytes{1, 0, 0, 0, static_cast<std::uint8_t>(t)});
      INFO("type " << t);
      REQUIRE(got.ok());
      REQUIRE(got->size() == 1);
      CHECK(static_cast<int>((*got)[0].type) == t);
      CHECK((*got)[0].body.empty());
    }
  }
}

TEST_CASE("connect round-trips with the password's bytes exactly", "[rdp][connect]") {
  ConnectRequest r;
  r.host = "plc-hmi.local";
  r.port = 3390;
  r.username = "operator";
  r.domain = "PLANT";
  r.certificateSha256 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  r.width = 1920;
  r.height = 1080;
  r.security = Security::nla;
  r.clipboard = true;
  r.printer = true;
  r.connectTimeoutMs = 5000;
  r.keyframeSeconds = 10;
  // Bytes after the JSON that look like JSON, a NUL and non-UTF-8 bytes.
  const Bytes password = {'}', ',', '"', 'x', '"', ':', '1', '}', 0x00, 0xff, 0xfe, '{'};

  const Frame f = readOne(encodeConnect(r, password), MessageType::connect);
  Bytes got;
  auto d = decodeConnect(f.body, got);
  REQUIRE(d.ok());
  CHECK(got == password);
  CHECK(d->host == r.host);
  CHECK(d->port == 3390);
  CHECK(d->username == r.username);
  CHECK(d->domain == r.domain);
  CHECK(d->certificateSha256 == r.certificateSha256);
  CHECK_FALSE(d->learnCertificate);
  CHECK(d->width == 1920);
  CHECK(d->height == 1080);
  CHECK(d->security == Security::nla);
  CHECK(d->clipboard);
  CHECK_FALSE(d->drive);
  CHECK(d->printer);
  CHECK_FALSE(d->audio);
  CHECK(d->connectTimeoutMs == 5000);
  CHECK(d->keyframeSeconds == 10);

  SECTION("an empty password") {
    Bytes none = {1, 2, 3};
    auto e = decodeConnect(bodyOf(encodeConnect(r, {})), none);
    REQUIRE(e.ok());
    CHECK(none.empty());
  }
  SECTION("tls, any and learn_certificate") {
    r.security = Security::tls;
    r.learnCertificate = true;
    r.certificateSha256.clear();
    Bytes pw;
    auto e = decodeConnect(bodyOf(encodeConnect(r, password)), pw);
    REQUIRE(e.ok());
    CHECK(e->security == Security::tls);
    CHECK(e->learnCertificate);
    CHECK(e->certificateSha256.empty());
    r.security = Security::any;
    e = decodeConnect(bodyOf(encodeConnect(r, password)), pw);
    REQUIRE(e.ok());
    CHECK(e->security == Security::any);
  }
}

TEST_CASE("decodeConnect refuses bad sizes and missing fields", "[rdp][connect]") {
  Bytes pw;
  auto refused = [&](const Bytes& body) {
    auto d = decodeConnect(body, pw);
    if (d.ok()) return false;
    CHECK(d.error().code == core::ErrorCode::invalid_argument);
    return true;
  };
  REQUIRE_FALSE(refused(connectBody(connectJson())));  // the baseline is accepted

  SECTION("short body and JSON longer than the frame") {
    CHECK(refused({}));
    CHECK(refused({5, 0, 0}));
    Bytes body = connectBody(connectJson());
    body[0] = static_cast<std::uint8_t>(body[0] + 1);
    CHECK(refused(body));
    // Refused for its length, before any byte past the frame is read.
    auto d = decodeConnect(Bytes{0xff, 0xff, 0xff, 0xff, '{', '}'}, pw);
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().message.find("longer than the frame") != std::string::npos);
  }
  SECTION("a drive without an absolute path") {
    const std::string fp = R"(,"certificate_sha256":")" + kFingerprint + "\"";
    CHECK(refused(connectBody(connectJson(fp + R"(,"drive":true)"))));
    CHECK(refused(connectBody(connectJson(fp + R"(,"drive":true,"drive_path":"")"))));
    CHECK(refused(connectBody(connectJson(fp + R"(,"drive":true,"drive_path":"tmp/d")"))));
    CHECK(refused(connectBody(connectJson(fp + R"(,"drive":true,"drive_path":"/tmp/\u0000d")"))));
    Bytes got;
    auto d =
        decodeConnect(connectBody(connectJson(fp + R"(,"drive":true,"drive_path":"/tmp/d")")), got);
    REQUIRE(d.ok());
    CHECK(d->drive);
    CHECK(d->drivePath == "/tmp/d");
  }
  SECTION("not a JSON object") {
    CHECK(refused(connectBody("[1,2]")));
    CHECK(refused(connectBody("{\"host\":")));
    CHECK(refused(connectBody("")));
  }
  SECTION("missing or wrongly typed fields") {
    const std::string fp = R"(,"certificate_sha256":")" + kFingerprint + "\"";
    CHECK(refused(
        connectBody(R"({"port":3389,"username":"op","width":1280,"height":720)" + fp + "}")));
    CHECK(refused(
        connectBody(R"({"host":"h","username":"op","width":1280,"height":720)" + fp + "}")));
    CHECK(refused(connectBody(R"({"host":"h","port":3389,"width":1280,"height":720)" + fp + "}")));
    CHECK(
        refused(connectBody(R"({"host":"h","port":3389,"username":"op","height":720)" + fp + "}")));
    CHECK(
        refused(connectBody(R"({"host":"h","port":3389,"username":"op","width":1280)" + fp + "}")));
    CHECK(refused(connectBody(
        R"({"host":"","port":3389,"username":"op","width":1280,"height":720)" + fp + "}")));
    CHECK(refused(connectBody(
        R"({"host":"h","port":"3389","username":"op","width":1280,"height":720)" + fp + "}")));
    CHECK(refused(connectBody(
        R"({"host":"h","port":3389,"username":"op","width":1280.5,"height":720)" + fp + "}")));
    CHECK(refused(connectBody(R"({"host":")" + std::string(256, 'h') +
                              R"(","port":3389,"username":"op","width":1280,"height":720)" + fp +
                              "}")));
  }
  SECTION("port and desktop size out of range") {
    const std::string fp = R"(,"certificate_sha256":")" + kFingerprint + "\"";
    auto with = [&](int port, int w, int h) {
      return connectBody(R"({"host":"h","username":"op","port":)" + std::to_string(port) +
                         R"(,"width":)" + std::to_string(w) + R"(,"height":)" + std::to_string(h) +
                         fp + "}");
    };
    CHECK_FALSE(refused(with(1, kMinDesktop, kMinDesktop)));
    CHECK_FALSE(refused(with(65535, kMaxDesktopWidth, kMaxDesktopHeight)));
    CHECK(refused(with(0, 1024, 768)));
    CHECK(refused(with(65536, 1024, 768)));
    CHECK(refused(with(3389, kMinDesktop - 1, 768)));
    CHECK(refused(with(3389, 1024, kMinDesktop - 1)));
    CHECK(refused(with(3389, kMaxDesktopWidth + 1, 768)));
    CHECK(refused(with(3389, 1024, kMaxDesktopHeight + 1)));
  }
  SECTION("an unknown security mode") {
    CHECK(refused(connectBody(
        connectJson(R"(,"certificate_sha256":")" + kFingerprint + R"(","security":"rdp")"))));
  }
}

TEST_CASE("decodeConnect pins a hex fingerprint unless learn_certificate", "[rdp][connect]") {
  Bytes pw;
  auto decode = [&](const std::string& extra) {
    return decodeConnect(connectBody(connectJson(extra)), pw);
  };
  CHECK_FALSE(decode(R"(,"certificate_sha256":"")").ok());
  CHECK_FALSE(decode(R"(,"learn_certificate":false)").ok());  // missing fingerprint
  CHECK_FALSE(decode(R"(,"certificate_sha256":")" + std::string(64, 'g') + "\"").ok());
  CHECK_FALSE(decode(R"(,"certificate_sha256":")" + std::string(64, 'A') + "\"").ok());
  CHECK_FALSE(decode(R"(,"certificate_sha256":")" + std::string(63, 'a') + "\"").ok());
  CHECK_FALSE(decode(R"(,"certificate_sha256":")" + std::string(65, 'a') + "\"").ok());
  // learn_certificate must be a real boolean true, not a truthy value.
  CHECK_FALSE(decode(R"(,"learn_certificate":1)").ok());
  CHECK_FALSE(decode(R"(,"learn_certificate":"true")").ok());
  CHECK(decode(R"(,"certificate_sha256":")" + std::string(64, 'f') + "\"").ok());
  auto learn = decode(R"(,"learn_certificate":true,"certificate_sha256":"not hex")");
  REQUIRE(learn.ok());
  CHECK(learn->learnCertificate);
  CHECK(decode(R"(,"learn_certificate":true)").ok());
}

TEST_CASE("decodeConnect keeps every byte after the JSON as the password", "[rdp][connect]") {
  const Bytes rest = bytesOf(R"(,"learn_certificate":true} {"host":"evil"})");
  Bytes pw;
  auto d = decodeConnect(connectBody(connectJson(), rest), pw);
  REQUIRE(d.ok());
  CHECK(pw == rest);
  CHECK(d->host == "10.0.0.5");
  CHECK_FALSE(d->learnCertificate);
}

TEST_CASE("decodeConnect clamps the timeouts", "[rdp][connect]") {
  Bytes pw;
  auto d = decodeConnect(
      connectBody(connectJson(R"(,"certificate_sha256":")" + kFingerprint +
                              R"(","connect_timeout_ms":1,"keyframe_seconds":99999)")),
      pw);
  REQUIRE(d.ok());
  CHECK(d->connectTimeoutMs == 1000);
  CHECK(d->keyframeSeconds == 3600);
  d = decodeConnect(
      connectBody(connectJson(R"(,"certificate_sha256":")" + kFingerprint +
                              R"(","connect_timeout_ms":999999,"keyframe_seconds":-5)")),
      pw);
  REQUIRE(d.ok());
  CHECK(d->connectTimeoutMs == 120000);
  CHECK(d->keyframeSeconds == 0);
  d = decodeConnect(connectBody(connectJson()), pw);
  REQUIRE(d.ok());
  CHECK(d->connectTimeoutMs == 15000);
  CHECK(d->keyframeSeconds == 30);
  CHECK(d->port == 3389);
}

TEST_CASE("key events round-trip and out-of-range scancodes are refused", "[rdp][input]") {
  for (KeyEvent k : {KeyEvent{true, 0x01}, KeyEvent{false, 0x1e}, KeyEvent{true, 0xff},
                     KeyEvent{true, 0x148}, KeyEvent{false, 0x1ff}}) {
    const Bytes frame = encodeKey(k);
    CHECK(frame.size() == 8);
    const Frame f = readOne(frame, MessageType::key);
    auto d = decodeKey(f.body);
    REQUIRE(d.ok());
    CHECK(d->down == k.down);
    CHECK(d->scancode == k.scancode);
    CHECK(encodeKey(*d) == frame);
  }
  CHECK_FALSE(decodeKey(Bytes{1, 0x00, 0x00}).ok());  // scancode 0
  CHECK_FALSE(decodeKey(Bytes{1, 0x00, 0x02}).ok());  // 0x200
  CHECK_FALSE(decodeKey(Bytes{1, 0xff, 0xff}).ok());
  CHECK_FALSE(decodeKey(Bytes{2, 0x1e, 0x00}).ok());  // down is 0 or 1
  CHECK_FALSE(decodeKey(Bytes{1, 0x1e}).ok());
  CHECK_FALSE(decodeKey(Bytes{1, 0x1e, 0x00, 0x00}).ok());
  CHECK_FALSE(decodeKey(Bytes{}).ok());
  CHECK(decodeKey(Bytes{0, 0xff, 0x01}).ok());  // 0x1ff
}

TEST_CASE("pointer events: move, buttons and wheel pass, other flags are refused", "[rdp][input]") {
  SECTION("accepted flags round-trip") {
    for (std::uint16_t flags :
         {kPtrMove, static_cast<std::uint16_t>(kPtrDown | kPtrButton1), kPtrButton1,
          static_cast<std::uint16_t>(kPtrDown | kPtrButton2), kPtrButton2,
          static_cast<std::uint16_t>(kPtrDown | kPtrButton3), kPtrButton3,
          static_cast<std::uint16_t>(kPtrMove | kPtrDown | kPtrButton1),
          static_cast<std::uint16_t>(kPtrWheel | 0x0078),
          static_cast<std::uint16_t>(kPtrWheel | kPtrWheelNegative | 0x0088), kPtrWheel}) {
      INFO("flags " << flags);
      const Bytes frame = encodePointer({flags, 4095, 2159});
      CHECK(frame.size() == 11);
      const Frame f = readOne(frame, MessageType::pointer);
      auto d = decodePointer(f.body);
      REQUIRE(d.ok());
      CHECK(d->flags == flags);
      CHECK(d->x == 4095);
      CHECK(d->y == 2159);
      CHECK(encodePointer(*d) == frame);
    }
  }
  SECTION("disallowed flags") {
    for (int flags : {0x0000, 0x0001, 0x0078, 0x00ff, 0x0100, 0x0400, 0x0001 | 0x0800,
                      0x0100 | 0x8000, 0x0400 | 0x1000,
                      // wheel with a button or a move
                      0x0200 | 0x0800, 0x0200 | 0x1000, 0x0200 | 0x8000, 0x0200 | 0x0400}) {
      INFO("flags " << flags);
      auto d = decodePointer(pointerBody(static_cast<std::uint16_t>(flags)));
      REQUIRE_FALSE(d.ok());
      CHECK(d.error().code == core::ErrorCode::invalid_argument);
    }
  }
  SECTION("short or long bodies") {
    CHECK_FALSE(decodePointer(Bytes{0x00, 0x08, 0, 0, 0}).ok());
    CHECK_FALSE(decodePointer(Bytes{0x00, 0x08, 0, 0, 0, 0, 0}).ok());
    CHECK(decodePointer(Bytes{0x00, 0x08, 0, 0, 0, 0}).ok());
  }
}

TEST_CASE("ack and frame_end round-trip, bad bodies are refused", "[rdp][frames]") {
  for (std::uint32_t seq : {0u, 1u, 0x01020304u, 0xffffffffu}) {
    const Bytes frame = encodeAck(seq);
    const Frame f = readOne(frame, MessageType::ack);
    auto d = decodeAck(f.body);
    REQUIRE(d.ok());
    CHECK(*d == seq);
    CHECK(encodeAck(*d) == frame);

    for (bool keyframe : {false, true}) {
      const Bytes end = encodeFrameEnd({seq, keyframe});
      const Frame e = readOne(end, MessageType::frame_end);
      auto de = decodeFrameEnd(e.body);
      REQUIRE(de.ok());
      CHECK(de->sequence == seq);
      CHECK(de->keyframe == keyframe);
      CHECK(encodeFrameEnd(*de) == end);
    }
  }
  CHECK(decodeAck(Bytes{4, 3, 2, 1}).value() == 0x01020304u);
  CHECK_FALSE(decodeAck(Bytes{1, 2, 3}).ok());
  CHECK_FALSE(decodeAck(Bytes{1, 2, 3, 4, 5}).ok());
  CHECK_FALSE(decodeFrameEnd(Bytes{1, 0, 0, 0, 2}).ok());
  CHECK_FALSE(decodeFrameEnd(Bytes{1, 0, 0, 0}).ok());
  CHECK_FALSE(decodeFrameEnd(Bytes{1, 0, 0, 0, 1, 0}).ok());
}

TEST_CASE("connected round-trips and is checked", "[rdp][frames]") {
  const Frame f = readOne(encodeConnected({1920, 1080, kFingerprint}), MessageType::connected);
  auto d = decodeConnected(f.body);
  REQUIRE(d.ok());
  CHECK(d->width == 1920);
  CHECK(d->height == 1080);
  CHECK(d->certificateSha256 == kFingerprint);

  auto body = [](int w, int h, const std::string& cert) {
    const Bytes frame = encodeConnected({w, h, cert});
    return Bytes(frame.begin() + 5, frame.end());
  };
  CHECK(decodeConnected(body(1, 1, kFingerprint)).ok());
  CHECK(decodeConnected(body(kMaxDesktopWidth, kMaxDesktopHeight, kFingerprint)).ok());
  CHECK_FALSE(decodeConnected(body(0, 768, kFingerprint)).ok());
  CHECK_FALSE(decodeConnected(body(1024, 0, kFingerprint)).ok());
  CHECK_FALSE(decodeConnected(body(kMaxDesktopWidth + 1, 768, kFingerprint)).ok());
  CHECK_FALSE(decodeConnected(body(1024, kMaxDesktopHeight + 1, kFingerprint)).ok());
  CHECK_FALSE(decodeConnected(body(1024, 768, "")).ok());
  CHECK_FALSE(decodeConnected(body(1024, 768, std::string(64, 'Z'))).ok());
  CHECK_FALSE(decodeConnected(bytesOf(R"({"width":1024,"height":768})")).ok());
  CHECK_FALSE(decodeConnected(bytesOf("not json")).ok());
}

TEST_CASE("failure and closed round-trip and are bounded", "[rdp][frames]") {
  for (MessageType type : {MessageType::failed, MessageType::closed}) {
    const Frame f =
        readOne(encodeFailure(type, {"certificate", "not the pinned certificate"}), type);
    auto d = decodeFailure(f.body);
    REQUIRE(d.ok());
    CHECK(d->code == "certificate");
    CHECK(d->message == "not the pinned certificate");
  }
  CHECK(decodeFailure(bodyOf(encodeFailure(MessageType::failed,
                                           {std::string(32, 'c'), std::string(1024, 'm')})))
            .ok());
  CHECK_FALSE(
      decodeFailure(bodyOf(encodeFailure(MessageType::failed, {std::string(33, 'c'), "m"}))).ok());
  CHECK_FALSE(
      decodeFailure(bodyOf(encodeFailure(MessageType::failed, {"c", std::string(1025, 'm')})))
          .ok());
  CHECK_FALSE(decodeFailure(bytesOf(R"({"code":"server"})")).ok());
  CHECK_FALSE(decodeFailure(bytesOf(R"({"code":1,"message":"m"})")).ok());
  CHECK_FALSE(decodeFailure(bytesOf("[]")).ok());
}

TEST_CASE("tiles round-trip with PNG and JPEG images", "[rdp][tile]") {
  for (const auto& [format, image] :
       {std::pair{TileFormat::png, kPng}, std::pair{TileFormat::jpeg, kJpeg}}) {
    const Tile t{256, 512, 128, 64, format, image};
    const Bytes frame = encodeTile(t);
    CHECK(frame.size() == 5 + kTileHeaderBytes + image.size());
    const Frame f = readOne(frame, MessageType::tile);
    auto d = decodeTile(f.body, 1024, 768);
    REQUIRE(d.ok());
    CHECK(d->x == 256);
    CHECK(d->y == 512);
    CHECK(d->width == 128);
    CHECK(d->height == 64);
    CHECK(d->format == format);
    CHECK(d->image == image);
    CHECK(encodeTile(*d) == frame);
  }
  // The bare signatures are enough.
  CHECK(decodeTile(tileBody(0, 0, 1, 1, 1, Bytes(kPng.begin(), kPng.begin() + 8)), 200, 200).ok());
  CHECK(decodeTile(tileBody(0, 0, 1, 1, 2, {0xff, 0xd8, 0xff}), 200, 200).ok());
}

TEST_CASE("decodeTile refuses rectangles outside the desktop", "[rdp][tile]") {
  auto decode = [](std::uint16_t x, std::uint16_t y, std::uint16_t w, std::uint16_t h) {
    return decodeTile(tileBody(x, y, w, h, 1, kPng), 1024, 768);
  };
  CHECK(decode(0, 0, 1024, 768).ok());
  CHECK(decode(1023, 767, 1, 1).ok());
  CHECK(decode(768, 512, 256, 256).ok());
  CHECK_FALSE(decode(0, 0, 0, 16).ok());
  CHECK_FALSE(decode(0, 0, 16, 0).ok());
  CHECK_FALSE(decode(0, 0, 1025, 16).ok());
  CHECK_FALSE(decode(0, 0, 16, 769).ok());
  CHECK_FALSE(decode(1009, 0, 16, 16).ok());  // x + width = 1025
  CHECK_FALSE(decode(0, 753, 16, 16).ok());   // y + height = 769
  CHECK_FALSE(decode(1024, 0, 1, 1).ok());
  CHECK_FALSE(decode(0, 768, 1, 1).ok());
  // u16 fields near their top must not wrap around into the desktop.
  CHECK_FALSE(decode(0xffff, 0, 2, 16).ok());
  CHECK_FALSE(decode(0, 0xffff, 16, 2).ok());
  CHECK_FALSE(decode(0xffff, 0xffff, 0xffff, 0xffff).ok());
  auto e = decode(2000, 0, 16, 16);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("outside the desktop") != std::string::npos);
}

TEST_CASE("decodeTile refuses unknown formats and wrong signatures", "[rdp][tile]") {
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 0, kPng), 1024, 768).ok());
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 3, kPng), 1024, 768).ok());
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 0xff, kJpeg), 1024, 768).ok());
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 1, kJpeg), 1024, 768).ok());  // PNG said, JPEG
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 2, kPng), 1024, 768).ok());   // and the reverse
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 1, {}), 1024, 768).ok());
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 2, {}), 1024, 768).ok());
  CHECK_FALSE(
      decodeTile(tileBody(0, 0, 16, 16, 1, Bytes(kPng.begin(), kPng.begin() + 7)), 1024, 768).ok());
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 2, {0xff, 0xd8}), 1024, 768).ok());
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 2, {0xff, 0xd8, 0xfe, 0xe0}), 1024, 768).ok());
  Bytes png = kPng;
  png[1] = 'p';
  CHECK_FALSE(decodeTile(tileBody(0, 0, 16, 16, 1, png), 1024, 768).ok());
  // A header shorter than 9 bytes.
  for (std::size_t n = 0; n < kTileHeaderBytes; ++n) {
    const Bytes body = tileBody(0, 0, 16, 16, 1, kPng);
    CHECK_FALSE(decodeTile(std::span(body).first(n), 1024, 768).ok());
  }
  auto e = decodeTile(tileBody(0, 0, 16, 16, 9, kPng), 1024, 768);
  REQUIRE_FALSE(e.ok());
  CHECK(e.error().message.find("format") != std::string::npos);
}

namespace {
// The body of a frame as encoded (what FrameReader would hand over).
conduit::core::Result<std::string> decodeClipboardFrame(std::string_view text) {
  const Bytes frame = encodeClipboard(MessageType::clipboard, text);
  return decodeClipboard(std::span(frame).subspan(5));
}
}  // namespace

TEST_CASE("clipboard text round-trips and bad text is refused", "[rdp][clipboard]") {
  const std::string text = "set ip 10.0.0.7\nGr\xc3\xbc\xc3\x9f \xe2\x82\xac \xf0\x9f\x94\xa7\n";
  for (const auto type : {MessageType::clipboard, MessageType::target_clipboard}) {
    const Bytes frame = encodeClipboard(type, text);
    FrameReader reader;
    auto frames = reader.feed(frame);
    REQUIRE(frames.ok());
    REQUIRE(frames->size() == 1);
    CHECK((*frames)[0].type == type);
    auto back = decodeClipboard((*frames)[0].body);
    REQUIRE(back.ok());
    CHECK(*back == text);
  }
  SECTION("empty text is a valid (cleared) clipboard") {
    auto back = decodeClipboard({});
    REQUIRE(back.ok());
    CHECK(back->empty());
  }
  SECTION("exactly the limit passes, one byte more is refused") {
    const std::string limit(kMaxClipboardBytes, 'a');
    CHECK(decodeClipboardFrame(limit).ok());
    const std::string over(kMaxClipboardBytes + 1, 'a');
    auto got = decodeClipboardFrame(over);
    REQUIRE_FALSE(got.ok());
    CHECK(got.error().message.find("limit") != std::string::npos);
  }
  SECTION("invalid UTF-8 is refused") {
    for (const std::string& bad : {std::string("\xff"), std::string("a\xc3"),  // truncated
                                   std::string("\xc0\xaf"),                    // overlong '/'
                                   std::string("\xed\xa0\x80"),                // a surrogate
                                   std::string("\xf4\x90\x80\x80")}) {         // above U+10FFFF
      INFO("bytes " << bad.size());
      CHECK_FALSE(isValidUtf8(bad));
      CHECK_FALSE(decodeClipboardFrame(bad).ok());
    }
  }
}

TEST_CASE("audio chunks round-trip and bad ones are refused", "[rdp][audio]") {
  AudioChunk chunk;
  chunk.rate = 22050;
  chunk.channels = 2;
  for (int i = 0; i < 1000; ++i) chunk.pcm.push_back(static_cast<std::uint8_t>(i * 7));
  const Bytes frame = encodeAudio(chunk);
  FrameReader reader;
  auto frames = reader.feed(frame);
  REQUIRE(frames.ok());
  REQUIRE(frames->size() == 1);
  CHECK((*frames)[0].type == MessageType::audio);
  auto back = decodeAudio((*frames)[0].body);
  REQUIRE(back.ok());
  CHECK(back->rate == 22050);
  CHECK(back->channels == 2);
  CHECK(back->pcm == chunk.pcm);

  auto decodeWith = [](std::uint32_t rate, std::uint8_t channels, std::size_t bytes) {
    AudioChunk c;
    c.rate = rate;
    c.channels = channels;
    c.pcm.assign(bytes, 0x11);
    const Bytes f = encodeAudio(c);
    return decodeAudio(std::span(f).subspan(5));
  };
  CHECK(decodeWith(8000, 1, 2).ok());
  CHECK(decodeWith(48000, 2, kMaxAudioChunkBytes).ok());
  CHECK_FALSE(decodeWith(7999, 1, 2).ok());   // rate below the range
  CHECK_FALSE(decodeWith(48001, 1, 2).ok());  // above it
  CHECK_FALSE(decodeWith(44100, 0, 4).ok());  // no channels
  CHECK_FALSE(decodeWith(44100, 3, 6).ok());  // surround: not offered
  CHECK_FALSE(decodeWith(44100, 2, 6).ok());  // a half sample frame
  CHECK_FALSE(decodeWith(44100, 1, 0).ok());  // no samples
  CHECK_FALSE(decodeWith(44100, 2, kMaxAudioChunkBytes + 4).ok());
  CHECK_FALSE(decodeAudio(std::span(frame).subspan(5, 3)).ok());  // a short header
}

TEST_CASE("print frames round-trip and bad ones are refused", "[rdp][printer]") {
  PrintData data{7, Bytes{'%', '!', 'P', 'S'}};
  FrameReader reader;
  auto frames = reader.feed(encodePrintData(data));
  REQUIRE(frames.ok());
  REQUIRE(frames->size() == 1);
  CHECK((*frames)[0].type == MessageType::print_data);
  auto back = decodePrintData((*frames)[0].body);
  REQUIRE(back.ok());
  CHECK(back->job == 7);
  CHECK(back->bytes == data.bytes);

  auto end = reader.feed(encodePrintEnd({7, true}));
  REQUIRE(end.ok());
  REQUIRE(end->size() == 1);
  CHECK((*end)[0].type == MessageType::print_end);
  auto endBack = decodePrintEnd((*end)[0].body);
  REQUIRE(endBack.ok());
  CHECK(endBack->job == 7);
  CHECK(endBack->truncated);
  CHECK_FALSE(decodePrintEnd(Bytes{7, 0, 0, 0}).ok());        // no status
  CHECK_FALSE(decodePrintEnd(Bytes{7, 0, 0, 0, 2}).ok());     // a status that means nothing
  CHECK_FALSE(decodePrintEnd(Bytes{7, 0, 0, 0, 0, 0}).ok());  // trailing bytes
  CHECK_FALSE(decodePrintData(Bytes{7, 0, 0, 0}).ok());       // no bytes
  Bytes big(4 + kMaxPrintChunkBytes, 'x');
  CHECK(decodePrintData(big).ok());
  big.push_back('x');
  CHECK_FALSE(decodePrintData(big).ok());  // over 1 MiB in one piece
}
