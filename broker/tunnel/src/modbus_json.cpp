// JSON for recordings and the approval view. Field names are stable: recordings keep them.
#include <boost/json.hpp>

#include "conduit/tunnel/modbus_inspector.hpp"

namespace conduit::tunnel {

namespace {

std::int64_t micros(Instant t) {
  return t.time_since_epoch().count();
}

void putFunction(boost::json::object& o, std::uint8_t function) {
  const auto code = static_cast<std::uint8_t>(function & 0x7f);
  o["function"] = function;
  o["function_name"] = functionName(code);
  o["class"] = functionClassName(functionClass(code));
}

// "address"/"count" name the written block if there is one (what policy and engineers care
// about most), else the read block; a request with both (23) adds "read_address"/"read_count".
void putBlocks(boost::json::object& o, const std::optional<AddressBlock>& read,
               const std::optional<AddressBlock>& write) {
  const auto& main = write ? write : read;
  if (main) {
    o["address"] = main->address;
    o["count"] = main->count;
  }
  if (read && write) {
    o["read_address"] = read->address;
    o["read_count"] = read->count;
  }
}

boost::json::array valuesOf(const std::vector<std::uint16_t>& values) {
  boost::json::array a;
  a.reserve(values.size());
  for (auto v : values) a.emplace_back(v);
  return a;
}

}  // namespace

std::string toJson(const ModbusEvent& e) {
  boost::json::object o;
  o["protocol"] = "modbus";
  o["time_us"] = micros(e.time);
  o["message"] = e.message == ModbusEvent::Message::request ? "request" : "response";
  o["transaction"] = e.transaction;
  o["unit"] = e.unit;
  putFunction(o, e.function);
  putBlocks(o, e.read, e.write);
  if (!e.values.empty()) o["values"] = valuesOf(e.values);
  if (e.valuesTruncated) o["values_truncated"] = true;
  o["decision"] = decisionName(e.decision);
  if (e.exception) o["exception"] = *e.exception;
  if (e.hold) o["hold"] = *e.hold;
  if (!e.reason.empty()) o["reason"] = e.reason;
  return boost::json::serialize(o);
}

std::string toJson(const HeldRequest& h) {
  boost::json::object o;
  o["hold"] = h.id;
  o["transaction"] = h.transaction;
  o["unit"] = h.unit;
  putFunction(o, h.request.function);
  putBlocks(o, h.request.read, h.request.write);
  o["values"] = valuesOf(h.request.values);
  if (h.request.subFunction) o["sub_function"] = *h.request.subFunction;
  o["held_at_us"] = micros(h.heldAt);
  o["deadline_us"] = micros(h.deadline);
  return boost::json::serialize(o);
}

}  // namespace conduit::tunnel
