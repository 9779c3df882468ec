#include "ssh_wire.hpp"

#include <cstdlib>
#include <cstring>
#include <limits>

namespace conduit::vault::wire {

void Writer::put(const unsigned char* bytes, std::size_t size) {
  if (size == 0) return;
  if (grow_ != nullptr) {
    grow_->insert(grow_->end(), bytes, bytes + size);
  } else {
    // A fixed buffer is sized exactly by its caller; overrunning it is a bug, never input.
    if (size > fixed_.size() - written_) std::abort();
    std::memcpy(fixed_.data() + written_, bytes, size);
  }
  written_ += size;
}

void Writer::u32(std::uint32_t value) {
  const unsigned char bytes[4] = {
      static_cast<unsigned char>(value >> 24), static_cast<unsigned char>(value >> 16),
      static_cast<unsigned char>(value >> 8), static_cast<unsigned char>(value)};
  put(bytes, sizeof bytes);
}

void Writer::u64(std::uint64_t value) {
  u32(static_cast<std::uint32_t>(value >> 32));
  u32(static_cast<std::uint32_t>(value & 0xffffffffU));
}

void Writer::raw(std::span<const unsigned char> bytes) {
  put(bytes.data(), bytes.size());
}

void Writer::string(std::span<const unsigned char> bytes) {
  // Callers bound every field far below 4 GiB; a longer one is a bug.
  if (bytes.size() > std::numeric_limits<std::uint32_t>::max()) std::abort();
  u32(static_cast<std::uint32_t>(bytes.size()));
  raw(bytes);
}

void Writer::string(std::string_view text) {
  string(std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(text.data()),
                                        text.size()));
}

std::optional<std::uint32_t> Reader::u32() {
  if (input_.size() - offset_ < 4) return std::nullopt;
  const unsigned char* p = input_.data() + offset_;
  offset_ += 4;
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

std::optional<std::uint64_t> Reader::u64() {
  if (input_.size() - offset_ < 8) return std::nullopt;
  const std::uint64_t high = *u32();
  const std::uint64_t low = *u32();
  return (high << 32) | low;
}

std::optional<std::span<const unsigned char>> Reader::string() {
  const std::size_t start = offset_;
  const auto length = u32();
  if (!length) return std::nullopt;
  if (*length > input_.size() - offset_) {
    offset_ = start;
    return std::nullopt;
  }
  const auto bytes = input_.subspan(offset_, *length);
  offset_ += *length;
  return bytes;
}

std::optional<std::string> Reader::text() {
  const std::size_t start = offset_;
  const auto bytes = string();
  if (!bytes) return std::nullopt;
  if (!bytes->empty() && std::memchr(bytes->data(), 0, bytes->size()) != nullptr) {
    offset_ = start;
    return std::nullopt;
  }
  return std::string(reinterpret_cast<const char*>(bytes->data()), bytes->size());
}

}  // namespace conduit::vault::wire
