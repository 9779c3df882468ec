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

ExportSummary exportAsciicast(RecordingReader& reader, std::ostream& out,
                              const AsciicastOptions& options) {
  ExportSummary summary;
  // The header needs the terminal size, which the first resize record gives (the SSH gateway
  // records the pty request first). Records before the first output are held until then.
  std::vector<Record> held;
  TerminalSize size;
  bool headerWritten = false;
  std::map<std::pair<std::uint32_t, RecordKind>, detail::Utf8Sanitizer> decoders;

  auto writeHeader = [&] {
    const auto title = options.title.empty() ? reader.header().sessionId : options.title;
    out << "{\"version\": 2, \"width\": " << size.columns << ", \"height\": " << size.rows
        << ", \"timestamp\": " << reader.header().startedUnixUs / 1000000
        << ", \"title\": " << detail::jsonString(title) << "}\n";
    headerWritten = true;
  };
  auto emit = [&](const Record& r) {
    if (!isTerminal(r.kind) || (options.channel && r.channel != *options.channel) ||
        (r.kind == RecordKind::terminal_input && !options.includeInput)) {
      ++summary.recordsSkipped;
      return;
    }
    std::string text;
    const char* code = "o";
    if (r.kind == RecordKind::resize) {
      const auto s = decodeResize(r.payload);
      if (!s) {
        ++summary.recordsSkipped;
        return;
      }
      text = std::to_string(s->columns) + "x" + std::to_string(s->rows);
      code = "r";
    } else {
      decoders[{r.channel, r.kind}].feed(r.payload, text);
      if (r.kind == RecordKind::terminal_input) code = "i";
      if (text.empty()) return;
    }
    out << "[" << seconds(r.timeUs) << ", \"" << code << "\", " << detail::jsonString(text)
        << "]\n";
    ++summary.recordsWritten;
  };

  while (auto r = reader.next()) {
    if (headerWritten) {
      emit(*r);
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
      for (const auto& h : held) emit(h);
      held.clear();
    }
  }
  if (!headerWritten) writeHeader();
  for (const auto& h : held) emit(h);
  summary.source = reader.status();
  return summary;
}

}  // namespace conduit::recorder
