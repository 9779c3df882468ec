#pragma once

// Owning handles for libssh objects, shared by the module's sources.

#include <libssh/libssh.h>

#include <memory>
#include <type_traits>

namespace conduit::ssh::detail {

struct KeyDeleter {
  void operator()(ssh_key key) const noexcept { ssh_key_free(key); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyDeleter>;

struct CStringDeleter {
  void operator()(char* s) const noexcept { ssh_string_free_char(s); }
};
using CStringPtr = std::unique_ptr<char, CStringDeleter>;

}  // namespace conduit::ssh::detail
