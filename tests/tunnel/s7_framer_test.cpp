// ISO-on-TCP framing and decoding: any split of the stream gives the same TPKT packets; bad
// TPKT, COTP and S7 headers are refused with the reason.
#include <catch2/catch.hpp>

#include "conduit/tunnel/s7_framer.hpp"
#include "tunnel/s7_frames.hpp"

using namespace conduit::tunnel;
using namespace conduit::tunnel::s7testing;

namespace {

struct Fed {
  std::vector<Bytes> frames;
  std::optional<std::string> error;
};

// Feeds `stream` in pieces of the sizes given (the rest in one last piece).
Fed feedInPieces(TpktFramer& framer, const Bytes& stream, const std::vector<std::size_t>& sizes) {
  Fed fed;
  std::size_t at = 0;
  auto collect = [&](const TpktFrame& f) {
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

std::string failure(const Bytes& bytes, std::vector<std::size_t> sizes = {}) {
  TpktFramer f;
  return feedInPieces(f, bytes, sizes).error.value_or("");
}

}  // namespace

TEST_CASE("TPKT packets come out whole whatever the reads' boundaries") {
  const Bytes a = connectRequest();
  const Bytes b = dt(job(1, setupParam(480)));
  const Bytes c = dt(job(2, varParam(0x05, {anyItem(0x84, 1, 0, 2, 2)}), byteData({1, 2})));
  const Bytes d = tpkt({2, 0xf0, 0x80});  // smallest packet: 7 bytes
  const Bytes stream = join({a, b, c, d});
  const std::vector<Bytes> all = {a, b, c, d};

  SECTION("all in one read") {
    TpktFramer f;
    const auto fed = feedInPieces(f, stream, {});
    CHECK_FALSE(fed.error);
    CHECK(fed.frames == all);
    CHECK(f.buffered() == 0);
  }
  SECTION("one byte at a time") {
    TpktFramer f;
    const auto fed = feedInPieces(f, stream, std::vector<std::size_t>(stream.size(), 1));
    CHECK_FALSE(fed.error);
    CHECK(fed.frames == all);
  }
  SECTION("every split point into two reads") {
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
      TpktFramer f;
      const auto fed = feedInPieces(f, stream, {cut});
      INFO("cut at " << cut);
      CHECK_FALSE(fed.error);
      CHECK(fed.frames == all);
    }
  }
  SECTION("every pair of split points into three reads") {
    for (std::size_t first = 1; first < stream.size(); first += 3) {
      for (std::size_t second = 1; first + second < stream.size(); second += 2) {
        TpktFramer f;
        const auto fed = feedInPieces(f, stream, {first, second});
        INFO("reads of " << first << ", " << second << " and the rest");
        CHECK(fed.frames == all);
      }
    }
  }
  SECTION("a partial packet is kept for the next read") {
    TpktFramer f;
    auto fed = feedInPieces(f, Bytes(c.begin(), c.begin() + 9), {});
    CHECK(fed.frames.empty());
    CHECK(f.buffered() == 9);
  }
}

TEST_CASE("the largest packet (8196) passes, 8197 and 6 are refused") {
  Bytes largest = dt(Bytes(8192 - 3, 0x55));
  REQUIRE(largest.size() == kMaxTpktLength);
  TpktFramer f;
  auto fed = feedInPieces(f, join({largest, largest}), {100, 9000});
  CHECK_FALSE(fed.error);
  CHECK(fed.frames.size() == 2);

  CHECK(failure({3, 0, 0x20, 0x05}) == "TPKT length 8197 outside 7..8196");
  CHECK(failure({3, 0, 0, 6, 2, 0xf0}) == "TPKT length 6 outside 7..8196");
  CHECK(failure({3, 0, 0, 0}) == "TPKT length 0 outside 7..8196");
}

TEST_CASE("a bad TPKT version is refused on its first byte") {
  CHECK(failure({'G'}) == "not ISO-on-TCP: TPKT version 71, expected 3");
  CHECK(failure({0x16, 0x03, 0x01}, {1, 1, 1}) == "not ISO-on-TCP: TPKT version 22, expected 3");
  CHECK(failure({0, 1, 0, 0, 0, 6, 1, 3}) == "not ISO-on-TCP: TPKT version 0, expected 3");
  // Garbage after a good packet: the good packet still comes out first.
  TpktFramer f;
  const auto fed = feedInPieces(f, join({connectRequest(), {4, 0, 0, 7}}), {});
  CHECK(fed.frames == std::vector<Bytes>{connectRequest()});
  REQUIRE(fed.error);
  CHECK(*fed.error == "not ISO-on-TCP: TPKT version 4, expected 3");
}

TEST_CASE("a failed TPKT framer stays failed and ignores further input") {
  TpktFramer f;
  int frames = 0;
  auto count = [&](const TpktFrame&) { ++frames; };
  REQUIRE(f.feed(Bytes{2, 0, 0, 7}, count));
  const auto again = f.feed(connectRequest(), count);
  REQUIRE(again);
  CHECK(*again == "not ISO-on-TCP: TPKT version 2, expected 3");
  CHECK(frames == 0);
  CHECK(f.failure() == again);
  CHECK(f.buffered() == 0);
}

TEST_CASE("COTP: connect TPDUs with their parameters, data TPDUs with EOT") {
  const Bytes cr = connectRequest();
  auto t = decodeCotp(std::span(cr).subspan(4));
  REQUIRE(t.ok());
  CHECK(t->kind == CotpKind::connect_request);
  CHECK(t->srcRef == 1);
  CHECK(t->tpduSize == 1024);
  CHECK(t->callingTsap == Bytes{1, 0});
  CHECK(t->calledTsap == Bytes{1, 2});

  const Bytes cc = connectConfirm();
  t = decodeCotp(std::span(cc).subspan(4));
  REQUIRE(t.ok());
  CHECK(t->kind == CotpKind::connect_confirm);
  CHECK(t->dstRef == 1);
  CHECK(t->srcRef == 0x44);

  const Bytes segment = {2, 0xf0, 0x00, 0x32, 1};  // `data` points into it
  t = decodeCotp(segment);
  REQUIRE(t.ok());
  CHECK(t->kind == CotpKind::data);
  CHECK_FALSE(t->lastDataUnit);
  CHECK(Bytes(t->data.begin(), t->data.end()) == Bytes{0x32, 1});

  const Bytes disconnect = {6, 0x80, 0, 0x44, 0, 1, 0};
  t = decodeCotp(disconnect);
  REQUIRE(t.ok());
  CHECK(t->kind == CotpKind::disconnect_request);
}

TEST_CASE("COTP TPDUs that ISO-on-TCP class 0 does not send are refused") {
  auto reason = [](const Bytes& tpdu) {
    auto t = decodeCotp(tpdu);
    REQUIRE_FALSE(t.ok());
    return t.error().message;
  };
  CHECK(reason({9, 0xf0, 0x80}) == "COTP header length 9 does not fit a TPDU of 3 bytes");
  CHECK(reason({3, 0xf0, 0x80, 0}) == "COTP DT header length 3, expected 2 (class 0)");
  CHECK(reason({4, 0x10, 0, 1, 0x32}) ==
        "COTP TPDU type 0x10 is not used by ISO-on-TCP (class 0)");  // expedited data
  CHECK(reason({6, 0xe0, 0, 0, 0, 1, 0x20}) == "COTP CR for class 2; ISO-on-TCP uses class 0");
  CHECK(reason({6, 0xe0, 0, 0, 0, 1, 0, 0x32}) ==
        "COTP CR carries user data, which class 0 does not allow");
  CHECK(reason({9, 0xe0, 0, 0, 0, 1, 0, 0xc0, 1, 0x0e}) ==
        "COTP TPDU size parameter is not a size code 7..13");
  CHECK(reason({9, 0xe0, 0, 0, 0, 1, 0, 0xc1, 5, 1}) ==
        "COTP connect parameter 0xC1 runs past the header");
  CHECK(reason({255, 0xf0}) == "COTP length indicator 255 is reserved");
}

TEST_CASE("S7 headers: protocol id, message type and lengths must hold") {
  auto reason = [](const Bytes& pdu) {
    auto h = decodeS7Header(pdu);
    REQUIRE_FALSE(h.ok());
    return h.error().message;
  };
  CHECK(reason({0x72, 1, 0, 0x1f}) == "S7comm-plus (protocol id 0x72), which cannot be inspected");
  CHECK(reason({0x45, 0, 0, 0}) == "not S7comm: protocol id 0x45, expected 0x32");
  CHECK(reason({0x32, 5, 0, 0, 0, 1, 0, 0, 0, 0}) == "an unknown S7 message type (ROSCTR) 5");
  CHECK(reason({0x32, 1, 0, 0, 0, 1, 0, 2, 0, 0, 4}) ==
        "S7 lengths that do not add up: header 10 + parameter 2 + data 0 in a PDU of 11 bytes");
  CHECK(reason({0x32, 3, 0, 0, 0, 1, 0, 0, 0, 0}) ==
        "an S7 ack_data header of 10 bytes, expected 12");

  const Bytes pdu = ackData(0x1234, {4, 1}, byteData({7}, 0xff), 0, 0);
  auto h = decodeS7Header(pdu);
  REQUIRE(h.ok());
  CHECK(h->rosctr == Rosctr::ack_data);
  CHECK(h->pduRef == 0x1234);
  CHECK(h->param.size() == 2);
  CHECK(h->data.size() == 5);
}

TEST_CASE("read and write var jobs decode their items and values") {
  const Bytes w =
      job(9, varParam(0x05, {anyItem(0x84, 7, 10, 2, 3, 0), anyItem(0x82, 0, 4, 1, 1, 5)}),
          join({byteData({0xaa, 0xbb, 0xcc}), {0}, {0, 3, 0, 1, 1}}));  // fill byte, then a bit
  auto h = decodeS7Header(w);
  REQUIRE(h.ok());
  const S7Request r = decodeRequest(*h, 64);
  CHECK_FALSE(r.malformed);
  CHECK(r.function == 0x05);
  CHECK(r.itemCount == 2);
  REQUIRE(r.items.size() == 2);
  CHECK(r.items[0] == S7Item{0x10, 2, 3, 7, 0x84, 80});
  CHECK(r.items[1] == S7Item{0x10, 1, 1, 0, 0x82, 37});
  REQUIRE(r.values.size() == 2);
  CHECK(r.values[0].bytes == Bytes{0xaa, 0xbb, 0xcc});
  CHECK(r.values[1].bytes == Bytes{1});
  CHECK(changesState(r));
  CHECK(requestClass(r) == S7Class::write);

  // Cut values in events, never in the count of items.
  CHECK(decodeRequest(*h, 2).values[0].truncated);

  auto malformed = [](const Bytes& pdu) {
    auto hh = decodeS7Header(pdu);
    REQUIRE(hh.ok());
    return decodeRequest(*hh, 64).malformed.value_or("");
  };
  CHECK(malformed(job(1, {0x04, 0})) == "read var: no items");
  CHECK(malformed(job(1, {0x04, 2, 0x12, 0x0a, 0x10, 2, 0, 1, 0, 1, 0x84, 0, 0, 0})) ==
        "read var: item 2 is cut short");
  CHECK(malformed(job(1, {0x04, 1, 0x11, 0x0a, 0x10, 2, 0, 1, 0, 1, 0x84, 0, 0, 0})) ==
        "read var: item 1 has specification 0x11, expected 0x12");
  CHECK(malformed(job(1, varParam(0x05, {anyItem(0x84, 1, 0, 2, 2)}), {0, 4, 0, 16, 1})) ==
        "write var: data item 1 announces 2 bytes, 1 follow");
  CHECK(malformed(job(1, {0xf0, 0, 0, 1})) ==
        "setup communication parameter of 4 bytes, expected 8");
  CHECK(malformed(job(1, {})) == "job without a parameter");
}
