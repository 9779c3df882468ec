// docs/policies.md: every ```toml block is a complete policy file that must parse, and every key
// of the language is documented.

#include <catch2/catch.hpp>

#include <sstream>
#include <string>
#include <vector>

#include "conduit/policies/policy_set.hpp"
#include "support/temp_dir.hpp"

using namespace conduit;
using namespace conduit::policies;

namespace {

struct Block {
  int line = 0;  // line of the opening fence
  std::string text;
};

std::vector<Block> tomlBlocks(const std::string& markdown) {
  std::vector<Block> blocks;
  std::istringstream in(markdown);
  std::string line;
  int number = 0;
  Block* open = nullptr;
  while (std::getline(in, line)) {
    ++number;
    if (open == nullptr && line == "```toml") {
      blocks.push_back({number, ""});
      open = &blocks.back();
    } else if (open != nullptr && line.rfind("```", 0) == 0) {
      open = nullptr;
    } else if (open != nullptr) {
      open->text += line + "\n";
    }
  }
  REQUIRE(open == nullptr);  // an unclosed fence would hide the rest of the page
  return blocks;
}

const std::string kDocs = std::string(CONDUIT_SOURCE_DIR) + "/docs/policies.md";

}  // namespace

TEST_CASE("every toml example in docs/policies.md parses", "[policies][docs]") {
  const auto blocks = tomlBlocks(test::readText(kDocs));
  REQUIRE(blocks.size() >= 8);
  for (const auto& block : blocks) {
    const std::string source =
        "docs/policies.md (block at line " + std::to_string(block.line) + ")";
    auto parsed = PolicySet::parse(block.text, source);
    INFO(source);
    INFO((parsed ? std::string() : parsed.error().message));
    CHECK(parsed.ok());
    if (parsed.ok()) CHECK(parsed->size() >= 1);
  }
}

TEST_CASE("a broken example would be caught", "[policies][docs]") {
  const auto blocks =
      tomlBlocks("text\n```toml\n[[rule]]\nid = \"x\"\neffect = \"alow\"\n```\n```text\nno\n```\n");
  REQUIRE(blocks.size() == 1);
  CHECK(blocks[0].line == 2);
  CHECK_FALSE(PolicySet::parse(blocks[0].text, "doc").ok());
}

TEST_CASE("docs/policies.md documents every key of the language", "[policies][docs]") {
  const std::string docs = test::readText(kDocs);
  const char* keys[] = {"id", "description", "effect", "reason", "[rule.match]", "[rule.schedule]",
                        "[rule.limits]", "[rule.ssh]", "[rule.modbus]", "[rule.rdp]",
                        // match
                        "roles", "vendors", "users", "assets", "sites", "zones", "criticality",
                        "tags", "protocols", "actions",
                        // schedule
                        "days", "hours", "timezone",
                        // limits
                        "max_duration", "warning_period", "recording", "record_keystrokes", "mfa",
                        "max_sessions_per_user", "max_sessions_per_asset", "approvals",
                        // ssh
                        "sftp", "port_forwarding", "command_deny", "filter_shell_commands",
                        // modbus
                        "read_only", "function_codes", "unit_ids", "ranges", "writes",
                        "max_requests_per_second",
                        // s7
                        "functions",
                        // rdp
                        "clipboard", "drive", "printer", "audio"};
  for (const char* key : keys) {
    INFO(key);
    CHECK(docs.find("`" + std::string(key) + "`") != std::string::npos);
  }
}
