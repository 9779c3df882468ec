#pragma once

#include <sys/types.h>
#include <filesystem>
#include <string_view>

#include "conduit/core/result.hpp"

namespace conduit::app {

/// Writes content to a new file with the given mode, atomically: readers see either nothing or
/// the whole file. Never replaces an existing file (fails with `already_exists`).
core::Status writeNewFile(const std::filesystem::path& path, std::string_view content, mode_t mode);

/// Creates dir with mode 0700 if missing, or checks that an existing one is a directory owned
/// by us with no group/other access. Sets `created` when this call made it.
core::Status ensurePrivateDirectory(const std::filesystem::path& dir, bool& created);

/// Fails with `permission_denied` if path is readable or writable by group or others.
core::Status checkPrivateFile(const std::filesystem::path& path);

}  // namespace conduit::app
