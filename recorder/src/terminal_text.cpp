#include <cstring>
#include <map>

#include "conduit/recorder/export.hpp"
#include "utf8.hpp"

namespace conduit::recorder {

namespace {
// 4 KiB: a "line" longer than this is binary noise or a progress bar; it is cut so the index
// never holds one giant token.
constexpr std::size_t kMaxLineBytes = 4096;

enum class EscState { ground, escape, intermediate, csi, string, string_escape };

struct ChannelText {
  detail::Utf8Sanitizer utf8;
  EscState state = EscState::ground;
  std::string line;
  std::uint64_t lineStartUs = 0;
  bool afterCr = false;
};
}  // namespace

struct TerminalTextExtractor::State {
  bool includeInput = false;
  std::map<std::pair<std::uint32_t, bool>, ChannelText> channels;  // (channel, is input)
  std::vector<TextLine> lines;

  void endLine(ChannelText& c, std::uint32_t channel) {
    if (!c.line.empty()) lines.push_back({c.lineStartUs, channel, std::move(c.line)});
    c.line.clear();
  }

  void addChar(ChannelText& c, std::uint32_t channel, std::uint64_t timeUs, char ch) {
    // Cut long lines only at a character boundary: before a byte that starts a character
    // (never between a lead byte and its continuation bytes).
    if (c.line.size() >= kMaxLineBytes && (static_cast<unsigned char>(ch) & 0xc0) != 0x80) {
      endLine(c, channel);
    }
    if (c.line.empty()) c.lineStartUs = timeUs;
    c.line.push_back(ch);
  }

  void feedText(ChannelText& c, std::uint32_t channel, std::uint64_t timeUs,
                const std::string& text) {
    for (const char ch : text) {
      const auto b = static_cast<unsigned char>(ch);
      switch (c.state) {
        case EscState::ground:
          if (c.afterCr) {
            c.afterCr = false;
            if (b == '\n') continue;  // CR LF ends one line, not two
          }
          if (b == 0x1b) {
            c.state = EscState::escape;
          } else if (b == '\n') {
            endLine(c, channel);
          } else if (b == '\r') {
            endLine(c, channel);
            c.afterCr = true;
          } else if (b == 0x08 || b == 0x7f) {
            // Backspace (and DEL, which is what terminals send for it): erase one character.
            while (!c.line.empty() && (static_cast<unsigned char>(c.line.back()) & 0xc0) == 0x80)
              c.line.pop_back();
            if (!c.line.empty()) c.line.pop_back();
          } else if (b == '\t') {
            addChar(c, channel, timeUs, ' ');
          } else if (b >= 0x20) {
            addChar(c, channel, timeUs, ch);
          }
          break;
        case EscState::escape:
          if (b == '[') {
            c.state = EscState::csi;
          } else if (b == ']' || b == 'P' || b == 'X' || b == '^' || b == '_') {
            c.state = EscState::string;  // OSC, DCS, SOS, PM, APC: until BEL or ST
          } else if (b >= 0x20 && b <= 0x2f) {
            c.state = EscState::intermediate;
          } else {
            c.state = EscState::ground;
          }
          break;
        case EscState::intermediate:
          if (b >= 0x30 && b <= 0x7e) c.state = EscState::ground;
          break;
        case EscState::csi:
          if (b >= 0x40 && b <= 0x7e) c.state = EscState::ground;
          break;
        case EscState::string:
          if (b == 0x07) c.state = EscState::ground;
          if (b == 0x1b) c.state = EscState::string_escape;
          break;
        case EscState::string_escape:
          c.state = b == '\\' ? EscState::ground : EscState::string;
          break;
      }
    }
  }
};

TerminalTextExtractor::TerminalTextExtractor(bool includeInput) : s_(std::make_unique<State>()) {
  s_->includeInput = includeInput;
}
TerminalTextExtractor::~TerminalTextExtractor() = default;

void TerminalTextExtractor::feed(const Record& record) {
  const bool input = record.kind == RecordKind::terminal_input;
  if (record.kind == RecordKind::exec_command) {
    std::string text;
    detail::Utf8Sanitizer u;
    u.feed(record.payload, text);
    u.finish(text);
    if (!text.empty()) s_->lines.push_back({record.timeUs, record.channel, std::move(text)});
    return;
  }
  if (record.kind == RecordKind::file_transfer) {
    // A file operation is a line of its own ("upload /opt/fw.bin 4096 bytes sha256 ..."), so
    // that a search by file name or by hash finds the session. Its strings are UTF-8 already
    // (the SSH gateway escapes names that are not), but a recording is untrusted input.
    auto event = decodeFileTransfer(record.payload);
    if (!event) return;
    std::string line = std::string(fileOperationName(event->operation)) + " " + event->path;
    if (event->operation == FileOperation::upload || event->operation == FileOperation::download ||
        event->operation == FileOperation::print) {
      line += " " + std::to_string(event->size) + " bytes";
      if (!event->sha256.empty()) line += " sha256 " + event->sha256;
    }
    if (!event->detail.empty()) line += " (" + event->detail + ")";
    std::string text;
    detail::Utf8Sanitizer utf8;
    utf8.feed({reinterpret_cast<const unsigned char*>(line.data()), line.size()}, text);
    utf8.finish(text);
    for (char& ch : text) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
    }
    s_->lines.push_back({record.timeUs, record.channel, std::move(text)});
    return;
  }
  if (record.kind == RecordKind::protocol_event) {
    // Clipboard text that passed in an RDP session is found like a typed command: each of its
    // lines is a line of its own.
    // Taken literally, not as terminal output: escape sequences, backspaces and DEL must not
    // hide text that reached the target; other control characters become spaces.
    auto event = decodeProtocolEvent(record.payload);
    if (!event || event->protocol != "clipboard" || event->decision != "allow") return;
    std::string text;
    detail::Utf8Sanitizer utf8;
    utf8.feed(
        {reinterpret_cast<const unsigned char*>(event->summary.data()), event->summary.size()},
        text);
    utf8.finish(text);
    ChannelText c;
    for (const char ch : text) {
      const auto b = static_cast<unsigned char>(ch);
      if (b == '\r' || b == '\n') {
        s_->endLine(c, record.channel);
      } else {
        s_->addChar(c, record.channel, record.timeUs, b < 0x20 || b == 0x7f ? ' ' : ch);
      }
    }
    s_->endLine(c, record.channel);
    return;
  }
  if (record.kind != RecordKind::terminal_output && !(input && s_->includeInput)) return;
  auto& c = s_->channels[{record.channel, input}];
  if (!record.payload.empty() &&
      std::memchr(record.payload.data(), 0, record.payload.size()) != nullptr) {
    // Binary data (a file sent through cat, scp or sftp) is not terminal text, and terminal
    // text never holds a NUL byte: such a record ends the line being built and is not indexed
    // (indexing 256 MiB of random upload took 40 s of sealing and filled the index with noise).
    std::string rest;
    c.utf8.finish(rest);
    s_->feedText(c, record.channel, record.timeUs, rest);
    s_->endLine(c, record.channel);
    c.state = EscState::ground;
    c.afterCr = false;
    return;
  }
  std::string text;
  c.utf8.feed(record.payload, text);
  s_->feedText(c, record.channel, record.timeUs, text);
}

std::vector<TextLine> TerminalTextExtractor::finish() {
  for (auto& [key, c] : s_->channels) {
    std::string rest;
    c.utf8.finish(rest);
    s_->feedText(c, key.first, c.lineStartUs, rest);
    s_->endLine(c, key.first);
  }
  return std::move(s_->lines);
}

std::string extractTerminalText(RecordingReader& reader, bool includeInput) {
  TerminalTextExtractor extractor(includeInput);
  while (auto r = reader.next()) extractor.feed(*r);
  std::string out;
  for (const auto& line : extractor.finish()) {
    out += line.text;
    out += '\n';
  }
  return out;
}

RecordingIndexEntries indexRecording(RecordingReader& reader) {
  RecordingIndexEntries out;
  TerminalTextExtractor text(true);
  TerminalScreen screen;
  bool terminal = false;
  const std::size_t before = reader.seekPoints().size();
  while (auto r = reader.next()) {
    // A new segment's point appears with its first record: the keyframe is the screen just
    // before that record.
    const auto& points = reader.seekPoints();
    while (before + out.keyframes.size() < points.size()) {
      out.keyframes.push_back(
          {points[before + out.keyframes.size()], terminal ? screen.serialize() : std::string()});
    }
    text.feed(*r);
    if (r->kind == RecordKind::terminal_output || r->kind == RecordKind::resize) {
      screen.feed(*r);
      terminal = true;
    }
  }
  out.lines = text.finish();
  out.source = reader.status();
  return out;
}

}  // namespace conduit::recorder
