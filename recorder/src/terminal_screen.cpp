#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <span>
#include <vector>

#include "conduit/recorder/screen.hpp"
#include "utf8.hpp"

namespace conduit::recorder {

namespace {

enum class Parse { ground, escape, escape_intermediate, csi, string, string_escape };

// 16 parameters of at most 5 digits: more than any sequence the model acts on; the rest are
// ignored, so a hostile stream cannot grow the parser's state.
constexpr std::size_t kMaxParams = 16;
constexpr std::uint32_t kMaxParamValue = 99999;
constexpr char32_t kBlank = U' ';

TerminalSize clampSize(TerminalSize size) {
  return {std::clamp<std::uint32_t>(size.columns, 1, TerminalScreen::kMaxColumns),
          std::clamp<std::uint32_t>(size.rows, 1, TerminalScreen::kMaxRows)};
}

void appendUtf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

}  // namespace

struct TerminalScreen::State {
  TerminalSize size;
  std::vector<char32_t> cells;  // rows * columns
  std::uint32_t row = 0, col = 0;
  bool wrapPending = false;           // the last column was written; the next character wraps first
  std::uint32_t top = 0, bottom = 0;  // scroll margins (inclusive)
  std::uint32_t savedRow = 0, savedCol = 0;
  bool alternate = false;
  std::vector<char32_t> primary;  // the primary screen while the alternate one is shown
  bool written = false;

  // Parser.
  detail::Utf8Sanitizer utf8;
  Parse parse = Parse::ground;
  std::array<std::uint32_t, kMaxParams> params{};
  std::size_t paramCount = 0;
  char privateMarker = 0;
  char32_t pending = 0;  // UTF-8 decoding of feedText's input
  int pendingLeft = 0;

  explicit State(TerminalSize s) : size(clampSize(s)) {
    cells.assign(std::size_t{size.columns} * size.rows, kBlank);
    bottom = size.rows - 1;
  }

  char32_t& at(std::uint32_t r, std::uint32_t c) {
    return cells[std::size_t{r} * size.columns + c];
  }
  char32_t at(std::uint32_t r, std::uint32_t c) const {
    return cells[std::size_t{r} * size.columns + c];
  }

  void clearCells(std::uint32_t r0, std::uint32_t c0, std::uint32_t r1, std::uint32_t c1) {
    // From (r0, c0) up to (r1, c1) exclusive, in reading order.
    const std::size_t from = std::size_t{r0} * size.columns + c0;
    const std::size_t to = std::min(cells.size(), std::size_t{r1} * size.columns + c1);
    if (from < to)
      std::fill(cells.begin() + static_cast<std::ptrdiff_t>(from),
                cells.begin() + static_cast<std::ptrdiff_t>(to), kBlank);
  }

  // Moves rows [first, last] up by n (n new blank rows at the bottom of the range).
  void scrollUp(std::uint32_t first, std::uint32_t last, std::uint32_t n) {
    if (first > last) return;
    n = std::min(n, last - first + 1);
    const auto w = size.columns;
    std::copy(cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{first + n} * w),
              cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{last + 1} * w),
              cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{first} * w));
    clearCells(last + 1 - n, 0, last + 1, 0);
  }
  // Moves rows [first, last] down by n (n new blank rows at the top of the range).
  void scrollDown(std::uint32_t first, std::uint32_t last, std::uint32_t n) {
    if (first > last) return;
    n = std::min(n, last - first + 1);
    const auto w = size.columns;
    std::copy_backward(cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{first} * w),
                       cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{last + 1 - n} * w),
                       cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{last + 1} * w));
    clearCells(first, 0, first + n, 0);
  }

  void lineFeed() {
    if (row == bottom) {
      scrollUp(top, bottom, 1);
    } else if (row + 1 < size.rows) {
      ++row;
    }
  }
  void reverseIndex() {
    if (row == top) {
      scrollDown(top, bottom, 1);
    } else if (row > 0) {
      --row;
    }
  }

  void put(char32_t cp) {
    if (wrapPending) {
      col = 0;
      lineFeed();
      wrapPending = false;
    }
    at(row, col) = cp;
    written = true;
    if (col + 1 == size.columns) {
      wrapPending = true;
    } else {
      ++col;
    }
  }

  void moveTo(std::int64_t r, std::int64_t c) {
    row = static_cast<std::uint32_t>(std::clamp<std::int64_t>(r, 0, size.rows - 1));
    col = static_cast<std::uint32_t>(std::clamp<std::int64_t>(c, 0, size.columns - 1));
    wrapPending = false;
  }

  void reset() {
    std::fill(cells.begin(), cells.end(), kBlank);
    row = col = 0;
    wrapPending = false;
    top = 0;
    bottom = size.rows - 1;
    alternate = false;
    primary.clear();
  }

  void setAlternate(bool on) {
    if (on == alternate) return;
    if (on) {
      primary = cells;
      std::fill(cells.begin(), cells.end(), kBlank);
    } else {
      if (primary.size() == cells.size()) {
        cells.swap(primary);
      } else {
        std::fill(cells.begin(), cells.end(), kBlank);
      }
      primary.clear();
    }
    alternate = on;
  }

  void resize(TerminalSize next) {
    next = clampSize(next);
    if (next == size) return;
    std::vector<char32_t> grid(std::size_t{next.columns} * next.rows, kBlank);
    for (std::uint32_t r = 0; r < std::min(size.rows, next.rows); ++r) {
      for (std::uint32_t c = 0; c < std::min(size.columns, next.columns); ++c) {
        grid[std::size_t{r} * next.columns + c] = at(r, c);
      }
    }
    cells = std::move(grid);
    size = next;
    primary.clear();  // a resized primary screen is redrawn by the application anyway
    top = 0;
    bottom = size.rows - 1;
    moveTo(row, col);
    savedRow = std::min(savedRow, size.rows - 1);
    savedCol = std::min(savedCol, size.columns - 1);
  }

  std::uint32_t param(std::size_t i, std::uint32_t fallback) const {
    return i < paramCount && params[i] != 0 ? params[i] : fallback;
  }

  void csi(char final) {
    const std::int64_t n = param(0, 1);
    if (privateMarker == '?') {
      if (final == 'h' || final == 'l') {
        for (std::size_t i = 0; i < paramCount; ++i) {
          const auto mode = params[i];
          if (mode != 1049 && mode != 1047 && mode != 47) continue;
          if (mode == 1049 && final == 'h') {
            savedRow = row;
            savedCol = col;
          }
          setAlternate(final == 'h');
          if (mode == 1049 && final == 'l') moveTo(savedRow, savedCol);
        }
      }
      return;
    }
    if (privateMarker != 0) return;
    switch (final) {
      case 'A':
        moveTo(row - n, col);
        break;
      case 'B':
      case 'e':
        moveTo(row + n, col);
        break;
      case 'C':
      case 'a':
        moveTo(row, col + n);
        break;
      case 'D':
        moveTo(row, col - n);
        break;
      case 'E':
        moveTo(row + n, 0);
        break;
      case 'F':
        moveTo(row - n, 0);
        break;
      case 'G':
      case '`':
        moveTo(row, n - 1);
        break;
      case 'H':
      case 'f':
        moveTo(std::int64_t{param(0, 1)} - 1, std::int64_t{param(1, 1)} - 1);
        break;
      case 'd':
        moveTo(n - 1, col);
        break;
      case 'J': {
        const auto mode = paramCount > 0 ? params[0] : 0;
        if (mode == 0) clearCells(row, col, size.rows, 0);
        if (mode == 1) clearCells(0, 0, row, col + 1);
        if (mode == 2 || mode == 3) clearCells(0, 0, size.rows, 0);
        break;
      }
      case 'K': {
        const auto mode = paramCount > 0 ? params[0] : 0;
        if (mode == 0) clearCells(row, col, row + 1, 0);
        if (mode == 1) clearCells(row, 0, row, col + 1);
        if (mode == 2) clearCells(row, 0, row + 1, 0);
        break;
      }
      case 'L':
        if (row >= top && row <= bottom) scrollDown(row, bottom, static_cast<std::uint32_t>(n));
        col = 0;
        break;
      case 'M':
        if (row >= top && row <= bottom) scrollUp(row, bottom, static_cast<std::uint32_t>(n));
        col = 0;
        break;
      case 'P': {
        const auto k = std::min<std::uint32_t>(static_cast<std::uint32_t>(n), size.columns - col);
        auto first = cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{row} * size.columns);
        std::copy(first + col + k, first + size.columns, first + col);
        std::fill(first + (size.columns - k), first + size.columns, kBlank);
        break;
      }
      case '@': {
        const auto k = std::min<std::uint32_t>(static_cast<std::uint32_t>(n), size.columns - col);
        auto first = cells.begin() + static_cast<std::ptrdiff_t>(std::size_t{row} * size.columns);
        std::copy_backward(first + col, first + (size.columns - k), first + size.columns);
        std::fill(first + col, first + col + k, kBlank);
        break;
      }
      case 'X': {
        const auto k = std::min<std::uint32_t>(static_cast<std::uint32_t>(n), size.columns - col);
        clearCells(row, col, row, col + k);
        break;
      }
      case 'S':
        scrollUp(top, bottom, static_cast<std::uint32_t>(n));
        break;
      case 'T':
        scrollDown(top, bottom, static_cast<std::uint32_t>(n));
        break;
      case 'r': {
        const auto t = param(0, 1) - 1;
        const auto b = std::min(param(1, size.rows), size.rows) - 1;
        if (t < b) {
          top = t;
          bottom = b;
        }
        moveTo(0, 0);
        break;
      }
      case 's':
        savedRow = row;
        savedCol = col;
        break;
      case 'u':
        moveTo(savedRow, savedCol);
        break;
      default:
        break;  // attributes (m) and everything else leave the text alone
    }
  }

  void control(char32_t c) {
    switch (c) {
      case '\r':
        col = 0;
        wrapPending = false;
        break;
      case '\n':
      case 0x0b:
      case 0x0c:
        lineFeed();
        break;
      case 0x08:
        if (col > 0) --col;
        wrapPending = false;
        break;
      case '\t':
        col = std::min(size.columns - 1, (col / 8 + 1) * 8);
        break;
      case 0x1b:
        parse = Parse::escape;
        break;
      default:
        break;  // BEL and other controls show nothing
    }
  }

  void escape(char32_t c) {
    parse = Parse::ground;
    switch (c) {
      case '[':
        parse = Parse::csi;
        paramCount = 0;
        params.fill(0);
        privateMarker = 0;
        return;
      case ']':
      case 'P':
      case 'X':
      case '^':
      case '_':
        parse = Parse::string;  // OSC, DCS, SOS, PM, APC: until BEL or ST
        return;
      case '7':
        savedRow = row;
        savedCol = col;
        return;
      case '8':
        moveTo(savedRow, savedCol);
        return;
      case 'D':
        lineFeed();
        return;
      case 'E':
        col = 0;
        lineFeed();
        return;
      case 'M':
        reverseIndex();
        return;
      case 'c':
        reset();
        return;
      default:
        if (c >= 0x20 && c <= 0x2f) parse = Parse::escape_intermediate;  // charset selection
        return;
    }
  }

  void step(char32_t c) {
    switch (parse) {
      case Parse::ground:
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
          control(c);
        } else {
          put(c);
        }
        return;
      case Parse::escape:
        escape(c);
        return;
      case Parse::escape_intermediate:
        if (c >= 0x30 && c <= 0x7e) parse = Parse::ground;
        return;
      case Parse::csi:
        if (c >= '0' && c <= '9') {
          if (paramCount == 0) paramCount = 1;
          if (paramCount <= kMaxParams) {
            auto& p = params[paramCount - 1];
            p = std::min(kMaxParamValue, p * 10 + static_cast<std::uint32_t>(c - '0'));
          }
        } else if (c == ';' || c == ':') {
          if (paramCount == 0) paramCount = 1;
          if (paramCount <= kMaxParams) ++paramCount;
        } else if (c >= 0x3c && c <= 0x3f) {
          privateMarker = static_cast<char>(c);
        } else if (c >= 0x40 && c <= 0x7e) {
          paramCount = std::min(paramCount, kMaxParams);
          parse = Parse::ground;
          csi(static_cast<char>(c));
        } else if (c == 0x1b) {
          parse = Parse::escape;
        } else if (c < 0x20) {
          control(c);  // C0 controls act inside a CSI sequence
        }
        return;
      case Parse::string:
        if (c == 0x07) parse = Parse::ground;
        if (c == 0x1b) parse = Parse::string_escape;
        return;
      case Parse::string_escape:
        parse = c == '\\' ? Parse::ground : Parse::string;
        return;
    }
  }

  void feedUtf8(std::string_view text) {
    for (const char ch : text) {
      const auto b = static_cast<unsigned char>(ch);
      if (pendingLeft > 0 && (b & 0xc0) == 0x80) {
        pending = static_cast<char32_t>((pending << 6) | (b & 0x3fu));
        if (--pendingLeft == 0) step(pending);
        continue;
      }
      pendingLeft = 0;
      if (b < 0x80) {
        step(b);
      } else if ((b & 0xe0) == 0xc0) {
        pending = static_cast<char32_t>(b & 0x1fu);
        pendingLeft = 1;
      } else if ((b & 0xf0) == 0xe0) {
        pending = static_cast<char32_t>(b & 0x0fu);
        pendingLeft = 2;
      } else if ((b & 0xf8) == 0xf0) {
        pending = static_cast<char32_t>(b & 0x07u);
        pendingLeft = 3;
      } else {
        step(0xfffd);
      }
    }
  }

  std::string rowText(std::uint32_t r) const {
    std::uint32_t end = size.columns;
    while (end > 0 && at(r, end - 1) == kBlank) --end;
    std::string out;
    for (std::uint32_t c = 0; c < end; ++c) appendUtf8(out, at(r, c));
    return out;
  }
};

TerminalScreen::TerminalScreen(TerminalSize size) : s_(std::make_unique<State>(size)) {}
TerminalScreen::~TerminalScreen() = default;
TerminalScreen::TerminalScreen(const TerminalScreen& other)
    : s_(std::make_unique<State>(*other.s_)) {}
TerminalScreen& TerminalScreen::operator=(const TerminalScreen& other) {
  if (this != &other) s_ = std::make_unique<State>(*other.s_);
  return *this;
}
TerminalScreen::TerminalScreen(TerminalScreen&&) noexcept = default;
TerminalScreen& TerminalScreen::operator=(TerminalScreen&&) noexcept = default;

void TerminalScreen::feed(const Record& record) {
  if (record.kind == RecordKind::resize) {
    if (const auto size = decodeResize(record.payload)) resize(*size);
    return;
  }
  if (record.kind != RecordKind::terminal_output) return;
  // A run of NUL bytes acts as one NUL: the first may end an escape sequence or an unfinished
  // UTF-8 sequence, and after it a NUL changes nothing in any state (control(0) does nothing).
  // Collapsing runs keeps bulk binary output (a download of 1 GiB of zeros) from costing
  // seconds when the recording's seek keyframes are built.
  std::string text;
  std::span<const unsigned char> rest(record.payload);
  while (!rest.empty()) {
    const auto* nul = static_cast<const unsigned char*>(std::memchr(rest.data(), 0, rest.size()));
    std::size_t next =
        nul == nullptr ? rest.size() : static_cast<std::size_t>(nul - rest.data()) + 1;
    s_->utf8.feed(rest.first(next), text);
    while (next < rest.size() && rest[next] == 0) ++next;
    rest = rest.subspan(next);
  }
  s_->feedUtf8(text);
}

void TerminalScreen::feedText(std::string_view utf8) {
  s_->feedUtf8(utf8);
}

void TerminalScreen::resize(TerminalSize size) {
  s_->resize(size);
}

TerminalSize TerminalScreen::size() const {
  return s_->size;
}

bool TerminalScreen::blank() const {
  return !s_->written;
}

std::string TerminalScreen::row(std::uint32_t row) const {
  return row < s_->size.rows ? s_->rowText(row) : std::string();
}

std::string TerminalScreen::redraw() const {
  std::string out = "\x1b[0m\x1b[H\x1b[2J";
  for (std::uint32_t r = 0; r < s_->size.rows; ++r) {
    const auto text = s_->rowText(r);
    if (text.empty()) continue;
    out += "\x1b[" + std::to_string(r + 1) + ";1H";
    out += text;
  }
  out += "\x1b[" + std::to_string(s_->row + 1) + ";" + std::to_string(s_->col + 1) + "H";
  return out;
}

std::string TerminalScreen::serialize() const {
  const auto& s = *s_;
  std::string out = "screen 1 " + std::to_string(s.size.columns) + " " +
                    std::to_string(s.size.rows) + " " + std::to_string(s.row) + " " +
                    std::to_string(s.col) + " " + std::to_string(int{s.wrapPending}) + " " +
                    std::to_string(s.top) + " " + std::to_string(s.bottom) + " " +
                    std::to_string(int{s.alternate}) + "\n";
  std::uint32_t last = s.size.rows;
  while (last > 0 && s.rowText(last - 1).empty()) --last;
  for (std::uint32_t r = 0; r < last; ++r) {
    out += s.rowText(r);
    out += '\n';
  }
  return out;
}

std::optional<TerminalScreen> TerminalScreen::parse(std::string_view text) {
  // The header line: "screen 1 COLUMNS ROWS ROW COL WRAP TOP BOTTOM ALTERNATE".
  const auto eol = text.find('\n');
  if (eol == std::string_view::npos || text.substr(0, 9) != "screen 1 ") return std::nullopt;
  std::array<std::uint32_t, 8> v{};
  const char* p = text.data() + 9;
  const char* end = text.data() + eol;
  for (std::size_t i = 0; i < v.size(); ++i) {
    const auto r = std::from_chars(p, end, v[i]);
    if (r.ec != std::errc{}) return std::nullopt;
    p = r.ptr;
    if (i + 1 < v.size()) {
      if (p == end || *p != ' ') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  const TerminalSize size{v[0], v[1]};
  if (size.columns < 1 || size.columns > kMaxColumns || size.rows < 1 || size.rows > kMaxRows ||
      v[2] >= size.rows || v[3] >= size.columns || v[4] > 1 || v[5] > v[6] || v[6] >= size.rows ||
      v[7] > 1) {
    return std::nullopt;
  }
  TerminalScreen screen(size);
  auto& s = *screen.s_;
  std::string_view rest = text.substr(eol + 1);
  for (std::uint32_t r = 0; !rest.empty(); ++r) {
    const auto nl = rest.find('\n');
    if (nl == std::string_view::npos || r >= size.rows) return std::nullopt;
    const auto line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    // Through the model's own writer: the row is plain text (no controls) by construction.
    s.row = r;
    s.col = 0;
    s.wrapPending = false;
    s.pendingLeft = 0;
    std::uint32_t cells = 0;
    for (std::size_t i = 0; i < line.size();) {
      const auto b = static_cast<unsigned char>(line[i]);
      const std::size_t len = b < 0x80 ? 1 : (b & 0xe0) == 0xc0 ? 2 : (b & 0xf0) == 0xe0 ? 3 : 4;
      // At most one row of printable characters: no controls, nothing that would wrap.
      if (b < 0x20 || b == 0x7f || i + len > line.size() || ++cells > size.columns) {
        return std::nullopt;
      }
      s.feedUtf8(line.substr(i, len));
      i += len;
    }
  }
  s.row = v[2];
  s.col = v[3];
  s.wrapPending = v[4] != 0;
  s.top = v[5];
  s.bottom = v[6];
  s.alternate = v[7] != 0;
  s.pendingLeft = 0;
  return screen;
}

}  // namespace conduit::recorder
