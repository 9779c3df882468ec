#include "conduit/rdp/print_to_pdf.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;

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

std::string readText(const std::filesystem::path& path, std::size_t max) {
  std::ifstream in(path, std::ios::binary);
  std::string text;
  text.resize(max);
  in.read(text.data(), static_cast<std::streamsize>(max));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
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
    if (line.find("Error") != std::string::npos) return line.substr(0, 300);
  }
  return first.substr(0, 300);
}

std::string programPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return program;
  const char* path = std::getenv("PATH");
  std::string_view dirs = path != nullptr ? path : "/usr/bin:/bin";
  while (!dirs.empty()) {
    const std::size_t colon = dirs.find(':');
    const std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

void limit(pid_t pid, int resource, rlim_t value) {
  const rlimit l{value, value};
  (void)::prlimit(pid, static_cast<__rlimit_resource>(resource), &l, nullptr);
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
  const std::string program = programPath(how.program);
  if (program.empty()) {
    return fail(ErrorCode::unavailable, "cannot run Ghostscript (" + how.program +
                                            "): not installed; the document stays PostScript");
  }
  TempDir dir;
  if (dir.path().empty()) {
    return fail(ErrorCode::io, std::string("a temporary directory: ") + std::strerror(errno));
  }
  const auto input = dir.path() / "document.ps";
  const auto output = dir.path() / "document.pdf";
  const auto log = dir.path() / "gs.log";
  {
    const auto body = unwrapPjl(document);
    std::ofstream out(input, std::ios::binary);
    out.write(reinterpret_cast<const char*>(body.data()),
              static_cast<std::streamsize>(body.size()));
    if (!out) return fail(ErrorCode::io, "cannot write the document for Ghostscript");
  }
  const std::string outputArg = "-sOutputFile=" + output.string();
  std::vector<std::string> args = {program,     "-q",          "-dSAFER",           "-dBATCH",
                                   "-dNOPAUSE", "-dNOPROMPT",  "-sDEVICE=pdfwrite", outputArg,
                                   "-f",        input.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    return fail(ErrorCode::unavailable,
                "cannot run Ghostscript: " + std::string(std::strerror(rc)));
  }
  // Set at once after the start (posix_spawn cannot): Ghostscript reads the document only
  // after its own start-up. Output up to kMaxPdfBytes, 60 s of CPU, 2 GiB of memory.
  limit(pid, RLIMIT_FSIZE, kMaxPdfBytes);
  limit(pid, RLIMIT_CPU, 60);
  limit(pid, RLIMIT_AS, rlim_t{2} << 30);
  limit(pid, RLIMIT_CORE, 0);

  const auto deadline = std::chrono::steady_clock::now() + how.timeout;
  int status = 0;
  bool stopped = false;
  while (true) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) break;
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
  const std::string complaint = oneLine(readText(log, 64 * 1024));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return fail(ErrorCode::invalid_argument,
                "Ghostscript could not read the document" +
                    (complaint.empty() ? std::string() : ": " + complaint));
  }
  std::error_code ec;
  const auto size = std::filesystem::file_size(output, ec);
  if (ec || size < 5 || size > kMaxPdfBytes) {
    return fail(ErrorCode::invalid_argument, "Ghostscript made no PDF of the document");
  }
  std::ifstream in(output, std::ios::binary);
  std::vector<std::uint8_t> pdf(static_cast<std::size_t>(size));
  in.read(reinterpret_cast<char*>(pdf.data()), static_cast<std::streamsize>(size));
  if (!in || std::string_view(reinterpret_cast<const char*>(pdf.data()), 5) != "%PDF-") {
    return fail(ErrorCode::invalid_argument, "Ghostscript made no PDF of the document");
  }
  return pdf;
}

}  // namespace conduit::rdp
