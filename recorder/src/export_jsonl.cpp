#include <sodium.h>

#include "bytes.hpp"
#include "conduit/recorder/export.hpp"

namespace conduit::recorder {

ExportSummary exportJsonl(RecordingReader& reader, std::ostream& out) {
  ExportSummary summary;
  const auto& h = reader.header();
  out << "{\"session_id\":" << detail::jsonString(h.sessionId)
      << ",\"started_unix_us\":" << h.startedUnixUs << ",\"format_version\":" << h.formatVersion
      << "}\n";
  std::string b64;
  while (auto r = reader.next()) {
    b64.resize(sodium_base64_ENCODED_LEN(r->payload.size(), sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(b64.data(), b64.size(), r->payload.data(), r->payload.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    out << "{\"t_us\":" << r->timeUs << ",\"channel\":" << r->channel << ",\"direction\":\""
        << directionName(r->direction) << "\",\"kind\":\"" << recordKindName(r->kind)
        << "\",\"payload_b64\":\"" << b64.c_str() << '"';
    // File operations decoded as well: "which files went to the HMI" is the auditor's first
    // question, and the payload's layout should not stand between them and the answer.
    if (r->kind == RecordKind::file_transfer) {
      if (const auto f = decodeFileTransfer(r->payload)) {
        out << ",\"file\":{";
        out << fileTransferJsonFields(*f);
        out << '}';
      }
    }
    out << "}\n";
    ++summary.recordsWritten;
  }
  summary.source = reader.status();
  return summary;
}

ExportSummary exportFileEvents(RecordingReader& reader, std::ostream& out) {
  ExportSummary summary;
  out << "{\"session_id\":" << detail::jsonString(reader.header().sessionId) << ",\"files\":[";
  while (auto r = reader.next()) {
    if (r->kind != RecordKind::file_transfer) continue;
    const auto f = decodeFileTransfer(r->payload);
    if (!f) continue;
    out << (summary.recordsWritten == 0 ? "" : ",") << "{\"t_us\":" << r->timeUs
        << ",\"channel\":" << r->channel << ",\"direction\":\"" << directionName(r->direction)
        << "\",";
    out << fileTransferJsonFields(*f);
    out << '}';
    ++summary.recordsWritten;
  }
  out << "]}\n";
  summary.source = reader.status();
  return summary;
}

}  // namespace conduit::recorder
