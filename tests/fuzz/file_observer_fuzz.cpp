// libFuzzer target: the SSH gateway's file observers (sftp, and the legacy scp protocol in both
// directions) on hostile bytes from both sides (a vendor's client and a target's server are
// both untrusted).
//
// clang-format off
// fuzz-sources: broker/ssh/src/*_observer.cpp broker/ssh/src/file_digest.cpp recorder/src/record.cpp
// fuzz-includes: broker/ssh/include recorder/include broker/core/include
// fuzz-libs: -lcrypto -lsodium
// clang-format on
//
// Input: one byte choosing the observer (sftp, `scp -t /up`, `scp -r -f /down/x`), then
// operations until the input ends:
//   0 n bytes[n]   vendor bytes      1 n bytes[n]   target bytes      2   the channel ends
// Checked: every event's path and detail are valid UTF-8 without control characters, its
// SHA-256 is empty or 64 lowercase hex digits, and it survives the recording's encoding; the
// same streams fed one byte at a time give the same events and the same stop.
#include <boost/locale/utf.hpp>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "conduit/recorder/record.hpp"
#include "conduit/ssh/scp_observer.hpp"
#include "conduit/ssh/sftp_observer.hpp"

using conduit::ssh::FileEvents;
using conduit::ssh::FileObserver;

namespace {

struct Op {
  std::uint8_t kind;
  std::span<const std::uint8_t> bytes;
};

std::vector<Op> parse(const std::uint8_t* data, std::size_t size) {
  std::vector<Op> ops;
  std::size_t i = 0;
  while (i < size) {
    const std::uint8_t kind = data[i++] % 3;
    if (kind == 2) {
      ops.push_back({kind, {}});
      continue;
    }
    if (i >= size) break;
    const std::size_t want = data[i++];
    const std::size_t n = std::min(want, size - i);
    ops.push_back({kind, {data + i, n}});
    i += n;
  }
  return ops;
}

std::unique_ptr<FileObserver> observer(std::uint8_t which) {
  switch (which % 3) {
    case 0:
      return std::make_unique<conduit::ssh::SftpObserver>();
    case 1:
      return conduit::ssh::ScpObserver::forCommand("scp -t /up");
    default:
      return conduit::ssh::ScpObserver::forCommand("scp -r -f /down/x");
  }
}

FileEvents run(std::uint8_t which, const std::vector<Op>& ops, bool byteByByte) {
  const auto observed = observer(which);
  if (!observed) std::abort();
  FileObserver& o = *observed;
  FileEvents out;
  for (const auto& op : ops) {
    if (op.kind == 2) {
      o.finish(out);
      continue;
    }
    auto feed = [&](std::span<const std::uint8_t> b) {
      if (op.kind == 0) {
        o.fromVendor(b, out);
      } else {
        o.fromTarget(b, out);
      }
    };
    if (byteByByte) {
      for (std::size_t k = 0; k < op.bytes.size(); ++k) feed(op.bytes.subspan(k, 1));
    } else {
      feed(op.bytes);
    }
  }
  return out;
}

void checkText(const std::string& s) {
  using Traits = boost::locale::utf::utf_traits<char>;
  auto it = s.begin();
  while (it != s.end()) {
    const auto c = Traits::decode(it, s.end());
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto ops = parse(data + 1, size - 1);
  const auto whole = run(data[0], ops, false);
  for (const auto& e : whole.events) {
    checkText(e.path);
    checkText(e.detail);
    for (const char ch : e.path) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) std::abort();
    }
    if (!e.sha256.empty() &&
        (e.sha256.size() != 64 ||
         e.sha256.find_first_not_of("0123456789abcdef") != std::string::npos)) {
      std::abort();
    }
    if (conduit::recorder::decodeFileTransfer(conduit::recorder::encodeFileTransfer(e)) != e &&
        e.path.size() <= 0xffff && e.detail.size() <= 0xffff) {
      std::abort();
    }
  }
  const auto pieces = run(data[0], ops, true);
  if (pieces.events != whole.events || pieces.stopped != whole.stopped) std::abort();
  return 0;
}
