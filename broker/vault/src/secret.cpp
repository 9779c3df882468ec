#include <sodium.h>

#include <cstdlib>
#include <cstring>

#include "conduit/vault/secret.hpp"

namespace conduit::vault {

namespace {
unsigned char* guardedAlloc(std::size_t size) {
  if (sodium_init() < 0) std::abort();
  if (size == 0) return nullptr;
  auto* p = static_cast<unsigned char*>(sodium_malloc(size));
  if (p == nullptr) std::abort();  // see SecretBuffer's constructor comment
  return p;
}
}  // namespace

SecretBuffer::SecretBuffer(std::span<const unsigned char> bytes)
    : data_(guardedAlloc(bytes.size())), size_(bytes.size()) {
  if (size_ > 0) std::memcpy(data_, bytes.data(), size_);
}

SecretBuffer SecretBuffer::allocate(std::size_t size) {
  SecretBuffer b;
  b.data_ = guardedAlloc(size);
  b.size_ = size;
  return b;
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) sodium_free(data_);  // sodium_free wipes before freeing
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SecretBuffer::~SecretBuffer() {
  if (data_ != nullptr) sodium_free(data_);
}

}  // namespace conduit::vault
