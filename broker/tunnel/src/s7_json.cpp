// JSON for recordings. Field names are stable: recordings keep them.
#include <boost/json.hpp>

#include "conduit/tunnel/s7_inspector.hpp"

namespace conduit::tunnel {

namespace {

std::string hexBytes(std::span<const std::uint8_t> bytes) {
  constexpr std::string_view kDigits = "0123456789abcdef";
  std::string s;
  s.reserve(2 * bytes.size());
  for (auto b : bytes) {
    s.push_back(kDigits[b >> 4]);
    s.push_back(kDigits[b & 0xf]);
  }
  return s;
}

std::string hex16(std::uint16_t v) {
  constexpr std::string_view kDigits = "0123456789ABCDEF";
  std::string s = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) s.push_back(kDigits[(v >> shift) & 0xf]);
  return s;
}

std::string_view messageName(S7Event::Message m) {
  switch (m) {
    case S7Event::Message::connection:
      return "connection";
    case S7Event::Message::request:
      return "request";
    case S7Event::Message::response:
      return "response";
    case S7Event::Message::push:
      return "push";
  }
  return "request";
}

boost::json::object itemJson(const S7Item& item) {
  boost::json::object o;
  if (item.syntax != 0x10) {
    o["syntax"] = item.syntax;  // not S7ANY: no address the broker understands
    return o;
  }
  const auto area = s7AreaName(item.area);
  if (area.empty()) {
    o["area"] = item.area;
  } else {
    o["area"] = area;
  }
  if (area == "DB" || area == "DI") o["db"] = item.db;
  o["byte"] = item.address >> 3;
  o["bit"] = item.address & 7;
  const auto transport = s7TransportName(item.transport);
  if (transport.empty()) {
    o["transport"] = item.transport;
  } else {
    o["transport"] = transport;
  }
  o["count"] = item.count;
  return o;
}

boost::json::object valueJson(const S7DataItem& v) {
  boost::json::object o;
  o["return_code"] = v.returnCode;
  if (v.transport != 0 || !v.bytes.empty()) {
    o["transport"] = v.transport;
    o["hex"] = hexBytes(v.bytes);
  }
  if (v.truncated) o["truncated"] = true;
  return o;
}

}  // namespace

std::string toJson(const S7Event& e) {
  boost::json::object o;
  o["protocol"] = "s7";
  o["time_us"] = e.time.time_since_epoch().count();
  o["message"] = messageName(e.message);
  o["origin"] = e.fromPlc ? "plc" : "client";
  if (e.message == S7Event::Message::connection) {
    if (e.cotp) o["cotp"] = cotpKindName(*e.cotp);
    if (!e.callingTsap.empty()) o["calling_tsap"] = hexBytes(e.callingTsap);
    if (!e.calledTsap.empty()) o["called_tsap"] = hexBytes(e.calledTsap);
    if (e.tpduSize) o["tpdu_size"] = *e.tpduSize;
  } else {
    o["rosctr"] = rosctrName(e.rosctr);
    o["pdu_ref"] = e.pduRef;
    if (e.userdata) {
      o["group"] = e.userdata->group;
      o["subfunction"] = e.userdata->subfunction;
      o["function_name"] = userdataName(*e.userdata);
      o["class"] = s7ClassName(userdataClass(*e.userdata));
    } else if (e.function) {
      o["function"] = *e.function;
      o["function_name"] = jobFunctionName(*e.function);
      o["class"] = s7ClassName(jobFunctionClass(*e.function));
    }
    if (e.itemCount) o["item_count"] = *e.itemCount;
    if (!e.items.empty()) {
      boost::json::array items;
      for (const auto& item : e.items) items.emplace_back(itemJson(item));
      o["items"] = std::move(items);
    }
    if (!e.values.empty()) {
      boost::json::array values;
      for (const auto& v : e.values) values.emplace_back(valueJson(v));
      o["values"] = std::move(values);
    }
    if (e.itemsTruncated) o["items_truncated"] = true;
    if (e.pduSize) o["pdu_size"] = *e.pduSize;
  }
  o["decision"] = decisionName(e.decision);
  if (e.error) o["error"] = hex16(*e.error);
  if (!e.reason.empty()) o["reason"] = e.reason;
  return boost::json::serialize(o);
}

}  // namespace conduit::tunnel
