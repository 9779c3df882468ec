#include <cstdio>
#include <map>

#include "bytes.hpp"
#include "conduit/recorder/export.hpp"
#include "utf8.hpp"

namespace conduit::recorder {

namespace {
std::string seconds(std::uint64_t us) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%llu.%06llu", static_cast<unsigned long long>(us / 1000000),
                static_cast<unsigned long long>(us % 1000000));
  return buf;
}

bool isTerminal(RecordKind k) {
  return k == RecordKind::terminal_output || k == RecordKind::terminal_input ||
         k == RecordKind::resize;
}
}  // namespace

namespace {

// Writes the events of one cast; shared by the whole-session and the from-time exports.
class CastEvents {
 public:
  CastEvents(std::ostream& out, const AsciicastOptions& options, ExportSummary& summary)
      : out_(out), options_(options), summary_(summary) {}

  bool selected(const Record& r) const {
    return isTerminal(r.kind) && (!options_.channel || r.channel == *options_.channel) &&
           (r.kind != RecordKind::terminal_input || options_.includeInput);
  }

  void header(const RecordingHeader& h, TerminalSize size) {
    const auto title = options_.title.empty() ? h.sessionId : options_.title;
    out_ << "{\"version\": 2, \"width\": " << size.columns << ", \"height\": " << size.rows
         << ", \"timestamp\": " << (h.startedUnixUs + options_.fromUs) / 1000000
         << ", \"title\": " << detail::jsonString(title) << "}\n";
  }

  void event(std::uint64_t timeUs, const char* code, const std::string& text) {
    out_ << "[" << seconds(timeUs) << ", \"" << code << "\", " << detail::jsonString(text) << "]\n";
    ++summary_.recordsWritten;
  }

  // Output and input bytes as text, joining UTF-8 split across records of one stream.
  std::string text(const Record& r) {
    std::string t;
    decoders_[{r.channel, r.kind}].feed(r.payload, t);
    return t;
  }

  void emit(const Record& r) {
    if (!selected(r)) {
      ++summary_.recordsSkipped;
      return;
    }
    const std::uint64_t t = r.timeUs - options_.fromUs;
    if (r.kind == RecordKind::resize) {
      const auto s = decodeResize(r.payload);
      if (!s) {
        ++summary_.recordsSkipped;
        return;
      }
      event(t, "r", std::to_string(s->columns) + "x" + std::to_string(s->rows));
      return;
    }
    const auto data = text(r);
    if (!data.empty()) event(t, r.kind == RecordKind::terminal_input ? "i" : "o", data);
  }

 private:
  std::ostream& out_;
  const AsciicastOptions& options_;
  ExportSummary& summary_;
  std::map<std::pair<std::uint32_t, RecordKind>, detail::Utf8Sanitizer> decoders_;
};

// From options.fromUs: the records before it build the screen, which the first event draws.
ExportSummary exportFrom(RecordingReader& reader, std::ostream& out,
                         const AsciicastOptions& options) {
  ExportSummary summary;
  CastEvents events(out, options, summary);
  TerminalScreen screen = options.startScreen ? *options.startScreen : TerminalScreen();
  bool started = false;
  auto start = [&] {
    events.header(reader.header(), screen.size());
    events.event(0, "o", screen.redraw());
    started = true;
  };
  while (auto r = reader.next()) {
    if (!started && r->timeUs < options.fromUs) {
      if (!events.selected(*r)) continue;
      if (r->kind == RecordKind::resize) {
        if (const auto s = decodeResize(r->payload)) screen.resize(*s);
      } else if (r->kind == RecordKind::terminal_output) {
        // Through the cast's own decoder, so a character split across fromUs comes out whole.
        screen.feedText(events.text(*r));
      }
      continue;
    }
    if (!started) start();
    events.emit(*r);
  }
  if (!started) start();
  summary.source = reader.status();
  return summary;
}

}  // namespace

ExportSummary exportAsciicast(RecordingReader& reader, std::ostream& out,
                              const AsciicastOptions& options) {
  if (options.fromUs > 0 || options.startScreen != nullptr) {
    return exportFrom(reader, out, options);
  }
  ExportSummary summary;
  CastEvents events(out, options, summary);
  // The header needs the terminal size, which the first resize record gives (the SSH gateway
  // records the pty request first). Records before the first output are held until then.
  std::vector<Record> held;
  TerminalSize size;
  bool headerWritten = false;
  auto writeHeader = [&] {
    events.header(reader.header(), size);
    headerWritten = true;
  };
  while (auto r = reader.next()) {
    if (headerWritten) {
      events.emit(*r);
      continue;
    }
    if (r->kind == RecordKind::resize && (!options.channel || r->channel == *options.channel)) {
      if (const auto s = decodeResize(r->payload); s && held.empty()) {
        size = *s;  // the initial size goes into the header, not into an event
        continue;
      }
    }
    held.push_back(std::move(*r));
    if (held.back().kind == RecordKind::terminal_output) {
      writeHeader();
      for (const auto& h : held) events.emit(h);
      held.clear();
    }
  }
  if (!headerWritten) writeHeader();
  for (const auto& h : held) events.emit(h);
  summary.source = reader.status();
  return summary;
}

}  // namespace conduit::recorder
