#include <sodium.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "conduit/recorder/export.hpp"
#include "conduit/recorder/writer.hpp"
#include "recorder/fixtures.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::recorder;
using namespace conduit::recorder::testing;
using conduit::test::TempDir;

namespace {
std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::filesystem::path terminalSession(const TempDir& dir, StreamKeyWrapper& vault,
                                      const ManifestSigner& signer) {
  const auto file = dir / "term.crec";
  auto w = RecordingWriter::create({.file = file, .sessionId = "sess-term"}, vault);
  REQUIRE(w.ok());
  auto put = [&](std::uint64_t t, RecordKind k, Direction d, std::vector<unsigned char> p) {
    REQUIRE((*w)->append(Record{t, 0, d, k, std::move(p)}).ok());
  };
  put(0, RecordKind::resize, Direction::to_target, encodeResize({100, 30}));
  put(100'000, RecordKind::terminal_output, Direction::to_client,
      bytesOf("\x1b]0;plc-17\x07\x1b[1;32mhello\x1b[0m from conduit\r\n$ "));
  put(200'000, RecordKind::terminal_input, Direction::to_target, bytesOf("ls\r"));
  put(300'000, RecordKind::terminal_output, Direction::to_client,
      bytesOf("ls\r\nfile-a  file-b\r\n$ "));
  // "grüße" with the ü split across two records.
  put(400'000, RecordKind::terminal_output, Direction::to_client, bytesOf("gr\xc3"));
  put(400'500, RecordKind::terminal_output, Direction::to_client,
      bytesOf("\xbc\xc3\x9f"
              "e\r\n"));
  put(500'000, RecordKind::resize, Direction::to_target, encodeResize({80, 24}));
  put(600'000, RecordKind::terminal_output, Direction::to_client,
      bytesOf("typo\x08\x08"
              "ed\r\nbad \xff"
              " byte\r\n"));
  put(700'000, RecordKind::exec_command, Direction::to_target, bytesOf("rm -rf /tmp/x"));
  REQUIRE((*w)->close(signer).ok());
  return file;
}
}  // namespace

TEST_CASE("asciicast export writes a v2 header, events, resizes and valid UTF-8") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = terminalSession(dir, vault, *broker.signer);
  RecordingReader reader(file, keyList(vault));
  std::ostringstream out;
  const auto summary = exportAsciicast(reader, out);
  CHECK(summary.source.verdict == Verdict::intact);
  const auto l = lines(out.str());
  REQUIRE(l.size() >= 6);
  CHECK(l[0].find("\"version\": 2") != std::string::npos);
  CHECK(l[0].find("\"width\": 100, \"height\": 30") != std::string::npos);
  CHECK(l[0].find("\"title\": \"sess-term\"") != std::string::npos);
  CHECK(l[1] ==
        "[0.100000, \"o\", \"\\u001b]0;plc-17\\u0007\\u001b[1;32mhello\\u001b[0m from "
        "conduit\\r\\n$ \"]");
  CHECK(l[2] == "[0.200000, \"i\", \"ls\\r\"]");
  CHECK(out.str().find("[0.400000, \"o\", \"gr\"]") != std::string::npos);
  CHECK(out.str().find("[0.400500, \"o\", \"\xc3\xbc\xc3\x9f"
                       "e\\r\\n\"]") != std::string::npos);
  CHECK(out.str().find("[0.500000, \"r\", \"80x24\"]") != std::string::npos);
  CHECK(out.str().find("bad \xef\xbf\xbd byte") != std::string::npos);

  RecordingReader again(file, keyList(vault));
  std::ostringstream noInput;
  exportAsciicast(again, noInput, {.includeInput = false});
  CHECK(noInput.str().find("\"i\"") == std::string::npos);
}

TEST_CASE("jsonl export lists every record with its payload in base64") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = terminalSession(dir, vault, *broker.signer);
  RecordingReader reader(file, keyList(vault));
  std::ostringstream out;
  const auto summary = exportJsonl(reader, out);
  CHECK(summary.recordsWritten == 9);
  const auto l = lines(out.str());
  REQUIRE(l.size() == 10);
  CHECK(l[0] == "{\"session_id\":\"sess-term\",\"started_unix_us\":" +
                    std::to_string(reader.header().startedUnixUs) + ",\"format_version\":2}");
  CHECK(l[3] ==
        "{\"t_us\":200000,\"channel\":0,\"direction\":\"to_target\",\"kind\":\"terminal_input\","
        "\"payload_b64\":\"bHMN\"}");
  CHECK(l[9].find("\"kind\":\"exec_command\"") != std::string::npos);
}

TEST_CASE("terminal text extraction strips escapes and keeps searchable lines") {
  TempDir dir;
  TestVaultWrapper vault;
  BrokerKey broker;
  const auto file = terminalSession(dir, vault, *broker.signer);
  RecordingReader reader(file, keyList(vault));
  const auto text = extractTerminalText(reader);
  CHECK(text ==
        "hello from conduit\n"
        "$ ls\n"
        "file-a  file-b\n"
        "$ gr\xc3\xbc\xc3\x9f"
        "e\n"
        "tyed\n"
        "bad \xef\xbf\xbd byte\n"
        "rm -rf /tmp/x\n");
}

TEST_CASE("the extractor handles escapes split across records and times its lines") {
  TerminalTextExtractor x;
  auto out = [&x](std::uint64_t t, std::string_view s) {
    x.feed(Record{t, 7, Direction::to_client, RecordKind::terminal_output, bytesOf(s)});
  };
  out(10, "\x1b[3");
  out(20, "1mred\x1b");
  out(30, "[0m text\x1bP+q544e\x1b\\ after dcs\x1b(B ascii\n");
  out(40, "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\\r\n");
  x.feed(Record{50, 7, Direction::to_target, RecordKind::terminal_input, bytesOf("secret\r")});
  const auto l = x.finish();
  REQUIRE(l.size() == 2);
  CHECK(l[0].text == "red text after dcs ascii");
  CHECK(l[0].timeUs == 20);
  CHECK(l[0].channel == 7);
  CHECK(l[1].text == "link");
  CHECK(l[1].timeUs == 40);

  TerminalTextExtractor withInput(true);
  withInput.feed(Record{5, 1, Direction::to_target, RecordKind::terminal_input, bytesOf("ls\r")});
  const auto li = withInput.finish();
  REQUIRE(li.size() == 1);
  CHECK(li[0].text == "ls");
}

TEST_CASE("binary records are not terminal text: the index skips them and the lines around") {
  TerminalTextExtractor x(true);
  auto rec = [&x](std::uint64_t t, RecordKind kind, std::string_view s) {
    x.feed(Record{t, 3,
                  kind == RecordKind::terminal_input ? Direction::to_target : Direction::to_client,
                  kind, bytesOf(s)});
  };
  rec(10, RecordKind::terminal_output, "$ cat firmware.bin\r\nhead \xe2\x82");
  // A file's bytes: NUL bytes, invalid UTF-8 and an escape that would open a string.
  rec(20, RecordKind::terminal_output, std::string_view("ab\0\xff\xfe\x1b]0;x\x90zz", 13));
  rec(25, RecordKind::terminal_output, "");  // an empty record is neither text nor binary
  rec(30, RecordKind::terminal_output, "$ ls\r\n");
  rec(40, RecordKind::terminal_input, std::string_view("\0\0\0\x10upload", 10));
  rec(50, RecordKind::terminal_input, "echo done\r");
  const auto l = x.finish();
  REQUIRE(l.size() == 4);
  CHECK(l[0].text == "$ cat firmware.bin");
  // The UTF-8 sequence cut by the binary record is flushed as U+FFFD with its line.
  CHECK(l[1].text.rfind("head \xef\xbf\xbd", 0) == 0);
  CHECK(l[1].timeUs == 10);
  CHECK(l[2].text == "$ ls");
  CHECK(l[2].timeUs == 30);
  CHECK(l[3].text == "echo done");
}

TEST_CASE(
    "clipboard text that passed is indexed literally, line by line, and refused text is not") {
  TerminalTextExtractor x;
  auto clip = [&x](std::uint64_t t, const char* decision, std::string_view text) {
    x.feed(Record{t, 2, Direction::to_target, RecordKind::protocol_event,
                  encodeProtocolEvent({"clipboard", decision, std::string(text)})});
  };
  // An escape sequence, a backspace and DEL do not hide the text (as they would in a
  // terminal's output): they become spaces. CR LF and LF end lines.
  clip(10, "allow", "rm -rf /data\x1b]0;x\x07\bkeep\x7fit\r\nsecond line\nthird");
  clip(20, "deny", "12 bytes copied on the target, not passed on");
  x.feed(Record{30, 2, Direction::to_target, RecordKind::protocol_event,
                encodeProtocolEvent({"rdp", "allow", "key 0x01e down"})});
  const auto l = x.finish();
  REQUIRE(l.size() == 3);
  CHECK(l[0].text == "rm -rf /data ]0;x  keep it");
  CHECK(l[0].timeUs == 10);
  CHECK(l[0].channel == 2);
  CHECK(l[1].text == "second line");
  CHECK(l[2].text == "third");

  // A long line is cut at 4096 bytes, never inside a character: the 2-byte "\xc3\xbc" that
  // starts at byte 4096 stays whole on the first line.
  TerminalTextExtractor y;
  y.feed(Record{40, 2, Direction::to_client, RecordKind::protocol_event,
                encodeProtocolEvent({"clipboard", "allow", std::string(4095, 'a') + "\xc3\xbcx"})});
  const auto cut = y.finish();
  REQUIRE(cut.size() == 2);
  CHECK(cut[0].text == std::string(4095, 'a') + "\xc3\xbc");
  CHECK(cut[1].text == "x");
}

TEST_CASE("file operations are indexed as lines that name the file and its hash") {
  TerminalTextExtractor x;
  const std::string hash(64, 'a');
  x.feed(Record{10, 3, Direction::to_target, RecordKind::file_transfer,
                encodeFileTransfer({FileOperation::upload, 4096, "/opt/plc/fw.bin", "", hash})});
  x.feed(Record{20, 3, Direction::to_target, RecordKind::file_transfer,
                encodeFileTransfer({FileOperation::rename, 0, "/a", "to /b\n\x1b[2J", ""})});
  x.feed(Record{30, 3, Direction::to_target, RecordKind::file_transfer,
                std::vector<unsigned char>{9, 9}});  // not a file event: ignored
  const auto l = x.finish();
  REQUIRE(l.size() == 2);
  CHECK(l[0].text == "upload /opt/plc/fw.bin 4096 bytes sha256 " + hash);
  CHECK(l[0].timeUs == 10);
  CHECK(l[0].channel == 3);
  CHECK(l[1].text == "rename /a (to /b  [2J)");
}

TEST_CASE("jsonl exports decode file operations next to the raw payload and files lists them") {
  TempDir dir;
  TestVaultWrapper vault;
  {
    auto w = RecordingWriter::create({.file = dir / "f.crec", .sessionId = "f"}, vault);
    REQUIRE(w.ok());
    REQUIRE((*w)->append(RecordKind::file_transfer, 1, Direction::to_client,
                         encodeFileTransfer({FileOperation::download, 7, "/var/log/\"x\".log", "",
                                             std::string(64, 'b')}))
                .ok());
  }  // not closed: the prefix is enough here
  RecordingReader files(dir / "f.crec", keyList(vault));
  std::ostringstream list;
  const auto summary = exportFileEvents(files, list);
  CHECK(summary.recordsWritten == 1);
  // {"session_id":"f","files":[{"t_us":<when it was appended>,"channel":1,...}]}
  const std::string text = list.str();
  CHECK(text.rfind("{\"session_id\":\"f\",\"files\":[{\"t_us\":", 0) == 0);
  CHECK_THAT(text, Catch::EndsWith(",\"channel\":1,\"direction\":\"to_client\",\"operation\":"
                                   "\"download\",\"path\":\"/var/log/\\\"x\\\".log\",\"size\":7,"
                                   "\"sha256\":\"" +
                                   std::string(64, 'b') + "\",\"detail\":\"\"}]}\n"));

  RecordingReader reader(dir / "f.crec", keyList(vault));
  std::ostringstream out;
  exportJsonl(reader, out);
  CHECK_THAT(out.str(), Catch::Contains("\"file\":{\"operation\":\"download\",\"path\":"
                                        "\"/var/log/\\\"x\\\".log\",\"size\":7,\"sha256\":\"" +
                                        std::string(64, 'b') + "\",\"detail\":\"\"}"));
}

TEST_CASE("exports of a truncated recording write its prefix and say so") {
  TempDir dir;
  TestVaultWrapper vault;
  {
    auto w = RecordingWriter::create({.file = dir / "t.crec", .sessionId = "t"}, vault);
    REQUIRE(w.ok());
    REQUIRE(
        (*w)->append(RecordKind::terminal_output, 0, Direction::to_client, bytesOf("partial\r\n"))
            .ok());
  }  // destroyed without close: no final message
  RecordingReader reader(dir / "t.crec", keyList(vault));
  std::ostringstream out;
  const auto summary = exportAsciicast(reader, out);
  CHECK(summary.source.verdict == Verdict::truncated);
  CHECK(out.str().find("partial") != std::string::npos);
}
