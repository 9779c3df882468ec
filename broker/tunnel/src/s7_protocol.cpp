#include "conduit/tunnel/s7_protocol.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace conduit::tunnel {

namespace {

// COTP TPDU codes (ISO 8073 table 8), class 0 only.
constexpr std::uint8_t kCotpCr = 0xE0;
constexpr std::uint8_t kCotpCc = 0xD0;
constexpr std::uint8_t kCotpDr = 0x80;
constexpr std::uint8_t kCotpDc = 0xC0;
constexpr std::uint8_t kCotpDt = 0xF0;
constexpr std::uint8_t kCotpEr = 0x70;
constexpr std::uint8_t kCotpEot = 0x80;
// Connect parameters: TPDU size (a power of two, codes 7..13 = 128..8192 bytes), calling
// and called transport selectors.
constexpr std::uint8_t kParamTpduSize = 0xC0;
constexpr std::uint8_t kParamCallingTsap = 0xC1;
constexpr std::uint8_t kParamCalledTsap = 0xC2;
constexpr std::uint8_t kMinTpduSizeCode = 7;
constexpr std::uint8_t kMaxTpduSizeCode = 13;

constexpr std::size_t kJobHeaderBytes = 10;
constexpr std::size_t kAckHeaderBytes = 12;
// A read/write var item: variable specification 0x12, the length of what follows, the syntax.
constexpr std::uint8_t kItemSpec = 0x12;
constexpr std::uint8_t kSyntaxS7Any = 0x10;
constexpr std::uint8_t kS7AnyLength = 10;
// Userdata parameter head, and the lengths of the parameter after its first 4 bytes.
constexpr std::array<std::uint8_t, 3> kUserdataHead = {0x00, 0x01, 0x12};
constexpr std::uint8_t kUserdataShort = 4;  // requests
constexpr std::uint8_t kUserdataLong = 8;   // responses and follow-up requests
constexpr std::uint8_t kUserdataMethodResponse = 0x12;
constexpr std::size_t kSetupParamBytes = 8;
constexpr std::size_t kStartUploadParamBytes = 8;
// Data return code "accessing the object not allowed", for refused userdata.
constexpr std::uint8_t kReturnAccessDenied = 0x03;

std::uint16_t u16(std::span<const std::uint8_t> p, std::size_t at) {
  return static_cast<std::uint16_t>((p[at] << 8) | p[at + 1]);
}

std::string hex8(unsigned v) {
  constexpr std::string_view kDigits = "0123456789ABCDEF";
  std::string s = "0x";
  s.push_back(kDigits[(v >> 4) & 0xf]);
  s.push_back(kDigits[v & 0xf]);
  return s;
}

core::Error invalid(std::string why) {
  return core::fail(core::ErrorCode::invalid_argument, std::move(why));
}

std::string n(std::size_t v) {
  return std::to_string(v);
}

// Decodes the data part of a write var job or a read var response: per item a return code, a
// transport size, a length (in bits for the bit/byte/integer sizes 3, 4, 5, else in bytes) and
// the value, padded to an even length between items. Returns why it does not fit, if it does not.
std::optional<std::string> decodeDataItems(std::span<const std::uint8_t> d, std::size_t count,
                                           std::size_t maxBytes, std::vector<S7DataItem>& out) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < count; ++i) {
    if (d.size() - at < 4) return "data item " + n(i + 1) + " is cut short";
    S7DataItem item;
    item.returnCode = d[at];
    item.transport = d[at + 1];
    const std::size_t length = u16(d, at + 2);
    at += 4;
    const bool inBits = item.transport == 3 || item.transport == 4 || item.transport == 5;
    const std::size_t bytes = inBits ? (length + 7) / 8 : length;
    if (d.size() - at < bytes) {
      return "data item " + n(i + 1) + " announces " + n(bytes) + " bytes, " + n(d.size() - at) +
             " follow";
    }
    const std::size_t keep = std::min(bytes, maxBytes);
    item.bytes.assign(d.begin() + static_cast<std::ptrdiff_t>(at),
                      d.begin() + static_cast<std::ptrdiff_t>(at + keep));
    item.truncated = keep < bytes;
    at += bytes;
    if (bytes % 2 == 1 && i + 1 < count) {
      if (at == d.size()) return "data item " + n(i + 1) + " lacks its fill byte";
      ++at;
    }
    out.push_back(std::move(item));
  }
  if (at != d.size()) return "data has " + n(d.size() - at) + " bytes after the last item";
  return std::nullopt;
}

// Decodes the items of a read/write var job parameter (function, item count, items).
std::optional<std::string> decodeItems(std::span<const std::uint8_t> p, S7Request& r) {
  if (p.size() < 2) return "parameter of " + n(p.size()) + " bytes has no item count";
  r.itemCount = p[1];
  if (p[1] == 0) return "no items";
  std::size_t at = 2;
  for (std::size_t i = 0; i < p[1]; ++i) {
    if (p.size() - at < 3) return "item " + n(i + 1) + " is cut short";
    if (p[at] != kItemSpec) {
      return "item " + n(i + 1) + " has specification " + hex8(p[at]) + ", expected 0x12";
    }
    const std::size_t length = p[at + 1];
    if (length == 0 || p.size() - at - 2 < length) {
      return "item " + n(i + 1) + " announces " + n(length) + " bytes, " + n(p.size() - at - 2) +
             " follow";
    }
    S7Item item;
    item.syntax = p[at + 2];
    if (item.syntax == kSyntaxS7Any) {
      if (length != kS7AnyLength) {
        return "S7ANY item " + n(i + 1) + " of " + n(length) + " bytes, expected 10";
      }
      const std::size_t b = at + 3;
      item.transport = p[b];
      item.count = u16(p, b + 1);
      item.db = u16(p, b + 3);
      item.area = p[b + 5];
      item.address = (static_cast<std::uint32_t>(p[b + 6]) << 16) |
                     (static_cast<std::uint32_t>(p[b + 7]) << 8) | p[b + 8];
    }
    r.items.push_back(item);
    at += 2 + length;
    if (length % 2 == 1 && at < p.size()) ++at;  // fill byte after an odd item
  }
  if (at != p.size()) return "parameter has " + n(p.size() - at) + " bytes after the last item";
  return std::nullopt;
}

UserdataFunction decodeUserdataParam(std::span<const std::uint8_t> p,
                                     std::optional<std::string>& malformed) {
  UserdataFunction f;
  if (p.size() < 8) {
    malformed = "userdata parameter of " + n(p.size()) + " bytes, expected at least 8";
    return f;
  }
  if (!std::equal(kUserdataHead.begin(), kUserdataHead.end(), p.begin())) {
    malformed = "userdata parameter head " + hex8(p[0]) + " " + hex8(p[1]) + " " + hex8(p[2]) +
                ", expected 0x00 0x01 0x12";
  }
  f.type = static_cast<std::uint8_t>(p[5] >> 4);
  f.group = static_cast<std::uint8_t>(p[5] & 0x0f);
  f.subfunction = p[6];
  f.sequence = p[7];
  const std::size_t length = p[3];
  if ((length != kUserdataShort && length != kUserdataLong) || length + 4 != p.size()) {
    if (!malformed) {
      malformed = "userdata parameter announces " + n(length) + " more bytes, " + n(p.size() - 4) +
                  " follow";
    }
    return f;
  }
  if (length == kUserdataLong) {
    f.dataUnitRef = p[8];
    f.lastDataUnit = p[9] == 0;
    f.errorCode = u16(p, 10);
  }
  return f;
}

std::string_view groupName(std::uint8_t group) noexcept {
  switch (group) {
    case s7group::mode_transition:
      return "mode transition";
    case s7group::programmer:
      return "programmer commands";
    case s7group::cyclic:
      return "cyclic services";
    case s7group::block:
      return "block functions";
    case s7group::cpu:
      return "CPU functions";
    case s7group::security:
      return "security";
    case s7group::pbc:
      return "PBC BSEND/BRECV";
    case s7group::time:
      return "time functions";
    case s7group::nc:
      return "NC programming";
    default:
      return {};
  }
}

std::string_view serviceName(std::uint8_t group, std::uint8_t sub) noexcept {
  switch (group) {
    case s7group::mode_transition:
      switch (sub) {
        case 0:
          return "STOP";
        case 1:
          return "warm restart";
        case 2:
          return "RUN";
        case 3:
          return "hot restart";
        default:
          return {};
      }
    case s7group::programmer:
      switch (sub) {
        case 0x01:
          return "block status";
        case 0x02:
          return "variable status";
        case 0x08:
          return "modify variable";
        case 0x09:
          return "force";
        case 0x0c:
          return "memory reset";
        case 0x0e:
          return "enable job";
        case 0x0f:
          return "delete job";
        default:
          return {};
      }
    case s7group::cyclic:
      return sub == 1 ? "cyclic transfer" : sub == 4 ? "unsubscribe" : std::string_view{};
    case s7group::block:
      switch (sub) {
        case 1:
          return "list blocks";
        case 2:
          return "list blocks of type";
        case 3:
          return "get block info";
        default:
          return {};
      }
    case s7group::cpu:
      switch (sub) {
        case 0x01:
          return "read SZL";
        case 0x02:
          return "message service";
        case 0x03:
          return "diagnostic message";
        case 0x0b:
          return "ALARM ack";
        case 0x13:
          return "ALARM query";
        default:
          return {};
      }
    case s7group::security:
      return sub == 1 ? "PLC password" : std::string_view{};
    case s7group::time:
      switch (sub) {
        case 1:
          return "read clock";
        case 2:
        case 4:
          return "set clock";
        case 3:
          return "read clock (following)";
        default:
          return {};
      }
    default:
      return {};
  }
}

// The parameter an ack_data refusing `function` echoes (see errorReply()).
std::vector<std::uint8_t> refusalParameter(const S7Request& request) {
  if (request.rosctr != Rosctr::job || !request.hasFunction) return {};
  const std::uint8_t f = request.function;
  switch (f) {
    case s7fn::read_var:
    case s7fn::write_var:
      return {f, 0};  // no items answered
    case s7fn::setup_communication: {
      std::vector<std::uint8_t> p(kSetupParamBytes, 0);
      p[0] = f;
      return p;
    }
    case s7fn::start_upload: {
      std::vector<std::uint8_t> p(kStartUploadParamBytes, 0);
      p[0] = f;
      return p;
    }
    default:
      return {f};
  }
}

void put16(std::vector<std::uint8_t>& b, std::size_t v) {
  b.push_back(static_cast<std::uint8_t>((v >> 8) & 0xff));
  b.push_back(static_cast<std::uint8_t>(v & 0xff));
}

}  // namespace

std::string_view cotpKindName(CotpKind kind) noexcept {
  switch (kind) {
    case CotpKind::connect_request:
      return "CR";
    case CotpKind::connect_confirm:
      return "CC";
    case CotpKind::disconnect_request:
      return "DR";
    case CotpKind::disconnect_confirm:
      return "DC";
    case CotpKind::data:
      return "DT";
    case CotpKind::error:
      return "ER";
  }
  return "?";
}

core::Result<CotpTpdu> decodeCotp(std::span<const std::uint8_t> tpdu) {
  if (tpdu.size() < 2) return invalid("COTP TPDU of " + n(tpdu.size()) + " bytes");
  const std::size_t li = tpdu[0];
  if (li == 0xff) return invalid("COTP length indicator 255 is reserved");
  if (li < 1 || li + 1 > tpdu.size()) {
    return invalid("COTP header length " + n(li) + " does not fit a TPDU of " + n(tpdu.size()) +
                   " bytes");
  }
  const std::uint8_t code = tpdu[1];
  CotpTpdu t;
  auto needHeader = [&](std::size_t min, std::string_view what) -> std::optional<core::Error> {
    if (li >= min) return std::nullopt;
    return invalid("COTP " + std::string(what) + " header length " + n(li) +
                   ", expected at least " + n(min));
  };
  switch (code & 0xf0) {
    case kCotpDt: {
      if (li != 2) return invalid("COTP DT header length " + n(li) + ", expected 2 (class 0)");
      t.kind = CotpKind::data;
      t.lastDataUnit = (tpdu[2] & kCotpEot) != 0;
      t.data = tpdu.subspan(3);
      return t;
    }
    case kCotpCr:
    case kCotpCc: {
      const bool cr = (code & 0xf0) == kCotpCr;
      if (auto e = needHeader(6, cr ? "CR" : "CC")) return *e;
      t.kind = cr ? CotpKind::connect_request : CotpKind::connect_confirm;
      t.dstRef = u16(tpdu, 2);
      t.srcRef = u16(tpdu, 4);
      const unsigned cls = tpdu[6] >> 4;
      if (cls != 0) {
        return invalid("COTP " + std::string(cr ? "CR" : "CC") + " for class " + n(cls) +
                       "; ISO-on-TCP uses class 0");
      }
      // Variable part: parameters (code, length, value) up to the end of the header.
      std::size_t at = 7;
      const std::size_t end = li + 1;
      while (at < end) {
        if (end - at < 2 || end - at - 2 < tpdu[at + 1]) {
          return invalid("COTP connect parameter " + hex8(tpdu[at]) + " runs past the header");
        }
        const std::uint8_t p = tpdu[at];
        const std::size_t len = tpdu[at + 1];
        const auto value = tpdu.subspan(at + 2, len);
        if (p == kParamTpduSize) {
          if (len != 1 || value[0] < kMinTpduSizeCode || value[0] > kMaxTpduSizeCode) {
            return invalid("COTP TPDU size parameter is not a size code 7..13");
          }
          t.tpduSize = std::size_t{1} << value[0];
        } else if (p == kParamCallingTsap) {
          t.callingTsap.assign(value.begin(), value.end());
        } else if (p == kParamCalledTsap) {
          t.calledTsap.assign(value.begin(), value.end());
        }
        at += 2 + len;
      }
      if (tpdu.size() > end) {
        return invalid("COTP " + std::string(cr ? "CR" : "CC") +
                       " carries user data, which class 0 does not allow");
      }
      return t;
    }
    case kCotpDr:
      if (code != kCotpDr) break;
      if (auto e = needHeader(6, "DR")) return *e;
      t.kind = CotpKind::disconnect_request;
      t.dstRef = u16(tpdu, 2);
      t.srcRef = u16(tpdu, 4);
      return t;
    case kCotpDc:
      if (code != kCotpDc) break;
      if (auto e = needHeader(5, "DC")) return *e;
      t.kind = CotpKind::disconnect_confirm;
      t.dstRef = u16(tpdu, 2);
      t.srcRef = u16(tpdu, 4);
      return t;
    case kCotpEr:
      if (code != kCotpEr) break;
      if (auto e = needHeader(4, "ER")) return *e;
      t.kind = CotpKind::error;
      t.dstRef = u16(tpdu, 2);
      return t;
    default:
      break;
  }
  return invalid("COTP TPDU type " + hex8(code) + " is not used by ISO-on-TCP (class 0)");
}

std::string_view rosctrName(Rosctr r) noexcept {
  switch (r) {
    case Rosctr::job:
      return "job";
    case Rosctr::ack:
      return "ack";
    case Rosctr::ack_data:
      return "ack_data";
    case Rosctr::userdata:
      return "userdata";
  }
  return "?";
}

core::Result<S7Header> decodeS7Header(std::span<const std::uint8_t> pdu) {
  if (pdu.empty()) return invalid("an empty S7 PDU");
  if (pdu[0] == kS7PlusProtocolId) {
    return invalid("S7comm-plus (protocol id 0x72), which cannot be inspected");
  }
  if (pdu[0] != kS7ProtocolId) {
    return invalid("not S7comm: protocol id " + hex8(pdu[0]) + ", expected 0x32");
  }
  if (pdu.size() < kJobHeaderBytes) {
    return invalid("an S7 header of " + n(pdu.size()) + " bytes, expected at least 10");
  }
  S7Header h;
  switch (pdu[1]) {
    case 1:
    case 2:
    case 3:
    case 7:
      h.rosctr = static_cast<Rosctr>(pdu[1]);
      break;
    default:
      return invalid("an unknown S7 message type (ROSCTR) " + n(pdu[1]));
  }
  const bool ack = h.rosctr == Rosctr::ack || h.rosctr == Rosctr::ack_data;
  const std::size_t headerBytes = ack ? kAckHeaderBytes : kJobHeaderBytes;
  if (pdu.size() < headerBytes) {
    return invalid("an S7 " + std::string(rosctrName(h.rosctr)) + " header of " + n(pdu.size()) +
                   " bytes, expected 12");
  }
  h.pduRef = u16(pdu, 4);
  const std::size_t plen = u16(pdu, 6);
  const std::size_t dlen = u16(pdu, 8);
  if (headerBytes + plen + dlen != pdu.size()) {
    return invalid("S7 lengths that do not add up: header " + n(headerBytes) + " + parameter " +
                   n(plen) + " + data " + n(dlen) + " in a PDU of " + n(pdu.size()) + " bytes");
  }
  if (ack) {
    h.errorClass = pdu[10];
    h.errorCode = pdu[11];
  }
  h.param = pdu.subspan(headerBytes, plen);
  h.data = pdu.subspan(headerBytes + plen, dlen);
  return h;
}

std::string_view s7ClassName(S7Class c) noexcept {
  switch (c) {
    case S7Class::setup:
      return "setup";
    case S7Class::read:
      return "read";
    case S7Class::write:
      return "write";
    case S7Class::programming:
      return "programming";
    case S7Class::control:
      return "control";
    case S7Class::other:
      return "other";
  }
  return "other";
}

S7Class jobFunctionClass(std::uint8_t function) noexcept {
  switch (function) {
    case s7fn::setup_communication:
      return S7Class::setup;
    case s7fn::read_var:
      return S7Class::read;
    case s7fn::write_var:
      return S7Class::write;
    case s7fn::request_download:
    case s7fn::download_block:
    case s7fn::download_ended:
    case s7fn::start_upload:
    case s7fn::upload:
    case s7fn::end_upload:
      return S7Class::programming;
    case s7fn::plc_control:
    case s7fn::plc_stop:
      return S7Class::control;
    default:
      return S7Class::other;
  }
}

std::string_view jobFunctionName(std::uint8_t function) noexcept {
  switch (function) {
    case s7fn::cpu_services:
      return "CPU services";
    case s7fn::setup_communication:
      return "setup communication";
    case s7fn::read_var:
      return "read var";
    case s7fn::write_var:
      return "write var";
    case s7fn::request_download:
      return "request download";
    case s7fn::download_block:
      return "download block";
    case s7fn::download_ended:
      return "download ended";
    case s7fn::start_upload:
      return "start upload";
    case s7fn::upload:
      return "upload";
    case s7fn::end_upload:
      return "end upload";
    case s7fn::plc_control:
      return "PLC control";
    case s7fn::plc_stop:
      return "PLC stop";
    default:
      return "function";
  }
}

bool isUserdataRequest(std::uint8_t type) noexcept {
  return type == 0x4 || type == 0x7;
}

S7Class userdataClass(const UserdataFunction& f) noexcept {
  // The services that only read. Everything else may change the PLC or what it does:
  // programmer commands (force, modify, memory reset), mode transitions, cyclic jobs, alarm
  // acknowledgements, passwords, BSEND/BRECV, setting the clock, NC programs.
  const bool reads = (f.group == s7group::block && f.subfunction >= 1 && f.subfunction <= 3) ||
                     (f.group == s7group::cpu && f.subfunction == 1) ||
                     (f.group == s7group::time && (f.subfunction == 1 || f.subfunction == 3));
  if (reads) return S7Class::read;
  return groupName(f.group).empty() ? S7Class::other : S7Class::write;
}

std::string userdataName(const UserdataFunction& f) {
  if (auto s = serviceName(f.group, f.subfunction); !s.empty()) return std::string(s);
  const auto g = groupName(f.group);
  if (g.empty()) return "userdata group " + n(f.group) + " subfunction " + n(f.subfunction);
  return std::string(g) + " " + n(f.subfunction);
}

std::string_view s7AreaName(std::uint8_t area) noexcept {
  switch (area) {
    case 0x80:
      return "P";
    case 0x81:
      return "I";
    case 0x82:
      return "Q";
    case 0x83:
      return "M";
    case 0x84:
      return "DB";
    case 0x85:
      return "DI";
    case 0x86:
      return "L";
    case 0x87:
      return "V";
    case 0x1c:
      return "C";
    case 0x1d:
      return "T";
    case 0x1e:
      return "C200";
    case 0x1f:
      return "T200";
    default:
      return {};
  }
}

std::string_view s7TransportName(std::uint8_t transport) noexcept {
  switch (transport) {
    case 1:
      return "BIT";
    case 2:
      return "BYTE";
    case 3:
      return "CHAR";
    case 4:
      return "WORD";
    case 5:
      return "INT";
    case 6:
      return "DWORD";
    case 7:
      return "DINT";
    case 8:
      return "REAL";
    case 9:
      return "DATE";
    case 10:
      return "TOD";
    case 11:
      return "TIME";
    case 12:
      return "S5TIME";
    case 15:
      return "DATE_AND_TIME";
    case 28:
      return "COUNTER";
    case 29:
      return "TIMER";
    default:
      return {};
  }
}

S7Request decodeRequest(const S7Header& header, std::size_t maxValueBytes) {
  S7Request r;
  r.rosctr = header.rosctr;
  r.pduRef = header.pduRef;
  const auto p = header.param;
  if (header.rosctr == Rosctr::userdata) {
    r.userdata = decodeUserdataParam(p, r.malformed);
    return r;
  }
  if (header.rosctr != Rosctr::job) {
    r.malformed = "an " + std::string(rosctrName(header.rosctr)) + " is not a request";
    return r;
  }
  if (p.empty()) {
    r.malformed = "job without a parameter";
    return r;
  }
  r.function = p[0];
  r.hasFunction = true;
  switch (r.function) {
    case s7fn::read_var:
    case s7fn::write_var: {
      if (auto bad = decodeItems(p, r)) {
        r.malformed = std::string(jobFunctionName(r.function)) + ": " + *bad;
        break;
      }
      if (r.function == s7fn::read_var) {
        if (!header.data.empty()) r.malformed = "read var job carries data";
        break;
      }
      if (auto bad = decodeDataItems(header.data, r.items.size(), maxValueBytes, r.values)) {
        r.malformed = "write var: " + *bad;
      }
      break;
    }
    case s7fn::setup_communication: {
      if (p.size() != kSetupParamBytes) {
        r.malformed = "setup communication parameter of " + n(p.size()) + " bytes, expected 8";
        break;
      }
      r.pduSize = u16(p, 6);
      break;
    }
    default:
      break;
  }
  return r;
}

S7Class requestClass(const S7Request& request) noexcept {
  if (request.rosctr == Rosctr::userdata) {
    return request.userdata ? userdataClass(*request.userdata) : S7Class::other;
  }
  return jobFunctionClass(request.function);
}

bool changesState(const S7Request& request) noexcept {
  switch (requestClass(request)) {
    case S7Class::setup:
    case S7Class::read:
      return false;
    case S7Class::programming:
      // Uploads copy blocks out of the PLC; downloads change its program.
      return request.function < s7fn::start_upload;
    case S7Class::write:
    case S7Class::control:
    case S7Class::other:
      return true;
  }
  return true;
}

S7Response decodeResponse(const S7Header& header, std::size_t maxValueBytes) {
  S7Response r;
  r.rosctr = header.rosctr;
  r.pduRef = header.pduRef;
  const auto p = header.param;
  if (header.rosctr == Rosctr::userdata) {
    r.userdata = decodeUserdataParam(p, r.malformed);
    r.error = r.userdata->errorCode;
    return r;
  }
  r.error = header.error();
  if (header.rosctr != Rosctr::ack_data || p.empty()) return r;
  r.function = p[0];
  switch (p[0]) {
    case s7fn::read_var:
    case s7fn::write_var: {
      if (p.size() != 2) {
        r.malformed = std::string(jobFunctionName(p[0])) + " response parameter of " + n(p.size()) +
                      " bytes, expected 2";
        break;
      }
      r.itemCount = p[1];
      if (p[0] == s7fn::read_var) {
        if (auto bad = decodeDataItems(header.data, p[1], maxValueBytes, r.values)) {
          r.malformed = "read var response: " + *bad;
        }
        break;
      }
      // Write var: one return code per item.
      if (header.data.size() != p[1]) {
        r.malformed = "write var response with " + n(header.data.size()) + " return codes for " +
                      n(p[1]) + " items";
        break;
      }
      for (auto code : header.data) r.values.push_back(S7DataItem{code, 0, {}, false});
      break;
    }
    case s7fn::setup_communication:
      if (p.size() == kSetupParamBytes) {
        r.pduSize = u16(p, 6);
      } else if (r.error == 0) {
        r.malformed = "setup communication parameter of " + n(p.size()) + " bytes, expected 8";
      }
      break;
    default:
      break;
  }
  return r;
}

std::vector<std::uint8_t> errorReply(const S7Request& request, S7Error error) {
  const auto code = static_cast<std::uint16_t>(error);
  std::vector<std::uint8_t> param;
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> s7 = {kS7ProtocolId};
  if (request.rosctr == Rosctr::userdata) {
    const UserdataFunction f = request.userdata.value_or(UserdataFunction{});
    const auto type = static_cast<std::uint8_t>(f.type == 0x7 ? 0xB : 0x8);
    param = {kUserdataHead[0],
             kUserdataHead[1],
             kUserdataHead[2],
             kUserdataLong,
             kUserdataMethodResponse,
             static_cast<std::uint8_t>((type << 4) | (f.group & 0x0f)),
             f.subfunction,
             f.sequence,
             0,  // data unit reference
             0,  // last data unit: yes
             static_cast<std::uint8_t>(code >> 8),
             static_cast<std::uint8_t>(code & 0xff)};
    data = {kReturnAccessDenied, 0, 0, 0};
    s7.push_back(static_cast<std::uint8_t>(Rosctr::userdata));
  } else {
    param = refusalParameter(request);
    s7.push_back(static_cast<std::uint8_t>(Rosctr::ack_data));
  }
  s7.insert(s7.end(), {0, 0});
  put16(s7, request.pduRef);
  put16(s7, param.size());
  put16(s7, data.size());
  if (request.rosctr != Rosctr::userdata) {
    s7.push_back(static_cast<std::uint8_t>(code >> 8));
    s7.push_back(static_cast<std::uint8_t>(code & 0xff));
  }
  s7.insert(s7.end(), param.begin(), param.end());
  s7.insert(s7.end(), data.begin(), data.end());

  std::vector<std::uint8_t> packet = {kTpktVersion, 0};
  put16(packet, kTpktHeaderBytes + 3 + s7.size());
  packet.insert(packet.end(), {2, kCotpDt, kCotpEot});
  packet.insert(packet.end(), s7.begin(), s7.end());
  return packet;
}

}  // namespace conduit::tunnel
