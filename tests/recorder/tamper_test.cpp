#include <catch2/catch.hpp>

#include "conduit/recorder/reader.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

namespace {

// A closed recording of several messages (small batches) with its manifest.
struct Sample {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  std::filesystem::path file = dir / "rec.crec";
  std::vector<unsigned char> bytes;
  std::vector<MessageSpan> messages;

  explicit Sample(const std::string& session = "sess-tamper") {
    WriterOptions o{.file = file, .sessionId = session};
    o.sealBytes = 1024;
    auto w = RecordingWriter::create(o, vault);
    REQUIRE(w.ok());
    for (int i = 0; i < 40; ++i) {
      REQUIRE((*w)->append(Record{static_cast<std::uint64_t>(i) * 10'000, 0, Direction::to_client,
                                  RecordKind::terminal_output,
                                  bytesOf("line " + std::to_string(i) + " " +
                                          std::string(200, 'a' + static_cast<char>(i % 26)))})
                  .ok());
    }
    REQUIRE((*w)->close(*broker.signer).ok());
    bytes = readBytes(file);
    messages = messagesOf(bytes);
    REQUIRE(messages.size() >= 5);
  }
  VerifyReport verify() const { return verifyRecording(file, keyList(vault), broker.publicKey()); }
  Verdict read() const { return readAll(file, keyList(vault)).status.verdict; }
  void rewrite(const std::vector<unsigned char>& b) const { writeBytes(file, b); }
};

}  // namespace

TEST_CASE("an untouched recording verifies") {
  Sample s;
  const auto r = s.verify();
  INFO(r.status.message);
  CHECK(r.status.verdict == Verdict::intact);
  CHECK(r.records == 40);
}

TEST_CASE("a flipped byte anywhere is detected") {
  Sample s;
  SECTION("in a message") {
    auto b = s.bytes;
    b[s.messages[2].offset + 30] ^= 0x01;
    s.rewrite(b);
    const auto r = s.verify();
    CHECK(r.status.verdict == Verdict::corrupt);
    CHECK(r.status.message.find("message 3") != std::string::npos);
    // The records before the damage are still returned.
    CHECK(r.records > 0);
  }
  SECTION("in the header's session id") {
    auto b = s.bytes;
    b[25] ^= 0x01;  // first byte of the session id ('s' -> 'r')
    s.rewrite(b);
    const auto r = s.verify();
    // The vault binds the wrapped key to the session id, so the key no longer unwraps.
    CHECK(r.status.verdict == Verdict::wrong_key);
    CHECK(r.records == 0);
  }
  SECTION("in the header's start time or stream header") {
    auto b = s.bytes;
    const std::size_t at = GENERATE(16u, 23u);
    const std::size_t streamHeaderAt = s.messages[0].offset - 24;
    b[at == 16u ? at : streamHeaderAt] ^= 0x01;
    s.rewrite(b);
    const auto r = s.verify();
    CHECK(r.status.verdict == Verdict::corrupt);
    CHECK(r.status.message.find("message 1 ") != std::string::npos);
    CHECK(r.records == 0);
  }
  SECTION("in a message length") {
    auto b = s.bytes;
    b[s.messages[1].offset] ^= 0x04;
    s.rewrite(b);
    CHECK(s.read() != Verdict::intact);
  }
  SECTION("in the final message") {
    auto b = s.bytes;
    b[s.messages.back().offset + 10] ^= 0x80;
    s.rewrite(b);
    CHECK(s.read() == Verdict::corrupt);
  }
}

TEST_CASE("removed, reordered and appended messages are detected") {
  Sample s;
  const auto& m = s.messages;
  auto cut = [&](std::size_t i) {
    auto b = s.bytes;
    b.erase(b.begin() + static_cast<std::ptrdiff_t>(m[i].offset),
            b.begin() + static_cast<std::ptrdiff_t>(m[i].offset + m[i].size));
    return b;
  };
  SECTION("a removed middle message") {
    s.rewrite(cut(2));
    CHECK(s.verify().status.verdict == Verdict::corrupt);
  }
  SECTION("a removed final message reads as truncated") {
    s.rewrite(cut(m.size() - 1));
    const auto r = s.verify();
    CHECK(r.status.verdict == Verdict::truncated);
    CHECK(r.status.message.find("truncated at") != std::string::npos);
  }
  SECTION("two swapped messages") {
    auto b = s.bytes;
    std::vector<unsigned char> out(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(m[1].offset));
    const auto put = [&](std::size_t i) {
      out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(m[i].offset),
                 b.begin() + static_cast<std::ptrdiff_t>(m[i].offset + m[i].size));
    };
    put(2);
    put(1);
    for (std::size_t i = 3; i < m.size(); ++i) put(i);
    REQUIRE(out.size() == b.size());
    s.rewrite(out);
    CHECK(s.verify().status.verdict == Verdict::corrupt);
  }
  SECTION("a file cut inside a message") {
    auto b = s.bytes;
    b.resize(m[3].offset + m[3].size / 2);
    s.rewrite(b);
    const auto all = readAll(s.file, keyList(s.vault));
    CHECK(all.status.verdict == Verdict::truncated);
    CHECK(all.status.message.find("inside message 4") != std::string::npos);
    CHECK_FALSE(all.records.empty());
  }
  SECTION("bytes after the final message") {
    auto b = s.bytes;
    b.push_back(0);
    s.rewrite(b);
    CHECK(s.verify().status.verdict == Verdict::corrupt);
  }
  SECTION("a message duplicated in place of the next") {
    auto b = s.bytes;
    std::vector<unsigned char> out(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(m[2].offset));
    out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(m[1].offset),
               b.begin() + static_cast<std::ptrdiff_t>(m[1].offset + m[1].size));
    out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(m[2].offset), b.end());
    s.rewrite(out);
    CHECK(s.verify().status.verdict == Verdict::corrupt);
  }
}

TEST_CASE("a replaced, edited, forged, broken or missing manifest is detected") {
  Sample s;
  const auto mpath = manifestPathFor(s.file);
  SECTION("another recording's genuine manifest") {
    Sample other("sess-other");
    // Same broker key for both: sign `other` again with s's key so only the content differs.
    auto m = parseManifest(conduit::test::readText(manifestPathFor(other.file)));
    REQUIRE(m.ok());
    m->fileName = "rec.crec";
    REQUIRE(signManifest(*m, *s.broker.signer).ok());
    conduit::test::writeText(mpath, manifestToJson(*m));
    const auto r = s.verify();
    CHECK(r.status.verdict == Verdict::manifest_mismatch);
    CHECK(r.status.message.find("session id") != std::string::npos);
  }
  SECTION("an edited count without a new signature") {
    auto text = conduit::test::readText(mpath);
    const auto at = text.find("\"terminal_output\":40");
    REQUIRE(at != std::string::npos);
    text.replace(at, 20, "\"terminal_output\":39");
    conduit::test::writeText(mpath, text);
    CHECK(s.verify().status.verdict == Verdict::bad_signature);
  }
  SECTION("a manifest re-signed by another key") {
    auto m = parseManifest(conduit::test::readText(mpath));
    REQUIRE(m.ok());
    BrokerKey forger;
    REQUIRE(signManifest(*m, *forger.signer).ok());
    conduit::test::writeText(mpath, manifestToJson(*m));
    CHECK(s.verify().status.verdict == Verdict::bad_signature);
  }
  SECTION("a genuine manifest over a recording that changed") {
    // Re-record the same session into the same file name: valid stream, different bytes.
    std::filesystem::remove(s.file);
    {
      auto w = RecordingWriter::create({.file = s.file, .sessionId = "sess-tamper"}, s.vault);
      REQUIRE(w.ok());
      REQUIRE(
          (*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("x")).ok());
      const auto saved = conduit::test::readText(mpath);
      REQUIRE((*w)->close(*s.broker.signer).ok());
      conduit::test::writeText(mpath, saved);
    }
    const auto r = s.verify();
    CHECK(r.status.verdict == Verdict::manifest_mismatch);
  }
  SECTION("not JSON") {
    conduit::test::writeText(mpath, "{\"format\": ");
    CHECK(s.verify().status.verdict == Verdict::manifest_invalid);
  }
  SECTION("missing") {
    std::filesystem::remove(mpath);
    CHECK(s.verify().status.verdict == Verdict::manifest_missing);
  }
  SECTION("verified against a different trusted key") {
    BrokerKey other;
    CHECK(verifyRecording(s.file, keyList(s.vault), other.publicKey()).status.verdict ==
          Verdict::bad_signature);
  }
}

TEST_CASE("the header is readable without keys") {
  Sample s;
  const auto h = readHeader(s.file);
  CHECK(h.status.verdict == Verdict::intact);
  CHECK(h.header.sessionId == "sess-tamper");
  REQUIRE(h.header.keySlots.size() == 1);
  CHECK(h.header.keySlots[0].keyId == "vault:test");
  CHECK(h.header.keySlots[0].role == KeySlotRole::primary);
  CHECK(h.header.encodedSize == s.messages[0].offset);
  conduit::test::writeText(s.file, "nope");
  CHECK(readHeader(s.file).status.verdict == Verdict::not_a_recording);
}

TEST_CASE("wrong key, unknown version and non-recordings get clear verdicts") {
  Sample s;
  SECTION("wrong key") {
    TestVaultWrapper otherVault;  // same key id, different key
    const auto all = readAll(s.file, keyList(otherVault));
    CHECK(all.status.verdict == Verdict::wrong_key);
    CHECK(all.records.empty());
    TestVaultWrapper unknownId("vault:other");
    CHECK(readAll(s.file, keyList(unknownId)).status.verdict == Verdict::wrong_key);
  }
  SECTION("unknown format version") {
    auto b = s.bytes;
    b[8] = 3;
    s.rewrite(b);
    const auto r = s.verify();
    CHECK(r.status.verdict == Verdict::unsupported_version);
    CHECK(r.status.message.find("version 3") != std::string::npos);
  }
  SECTION("a text file") {
    conduit::test::writeText(s.file, "just some notes\nnot a recording\n");
    CHECK(s.read() == Verdict::not_a_recording);
  }
  SECTION("an empty file") {
    conduit::test::writeText(s.file, "");
    CHECK(s.read() == Verdict::not_a_recording);
  }
  SECTION("a file cut inside the header") {
    auto b = s.bytes;
    b.resize(40);
    s.rewrite(b);
    CHECK(s.read() == Verdict::truncated);
  }
  SECTION("a header claiming an absurd length") {
    auto b = s.bytes;
    b[14] = 0xff;
    s.rewrite(b);
    CHECK(s.read() == Verdict::not_a_recording);
  }
  SECTION("a missing file") {
    std::filesystem::remove(s.file);
    CHECK(s.read() == Verdict::io_error);
  }
}
