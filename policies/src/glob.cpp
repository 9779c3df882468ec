#include "conduit/policies/glob.hpp"

namespace conduit::policies {

bool globMatch(std::string_view pattern, std::string_view text) noexcept {
  // Greedy matching with one backtrack point (the last '*'): linear for ordinary patterns and
  // never exponential, unlike naive recursion on patterns such as "*a*a*a*a*b".
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = std::string_view::npos;
  std::size_t starText = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      starText = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++starText;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::optional<std::string> globProblem(std::string_view pattern) {
  if (pattern.empty()) return "an empty pattern matches nothing";
  for (const char c : pattern) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return "control characters are not allowed";
    switch (c) {
      case '[':
      case ']':
      case '{':
      case '}':
      case '\\':
        return std::string("'") + c + "' is not supported (only '*' and '?' are special)";
      default:
        break;
    }
  }
  return std::nullopt;
}

}  // namespace conduit::policies
