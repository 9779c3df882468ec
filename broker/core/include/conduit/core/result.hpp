#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace conduit::core {

/// What kind of failure an operation met. Edges map these onto protocol replies
/// (HTTP status, SSH disconnect reason, CLI exit code).
enum class ErrorCode {
  invalid_argument,   // the caller's input is malformed or out of range
  not_found,          // a named object does not exist
  already_exists,     // creating something that is there already
  unauthenticated,    // no valid sign-in (unknown, expired or ended session or token)
  permission_denied,  // the actor may not do this
  conflict,           // the object's state does not allow this now
  unavailable,        // a resource (port, file, database) cannot be used now
  corrupt,            // stored data fails its integrity checks
  io,                 // an operating-system or library call failed
  internal,           // a bug: an invariant did not hold
};

/// Stable machine-readable name of an error code, e.g. "not_found".
std::string_view errorCodeName(ErrorCode code) noexcept;

/// An expected failure: a code for programs and a message for people. Messages never
/// contain secrets.
struct Error {
  ErrorCode code = ErrorCode::internal;
  std::string message;
};

/// Either a value or an Error. C++20 has no std::expected; this is the small subset we use.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : state_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return std::holds_alternative<T>(state_); }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T* operator->() { return &std::get<T>(state_); }
  const T* operator->() const { return &std::get<T>(state_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

/// Result of an operation that yields nothing but may fail.
struct Done {};
using Status = Result<Done>;

/// Builds an Error value; reads better at return sites than a brace list.
inline Error fail(ErrorCode code, std::string message) {
  return Error{code, std::move(message)};
}

}  // namespace conduit::core
