#include "conduit/access/audit_details.hpp"

#include <boost/json.hpp>

namespace conduit::access {

std::string auditDetails(std::initializer_list<std::pair<std::string_view, DetailValue>> fields) {
  boost::json::object o;
  for (const auto& [key, value] : fields) {
    std::visit([&o, k = key](const auto& v) { o[k] = v; }, value);
  }
  return boost::json::serialize(o);
}

}  // namespace conduit::access
