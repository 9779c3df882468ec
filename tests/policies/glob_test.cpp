// Glob patterns: asset names in match.assets and commands in ssh.command_deny.

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

#include "conduit/policies/glob.hpp"

using conduit::policies::globMatch;
using conduit::policies::globProblem;

TEST_CASE("globs: literals, '*' and '?'", "[policies][glob]") {
  CHECK(globMatch("plc-17", "plc-17"));
  CHECK_FALSE(globMatch("plc-17", "plc-170"));
  CHECK_FALSE(globMatch("plc-17", "PLC-17"));  // case matters
  CHECK(globMatch("plc-*", "plc-"));
  CHECK(globMatch("plc-*", "plc-17"));
  CHECK_FALSE(globMatch("plc-*", "xplc-17"));
  CHECK(globMatch("*-17", "hmi-17"));
  CHECK(globMatch("hmi-?", "hmi-4"));
  CHECK_FALSE(globMatch("hmi-?", "hmi-"));
  CHECK_FALSE(globMatch("hmi-?", "hmi-12"));
  CHECK(globMatch("*", ""));
  CHECK(globMatch("**", "anything"));
  CHECK_FALSE(globMatch("", "x"));
  CHECK(globMatch("a*b*c", "aXXbYYc"));
  CHECK(globMatch("a*b*c", "abbbc"));
  CHECK_FALSE(globMatch("a*b*c", "aXXbYY"));
  CHECK(globMatch("rm -rf *", "rm -rf /"));
  CHECK_FALSE(globMatch("rm -rf *", "rm -r /tmp/x"));
  CHECK(globMatch("systemctl stop *", "systemctl stop plc-runtime"));
}

TEST_CASE("globs: hostile patterns stay fast", "[policies][glob]") {
  const std::string text(20000, 'a');
  const auto start = std::chrono::steady_clock::now();
  CHECK_FALSE(globMatch("*a*a*a*a*a*a*a*a*a*a*b", text));
  CHECK(globMatch("*a*a*a*a*a*a*a*a*a*a*", text));
  // Naive backtracking takes years here; the linear matcher takes milliseconds.
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
}

TEST_CASE("globProblem rejects what would silently mean something else", "[policies][glob]") {
  CHECK_FALSE(globProblem("plc-*").has_value());
  CHECK_FALSE(globProblem("rm -rf *").has_value());
  CHECK(globProblem("") == "an empty pattern matches nothing");
  CHECK(globProblem("plc-[12]") == "'[' is not supported (only '*' and '?' are special)");
  CHECK(globProblem("plc-1]") == "']' is not supported (only '*' and '?' are special)");
  CHECK(globProblem("{a,b}") == "'{' is not supported (only '*' and '?' are special)");
  CHECK(globProblem("a}") == "'}' is not supported (only '*' and '?' are special)");
  CHECK(globProblem("a\\*") == "'\\' is not supported (only '*' and '?' are special)");
  CHECK(globProblem("a\nb") == "control characters are not allowed");
  CHECK(globProblem(std::string("a\x7f", 2)) == "control characters are not allowed");
}
