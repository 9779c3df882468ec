#pragma once

// Recordings with known content for the seek tests: a synthetic shell session and the records of
// the version 1 file kept in tests/recorder/data/.

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/writer.hpp"

namespace conduit::recorder::testing {

/// The records of a shell session of `seconds` seconds on a 100x30 terminal: a command every
/// half second with its echo and output, a screen clear every 10 s, a status line written with
/// cursor addressing now and then, and a resize to 120x40 at 40.1 s.
inline std::vector<Record> terminalSessionRecords(unsigned seconds) {
  std::vector<Record> out;
  out.push_back({0, 0, Direction::to_client, RecordKind::resize, encodeResize({100, 30})});
  const std::string prompt = "\x1b[1;32mplc\x1b[0m:~$ ";
  out.push_back({1000, 0, Direction::to_client, RecordKind::terminal_output, bytesOf(prompt)});
  for (unsigned i = 0; i < seconds * 2; ++i) {
    const std::uint64_t t = std::uint64_t{i} * 500'000 + 10'000;
    const auto step = "step-" + std::to_string(i);
    out.push_back(
        {t, 0, Direction::to_target, RecordKind::terminal_input, bytesOf("echo " + step + "\r")});
    if (t < 40'100'000 && t + 250'000 > 40'100'000) {
      out.push_back(
          {40'100'000, 0, Direction::to_client, RecordKind::resize, encodeResize({120, 40})});
    }
    std::string output = "echo " + step + "\r\n" + step + "\r\n";
    if (i % 13 == 5)
      output +=
          "\x1b"
          "7\x1b[1;70H[status " +
          std::to_string(i) +
          "]\x1b"
          "8";
    if (i % 20 == 7) output += "\x1b[H\x1b[2J";
    output += prompt;
    out.push_back(
        {t + 250'000, 0, Direction::to_client, RecordKind::terminal_output, bytesOf(output)});
  }
  return out;
}

/// Writes terminalSessionRecords(seconds) with small batches (as the live writer, which seals
/// every second, would cut them) and closes the recording. Returns the records.
inline std::vector<Record> writeTerminalSession(const std::filesystem::path& file,
                                                StreamKeyWrapper& vault,
                                                const ManifestSigner& signer, unsigned seconds) {
  WriterOptions o{.file = file, .sessionId = "sess-seek"};
  o.sealBytes = 128;
  auto w = RecordingWriter::create(o, vault);
  REQUIRE(w.ok());
  auto records = terminalSessionRecords(seconds);
  for (const auto& r : records) REQUIRE((*w)->append(r).ok());
  REQUIRE((*w)->close(signer).ok());
  return records;
}

/// The records of tests/recorder/data/v1_session.crec (written by the version 1 writer with
/// sealBytes 200, key id "vault:fixture", key-encryption key 32 x 0x42, signing seed 32 x 0x07).
inline std::vector<Record> v1FixtureRecords() {
  std::vector<Record> out;
  const auto tuple = *ipv4Tuple("10.0.0.5", 40001, "10.0.0.17", 502);
  out.push_back({0, 0, Direction::to_client, RecordKind::resize, encodeResize({100, 30})});
  out.push_back({1000, 0, Direction::none, RecordKind::marker, bytesOf("session start")});
  for (int i = 0; i < 40; ++i) {
    const std::uint64_t t = 100'000 + static_cast<std::uint64_t>(i) * 250'000;
    const auto n = std::to_string(i);
    out.push_back(
        {t, 0, Direction::to_target, RecordKind::terminal_input, bytesOf("echo line-" + n + "\r")});
    out.push_back({t + 50'000, 0, Direction::to_client, RecordKind::terminal_output,
                   bytesOf("echo line-" + n + "\r\nline-" + n + "\r\n\x1b[1;32mplc\x1b[0m:~$ ")});
  }
  out.push_back(
      {10'200'000, 0, Direction::to_target, RecordKind::exec_command, bytesOf("rm -rf /tmp/x")});
  out.push_back(
      {10'300'000, 1, Direction::to_target, RecordKind::tunnel_bytes,
       encodeTunnelBytes(tuple, std::vector<unsigned char>{0, 1, 0, 0, 0, 6, 1, 3, 0, 16, 0, 2})});
  out.push_back({10'400'000, 1, Direction::none, RecordKind::protocol_event,
                 encodeProtocolEvent({"modbus", "allow", "read 16"})});
  // The file event as version 1 wrote it: without the SHA-256 field (its length byte).
  auto fileEvent = encodeFileTransfer({FileOperation::upload, 3, "/a", "", ""});
  fileEvent.pop_back();
  out.push_back({10'500'000, 0, Direction::to_target, RecordKind::file_transfer, fileEvent});
  out.push_back({10'600'000, 2, Direction::to_client, RecordKind::rdp_update,
                 encodeRdpTile({0, 0, 1, 1, 32, {1, 2, 3, 4}})});
  out.push_back({10'700'000, 0, Direction::none, RecordKind::marker, bytesOf("session end")});
  return out;
}

}  // namespace conduit::recorder::testing
