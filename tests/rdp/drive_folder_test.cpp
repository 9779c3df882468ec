// The directory behind an RDP session's drive: names a Windows target can hold, files in and
// out with their SHA-256, limits, and what a hostile target (through its worker) may leave
// there: links, hard links, FIFOs, folders.

#include "conduit/rdp/drive_folder.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "conduit/rdp/worker_protocol.hpp"

namespace {

using namespace conduit;
using rdp::DriveFolder;
namespace fs = std::filesystem;

std::span<const std::uint8_t> bytesOf(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

std::string sha256Of(const std::string& s) {
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(s.data()), s.size());
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

core::Status approveAll(const std::string&) {
  return core::Done{};
}

std::unique_ptr<DriveFolder> makeFolder() {
  REQUIRE(sodium_init() >= 0);
  auto folder = DriveFolder::create(std::nullopt);
  REQUIRE(folder.ok());
  return std::move(*folder);
}

std::string readFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("drive folder: a file put is listed, on disk and read back with its SHA-256",
          "[rdp][drive]") {
  auto folder = makeFolder();
  const std::string content = "PLC project v7\n" + std::string(100000, 'x');
  std::string approved;
  auto sha = folder->put("line3.ap17", bytesOf(content), [&](const std::string& h) {
    // Approved (recorded) before the target can see it: not on the drive yet.
    CHECK_FALSE(fs::exists(fs::path(folder->path()) / "line3.ap17"));
    approved = h;
    return core::Status(core::Done{});
  });
  REQUIRE(sha.ok());
  CHECK(*sha == sha256Of(content));
  CHECK(approved == *sha);
  CHECK(readFile(fs::path(folder->path()) / "line3.ap17") == content);

  auto files = folder->list();
  REQUIRE(files.ok());
  REQUIRE(files->size() == 1);
  CHECK(files->front().name == "line3.ap17");
  CHECK(files->front().size == content.size());
  CHECK(files->front().modified > 1700000000);

  auto got = folder->get("line3.ap17");
  REQUIRE(got.ok());
  CHECK(std::string(got->bytes.begin(), got->bytes.end()) == content);
  CHECK(got->sha256 == sha256Of(content));

  SECTION("accepts says so before any byte is sent") {
    CHECK(folder->accepts("other.bin", 10).ok());
    CHECK(folder->accepts("line3.ap17", 10).error().code == core::ErrorCode::already_exists);
    // Windows compares names without case.
    CHECK(folder->accepts("LINE3.AP17", 10).error().code == core::ErrorCode::already_exists);
    CHECK(folder->accepts("a/b", 10).error().code == core::ErrorCode::invalid_argument);
    CHECK(folder->accepts("big.bin", rdp::kMaxDriveFileBytes + 1).error().code ==
          core::ErrorCode::invalid_argument);
  }
  SECTION("a second file of the same name is refused, the first stays") {
    auto again = folder->put("line3.ap17", bytesOf(std::string("other")), approveAll);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == core::ErrorCode::already_exists);
    CHECK(readFile(fs::path(folder->path()) / "line3.ap17") == content);
  }
  SECTION("an upload whose record fails never reaches the drive") {
    auto refused = folder->put("fw.bin", bytesOf(std::string("abc")), [](const std::string&) {
      return core::Status(core::Error{core::ErrorCode::unavailable, "the recording failed"});
    });
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message == "the recording failed");
    CHECK_FALSE(fs::exists(fs::path(folder->path()) / "fw.bin"));
    // Nothing is left in staging either.
    CHECK(fs::is_empty(fs::path(folder->path()).parent_path() / "staging"));
  }
  SECTION("an empty file") {
    auto empty = folder->put("empty.txt", {}, approveAll);
    REQUIRE(empty.ok());
    CHECK(*empty == sha256Of(""));
    auto e = folder->get("empty.txt");
    REQUIRE(e.ok());
    CHECK(e->bytes.empty());
  }
}

TEST_CASE("drive folder: names a Windows target cannot hold or that leave the drive are refused",
          "[rdp][drive]") {
  for (const std::string& bad : std::vector<std::string>{"",
                                                         ".",
                                                         "..",
                                                         "../etc/passwd",
                                                         "a/b",
                                                         "a\\b",
                                                         "c:",
                                                         "what?",
                                                         "star*",
                                                         "pipe|x",
                                                         "q\"",
                                                         "<x>",
                                                         "trailing.",
                                                         "trailing ",
                                                         "tab\there",
                                                         std::string("nul\0x", 5),
                                                         "\x7f",
                                                         "\xff\xfe.bin",
                                                         "\xc0\xaf",
                                                         std::string(256, 'n'),
                                                         "CON",
                                                         "nul.txt",
                                                         "Com1.log",
                                                         "LPT9",
                                                         "aux .csv",
                                                         "conin$",
                                                         "invoice\xe2\x80\xaetxt.exe",
                                                         "c1\xc2\x85"
                                                         "x",
                                                         "alm\xd8\x9c"
                                                         "x",
                                                         "COM\xc2\xb9",
                                                         "lpt\xc2\xb3.txt",
                                                         "a\xe2\x81\xa6"
                                                         "b"}) {
    INFO("name: " << bad);
    auto st = DriveFolder::checkName(bad);
    REQUIRE_FALSE(st.ok());
    CHECK(st.error().code == core::ErrorCode::invalid_argument);
  }
  for (const std::string& good :
       std::vector<std::string>{"fw-v2.bin", "Störung 17.csv", "a", ".hidden", "日本語.txt",
                                std::string(255, 'n'), "console.log", "COM10", "com.txt", "LPT"}) {
    INFO("name: " << good);
    CHECK(DriveFolder::checkName(good).ok());
  }
  auto folder = makeFolder();
  auto put = folder->put("../escape", bytesOf(std::string("x")), approveAll);
  REQUIRE_FALSE(put.ok());
  CHECK(put.error().code == core::ErrorCode::invalid_argument);
  CHECK_FALSE(fs::exists(fs::path(folder->path()).parent_path() / "escape"));
  auto get = folder->get("../staging");
  REQUIRE_FALSE(get.ok());
  CHECK(get.error().code == core::ErrorCode::invalid_argument);
}

TEST_CASE("drive folder: what the target leaves is read only as plain files", "[rdp][drive]") {
  auto folder = makeFolder();
  const fs::path drive = folder->path();
  const fs::path outside = drive.parent_path().parent_path() /
                           ("conduit-drive-test-secret-" + std::to_string(::getpid()));
  { std::ofstream(outside) << "broker secret"; }
  fs::create_symlink(outside, drive / "link.txt");
  REQUIRE(::link(outside.c_str(), (drive / "hard.txt").c_str()) == 0);
  REQUIRE(::mkfifo((drive / "fifo").c_str(), 0600) == 0);
  fs::create_directory(drive / "folder");
  {
    std::ofstream(drive / "folder" / "inner.txt") << "inner";
    std::ofstream(drive / "plain.txt") << "plain";
    std::ofstream(drive / "a:b.csv") << "a name get() would refuse";
  }

  auto files = folder->list();
  REQUIRE(files.ok());
  // The hard link is a regular file by its type: listed, but refused when read (below).
  REQUIRE(files->size() == 2);
  CHECK((*files)[0].name == "hard.txt");
  CHECK((*files)[1].name == "plain.txt");

  auto link = folder->get("link.txt");
  REQUIRE_FALSE(link.ok());
  CHECK(link.error().message.find("link") != std::string::npos);
  auto hard = folder->get("hard.txt");
  REQUIRE_FALSE(hard.ok());
  CHECK(hard.error().message.find("not a plain file") != std::string::npos);
  // Opened without blocking, then refused: a FIFO must not hang the broker.
  auto fifo = folder->get("fifo");
  REQUIRE_FALSE(fifo.ok());
  CHECK(fifo.error().code == core::ErrorCode::invalid_argument);
  auto dir = folder->get("folder");
  REQUIRE_FALSE(dir.ok());
  auto missing = folder->get("nothing.txt");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == core::ErrorCode::not_found);
  auto plain = folder->get("plain.txt");
  REQUIRE(plain.ok());
  CHECK(std::string(plain->bytes.begin(), plain->bytes.end()) == "plain");

  // Removing the drive removes the links, never what they point to.
  const fs::path root = drive.parent_path();
  folder.reset();
  CHECK_FALSE(fs::exists(root));
  CHECK(readFile(outside) == "broker secret");
  fs::remove(outside);
}

TEST_CASE("drive folder: the drive holds at most kMaxDriveBytes", "[rdp][drive]") {
  auto folder = makeFolder();
  // A sparse file the target wrote, just under the limit (its size counts, not its blocks).
  const fs::path big = fs::path(folder->path()) / "image.raw";
  { std::ofstream(big) << ""; }
  fs::resize_file(big, rdp::kMaxDriveBytes - 10);
  CHECK(folder->put("small.txt", bytesOf(std::string(10, 's')), approveAll).ok());
  auto over = folder->put("one-more.txt", bytesOf(std::string("x")), approveAll);
  REQUIRE_FALSE(over.ok());
  CHECK(over.error().code == core::ErrorCode::invalid_argument);
  CHECK(over.error().message.find("at most") != std::string::npos);
  // A file over the per-file limit is refused when read.
  fs::resize_file(big, rdp::kMaxDriveFileBytes + 1);
  auto tooBig = folder->get("image.raw");
  REQUIRE_FALSE(tooBig.ok());
  CHECK(tooBig.error().code == core::ErrorCode::invalid_argument);
}

TEST_CASE("drive folder: drives are unguessable names in a directory others cannot list",
          "[rdp][drive]") {
  auto a = makeFolder();
  auto b = makeFolder();
  const fs::path rootA = fs::path(a->path()).parent_path();
  const fs::path rootB = fs::path(b->path()).parent_path();
  CHECK(rootA.parent_path() == rootB.parent_path());
  CHECK(rootA.parent_path() == fs::path(DriveFolder::drivesDirectory()));
  // As root, a directory only root can create; otherwise one of this user's in /tmp.
  CHECK(DriveFolder::drivesDirectory() ==
        (::geteuid() == 0 ? std::string("/var/lib/conduit-rdp-drives")
                          : "/tmp/conduit-rdp-drives-" + std::to_string(::geteuid())));
  for (const auto& root : {rootA, rootB}) {
    const std::string name = root.filename().string();
    CHECK(name.size() == 32);  // 128 random bits
    CHECK(name.find_first_not_of("0123456789abcdef") == std::string::npos);
  }
  CHECK(rootA != rootB);
  struct stat st {};
  REQUIRE(::lstat(rootA.parent_path().c_str(), &st) == 0);
  CHECK(S_ISDIR(st.st_mode));
  CHECK(st.st_uid == ::geteuid());
  CHECK((st.st_mode & 0777) == 0711);  // passable, not listable
}

TEST_CASE("drive folder: made for the worker's user when the broker is root", "[rdp][drive]") {
  REQUIRE(sodium_init() >= 0);
  const auto owner = DriveFolder::workerOwner();
  if (::geteuid() != 0) {
    CHECK_FALSE(owner.has_value());
    return;
  }
  REQUIRE(owner.has_value());
  auto folder = DriveFolder::create(owner);
  REQUIRE(folder.ok());
  struct stat st {};
  REQUIRE(::stat((*folder)->path().c_str(), &st) == 0);
  CHECK(st.st_uid == owner->first);
  CHECK((st.st_mode & 0777) == 0700);
  const fs::path root = fs::path((*folder)->path()).parent_path();
  REQUIRE(::stat(root.c_str(), &st) == 0);
  CHECK(st.st_uid == 0);
  CHECK((st.st_mode & 0777) == 0711);  // passable, not listable, for the worker's user
  REQUIRE(::stat((root / "staging").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
  CHECK(st.st_uid == 0);
  REQUIRE((*folder)->put("fw.bin", bytesOf(std::string("fw")), approveAll).ok());
  REQUIRE(::stat(((*folder)->path() + "/fw.bin").c_str(), &st) == 0);
  CHECK(st.st_uid == owner->first);  // the target may replace or remove it
}
