#include "conduit/policies/decision.hpp"

#include <type_traits>

namespace conduit::policies {

std::string_view actionName(Action a) noexcept {
  switch (a) {
    case Action::request:
      return "request";
    case Action::connect:
      return "connect";
  }
  return "request";
}

std::optional<Action> parseAction(std::string_view name) noexcept {
  for (Action a : {Action::request, Action::connect}) {
    if (actionName(a) == name) return a;
  }
  return std::nullopt;
}

const std::string& decidingRule(const Decision& d) noexcept {
  return std::visit([](const auto& v) -> const std::string& { return v.ruleId; }, d);
}

std::string formatExplanation(const Decision& d, const std::vector<TraceLine>& trace) {
  std::string out = std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Allow>) {
          return "ALLOW by rule '" + v.ruleId + "': " + v.explanation + "\n";
        } else if constexpr (std::is_same_v<T, Deny>) {
          return "DENY by rule '" + v.ruleId + "': " + v.reason + "\n";
        } else {
          return "NEED MORE by rule '" + v.ruleId + "': " + v.what +
                 " is required before this can go ahead\n";
        }
      },
      d);
  if (!trace.empty()) out += "rules considered, in order:\n";
  for (const auto& line : trace) {
    out += std::string(line.matched ? "  match     " : "  no match  ") + line.ruleId + ": " +
           line.why + "\n";
  }
  return out;
}

}  // namespace conduit::policies
