#include "conduit/ssh/shell_line_filter.hpp"

#include "conduit/policies/glob.hpp"

namespace conduit::ssh {

namespace {

constexpr char kCtrlC = 0x03;
constexpr char kBackspace = 0x08;
constexpr char kTab = 0x09;
constexpr char kCtrlU = 0x15;
constexpr char kCtrlW = 0x17;
constexpr char kEscape = 0x1b;
constexpr char kDelete = 0x7f;

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

}  // namespace

std::string ShellLineFilter::deniedBy(std::string_view line) const {
  std::size_t start = 0;
  while (start <= line.size()) {
    const auto end = line.find_first_of(";&|", start);
    const std::string_view part = trim(
        line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    for (const auto& pattern : patterns_) {
      if (!part.empty() && policies::globMatch(pattern, part)) return pattern;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return {};
}

ShellLineFilter::Output ShellLineFilter::feed(std::string_view bytes) {
  Output out;
  out.forward.reserve(bytes.size());
  for (const char c : bytes) {
    if (inEscape_) {
      // An escape sequence ends with a letter or '~' (CSI/SS3 keys); until then, swallow
      // nothing: the bytes still go to the shell, the filter only stops following the line.
      if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '~') inEscape_ = false;
      out.forward.push_back(c);
      continue;
    }
    switch (c) {
      case '\r':
      case '\n': {
        const std::string pattern = unknown_ ? std::string() : deniedBy(line_);
        line_.clear();
        unknown_ = false;
        if (!pattern.empty()) {
          out.forward.push_back(kCtrlU);  // the shell discards the typed line
          out.refusals.push_back(pattern);
          continue;
        }
        break;
      }
      case kBackspace:
      case kDelete:
        if (!line_.empty()) line_.pop_back();
        break;
      case kCtrlU:
      case kCtrlC:
        line_.clear();
        unknown_ = false;
        break;
      case kCtrlW: {
        while (!line_.empty() && line_.back() == ' ') line_.pop_back();
        while (!line_.empty() && line_.back() != ' ') line_.pop_back();
        break;
      }
      case kEscape:
        inEscape_ = true;
        unknown_ = true;
        break;
      case kTab:
        unknown_ = true;  // completion: the shell inserts text the filter does not see
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          unknown_ = true;  // other editing keys (Ctrl-A, Ctrl-R...)
        } else if (line_.size() < kMaxLine) {
          line_.push_back(c);
        } else {
          unknown_ = true;
        }
    }
    out.forward.push_back(c);
  }
  return out;
}

}  // namespace conduit::ssh
