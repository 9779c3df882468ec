#pragma once

#include <string_view>

namespace conduit::core {

/// Session ids are the broker's own ("ssh-<time>-<n>", "web-<time>-<n>"): letters, digits and
/// '-' only, at most 128 characters. Anything else from outside (a URL, a CLI argument) is not a
/// session id, so an id can never walk out of the recordings directory or into a query's syntax.
inline bool isSessionId(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") ==
             std::string_view::npos;
}

}  // namespace conduit::core
