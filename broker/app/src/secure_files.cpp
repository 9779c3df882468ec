#include "conduit/app/secure_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace conduit::app {

using core::ErrorCode;
using core::fail;

namespace {

std::string octal(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

core::Error ioError(const std::string& what, const std::filesystem::path& path) {
  return {ErrorCode::io, what + " " + path.string() + ": " + std::strerror(errno)};
}

}  // namespace

core::Status writeNewFile(const std::filesystem::path& path, std::string_view content,
                          mode_t mode) {
  std::random_device rd;
  const auto tmp =
      path.parent_path() / ("." + path.filename().string() + ".tmp" + std::to_string(rd()));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return ioError("cannot create", tmp);
  // The umask may have narrowed the mode; set exactly what was asked.
  bool ok = ::fchmod(fd, mode) == 0;
  std::size_t written = 0;
  while (ok && written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = false;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  const int savedErrno = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = savedErrno;
    return ioError("cannot write", path);
  }
  // link() fails if the target exists, so an existing key is never replaced.
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int linkErrno = errno;
    ::unlink(tmp.c_str());
    if (linkErrno == EEXIST) return fail(ErrorCode::already_exists, path.string() + " exists");
    errno = linkErrno;
    return ioError("cannot create", path);
  }
  ::unlink(tmp.c_str());
  return core::Done{};
}

core::Status ensurePrivateDirectory(const std::filesystem::path& dir, bool& created) {
  created = false;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return ioError("cannot inspect", dir);
    std::error_code ec;
    if (dir.has_parent_path()) std::filesystem::create_directories(dir.parent_path(), ec);
    if (ec)
      return fail(ErrorCode::io,
                  "cannot create " + dir.parent_path().string() + ": " + ec.message());
    if (::mkdir(dir.c_str(), 0700) != 0) return ioError("cannot create", dir);
    if (::chmod(dir.c_str(), 0700) != 0) return ioError("cannot set mode on", dir);
    created = true;
    return core::Done{};
  }
  if (!S_ISDIR(st.st_mode)) {
    return fail(ErrorCode::invalid_argument, dir.string() + " exists and is not a directory");
  }
  if (st.st_uid != ::geteuid()) {
    return fail(ErrorCode::permission_denied,
                dir.string() + " is owned by uid " + std::to_string(st.st_uid) +
                    ", not by this user (uid " + std::to_string(::geteuid()) + ")");
  }
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorCode::permission_denied,
                dir.string() + " has mode " + octal(st.st_mode) +
                    "; it holds keys and must not be open to group or others (chmod 700 " +
                    dir.string() + ")");
  }
  return core::Done{};
}

core::Status checkPrivateFile(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ioError("cannot read", path);
  if ((st.st_mode & 077) != 0) {
    return fail(ErrorCode::permission_denied,
                path.string() + " has mode " + octal(st.st_mode) + "; a private key must be 0600");
  }
  return core::Done{};
}

}  // namespace conduit::app
