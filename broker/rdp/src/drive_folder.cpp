#include "conduit/rdp/drive_folder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <openssl/evp.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "conduit/rdp/worker_protocol.hpp"
#include "unique_fd.hpp"

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

namespace {

std::string errnoText(const char* what) {
  return std::string(what) + ": " + std::strerror(errno);
}

using Fd = UniqueFd;

/// Writes all of `bytes`; false on error.
bool writeAll(int fd, std::span<const std::uint8_t> bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

std::string stagingName() {
  static std::atomic<std::uint64_t> counter{0};
  return "upload-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

}  // namespace

std::string sha256Hex(std::span<const std::uint8_t> bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  std::string hex(2 * length + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), length);
  hex.pop_back();
  return hex;
}

std::string DriveFolder::drivesDirectory() {
  // As root, a directory only root can create (so no local user can take the name first) on
  // disk rather than in memory; otherwise one per user in /tmp (a development setup).
  if (::geteuid() == 0) return "/var/lib/conduit-rdp-drives";
  return "/tmp/conduit-rdp-drives-" + std::to_string(::geteuid());
}

std::optional<std::pair<uid_t, gid_t>> DriveFolder::workerOwner() {
  if (::geteuid() != 0) return std::nullopt;
  // The worker drops to these (broker/rdp/worker/sandbox.cpp). The _r forms: sessions start on
  // several threads at once.
  std::array<char, 4096> buf{};
  passwd user{};
  passwd* found = nullptr;
  if (::getpwnam_r("nobody", &user, buf.data(), buf.size(), &found) != 0 || found == nullptr) {
    return std::nullopt;
  }
  const uid_t uid = user.pw_uid;
  gid_t gid = user.pw_gid;
  group nogroup{};
  group* foundGroup = nullptr;
  if (::getgrnam_r("nogroup", &nogroup, buf.data(), buf.size(), &foundGroup) == 0 &&
      foundGroup != nullptr) {
    gid = nogroup.gr_gid;
  }
  return std::make_pair(uid, gid);
}

core::Result<std::unique_ptr<DriveFolder>> DriveFolder::create(
    std::optional<std::pair<uid_t, gid_t>> owner) {
  // Every worker runs as the same user (nobody), so a worker a hostile target took over could
  // reach any drive whose path it knew. Drives therefore live in a directory of this process's
  // user that others may pass through but not list (0711), under 128 random bits each: a
  // worker knows only its own drive's path (from its connect frame, not its command line).
  const std::string base = drivesDirectory();
  if (::mkdir(base.c_str(), 0711) != 0 && errno != EEXIST) {
    return fail(ErrorCode::unavailable, errnoText("cannot make the drives' directory"));
  }
  {
    // Not a link, ours, not listable by others (the umask may have narrowed the mode): checked
    // and set on one descriptor, so nothing can swap the path in between.
    Fd baseFd(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    struct stat baseStat {};
    if (baseFd.get() < 0 || ::fstat(baseFd.get(), &baseStat) != 0 ||
        baseStat.st_uid != ::geteuid() || ::fchmod(baseFd.get(), 0711) != 0) {
      return fail(ErrorCode::unavailable,
                  base + " is not a directory of this user with mode 0711; remove it");
    }
  }
  std::array<unsigned char, 16> random{};
  randombytes_buf(random.data(), random.size());
  std::array<char, 2 * 16 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), random.data(), random.size());
  const std::string root = base + "/" + hex.data();
  if (::mkdir(root.c_str(), 0711) != 0) {
    return fail(ErrorCode::unavailable, errnoText("cannot make the drive's directory"));
  }
  const auto undo = [&root](const std::string& why) {
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
    return fail(ErrorCode::unavailable, why);
  };
  // 0711: the worker's user may pass through to the drive but not list or enter staging.
  if (::chmod(root.c_str(), 0711) != 0 || ::mkdir((root + "/drive").c_str(), 0700) != 0 ||
      ::mkdir((root + "/staging").c_str(), 0700) != 0) {
    return undo(errnoText("cannot make the drive's directory"));
  }
  if (owner && ::chown((root + "/drive").c_str(), owner->first, owner->second) != 0) {
    return undo(errnoText("cannot hand the drive to the worker's user"));
  }
  Fd drive(::open((root + "/drive").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  Fd staging(::open((root + "/staging").c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (drive.get() < 0 || staging.get() < 0) return undo(errnoText("cannot open the drive"));
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
  if (owner) {
    uid = owner->first;
    gid = owner->second;
  }
  return std::unique_ptr<DriveFolder>(
      new DriveFolder(root, drive.release(), staging.release(), uid, gid));
}

DriveFolder::DriveFolder(std::string root, int driveFd, int stagingFd, std::optional<uid_t> uid,
                         std::optional<gid_t> gid)
    : root_(std::move(root)),
      drivePath_(root_ + "/drive"),
      driveFd_(driveFd),
      stagingFd_(stagingFd),
      uid_(uid),
      gid_(gid) {}

DriveFolder::~DriveFolder() {
  if (driveFd_ >= 0) ::close(driveFd_);
  if (stagingFd_ >= 0) ::close(stagingFd_);
  // remove_all removes links themselves, never what they point to.
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

core::Status DriveFolder::checkName(std::string_view name) {
  const auto bad = [](const std::string& why) {
    return fail(ErrorCode::invalid_argument, "file name " + why);
  };
  if (name.empty() || name.size() > 255) return bad("must be 1-255 bytes");
  if (name == "." || name == "..") return bad("must not be . or ..");
  if (!isValidUtf8(name)) return bad("must be UTF-8");
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return bad("must not hold control characters");
    // C1 controls (U+0080-U+009F: C2 80 .. C2 9F in UTF-8).
    if (u == 0xC2 && i + 1 < name.size()) {
      const auto next = static_cast<unsigned char>(name[i + 1]);
      if (next >= 0x80 && next <= 0x9F) return bad("must not hold control characters");
    }
    if (std::string_view("/\\:*?\"<>|").find(c) != std::string_view::npos) {
      return bad("must not hold any of / \\ : * ? \" < > |");
    }
  }
  if (name.back() == '.' || name.back() == ' ') return bad("must not end in a dot or a space");
  // Bidirectional controls (U+061C, U+200E/F, U+202A-E, U+2066-9) can make a name read as
  // another.
  if (name.find("\xD8\x9C") != std::string_view::npos) {
    return bad("must not hold bidirectional control characters");
  }
  for (std::size_t i = 0; i + 2 < name.size(); ++i) {
    const auto b1 = static_cast<unsigned char>(name[i + 1]);
    const auto b2 = static_cast<unsigned char>(name[i + 2]);
    if (static_cast<unsigned char>(name[i]) == 0xE2 &&
        ((b1 == 0x80 && (b2 == 0x8E || b2 == 0x8F || (b2 >= 0xAA && b2 <= 0xAE))) ||
         (b1 == 0x81 && b2 >= 0xA6 && b2 <= 0xA9))) {
      return bad("must not hold bidirectional control characters");
    }
  }
  // Windows device names, with or without an extension (CON, NUL.txt, COM1.log...): the
  // target would open the device, not the file recorded.
  std::string stem(name.substr(0, name.find('.')));
  std::transform(stem.begin(), stem.end(), stem.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
  while (!stem.empty() && stem.back() == ' ') stem.pop_back();
  static const std::array<std::string_view, 6> kDevices = {"CON", "PRN",    "AUX",
                                                           "NUL", "CONIN$", "CONOUT$"};
  const bool port = stem.starts_with("COM") || stem.starts_with("LPT");
  // COM0-COM9 and LPT0-LPT9, also with a superscript 1, 2 or 3 (which Windows reserves too).
  const bool numbered =
      port && ((stem.size() == 4 && stem[3] >= '0' && stem[3] <= '9') ||
               (stem.size() == 5 && (stem.substr(3) == "\xC2\xB9" || stem.substr(3) == "\xC2\xB2" ||
                                     stem.substr(3) == "\xC2\xB3")));
  if (numbered || std::find(kDevices.begin(), kDevices.end(), stem) != kDevices.end()) {
    return bad("must not be a Windows device name (" + stem + ")");
  }
  return core::Done{};
}

core::Result<std::vector<DriveFile>> DriveFolder::list() const {
  // A second descriptor: fdopendir takes over the one it is given.
  const int fd = ::openat(driveFd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorCode::unavailable, errnoText("cannot read the drive"));
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    ::close(fd);
    return fail(ErrorCode::unavailable, errnoText("cannot read the drive"));
  }
  std::vector<DriveFile> files;
  std::size_t seen = 0;
  while (const dirent* e = ::readdir(dir)) {
    // Bounded work on a hostile drive: every entry counts, links and folders too.
    if (++seen > 4 * kMaxDriveListing) break;
    const std::string_view name(e->d_name);
    if (name == "." || name == ".." || !checkName(name)) continue;  // only names get() serves
    struct stat st {};
    if (::fstatat(driveFd_, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    files.push_back({std::string(name), static_cast<std::uint64_t>(st.st_size),
                     static_cast<std::int64_t>(st.st_mtim.tv_sec)});
  }
  ::closedir(dir);
  std::sort(files.begin(), files.end(),
            [](const DriveFile& a, const DriveFile& b) { return a.name < b.name; });
  if (files.size() > kMaxDriveListing) files.resize(kMaxDriveListing);
  return files;
}

core::Status DriveFolder::accepts(std::string_view name, std::uint64_t size) const {
  if (auto st = checkName(name); !st) return st.error();
  if (size > kMaxDriveFileBytes) {
    return fail(ErrorCode::invalid_argument, "a file on the drive may hold at most " +
                                                 std::to_string(kMaxDriveFileBytes >> 20) + " MiB");
  }
  auto files = list();
  if (!files) return files.error();
  std::uint64_t total = size;
  // Windows compares names without case: FW.BIN would open fw.bin there.
  const auto folded = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
    return out;
  };
  const std::string wanted = folded(name);
  for (const auto& f : *files) {
    if (folded(f.name) == wanted) {
      return fail(ErrorCode::already_exists,
                  "a file named " + std::string(name) + " is already on the drive");
    }
    total += f.size;
  }
  if (total > kMaxDriveBytes) {
    return fail(ErrorCode::invalid_argument,
                "the drive may hold at most " + std::to_string(kMaxDriveBytes >> 20) + " MiB");
  }
  return core::Done{};
}

core::Result<std::string> DriveFolder::put(
    std::string_view name, std::span<const std::uint8_t> bytes,
    const std::function<core::Status(const std::string&)>& approve) {
  if (auto st = accepts(name, bytes.size()); !st) return st.error();
  const std::string staged = stagingName();
  Fd out(::openat(stagingFd_, staged.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600));
  if (out.get() < 0) return fail(ErrorCode::unavailable, errnoText("cannot write to the drive"));
  const auto discard = [this, &staged](core::Error e) {
    ::unlinkat(stagingFd_, staged.c_str(), 0);
    return e;
  };
  if (!writeAll(out.get(), bytes)) {
    return discard({ErrorCode::unavailable, errnoText("cannot write to the drive")});
  }
  // The target (the worker's user) may change or remove what the vendor put there.
  if (uid_ && ::fchown(out.get(), *uid_, *gid_) != 0) {
    return discard({ErrorCode::unavailable, errnoText("cannot hand the file to the worker")});
  }
  const std::string sha256 = sha256Hex(bytes);
  if (sha256.empty()) return discard({ErrorCode::internal, "SHA-256 failed"});
  if (auto st = approve(sha256); !st) return discard(st.error());
  const std::string target(name);
  if (::renameat2(stagingFd_, staged.c_str(), driveFd_, target.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return discard(
          {ErrorCode::already_exists, "a file named " + target + " is already on the drive"});
    }
    return discard({ErrorCode::unavailable, errnoText("cannot place the file on the drive")});
  }
  return sha256;
}

core::Result<DriveContent> DriveFolder::get(std::string_view name) const {
  if (auto st = checkName(name); !st) return st.error();
  const std::string file(name);
  // O_NONBLOCK: a FIFO the target left there must not hang the broker (it is refused below).
  Fd in(::openat(driveFd_, file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (in.get() < 0) {
    if (errno == ENOENT)
      return fail(ErrorCode::not_found, "no file named " + file + " on the drive");
    if (errno == ELOOP) return fail(ErrorCode::invalid_argument, file + " is a link, not a file");
    return fail(ErrorCode::unavailable, errnoText("cannot open the file"));
  }
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return fail(ErrorCode::unavailable, errnoText("fstat"));
  // One link only: a hard link the target made to a file elsewhere is not the drive's.
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
    return fail(ErrorCode::invalid_argument, file + " is not a plain file");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxDriveFileBytes) {
    return fail(ErrorCode::invalid_argument,
                file + " is larger than " + std::to_string(kMaxDriveFileBytes >> 20) + " MiB");
  }
  DriveContent out;
  out.bytes.resize(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  // The target may still be writing: what is read here is what the vendor gets and what is
  // hashed, up to the limit. Past the size fstat gave, small reads, so a file that stopped
  // growing costs no second buffer.
  std::array<std::uint8_t, 64 * 1024> more{};
  while (true) {
    const bool inPlace = done < out.bytes.size();
    std::uint8_t* to = inPlace ? out.bytes.data() + done : more.data();
    const std::size_t room = inPlace ? out.bytes.size() - done : more.size();
    const ssize_t n = ::read(in.get(), to, room);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrorCode::unavailable, errnoText("cannot read the file"));
    if (n == 0) break;
    const auto got = static_cast<std::size_t>(n);
    if (!inPlace) {
      if (out.bytes.size() + got > kMaxDriveFileBytes) {
        return fail(ErrorCode::invalid_argument, file + " grew past " +
                                                     std::to_string(kMaxDriveFileBytes >> 20) +
                                                     " MiB while it was read");
      }
      out.bytes.insert(out.bytes.end(), more.begin(), more.begin() + n);
    }
    done += got;
  }
  out.bytes.resize(done);
  out.sha256 = sha256Hex(out.bytes);
  if (out.sha256.empty()) return fail(ErrorCode::internal, "SHA-256 failed");
  return out;
}

}  // namespace conduit::rdp
