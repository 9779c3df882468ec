#include "conduit/rdp/print_to_pdf.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>
#include <thread>
#include "unique_fd.hpp"

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

namespace {

// A private directory for one conversion, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "conduit-print-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A file of the conversion's, created here (never one the converter could have put in place)
// and kept open: the broker reads what the converter wrote through this descriptor.
int createFile(const std::filesystem::path& path) {
  return ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
}

// Up to `max` bytes from the start of `fd`.
std::string readFd(int fd, std::size_t max) {
  std::string text(max, '\0');
  std::size_t got = 0;
  while (got < max) {
    const ssize_t n = ::pread(fd, text.data() + got, max - got, static_cast<off_t>(got));
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

using Fd = UniqueFd;

// At most 300 characters of printable ASCII: the line goes to the vendor's page (a WebSocket
// text frame must be UTF-8) and into the recording, and the document chose what it says.
std::string printable(const std::string& line) {
  std::string out;
  for (const char c : line) {
    if (out.size() >= 300) break;
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  return out;
}

// Ghostscript's complaint as one line: its first line that names an error, else its first.
std::string oneLine(const std::string& log) {
  std::string first;
  std::size_t at = 0;
  while (at < log.size()) {
    const std::size_t end = std::min(log.find('\n', at), log.size());
    std::string line = log.substr(at, end - at);
    at = end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    if (first.empty()) first = line;
    if (line.find("Error") != std::string::npos) return printable(line);
  }
  return printable(first);
}

// The converter's scratch directory inside the conversion's: when the broker is root, the
// converter runs as nobody, which gets this directory and may pass through (not list) the one
// above it, whose files it cannot open (0600, root's).
core::Status makeScratch(const std::filesystem::path& dir, const std::filesystem::path& scratch) {
  if (::mkdir(scratch.c_str(), 0700) != 0) {
    return core::fail(core::ErrorCode::io,
                      std::string("the converter's scratch directory: ") + std::strerror(errno));
  }
  if (::geteuid() != 0) return core::Done{};
  const passwd* nobody = ::getpwnam("nobody");
  if (nobody == nullptr || ::chown(scratch.c_str(), nobody->pw_uid, nobody->pw_gid) != 0 ||
      ::chmod(dir.c_str(), 0711) != 0) {
    return core::fail(core::ErrorCode::io, "the converter's scratch directory cannot be its own");
  }
  return core::Done{};
}

}  // namespace

std::span<const std::uint8_t> unwrapPjl(std::span<const std::uint8_t> document) {
  // Written by hand: no Debian library reads PJL (HP's job language), and all that is needed
  // is where the PostScript starts and ends inside it. Only the first 64 KiB are searched for
  // the start: a PJL header is a few lines.
  const std::string_view text(reinterpret_cast<const char*>(document.data()), document.size());
  constexpr std::string_view kUel = "\x1b%-12345X";
  if (text.substr(0, 2) == "%!" || text.substr(0, kUel.size()) != kUel) return document;
  const std::size_t start = text.substr(0, 64 * 1024).find("%!");
  if (start == std::string_view::npos) return document;
  const std::size_t end = std::min(text.find(kUel, start), text.size());
  return document.subspan(start, end - start);
}

core::Result<std::vector<std::uint8_t>> postScriptToPdf(std::span<const std::uint8_t> document,
                                                        const PdfConversion& how) {
  const std::string program = how.converter.string();
  if (program.empty() || ::access(program.c_str(), X_OK) != 0) {
    return fail(ErrorCode::unavailable,
                "cannot run the print converter " +
                    (program.empty() ? std::string(kPrintConverterName) : program) +
                    ": not installed; the document stays PostScript");
  }
  TempDir dir;
  if (dir.path().empty()) {
    return fail(ErrorCode::io, std::string("a temporary directory: ") + std::strerror(errno));
  }
  // The document, the PDF and the messages: files the broker makes in its private directory
  // and hands over as stdin, stdout and stderr; the converter never sees a path.
  const Fd input(createFile(dir.path() / "document.ps"));
  const Fd output(createFile(dir.path() / "document.pdf"));
  const Fd log(createFile(dir.path() / "messages.txt"));
  if (input.get() < 0 || output.get() < 0 || log.get() < 0) {
    return fail(ErrorCode::io, std::string("the converter's files: ") + std::strerror(errno));
  }
  const auto body = unwrapPjl(document);
  for (std::size_t at = 0; at < body.size();) {
    const ssize_t n = ::write(input.get(), body.data() + at, body.size() - at);
    if (n <= 0) return fail(ErrorCode::io, "cannot write the document for Ghostscript");
    at += static_cast<std::size_t>(n);
  }
  if (::lseek(input.get(), 0, SEEK_SET) != 0) return fail(ErrorCode::io, "lseek failed");
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), nullptr};
  // Ghostscript's own scratch files (pdfwrite makes several) go to a directory of this
  // conversion's, not the shared /tmp: no other session's converter (the same user, nobody)
  // can reach them, and a converter stopped mid-way leaves nothing behind the directory's
  // removal. Its environment is this and no more (sanitizer settings in sanitizer builds).
  const auto scratch = dir.path() / "tmp";
  if (auto st = makeScratch(dir.path(), scratch); !st) return st.error();
  std::vector<std::string> env = {"TMPDIR=" + scratch.string(), "PATH=/usr/bin:/bin", "LC_ALL=C"};
  for (const char* name : {"ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"}) {
    if (const char* v = std::getenv(name)) env.push_back(std::string(name) + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, input.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, output.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, log.get(), 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return fail(ErrorCode::unavailable,
                "cannot run the print converter: " + std::string(std::strerror(rc)));
  }

  const auto deadline = std::chrono::steady_clock::now() + how.timeout;
  int status = 0;
  bool stopped = false;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {  // cannot tell how it ended: stopped, and not trusted
      ::kill(-pid, SIGKILL);
      return fail(ErrorCode::unavailable, "the print converter could not be waited for");
    }
    if ((how.cancel != nullptr && how.cancel->load()) ||
        std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid, SIGKILL);
      (void)::waitpid(pid, &status, 0);
      stopped = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{50});
  }
  if (stopped) {
    return fail(ErrorCode::unavailable, "Ghostscript was stopped (it took over " +
                                            std::to_string(how.timeout.count() / 1000) +
                                            " s, or the session ended)");
  }
  const std::string complaint = oneLine(readFd(log.get(), 64 * 1024));
  if (WIFSIGNALED(status)) {
    return fail(ErrorCode::unavailable, "the print converter was stopped by signal " +
                                            std::to_string(WTERMSIG(status)) +
                                            " (a limit on CPU time or memory)");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) >= 2) {
    return fail(ErrorCode::unavailable, "the print converter could not start" +
                                            (complaint.empty() ? std::string() : ": " + complaint));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(ErrorCode::invalid_argument,
                "Ghostscript could not read the document" +
                    (complaint.empty() ? std::string() : ": " + complaint));
  }
  struct stat st {};
  if (::fstat(output.get(), &st) != 0 || st.st_size < 5 ||
      static_cast<std::uint64_t>(st.st_size) > kMaxPdfBytes) {
    return fail(ErrorCode::invalid_argument, "Ghostscript made no PDF of the document");
  }
  const std::string bytes = readFd(output.get(), static_cast<std::size_t>(st.st_size));
  if (bytes.size() != static_cast<std::size_t>(st.st_size) || bytes.rfind("%PDF-", 0) != 0) {
    return fail(ErrorCode::invalid_argument, "Ghostscript made no PDF of the document");
  }
  std::vector<std::uint8_t> pdf(bytes.begin(), bytes.end());
  return pdf;
}

}  // namespace conduit::rdp
