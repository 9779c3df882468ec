#pragma once

#include <filesystem>
#include <span>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::notify {

/// A webhook's HMAC key, read once at start and wiped from memory when destroyed.
class WebhookSecret {
 public:
  /// Reads the key file: a regular file, no group or other access (0600 or 0400), 16 to 4096
  /// bytes after trailing whitespace (a newline from `echo`) is dropped. Fails with
  /// `unavailable` if it cannot be read, `permission_denied` for a readable mode,
  /// `invalid_argument` for a bad length.
  static core::Result<WebhookSecret> load(const std::filesystem::path& file);

  /// Checks the file as load() does without keeping the key (configuration checks).
  static core::Status check(const std::filesystem::path& file);

  WebhookSecret(WebhookSecret&& other) noexcept;
  WebhookSecret& operator=(WebhookSecret&& other) noexcept;
  WebhookSecret(const WebhookSecret&) = delete;
  WebhookSecret& operator=(const WebhookSecret&) = delete;
  ~WebhookSecret();

  std::span<const unsigned char> bytes() const { return key_; }

 private:
  explicit WebhookSecret(std::vector<unsigned char> key) : key_(std::move(key)) {}
  void wipe() noexcept;
  std::vector<unsigned char> key_;
};

}  // namespace conduit::notify
