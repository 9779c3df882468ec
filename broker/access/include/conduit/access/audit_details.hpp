#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace conduit::access {

using DetailValue = std::variant<std::string, std::int64_t, bool>;

/// A JSON object for an audit event's details, e.g. {"asset":"plc-17","duration_s":3600}.
/// Keys are constants from the code; values are escaped. Never put a secret here.
std::string auditDetails(std::initializer_list<std::pair<std::string_view, DetailValue>> fields);

}  // namespace conduit::access
