#include "conduit/notify/webhook_secret.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstring>

namespace conduit::notify {

using core::ErrorCode;
using core::fail;

namespace {

// 16 bytes: anyone who sees one signed delivery can try keys offline; shorter keys fall to that.
constexpr std::size_t kMinSecretBytes = 16;
// 4 KiB: far more than any generated secret; stops a wrong path (a log, a disk image) from
// being read into memory.
constexpr std::size_t kMaxSecretBytes = 4096;

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

/// Opens, checks and reads the file; the caller wipes the bytes.
core::Result<std::vector<unsigned char>> readSecret(const std::filesystem::path& file) {
  const FileDescriptor fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) {
    return fail(ErrorCode::unavailable,
                "cannot read webhook secret " + file.string() + ": " + std::strerror(errno));
  }
  // fstat on the open descriptor: the file checked is the file read.
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return fail(ErrorCode::unavailable, "webhook secret " + file.string() + " is not a file");
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorCode::permission_denied,
                "webhook secret " + file.string() +
                    " is readable by group or others; chmod 600 it (and rotate the secret)");
  }
  std::vector<unsigned char> key(kMaxSecretBytes + 1);
  std::size_t size = 0;
  while (size < key.size()) {
    const ssize_t n = ::read(fd.get(), key.data() + size, key.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      sodium_memzero(key.data(), key.size());
      return fail(ErrorCode::unavailable,
                  "cannot read webhook secret " + file.string() + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    size += static_cast<std::size_t>(n);
  }
  while (size > 0 && std::isspace(key[size - 1]) != 0) --size;
  const bool tooLong = size > kMaxSecretBytes;
  sodium_memzero(key.data() + size, key.size() - size);
  key.resize(size);
  if (tooLong || size < kMinSecretBytes) {
    sodium_memzero(key.data(), key.size());
    return fail(ErrorCode::invalid_argument, "webhook secret " + file.string() +
                                                 " must hold 16 to 4096 bytes (e.g. `openssl "
                                                 "rand -hex 32`)");
  }
  return key;
}

}  // namespace

core::Result<WebhookSecret> WebhookSecret::load(const std::filesystem::path& file) {
  auto key = readSecret(file);
  if (!key) return key.error();
  return WebhookSecret(std::move(*key));
}

core::Status WebhookSecret::check(const std::filesystem::path& file) {
  auto secret = load(file);
  if (!secret) return secret.error();
  return core::Done{};
}

WebhookSecret::WebhookSecret(WebhookSecret&& other) noexcept : key_(std::move(other.key_)) {
  other.key_.clear();
}

WebhookSecret& WebhookSecret::operator=(WebhookSecret&& other) noexcept {
  if (this != &other) {
    wipe();
    key_ = std::move(other.key_);
    other.key_.clear();
  }
  return *this;
}

WebhookSecret::~WebhookSecret() {
  wipe();
}

void WebhookSecret::wipe() noexcept {
  if (!key_.empty()) sodium_memzero(key_.data(), key_.size());
}

}  // namespace conduit::notify
