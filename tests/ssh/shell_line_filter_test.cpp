// Typed-command filtering: the line as typed, each simple command checked at Enter.
#include <catch2/catch.hpp>

#include "conduit/ssh/shell_line_filter.hpp"

using conduit::ssh::ShellLineFilter;

namespace {
ShellLineFilter filter() {
  return ShellLineFilter({"shutdown*", "rm -rf *"});
}
}  // namespace

TEST_CASE("a typed line matching a deny pattern has its Enter replaced by Ctrl-U") {
  auto f = filter();
  auto out = f.feed("shutdown -h now\r");
  CHECK(out.forward == "shutdown -h now\x15");
  REQUIRE(out.refusals.size() == 1);
  CHECK(out.refusals[0] == "shutdown*");
  // The next line is judged on its own.
  out = f.feed("ls -l\r");
  CHECK(out.forward == "ls -l\r");
  CHECK(out.refusals.empty());
}

TEST_CASE("keystrokes in any split, editing keys and compound lines are followed") {
  auto f = filter();
  std::string forwarded;
  std::vector<std::string> refusals;
  for (char c : std::string("echo hi; shutx\x7f"
                            "down now\n")) {
    auto out = f.feed(std::string_view(&c, 1));
    forwarded += out.forward;
    refusals.insert(refusals.end(), out.refusals.begin(), out.refusals.end());
  }
  CHECK(refusals == std::vector<std::string>{"shutdown*"});
  CHECK(forwarded.back() == '\x15');
  // Ctrl-U starts the line over; Ctrl-W removes the last word.
  CHECK(f.feed("shutdown\x15uptime\r").refusals.empty());
  CHECK(f.feed("ls shutdown\x17\x17shutdown now\r").refusals.size() == 1);
  CHECK(f.feed("true && rm -rf /tmp/x\r").refusals.size() == 1);
  CHECK(f.feed("echo shutdown\r").refusals.empty());  // an argument, not the command
}

TEST_CASE("a line edited in ways the filter cannot follow is not checked (best effort)") {
  auto f = filter();
  // History recall (cursor up) and tab completion: the shell's line is unknown.
  auto out = f.feed("\x1b[A\r");
  CHECK(out.refusals.empty());
  CHECK(out.forward == "\x1b[A\r");
  CHECK(f.feed("shut\tnow\r").refusals.empty());
  // Following resumes with the next line.
  CHECK(f.feed("shutdown\r").refusals.size() == 1);
}
