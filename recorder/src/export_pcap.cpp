#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "conduit/recorder/export.hpp"

namespace conduit::recorder {

namespace {

constexpr std::uint32_t kSnapLength = 262144;
// 32000 bytes of TCP payload per packet: fits the 16-bit IPv4 total length with room to spare;
// Wireshark reassembles across segments anyway.
constexpr std::size_t kMaxSegment = 32000;
constexpr std::uint8_t kFin = 0x01;
constexpr std::uint8_t kSyn = 0x02;
constexpr std::uint8_t kPsh = 0x08;
constexpr std::uint8_t kAck = 0x10;

void put16(std::string& s, std::uint16_t v) {  // network order
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v & 0xff));
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, static_cast<std::uint16_t>(v >> 16));
  put16(s, static_cast<std::uint16_t>(v & 0xffff));
}
void put32Le(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void put16Le(std::string& s, std::uint16_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>(v >> 8));
}

// The Internet checksum (RFC 1071) over `sum` accumulated 16-bit words.
std::uint32_t sumWords(const unsigned char* p, std::size_t n, std::uint32_t sum) {
  for (std::size_t i = 0; i + 1 < n; i += 2)
    sum += static_cast<std::uint32_t>((p[i] << 8) | p[i + 1]);
  if (n % 2 == 1) sum += static_cast<std::uint32_t>(p[n - 1] << 8);
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

struct Connection {
  std::uint32_t clientSeq = 0;
  std::uint32_t targetSeq = 0;
};

class PcapWriter {
 public:
  PcapWriter(std::ostream& out, std::uint64_t startedUnixUs)
      : out_(out), startedUnixUs_(startedUnixUs) {
    std::string h;
    put32Le(h, 0xa1b2c3d4);  // microsecond timestamps, written little-endian
    put16Le(h, 2);
    put16Le(h, 4);
    put32Le(h, 0);  // this zone
    put32Le(h, 0);  // sigfigs
    put32Le(h, kSnapLength);
    put32Le(h, 1);  // LINKTYPE_ETHERNET
    out_.write(h.data(), static_cast<std::streamsize>(h.size()));
  }

  // One TCP segment from the client (fromClient) or the target.
  void segment(std::uint64_t timeUs, const TcpFourTuple& t, bool fromClient, std::uint32_t seq,
               std::uint32_t ack, std::uint8_t flags, std::span<const unsigned char> data) {
    const std::size_t alen = t.ipv6 ? 16 : 4;
    const auto* src = fromClient ? t.clientAddress.data() : t.targetAddress.data();
    const auto* dst = fromClient ? t.targetAddress.data() : t.clientAddress.data();
    const auto sport = fromClient ? t.clientPort : t.targetPort;
    const auto dport = fromClient ? t.targetPort : t.clientPort;

    std::string tcp;
    put16(tcp, sport);
    put16(tcp, dport);
    put32(tcp, seq);
    put32(tcp, ack);
    tcp.push_back(static_cast<char>(5 << 4));  // data offset: 20 bytes, no options
    tcp.push_back(static_cast<char>(flags));
    put16(tcp, 65535);  // window
    put16(tcp, 0);      // checksum, below
    put16(tcp, 0);      // urgent pointer
    tcp.append(reinterpret_cast<const char*>(data.data()), data.size());
    const auto tcpLen = static_cast<std::uint32_t>(tcp.size());
    std::uint32_t sum = sumWords(src, alen, 0);
    sum = sumWords(dst, alen, sum);
    sum += 6 + (tcpLen & 0xffff) + (tcpLen >> 16);
    const auto csum =
        fold(sumWords(reinterpret_cast<const unsigned char*>(tcp.data()), tcp.size(), sum));
    tcp[16] = static_cast<char>(csum >> 8);
    tcp[17] = static_cast<char>(csum & 0xff);

    std::string frame;
    static constexpr unsigned char kClientMac[6] = {0x02, 0, 0, 0, 0, 0x01};
    static constexpr unsigned char kTargetMac[6] = {0x02, 0, 0, 0, 0, 0x02};
    frame.append(reinterpret_cast<const char*>(fromClient ? kTargetMac : kClientMac), 6);
    frame.append(reinterpret_cast<const char*>(fromClient ? kClientMac : kTargetMac), 6);
    put16(frame, t.ipv6 ? 0x86dd : 0x0800);
    if (t.ipv6) {
      put32(frame, 0x60000000);
      put16(frame, static_cast<std::uint16_t>(tcpLen));
      frame.push_back(6);   // next header: TCP
      frame.push_back(64);  // hop limit
      frame.append(reinterpret_cast<const char*>(src), 16);
      frame.append(reinterpret_cast<const char*>(dst), 16);
    } else {
      const std::size_t ipAt = frame.size();
      frame.push_back(0x45);
      frame.push_back(0);
      put16(frame, static_cast<std::uint16_t>(20 + tcpLen));
      put16(frame, ipId_++);
      put16(frame, 0x4000);  // don't fragment
      frame.push_back(64);   // TTL
      frame.push_back(6);    // TCP
      put16(frame, 0);
      frame.append(reinterpret_cast<const char*>(src), 4);
      frame.append(reinterpret_cast<const char*>(dst), 4);
      const auto ipsum =
          fold(sumWords(reinterpret_cast<const unsigned char*>(frame.data()) + ipAt, 20, 0));
      frame[ipAt + 10] = static_cast<char>(ipsum >> 8);
      frame[ipAt + 11] = static_cast<char>(ipsum & 0xff);
    }
    frame += tcp;

    const std::uint64_t at = startedUnixUs_ + timeUs;
    std::string rec;
    put32Le(rec, static_cast<std::uint32_t>(at / 1000000));
    put32Le(rec, static_cast<std::uint32_t>(at % 1000000));
    put32Le(rec, static_cast<std::uint32_t>(frame.size()));
    put32Le(rec, static_cast<std::uint32_t>(frame.size()));
    out_.write(rec.data(), static_cast<std::streamsize>(rec.size()));
    out_.write(frame.data(), static_cast<std::streamsize>(frame.size()));
    ++packets_;
  }

  std::uint64_t packets() const { return packets_; }

 private:
  std::ostream& out_;
  std::uint64_t startedUnixUs_;
  std::uint16_t ipId_ = 1;
  std::uint64_t packets_ = 0;
};

using ConnectionKey = std::tuple<std::uint32_t, bool, std::array<unsigned char, 16>, std::uint16_t,
                                 std::array<unsigned char, 16>, std::uint16_t>;

}  // namespace

ExportSummary exportPcap(RecordingReader& reader, std::ostream& out) {
  ExportSummary summary;
  PcapWriter pcap(out, reader.header().startedUnixUs);
  std::map<ConnectionKey, std::pair<TcpFourTuple, Connection>> connections;
  std::uint64_t lastTime = 0;
  while (auto r = reader.next()) {
    lastTime = r->timeUs;
    if (r->kind != RecordKind::tunnel_bytes) {
      ++summary.recordsSkipped;
      continue;
    }
    const auto chunk = decodeTunnelBytes(r->payload);
    if (!chunk || r->direction == Direction::none) {
      ++summary.recordsSkipped;
      continue;
    }
    const auto& t = chunk->tuple;
    const ConnectionKey key{r->channel,   t.ipv6,          t.clientAddress,
                            t.clientPort, t.targetAddress, t.targetPort};
    auto it = connections.find(key);
    if (it == connections.end()) {
      // Initial sequence numbers are arbitrary; deriving them from the channel keeps exports
      // reproducible.
      Connection c{0x10000000u + r->channel * 0x1000u, 0x20000000u + r->channel * 0x1000u};
      pcap.segment(r->timeUs, t, true, c.clientSeq, 0, kSyn, {});
      pcap.segment(r->timeUs, t, false, c.targetSeq, c.clientSeq + 1, kSyn | kAck, {});
      ++c.clientSeq;
      ++c.targetSeq;
      pcap.segment(r->timeUs, t, true, c.clientSeq, c.targetSeq, kAck, {});
      it = connections.emplace(key, std::make_pair(t, c)).first;
    }
    auto& c = it->second.second;
    const bool fromClient = r->direction == Direction::to_target;
    auto bytes = chunk->bytes;
    while (!bytes.empty()) {
      const auto n = std::min(bytes.size(), kMaxSegment);
      auto& seq = fromClient ? c.clientSeq : c.targetSeq;
      const auto ack = fromClient ? c.targetSeq : c.clientSeq;
      pcap.segment(r->timeUs, t, fromClient, seq, ack, kPsh | kAck, bytes.first(n));
      seq += static_cast<std::uint32_t>(n);
      bytes = bytes.subspan(n);
    }
    ++summary.recordsWritten;
  }
  // Close every connection so Wireshark sees complete conversations.
  for (auto& [key, value] : connections) {
    auto& [t, c] = value;
    pcap.segment(lastTime, t, true, c.clientSeq, c.targetSeq, kFin | kAck, {});
    pcap.segment(lastTime, t, false, c.targetSeq, c.clientSeq + 1, kFin | kAck, {});
    pcap.segment(lastTime, t, true, c.clientSeq + 1, c.targetSeq + 1, kAck, {});
  }
  summary.source = reader.status();
  return summary;
}

}  // namespace conduit::recorder
