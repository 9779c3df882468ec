#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace conduit::policies {

/// True if `text` matches the whole glob `pattern`: `*` is any run of characters (also none),
/// `?` is exactly one character, everything else matches itself. Runs in O(|pattern|·|text|)
/// at worst, so hostile patterns cannot make matching slow.
bool globMatch(std::string_view pattern, std::string_view text) noexcept;

/// Why `pattern` is not a glob this module accepts, or nullopt if it is. Rejects empty
/// patterns, control characters and the syntax of richer globs (`[`, `]`, `{`, `}`, `\`),
/// which would otherwise be matched literally against the author's intent.
std::optional<std::string> globProblem(std::string_view pattern);

}  // namespace conduit::policies
