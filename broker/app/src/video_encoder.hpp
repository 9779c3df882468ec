#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <ostream>

#include "conduit/core/result.hpp"

namespace conduit::app {

/// ffmpeg (Debian's, with libx264) turning the YUV4MPEG2 video written to input() into an
/// H.264 MP4 file that common players open: `conduit recording export --format mp4`. Runs as a
/// child process in its own process group (a Ctrl+C at the terminal reaches only us) with a
/// private error log. It writes a hidden partial file beside the output, renamed to the output
/// only when it finished well: an export that failed or was interrupted never leaves a video
/// that looks complete, and never touches a file already at the output path.
class VideoEncoder {
 public:
  /// Starts ffmpeg writing `output` (replaced if it exists). unavailable when ffmpeg cannot
  /// run (not installed).
  static core::Result<std::unique_ptr<VideoEncoder>> start(const std::filesystem::path& output);
  ~VideoEncoder();  // stops ffmpeg if finish() was not called
  VideoEncoder(const VideoEncoder&) = delete;
  VideoEncoder& operator=(const VideoEncoder&) = delete;

  /// Where the video goes (YUV4MPEG2).
  std::ostream& input();
  /// Ends the input and waits for ffmpeg; io with ffmpeg's message when it failed or the
  /// input could not be written.
  core::Status finish();

 private:
  struct Io;
  VideoEncoder(pid_t pid, int input, int errorLog, std::filesystem::path partial,
               std::filesystem::path output);
  pid_t pid_;
  int errorLog_;
  std::filesystem::path partial_;
  std::filesystem::path output_;
  std::unique_ptr<Io> io_;
};

}  // namespace conduit::app
