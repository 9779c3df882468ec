#include "video_encoder.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ext/stdio_filebuf.h>
#include <string>
#include <vector>

extern char** environ;

namespace conduit::app {

using core::ErrorCode;

struct VideoEncoder::Io {
  // libstdc++'s file buffer over the pipe's write end (closes it when closed).
  __gnu_cxx::stdio_filebuf<char> buffer;
  std::ostream stream;
  explicit Io(int fd) : buffer(fd, std::ios::out | std::ios::binary, 1 << 16), stream(&buffer) {}
};

namespace {

// The last lines ffmpeg wrote to its error log (a few hundred bytes at -loglevel error).
std::string readLog(int fd) {
  std::string text;
  char buf[4096];
  if (::lseek(fd, 0, SEEK_SET) < 0) return text;
  ssize_t n = 0;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < 64 * 1024) {
    text.append(buf, static_cast<std::size_t>(n));
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  if (text.size() > 2000) text = "..." + text.substr(text.size() - 2000);
  return text;
}

}  // namespace

core::Result<std::unique_ptr<VideoEncoder>> VideoEncoder::start(
    const std::filesystem::path& output) {
  // A closed ffmpeg must show as a failed write (then its error), not end this process.
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return core::fail(ErrorCode::io, std::string("pipe: ") + std::strerror(errno));
  }
  char logName[] = "/tmp/conduit-ffmpeg-XXXXXX";
  const int log = ::mkostemp(logName, O_CLOEXEC);
  if (log < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return core::fail(ErrorCode::io, std::string("ffmpeg's log: ") + std::strerror(errno));
  }
  ::unlink(logName);
  const auto partial = output.parent_path() / ("." + output.filename().string() + ".partial-" +
                                               std::to_string(::getpid()));
  // H.264 in MP4 with 4:2:0 chroma (what players expect; it needs even sizes, hence the pad),
  // CRF 18: text on a desktop stays sharp. Tagged BT.601 studio range, as the frames are made
  // (recorder::exportVideo): untagged, players assume BT.709 for large pictures and shift the
  // colours. "file:" so that no output name reads as a protocol.
  // clang-format off
  const std::vector<std::string> args = {
      "ffmpeg", "-hide_banner", "-nostats", "-loglevel", "error",
      "-f", "yuv4mpegpipe", "-i", "pipe:0",
      "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2",
      "-c:v", "libx264", "-preset", "veryfast", "-crf", "18", "-pix_fmt", "yuv420p",
      "-colorspace", "smpte170m", "-color_primaries", "smpte170m",
      "-color_trc", "smpte170m", "-color_range", "tv",
      "-movflags", "+faststart", "-f", "mp4", "-y", "file:" + partial.string()};
  // clang-format on
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[0], 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, log, 2);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, "ffmpeg", &actions, &attributes, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(fds[0]);
  if (rc != 0) {
    ::close(fds[1]);
    ::close(log);
    return core::fail(
        ErrorCode::unavailable,
        std::string("cannot run ffmpeg (Debian package ffmpeg): ") + std::strerror(rc));
  }
  return std::unique_ptr<VideoEncoder>(new VideoEncoder(pid, fds[1], log, partial, output));
}

VideoEncoder::VideoEncoder(pid_t pid, int input, int errorLog, std::filesystem::path partial,
                           std::filesystem::path output)
    : pid_(pid),
      errorLog_(errorLog),
      partial_(std::move(partial)),
      output_(std::move(output)),
      io_(std::make_unique<Io>(input)) {}

VideoEncoder::~VideoEncoder() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    io_.reset();
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  std::error_code ec;
  std::filesystem::remove(partial_, ec);  // gone already after a finished export
  if (errorLog_ >= 0) ::close(errorLog_);
}

std::ostream& VideoEncoder::input() {
  return io_->stream;
}

core::Status VideoEncoder::finish() {
  io_->stream.flush();
  const bool written = static_cast<bool>(io_->stream);
  const bool closed = io_->buffer.close() != nullptr;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return core::fail(ErrorCode::io, "waiting for ffmpeg failed");
  }
  pid_ = -1;
  const bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok && written && closed) {
    std::error_code ec;
    std::filesystem::rename(partial_, output_, ec);
    if (!ec) return core::Done{};
    return core::fail(ErrorCode::io, "cannot write " + output_.string() + ": " + ec.message());
  }
  const std::string log = readLog(errorLog_);
  return core::fail(ErrorCode::io, "ffmpeg could not encode the video" +
                                       (log.empty() ? std::string() : ": " + log));
}

}  // namespace conduit::app
