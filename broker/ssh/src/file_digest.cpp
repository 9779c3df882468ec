#include "file_digest.hpp"

#include <sodium.h>

#include <boost/locale/utf.hpp>

namespace conduit::ssh {

std::string printablePath(std::string_view raw) {
  using Traits = boost::locale::utf::utf_traits<char>;
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr std::size_t kMaxPath = 4096;
  std::string out;
  auto it = raw.begin();
  while (it != raw.end()) {
    if (out.size() >= kMaxPath) return out + "...(cut)";
    const auto start = it;
    const auto c = Traits::decode(it, raw.end());
    if (c == boost::locale::utf::illegal || c == boost::locale::utf::incomplete || c < 0x20 ||
        c == 0x7f || c == '\\') {
      it = start + 1;
      const auto b = static_cast<unsigned char>(*start);
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    } else {
      out.append(start, it);
    }
  }
  return out;
}

std::string cutPath(std::string path) {
  constexpr std::size_t kMaxPath = 4096;
  if (path.size() <= kMaxPath) return path;
  std::size_t end = kMaxPath;
  // Not inside a UTF-8 sequence: back up over continuation bytes.
  while (end > 0 && (static_cast<unsigned char>(path[end]) & 0xC0) == 0x80) --end;
  path.resize(end);
  return path + "...(cut)";
}

Sha256::Sha256() : md_(EVP_MD_CTX_new()) {
  ok_ = md_ != nullptr && EVP_DigestInit_ex(md_, EVP_sha256(), nullptr) == 1;
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(md_);
}

bool Sha256::add(std::span<const unsigned char> bytes) {
  ok_ = ok_ && EVP_DigestUpdate(md_, bytes.data(), bytes.size()) == 1;
  return ok_;
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (!ok_ || EVP_DigestFinal_ex(md_, digest, &n) != 1 || n != 32) return {};
  ok_ = false;  // finished: a second call would hash nothing
  char text[65];
  sodium_bin2hex(text, sizeof text, digest, n);
  return text;
}

}  // namespace conduit::ssh
