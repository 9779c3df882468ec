#pragma once

// SSH wire encoding (RFC 4251 section 5): big-endian uint32/uint64 and length-prefixed strings.
// Private to broker/vault: the SSH user CA builds certificates and key files with it by hand
// because libssh 0.10 has no API to create or sign certificates.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace conduit::vault::wire {

/// Appends SSH wire encoding either to a growing vector (public data only: a vector may
/// reallocate and leave stale copies behind) or into a fixed, preallocated buffer (guarded memory
/// for secrets). Writing past the end of a fixed buffer, or a string longer than 2^32-1 bytes,
/// is a bug in the caller's size computation and aborts.
class Writer {
 public:
  explicit Writer(std::vector<unsigned char>& grow) : grow_(&grow) {}
  explicit Writer(std::span<unsigned char> fixed) : fixed_(fixed) {}

  /// Big-endian uint32.
  void u32(std::uint32_t value);
  /// Big-endian uint64.
  void u64(std::uint64_t value);
  /// Bytes as they are, without a length prefix.
  void raw(std::span<const unsigned char> bytes);
  /// A string: uint32 length, then the bytes.
  void string(std::span<const unsigned char> bytes);
  /// A string from text.
  void string(std::string_view text);

  /// Bytes written so far.
  std::size_t written() const noexcept { return written_; }

 private:
  void put(const unsigned char* bytes, std::size_t size);

  std::vector<unsigned char>* grow_ = nullptr;
  std::span<unsigned char> fixed_;
  std::size_t written_ = 0;
};

/// Reads SSH wire encoding from untrusted bytes. Every read checks the remaining length before
/// touching memory; a read that does not fit returns nullopt and consumes nothing.
class Reader {
 public:
  explicit Reader(std::span<const unsigned char> input) : input_(input) {}

  /// A big-endian uint32, or nullopt if fewer than 4 bytes remain.
  std::optional<std::uint32_t> u32();
  /// A big-endian uint64, or nullopt if fewer than 8 bytes remain.
  std::optional<std::uint64_t> u64();
  /// A string's bytes (a view into the input), or nullopt if its length exceeds what remains.
  std::optional<std::span<const unsigned char>> string();
  /// A string as text; nullopt also if it contains a NUL byte (OpenSSH's cstring rule: such a
  /// string would be cut short by C code and mean something else there).
  std::optional<std::string> text();

  /// Bytes consumed so far.
  std::size_t consumed() const noexcept { return offset_; }
  /// True when every byte has been read.
  bool atEnd() const noexcept { return offset_ == input_.size(); }

 private:
  std::span<const unsigned char> input_;
  std::size_t offset_ = 0;
};

}  // namespace conduit::vault::wire
