#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "conduit/recorder/record.hpp"

namespace conduit::recorder {

/// The visible text of a terminal, kept by a small VT100/xterm model: printable characters,
/// CR, LF, BS, TAB, cursor movement and positioning, erase in line and display, insert and
/// delete of lines and characters, scroll margins, index/reverse index, save/restore cursor
/// and the alternate screen (1049/1047/47). Colours and attributes are ignored, every character
/// takes one cell. It is what a player needs to show the right screen when playback starts in
/// the middle of a session (a keyframe), not a terminal emulator.
class TerminalScreen {
 public:
  // 512 x 256 cells at most: larger resize requests are clamped so a hostile recording cannot
  // make the model allocate more than about 512 KiB.
  static constexpr std::uint32_t kMaxColumns = 512;
  static constexpr std::uint32_t kMaxRows = 256;

  /// A blank screen of `size` (clamped to the limits above).
  explicit TerminalScreen(TerminalSize size = {});
  ~TerminalScreen();
  TerminalScreen(const TerminalScreen&);
  TerminalScreen& operator=(const TerminalScreen&);
  TerminalScreen(TerminalScreen&&) noexcept;
  TerminalScreen& operator=(TerminalScreen&&) noexcept;

  /// Applies terminal_output records (any channel) and resize records; ignores other kinds.
  /// Bytes that are not UTF-8 become U+FFFD; a sequence split across records is joined.
  void feed(const Record& record);
  /// Applies terminal output that is already valid UTF-8.
  void feedText(std::string_view utf8);
  /// Changes the size, keeping the top-left part of the screen.
  void resize(TerminalSize size);
  /// The current size.
  TerminalSize size() const;
  /// True until the first character is written.
  bool blank() const;

  /// Row `row` (from 0) as UTF-8 without trailing blanks.
  std::string row(std::uint32_t row) const;
  /// Bytes that draw this screen on a terminal of size(): reset attributes, clear, each
  /// non-blank row at its place, then the cursor where it is.
  std::string redraw() const;

  /// A compact text form of the visible screen and cursor, for the database's seek index
  /// (docs/recording-format.md). What it does not keep: the escape sequence being parsed, the
  /// primary screen saved behind the alternate one and the saved cursor.
  std::string serialize() const;
  /// Parses serialize()'s form; nullopt if malformed or over the limits.
  static std::optional<TerminalScreen> parse(std::string_view text);

  struct State;

 private:
  std::unique_ptr<State> s_;
};

}  // namespace conduit::recorder
