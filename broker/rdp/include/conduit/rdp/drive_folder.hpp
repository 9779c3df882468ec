#pragma once

// The directory behind one RDP session's redirected drive (docs/rdp.md "Drive"). The broker
// makes it, the session's worker offers it to the target as the drive kDriveName, and the
// vendor's browser puts files into it and takes files out through the broker. Whatever the
// target (through the worker, a process the broker does not trust) leaves in it is read with
// care: regular files only, no links followed, nothing outside the directory reachable.

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::rdp {

/// 1 GiB: what the vendor may put on one session's drive in all.
inline constexpr std::uint64_t kMaxDriveBytes = 1ull << 30;
/// Files listed at most; a drive with more is shown cut.
inline constexpr std::size_t kMaxDriveListing = 1000;

struct DriveFile {
  std::string name;
  std::uint64_t size = 0;
  std::int64_t modified = 0;  // seconds since the epoch
};

/// SHA-256 of the bytes, lowercase hex (what file events record).
std::string sha256Hex(std::span<const std::uint8_t> bytes);

struct DriveContent {
  std::vector<std::uint8_t> bytes;
  std::string sha256;  // lowercase hex
};

class DriveFolder {
 public:
  /// Makes drivesDirectory()/<32 random hex digits> (mode 0711; the parent 0711 too, so no one
  /// else can list the drives) holding the drive (0700) and a staging directory only the
  /// broker enters. `owner`: the user the worker runs as (nobody when the broker is
  /// root), given the drive; nullopt when the worker runs as the broker's user (and then
  /// nothing keeps a compromised worker out of staging: run the broker as root).
  static core::Result<std::unique_ptr<DriveFolder>> create(
      std::optional<std::pair<uid_t, gid_t>> owner);
  /// /var/lib/conduit-rdp-drives as root, else /tmp/conduit-rdp-drives-UID.
  static std::string drivesDirectory();
  /// The worker's user for `create`: nobody/nogroup when this process is root, else nullopt.
  static std::optional<std::pair<uid_t, gid_t>> workerOwner();
  /// Removes the directory and everything in it.
  ~DriveFolder();
  DriveFolder(const DriveFolder&) = delete;
  DriveFolder& operator=(const DriveFolder&) = delete;

  /// The drive's absolute path (for the worker).
  const std::string& path() const { return drivePath_; }

  /// invalid_argument unless `name` is a plain file name a Windows target can hold: 1-255
  /// bytes of UTF-8, no control or bidirectional control characters, none of
  /// / \ : * ? " < > |, not . or .., not ending in a dot or space, not a device name (CON,
  /// NUL, COM1...).
  static core::Status checkName(std::string_view name);

  /// The regular files at the top of the drive, by name (at most kMaxDriveListing, from the
  /// first 4 x kMaxDriveListing entries). Folders, links and names checkName refuses are
  /// left out.
  core::Result<std::vector<DriveFile>> list() const;

  /// A file the vendor sends: checked name, at most kMaxDriveFileBytes, the drive at most
  /// kMaxDriveBytes after it, no file of that name (in any case) already there
  /// (already_exists). The bytes are
  /// written where the target cannot see them, then `approve(sha256)` runs (it records the
  /// upload); only if it succeeds does the file appear on the drive. Returns the SHA-256.
  /// What put() would refuse before reading a byte: the name, the size, the drive's room, a
  /// file of that name already there.
  core::Status accepts(std::string_view name, std::uint64_t size) const;

  core::Result<std::string> put(std::string_view name, std::span<const std::uint8_t> bytes,
                                const std::function<core::Status(const std::string&)>& approve);

  /// A file on the drive for the vendor: a regular file with one link, opened without
  /// following links, at most kMaxDriveFileBytes. not_found, invalid_argument otherwise.
  core::Result<DriveContent> get(std::string_view name) const;

 private:
  DriveFolder(std::string root, int driveFd, int stagingFd, std::optional<uid_t> uid,
              std::optional<gid_t> gid);
  std::string root_;
  std::string drivePath_;
  int driveFd_ = -1;
  int stagingFd_ = -1;
  std::optional<uid_t> uid_;
  std::optional<gid_t> gid_;
};

}  // namespace conduit::rdp
