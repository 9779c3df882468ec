#include "conduit/recorder/manifest.hpp"

#include <sodium.h>

#include <charconv>
#include <map>
#include <memory>
#include <variant>

#include "bytes.hpp"

namespace conduit::recorder {

namespace {

constexpr std::string_view kFormatName = "conduit-recording-manifest";
constexpr std::string_view kSigningPrefix = "conduit recording manifest v1\n";
// 64 KiB: a manifest is about 1 KiB; anything far larger is not one.
constexpr std::size_t kMaxManifestBytes = 64u << 10;
// Objects nest two levels in a manifest; the cap keeps the recursive parser's stack bounded.
constexpr int kMaxDepth = 4;

std::string body(const Manifest& m, bool withSignature) {
  std::string s = "{";
  auto field = [&s](std::string_view name, const std::string& value) {
    if (s.size() > 1) s += ",";
    s += detail::jsonString(name);
    s += ":";
    s += value;
  };
  field("format", detail::jsonString(kFormatName));
  field("version", "1");
  field("session_id", detail::jsonString(m.sessionId));
  field("file", detail::jsonString(m.fileName));
  field("started_unix_us", std::to_string(m.startedUnixUs));
  field("ended_unix_us", std::to_string(m.endedUnixUs));
  field("duration_us", std::to_string(m.durationUs));
  field("bytes_in", std::to_string(m.bytesIn));
  field("bytes_on_disk", std::to_string(m.bytesOnDisk));
  field("messages", std::to_string(m.messages));
  std::string counts = "{";
  for (std::size_t i = 0; i < kRecordKindCount; ++i) {
    if (i > 0) counts += ",";
    counts += detail::jsonString(recordKindName(static_cast<RecordKind>(i + 1)));
    counts += ":" + std::to_string(m.recordCounts[i]);
  }
  counts += "}";
  field("record_counts", counts);
  field("file_blake2b_256", detail::jsonString(toHex(m.fileBlake2b)));
  field("signer_ed25519", detail::jsonString(toHex(m.signerPublicKey)));
  if (withSignature) field("signature", detail::jsonString(toHex(m.signature)));
  s += "}";
  return s;
}

// A strict little JSON reader for the manifest: objects, strings and unsigned integers only.
struct Value;
using Object = std::map<std::string, Value, std::less<>>;
struct Value {
  std::variant<std::string, std::uint64_t, std::shared_ptr<Object>> v;
};

class Parser {
 public:
  explicit Parser(std::string_view text) : t_(text) {}
  bool parseDocument(Object& out) {
    skip();
    if (!parseObject(out, 0)) return false;
    skip();
    return i_ == t_.size();
  }

 private:
  void skip() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t'))
      ++i_;
  }
  bool eat(char c) {
    skip();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool parseString(std::string& out) {
    if (!eat('"')) return false;
    while (i_ < t_.size()) {
      const char c = t_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) return false;
      const char e = t_[i_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'u': {
          // Only \u00XX is produced by the writer; other code points are refused.
          if (i_ + 4 > t_.size() || t_.substr(i_, 2) != "00") return false;
          unsigned v = 0;
          const auto r = std::from_chars(t_.data() + i_ + 2, t_.data() + i_ + 4, v, 16);
          if (r.ec != std::errc() || r.ptr != t_.data() + i_ + 4) return false;
          out.push_back(static_cast<char>(v));
          i_ += 4;
          break;
        }
        default:
          return false;
      }
    }
    return false;
  }
  bool parseValue(Value& out, int depth) {
    skip();
    if (i_ >= t_.size()) return false;
    if (t_[i_] == '"') {
      std::string s;
      if (!parseString(s)) return false;
      out.v = std::move(s);
      return true;
    }
    if (t_[i_] == '{') {
      auto o = std::make_shared<Object>();
      if (!parseObject(*o, depth + 1)) return false;
      out.v = std::move(o);
      return true;
    }
    std::uint64_t n = 0;
    const auto r = std::from_chars(t_.data() + i_, t_.data() + t_.size(), n, 10);
    if (r.ec != std::errc() || r.ptr == t_.data() + i_) return false;
    i_ = static_cast<std::size_t>(r.ptr - t_.data());
    out.v = n;
    return true;
  }
  bool parseObject(Object& out, int depth) {
    if (depth > kMaxDepth || !eat('{')) return false;
    if (eat('}')) return true;
    do {
      std::string key;
      skip();
      if (!parseString(key) || !eat(':')) return false;
      Value v;
      if (!parseValue(v, depth)) return false;
      if (!out.emplace(std::move(key), std::move(v)).second) return false;  // no duplicates
    } while (eat(','));
    return eat('}');
  }
  std::string_view t_;
  std::size_t i_ = 0;
};

const std::string* str(const Object& o, std::string_view k) {
  auto it = o.find(k);
  return it == o.end() ? nullptr : std::get_if<std::string>(&it->second.v);
}
const std::uint64_t* num(const Object& o, std::string_view k) {
  auto it = o.find(k);
  return it == o.end() ? nullptr : std::get_if<std::uint64_t>(&it->second.v);
}
template <std::size_t N>
bool hex(const Object& o, std::string_view k, std::array<unsigned char, N>& out) {
  const auto* s = str(o, k);
  if (s == nullptr || s->size() != 2 * N) return false;
  std::size_t len = 0;
  return sodium_hex2bin(out.data(), N, s->data(), s->size(), nullptr, &len, nullptr) == 0 &&
         len == N;
}

}  // namespace

std::string toHex(std::span<const unsigned char> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const auto b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string manifestSigningBytes(const Manifest& manifest) {
  return std::string(kSigningPrefix) + body(manifest, false);
}

std::string manifestToJson(const Manifest& manifest) {
  return body(manifest, true) + "\n";
}

core::Result<Manifest> parseManifest(std::string_view json) {
  auto bad = [](std::string what) {
    return core::fail(core::ErrorCode::corrupt, "manifest: " + std::move(what));
  };
  if (json.size() > kMaxManifestBytes) return bad("larger than 64 KiB");
  Object o;
  if (!Parser(json).parseDocument(o)) return bad("not well-formed JSON");
  const auto* format = str(o, "format");
  const auto* version = num(o, "version");
  if (format == nullptr || *format != kFormatName) return bad("not a recording manifest");
  if (version == nullptr || *version != 1) return bad("unsupported manifest version");
  Manifest m;
  const auto* sid = str(o, "session_id");
  const auto* file = str(o, "file");
  if (sid == nullptr || file == nullptr) return bad("session_id or file missing");
  m.sessionId = *sid;
  m.fileName = *file;
  struct NumField {
    std::string_view name;
    std::uint64_t* into;
  };
  for (const auto& f :
       {NumField{"started_unix_us", &m.startedUnixUs}, NumField{"ended_unix_us", &m.endedUnixUs},
        NumField{"duration_us", &m.durationUs}, NumField{"bytes_in", &m.bytesIn},
        NumField{"bytes_on_disk", &m.bytesOnDisk}, NumField{"messages", &m.messages}}) {
    const auto* v = num(o, f.name);
    if (v == nullptr) return bad(std::string(f.name) + " missing");
    *f.into = *v;
  }
  auto counts = o.find("record_counts");
  if (counts == o.end() || !std::holds_alternative<std::shared_ptr<Object>>(counts->second.v)) {
    return bad("record_counts missing");
  }
  const auto& co = *std::get<std::shared_ptr<Object>>(counts->second.v);
  if (co.size() != kRecordKindCount) return bad("record_counts has unknown kinds");
  for (std::size_t i = 0; i < kRecordKindCount; ++i) {
    const auto* v = num(co, recordKindName(static_cast<RecordKind>(i + 1)));
    if (v == nullptr) return bad("record_counts incomplete");
    m.recordCounts[i] = *v;
  }
  if (!hex(o, "file_blake2b_256", m.fileBlake2b)) return bad("file_blake2b_256 malformed");
  if (!hex(o, "signer_ed25519", m.signerPublicKey)) return bad("signer_ed25519 malformed");
  if (!hex(o, "signature", m.signature)) return bad("signature malformed");
  if (o.size() != 14) return bad("unknown members");
  return m;
}

core::Status signManifest(Manifest& manifest, const ManifestSigner& signer) {
  manifest.signerPublicKey = signer.publicKey();
  const auto bytes = manifestSigningBytes(manifest);
  auto sig = signer.sign({reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()});
  if (!sig) return sig.error();
  manifest.signature = *sig;
  return core::Done{};
}

bool manifestSignatureValid(const Manifest& manifest,
                            std::span<const unsigned char, 32> trustedPublicKey) {
  if (sodium_memcmp(manifest.signerPublicKey.data(), trustedPublicKey.data(), 32) != 0) {
    return false;
  }
  const auto bytes = manifestSigningBytes(manifest);
  return crypto_sign_verify_detached(manifest.signature.data(),
                                     reinterpret_cast<const unsigned char*>(bytes.data()),
                                     bytes.size(), trustedPublicKey.data()) == 0;
}

std::filesystem::path manifestPathFor(const std::filesystem::path& recording) {
  return recording.string() + ".manifest.json";
}

std::array<unsigned char, 32> manifestDigest(const Manifest& manifest) {
  const auto text = manifestToJson(manifest);
  std::array<unsigned char, 32> h{};
  crypto_generichash(h.data(), h.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  return h;
}

}  // namespace conduit::recorder
