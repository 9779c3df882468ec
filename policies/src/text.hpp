#pragma once

// Small text conversions shared by the parser, the engine and the explanations.

#include <optional>
#include <string>
#include <string_view>

#include "conduit/core/access_limits.hpp"
#include "conduit/core/asset.hpp"
#include "conduit/core/clock.hpp"

namespace conduit::policies::text {

/// "4h", "30m", "1h30m", "90s": hours, minutes, seconds in that order, each at most once.
std::optional<core::Seconds> parseDuration(std::string_view s);

/// The shortest form parseDuration reads back: 5400 s -> "1h30m", 0 -> "0s".
std::string formatDuration(core::Seconds d);

/// "1 approval from the owner group", "1 from the owner group + 1 from safety", "no approval".
std::string describeApprovals(const core::ApprovalRequirement& a);

/// One line of the limits that matter for `protocol`, for explanations.
std::string describeLimits(const core::AccessLimits& l, core::Protocol protocol);

/// "[a, b, c]".
template <typename Range, typename Name>
std::string list(const Range& items, Name name) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ", ";
    out += name(item);
  }
  return out + "]";
}

}  // namespace conduit::policies::text
