// JSON for recordings and the approval view. Field names are stable: recordings keep them.
//
// The text is appended field by field rather than built as a boost::json::object: an event is
// written for every Modbus request and response a tunnel relays, and the object's map,
// allocations and serializer took about 8 % of the broker's CPU per request (perf of
// bench/modbus_tunnel.sh). Strings still go through boost::json::serialize, so escaping stays
// the library's; keys are the constants below and need none.
#include <boost/json.hpp>
#include <charconv>
#include <concepts>

#include "conduit/tunnel/modbus_inspector.hpp"

namespace conduit::tunnel {

namespace {

class ObjectText {
 public:
  ObjectText() : out_("{") {}
  ObjectText& number(std::string_view key, std::integral auto value) {
    name(key);
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, r.ptr);
    return *this;
  }
  ObjectText& text(std::string_view key, std::string_view value) {
    name(key);
    out_ += boost::json::serialize(boost::json::string_view(value.data(), value.size()));
    return *this;
  }
  ObjectText& yes(std::string_view key) {
    name(key);
    out_ += "true";
    return *this;
  }
  ObjectText& numbers(std::string_view key, const std::vector<std::uint16_t>& values) {
    name(key);
    out_ += '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i != 0) out_ += ',';
      char buf[8];
      const auto r = std::to_chars(buf, buf + sizeof buf, values[i]);
      out_.append(buf, r.ptr);
    }
    out_ += ']';
    return *this;
  }
  std::string done() && {
    out_ += '}';
    return std::move(out_);
  }

 private:
  void name(std::string_view key) {
    if (out_.size() > 1) out_ += ',';
    out_ += '"';
    out_ += key;
    out_ += "\":";
  }
  std::string out_;
};

std::int64_t micros(Instant t) {
  return t.time_since_epoch().count();
}

void putFunction(ObjectText& o, std::uint8_t function) {
  const auto code = static_cast<std::uint8_t>(function & 0x7f);
  o.number("function", function)
      .text("function_name", functionName(code))
      .text("class", functionClassName(functionClass(code)));
}

// "address"/"count" name the written block if there is one (what policy and engineers care
// about most), else the read block; a request with both (23) adds "read_address"/"read_count".
void putBlocks(ObjectText& o, const std::optional<AddressBlock>& read,
               const std::optional<AddressBlock>& write) {
  const auto& main = write ? write : read;
  if (main) o.number("address", main->address).number("count", main->count);
  if (read && write) o.number("read_address", read->address).number("read_count", read->count);
}

}  // namespace

std::string toJson(const ModbusEvent& e) {
  ObjectText o;
  o.text("protocol", "modbus")
      .number("time_us", micros(e.time))
      .text("message", e.message == ModbusEvent::Message::request ? "request" : "response")
      .number("transaction", e.transaction)
      .number("unit", e.unit);
  putFunction(o, e.function);
  putBlocks(o, e.read, e.write);
  if (!e.values.empty()) o.numbers("values", e.values);
  if (e.valuesTruncated) o.yes("values_truncated");
  o.text("decision", decisionName(e.decision));
  if (e.exception) o.number("exception", *e.exception);
  if (e.hold) o.number("hold", *e.hold);
  if (!e.reason.empty()) o.text("reason", e.reason);
  return std::move(o).done();
}

std::string toJson(const HeldRequest& h) {
  ObjectText o;
  o.number("hold", h.id).number("transaction", h.transaction).number("unit", h.unit);
  putFunction(o, h.request.function);
  putBlocks(o, h.request.read, h.request.write);
  o.numbers("values", h.request.values);
  if (h.request.subFunction) o.number("sub_function", *h.request.subFunction);
  o.number("held_at_us", micros(h.heldAt)).number("deadline_us", micros(h.deadline));
  return std::move(o).done();
}

}  // namespace conduit::tunnel
