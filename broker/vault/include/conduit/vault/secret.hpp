#pragma once

#include <cstddef>
#include <ostream>
#include <span>
#include <string_view>
#include <utility>

namespace conduit::vault {

/// Bytes in guarded memory (sodium_malloc: guard pages, no core dumps, mlocked where allowed),
/// wiped on destruction. Move-only; never printed. The building block of Secret<Tag>.
class SecretBuffer {
 public:
  SecretBuffer() = default;
  /// Copies `bytes` into guarded memory. An allocation failure aborts: a secret that cannot be
  /// held safely must not silently become an empty one.
  explicit SecretBuffer(std::span<const unsigned char> bytes);
  /// `size` uninitialised guarded bytes, for code that fills them in place (decrypt, random).
  static SecretBuffer allocate(std::size_t size);

  SecretBuffer(SecretBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  SecretBuffer& operator=(SecretBuffer&& other) noexcept;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer();

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  unsigned char* data() noexcept { return data_; }
  const unsigned char* data() const noexcept { return data_; }

 private:
  unsigned char* data_ = nullptr;
  std::size_t size_ = 0;
};

/// A secret of one kind (Tag: Password, PrivateKey, MasterKey, ...), so kinds cannot be mixed
/// up. Only the code that hands the value to libssh, FreeRDP or a cipher calls reveal().
/// Streams and formatters print "<secret>".
template <typename Tag>
class Secret {
 public:
  Secret() = default;
  explicit Secret(SecretBuffer buffer) : buffer_(std::move(buffer)) {}
  static Secret fromBytes(std::span<const unsigned char> bytes) {
    return Secret(SecretBuffer(bytes));
  }
  static Secret fromText(std::string_view text) {
    return fromBytes({reinterpret_cast<const unsigned char*>(text.data()), text.size()});
  }

  std::span<const unsigned char> reveal() const noexcept {
    return {buffer_.data(), buffer_.size()};
  }
  std::string_view revealText() const noexcept {
    return {reinterpret_cast<const char*>(buffer_.data()), buffer_.size()};
  }
  std::size_t size() const noexcept { return buffer_.size(); }
  bool empty() const noexcept { return buffer_.empty(); }
  SecretBuffer& buffer() noexcept { return buffer_; }

  friend std::ostream& operator<<(std::ostream& os, const Secret&) { return os << "<secret>"; }

 private:
  SecretBuffer buffer_;
};

// The kinds of secret the broker handles.
struct PasswordTag {};
struct PrivateKeyTag {};
struct MasterKeyTag {};
struct DataKeyTag {};
struct TotpSeedTag {};
struct ApiTokenTag {};
using Password = Secret<PasswordTag>;
using PrivateKey = Secret<PrivateKeyTag>;
using MasterKey = Secret<MasterKeyTag>;
using DataKey = Secret<DataKeyTag>;

}  // namespace conduit::vault
