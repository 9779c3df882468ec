// MBAP framing: any split of the stream gives the same frames; malformed headers are fatal.
#include <catch2/catch.hpp>

#include "conduit/tunnel/mbap_framer.hpp"
#include "tunnel/modbus_frames.hpp"

using namespace conduit::tunnel;
using namespace conduit::tunnel::testing;

namespace {

struct Fed {
  std::vector<Bytes> frames;
  std::optional<std::string> error;
};

// Feeds `stream` in pieces of the sizes given (the rest in one last piece).
Fed feedInPieces(MbapFramer& framer, const Bytes& stream, const std::vector<std::size_t>& sizes) {
  Fed fed;
  std::size_t at = 0;
  auto collect = [&](const MbapFrame& f) {
    fed.frames.emplace_back(f.bytes.begin(), f.bytes.end());
  };
  for (std::size_t n : sizes) {
    n = std::min(n, stream.size() - at);
    if (auto e = framer.feed(std::span(stream).subspan(at, n), collect)) fed.error = e;
    at += n;
  }
  if (at < stream.size()) {
    if (auto e = framer.feed(std::span(stream).subspan(at), collect)) fed.error = e;
  }
  return fed;
}

}  // namespace

TEST_CASE("frames come out whole whatever the reads' boundaries") {
  const Bytes a = frame(1, 1, readPdu(3, 0, 2));
  const Bytes b = frame(2, 1, writeRegistersPdu(10, {1, 2, 3}));
  const Bytes c = frame(0xfffe, 255, {17});  // smallest frame: unit + function
  const Bytes stream = join({a, b, c});

  SECTION("all in one read") {
    MbapFramer f;
    const auto fed = feedInPieces(f, stream, {});
    CHECK_FALSE(fed.error);
    CHECK(fed.frames == std::vector<Bytes>{a, b, c});
    CHECK(f.buffered() == 0);
  }
  SECTION("one byte at a time") {
    MbapFramer f;
    const auto fed = feedInPieces(f, stream, std::vector<std::size_t>(stream.size(), 1));
    CHECK_FALSE(fed.error);
    CHECK(fed.frames == std::vector<Bytes>{a, b, c});
  }
  SECTION("every split point into two reads") {
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      MbapFramer f;
      const auto fed = feedInPieces(f, stream, {cut});
      INFO("cut at " << cut);
      CHECK_FALSE(fed.error);
      CHECK(fed.frames == std::vector<Bytes>{a, b, c});
    }
  }
  SECTION("a frame and a half, then the rest with the next frame") {
    MbapFramer f;
    const auto fed = feedInPieces(f, stream, {a.size() + 9});
    CHECK(fed.frames == std::vector<Bytes>{a, b, c});
  }
  SECTION("a partial frame is kept for the next read") {
    MbapFramer f;
    auto fed = feedInPieces(f, Bytes(b.begin(), b.begin() + 8), {});
    CHECK(fed.frames.empty());
    CHECK(f.buffered() == 8);
  }
}

TEST_CASE("the largest frame (length 254) passes, 255 is refused") {
  Bytes pdu(253, 0);
  pdu[0] = 100;
  const Bytes largest = frame(7, 1, pdu);
  REQUIRE(largest.size() == kMaxFrameBytes);
  MbapFramer f;
  auto fed = feedInPieces(f, join({largest, largest}), {100, 300});
  CHECK_FALSE(fed.error);
  CHECK(fed.frames.size() == 2);

  MbapFramer g;
  fed = feedInPieces(g, Bytes{0, 7, 0, 0, 0, 255, 1}, {});
  REQUIRE(fed.error);
  CHECK(*fed.error == "Modbus/TCP length 255 outside 2..254");
}

TEST_CASE("malformed headers are fatal with the reason") {
  auto failure = [](const Bytes& bytes, std::vector<std::size_t> sizes = {}) {
    MbapFramer f;
    const auto fed = feedInPieces(f, bytes, sizes);
    return fed.error.value_or("");
  };
  CHECK(failure({0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1}) ==
        "not Modbus/TCP: protocol id 1, expected 0");
  CHECK(failure({0, 1, 0, 0, 0, 1, 1}) == "Modbus/TCP length 1 outside 2..254");
  CHECK(failure({0, 1, 0, 0, 0, 0, 1}) == "Modbus/TCP length 0 outside 2..254");
  CHECK(failure({0, 1, 0, 0, 0xff, 0xff, 1}) == "Modbus/TCP length 65535 outside 2..254");
  // HTTP and TLS sent to a Modbus port: refused as soon as the protocol id bytes arrive, before
  // a whole header is waited for.
  CHECK(failure({'G', 'E', 'T', ' '}) == "not Modbus/TCP: protocol id 21536, expected 0");
  CHECK(failure({0x16, 0x03, 0x01, 0x02, 0x00}, {1, 1, 1, 1, 1}) ==
        "not Modbus/TCP: protocol id 258, expected 0");
  // Garbage after a good frame: the good frame still comes out first.
  MbapFramer f;
  const auto fed = feedInPieces(f, join({frame(1, 1, readPdu(3, 0, 1)), {0, 2, 0, 9}}), {});
  CHECK(fed.frames.size() == 1);
  REQUIRE(fed.error);
  CHECK(*fed.error == "not Modbus/TCP: protocol id 9, expected 0");
}

TEST_CASE("a failed framer stays failed and ignores further input") {
  MbapFramer f;
  int frames = 0;
  auto count = [&](const MbapFrame&) { ++frames; };
  const Bytes bad = {0, 1, 0, 5, 0, 6, 1};
  REQUIRE(f.feed(bad, count));
  const Bytes good = frame(1, 1, readPdu(3, 0, 1));
  const auto again = f.feed(good, count);
  REQUIRE(again);
  CHECK(*again == "not Modbus/TCP: protocol id 5, expected 0");
  CHECK(frames == 0);
  CHECK(f.failure() == again);
}

TEST_CASE("frame accessors read the MBAP header") {
  const Bytes b = frame(0x1234, 17, readPdu(4, 0x0102, 3));
  MbapFramer f;
  bool seen = false;
  REQUIRE_FALSE(f.feed(b, [&](const MbapFrame& m) {
    seen = true;
    CHECK(m.transaction() == 0x1234);
    CHECK(m.unit() == 17);
    CHECK(m.function() == 4);
    CHECK(m.pdu().size() == 5);
  }));
  CHECK(seen);
}
