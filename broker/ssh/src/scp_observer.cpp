#include "conduit/ssh/scp_observer.hpp"

#include <vector>

#include "file_digest.hpp"

namespace conduit::ssh {

namespace {

using recorder::FileOperation;
using recorder::FileTransferEvent;

// 64 KiB per control line or message: scp's own lines are a path and a few numbers (its
// buffers are 2 KiB + PATH_MAX); more is not scp.
constexpr std::size_t kMaxLine = 64 * 1024;
// 64 directories deep: a recursive copy of a real project is a handful; the path of every
// file is built from them.
constexpr std::size_t kMaxDepth = 64;

std::string joinPath(std::string base, const std::string& more) {
  if (more.empty()) return base;
  if (!base.empty() && base.back() != '/') base += '/';
  return base + more;
}

/// "C0644 1234 name" / "D0755 0 name": mode, size and name; false if malformed.
bool parseEntry(const std::string& line, std::uint64_t& size, std::string& name) {
  std::size_t i = 1;
  std::size_t digits = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '7') ++i, ++digits;
  if (digits == 0 || i >= line.size() || line[i] != ' ') return false;
  ++i;
  size = 0;
  digits = 0;
  while (i < line.size() && line[i] >= '0' && line[i] <= '9') {
    if (size > (UINT64_MAX - 9) / 10) return false;
    size = size * 10 + static_cast<std::uint64_t>(line[i] - '0');
    ++i, ++digits;
  }
  if (digits == 0 || i >= line.size() || line[i] != ' ') return false;
  name = line.substr(i + 1);
  return !name.empty();
}

}  // namespace

struct ScpObserver::State {
  bool vendorSends = true;     // -t: the vendor is the sending side
  bool intoDirectory = false;  // -d: the receiving side was told the path is a directory
  std::string arg;             // the path of the command, printable
  std::vector<std::string> dirs;

  // scp's sending side waits for an answer after every control line and after each file's
  // data (and before its first line, for the receiving side's "ready"); only a line saying
  // it could not send something goes unanswered. This decoder holds it to that: anything sent
  // while an answer is awaited stops the decoding, so every answer belongs to one line.
  enum class Send { control, awaitAnswer, data, status, failure };
  enum class Answer { ready, file, directory, other, data };
  Send send = Send::awaitAnswer;
  Answer awaited = Answer::ready;
  std::string line;        // the sending side's control line being read
  std::string pendingDir;  // a D line's name until the receiving side accepts it

  struct File {
    std::string path;
    std::string note;  // what the path depends on
    std::uint64_t left = 0;
    std::uint64_t moved = 0;
    Sha256 sha;
    std::string failure;
  };
  std::unique_ptr<File> file;

  std::string answerLine;  // an error message from the receiving side being read
  bool inAnswerLine = false;
  bool stopped = false;

  FileOperation transfer() const {
    return vendorSends ? FileOperation::upload : FileOperation::download;
  }
  std::string inDirs(const std::string& name) const {
    std::string rel;
    for (const auto& d : dirs) rel = joinPath(rel, d);
    return joinPath(rel, name);
  }
  /// Where a file or directory named `name` (inside the directories sent so far) lands, and in
  /// `note` what that depends on.
  std::string pathOf(const std::string& name, std::string& note) const {
    if (!vendorSends) {
      // The sending side names each file by its last component (trailing slashes dropped):
      // the path's directory + that.
      std::string base = arg;
      while (base.size() > 1 && base.back() == '/') base.pop_back();
      const auto slash = base.rfind('/');
      return cutPath(slash == std::string::npos
                         ? inDirs(name)
                         : joinPath(base.substr(0, slash + 1), inDirs(name)));
    }
    // The receiving side puts what it gets into the path if the path is a directory (it
    // looks), else it writes the path itself.
    const bool directory = intoDirectory || arg == "." || arg == "~" || arg.back() == '/';
    if (directory) return cutPath(joinPath(arg, inDirs(name)));
    if (dirs.empty()) {
      const auto slash = arg.rfind('/');
      const std::string last = slash == std::string::npos ? arg : arg.substr(slash + 1);
      if (last != name)
        note = "sent as " + name + "; " + arg + "/" + name + " if " + arg + " is a directory";
      return arg;
    }
    note = "the path if " + arg + " is a directory; else under " + arg + " without " + dirs.front();
    return cutPath(joinPath(arg, inDirs(name)));
  }

  void stop(FileEvents& out, const std::string& why) {
    if (stopped) return;
    stopped = true;
    out.stopped = "scp decoding stopped: " + why;
  }
  void await(Answer a) {
    send = Send::awaitAnswer;
    awaited = a;
  }
  void report(std::string detail, FileEvents& out) {
    FileTransferEvent e;
    e.operation = transfer();
    e.path = file->path;
    e.size = file->moved;
    // A hash only for a file that arrived whole and was accepted: else the bytes seen are not
    // what the receiving side kept.
    if (file->left == 0 && file->failure.empty() && detail.empty()) {
      e.sha256 = file->sha.hex();
    } else if (file->moved > 0) {
      detail = detail.empty() ? "no SHA-256" : detail + "; no SHA-256";
    }
    for (const auto* part : {&file->failure, &file->note}) {
      if (!part->empty()) detail = detail.empty() ? *part : *part + "; " + detail;
    }
    e.detail = std::move(detail);
    out.events.push_back(std::move(e));
    file.reset();
  }

  void control(FileEvents& out) {
    const char kind = line.empty() ? '\0' : line[0];
    std::uint64_t size = 0;
    std::string name;
    if (kind == 'C' || kind == 'D') {
      if (!parseEntry(line, size, name)) {
        return stop(out, "a malformed " + std::string(1, kind) + " line");
      }
      name = printablePath(name);
    }
    if (kind == 'C') {
      if (file) return stop(out, "a second file before the first was answered");
      file = std::make_unique<File>();
      file->path = pathOf(name, file->note);
      file->left = size;
      await(Answer::file);
    } else if (kind == 'D') {
      if (dirs.size() >= kMaxDepth) return stop(out, "directories over 64 deep");
      pendingDir = name;
      await(Answer::directory);
    } else if (kind == 'E') {
      if (dirs.empty()) return stop(out, "the end of a directory never begun");
      dirs.pop_back();
      await(Answer::other);
    } else if (kind == 'T') {
      await(Answer::other);
    } else if (kind == '\x01' || kind == '\x02') {
      // The sending side could not send something (a missing file): said, never answered.
      FileTransferEvent e;
      e.operation = transfer();
      e.path = arg;
      e.detail = "the sending side reported: " + printablePath(line.substr(1));
      out.events.push_back(std::move(e));
    } else {
      stop(out, "a line scp does not send");
    }
  }

  void fromSender(std::span<const unsigned char> bytes, FileEvents& out) {
    std::size_t i = 0;
    while (i < bytes.size() && !stopped) {
      switch (send) {
        case Send::control: {
          const unsigned char b = bytes[i++];
          if (b == '\n') {
            control(out);
            line.clear();
          } else if (line.size() >= kMaxLine) {
            stop(out, "a line over 64 KiB");
          } else {
            line += static_cast<char>(b);
          }
          break;
        }
        case Send::awaitAnswer:
          stop(out, "the sending side went on before the receiving side's answer");
          break;
        case Send::data: {
          const auto n =
              static_cast<std::size_t>(std::min<std::uint64_t>(file->left, bytes.size() - i));
          file->sha.add(bytes.subspan(i, n));
          file->moved += n;
          file->left -= n;
          i += n;
          if (file->left == 0) send = Send::status;
          break;
        }
        case Send::status: {
          const unsigned char b = bytes[i++];
          if (b == 0) {
            await(Answer::data);
          } else if (b == 1 || b == 2) {
            // The file could not be read whole: its message, then the data's answer.
            send = Send::failure;
            line.clear();
          } else {
            stop(out, "a status byte scp does not send");
          }
          break;
        }
        case Send::failure: {
          const unsigned char b = bytes[i++];
          if (b == '\n') {
            file->failure = "the sending side failed: " + printablePath(line);
            line.clear();
            await(Answer::data);
          } else if (line.size() >= kMaxLine) {
            stop(out, "a line over 64 KiB");
          } else {
            line += static_cast<char>(b);
          }
          break;
        }
      }
    }
  }

  void answered(bool ok, const std::string& message, FileEvents& out) {
    if (send != Send::awaitAnswer) return stop(out, "an answer to nothing");
    send = Send::control;
    const std::string refusal = "refused by the receiving side: " + printablePath(message);
    switch (awaited) {
      case Answer::ready:
        if (!ok) {
          FileTransferEvent e;
          e.operation = transfer();
          e.path = arg;
          e.detail = refusal;
          out.events.push_back(std::move(e));
        }
        break;
      case Answer::file:
        if (!ok) {
          report(refusal, out);
        } else {
          send = file->left == 0 ? Send::status : Send::data;
        }
        break;
      case Answer::directory:
        if (vendorSends) {
          FileTransferEvent e;
          e.operation = FileOperation::make_directory;
          e.path = pathOf(pendingDir, e.detail);
          if (!ok) e.detail = e.detail.empty() ? refusal : refusal + "; " + e.detail;
          out.events.push_back(std::move(e));
        }
        if (ok) dirs.push_back(std::move(pendingDir));
        pendingDir.clear();
        break;
      case Answer::other:
        break;
      case Answer::data:
        if (file) report(ok ? "" : refusal, out);
        break;
    }
  }

  void fromReceiver(std::span<const unsigned char> bytes, FileEvents& out) {
    for (const unsigned char b : bytes) {
      if (stopped) return;
      if (inAnswerLine) {
        if (b == '\n') {
          inAnswerLine = false;
          answered(false, answerLine, out);
          answerLine.clear();
        } else if (answerLine.size() >= kMaxLine) {
          stop(out, "a message over 64 KiB");
        } else {
          answerLine += static_cast<char>(b);
        }
      } else if (b == 0) {
        answered(true, "", out);
      } else if (b == 1 || b == 2) {
        inAnswerLine = true;
      } else {
        stop(out, "an answer scp does not give");
      }
    }
  }
};

std::unique_ptr<ScpObserver> ScpObserver::forCommand(const std::string& command) {
  auto s = std::make_unique<State>();
  std::size_t at = 0;
  auto token = [&]() {
    while (at < command.size() && command[at] == ' ') ++at;
    const std::size_t start = at;
    while (at < command.size() && command[at] != ' ') ++at;
    return command.substr(start, at - start);
  };
  if (token() != "scp") return nullptr;
  int modes = 0;
  for (;;) {
    const std::size_t before = at;
    const std::string t = token();
    if (t == "--") break;
    if (t.size() < 2 || t[0] != '-') {
      at = before;
      break;
    }
    for (const char c : t.substr(1)) {
      if (c == 't') s->vendorSends = true, ++modes;
      if (c == 'f') s->vendorSends = false, ++modes;
      // -d (several sources) tells the receiving side the path must be a directory; -r alone
      // does not: the path is created for the top directory if it does not exist.
      if (c == 'd') s->intoDirectory = true;
    }
  }
  while (at < command.size() && command[at] == ' ') ++at;
  std::string path = command.substr(at);
  if (path.size() >= 2 && path.front() == '\'' && path.back() == '\'' &&
      path.find('\'', 1) == path.size() - 1) {
    path = path.substr(1, path.size() - 2);
  }
  if (modes != 1 || path.empty()) return nullptr;
  s->arg = printablePath(path);
  return std::unique_ptr<ScpObserver>(new ScpObserver(std::move(s)));
}

ScpObserver::ScpObserver(std::unique_ptr<State> s) : s_(std::move(s)) {}
ScpObserver::~ScpObserver() = default;

void ScpObserver::fromVendor(std::span<const unsigned char> bytes, FileEvents& out) {
  if (s_->vendorSends) {
    s_->fromSender(bytes, out);
  } else {
    s_->fromReceiver(bytes, out);
  }
}

void ScpObserver::fromTarget(std::span<const unsigned char> bytes, FileEvents& out) {
  if (s_->vendorSends) {
    s_->fromReceiver(bytes, out);
  } else {
    s_->fromSender(bytes, out);
  }
}

void ScpObserver::finish(FileEvents& out) {
  if (s_->file) s_->report("not finished (the channel ended)", out);
  s_->stopped = true;
}

}  // namespace conduit::ssh
