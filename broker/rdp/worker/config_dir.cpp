#include "config_dir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace conduit::rdp::worker {

std::string makeConfigDir() {
  char path[] = "/tmp/conduit-rdp-worker-XXXXXX";
  if (::mkdtemp(path) == nullptr) return {};
  const std::string dir(path);
  if (::mkdir((dir + "/certs").c_str(), 0700) != 0 ||
      ::mkdir((dir + "/server").c_str(), 0700) != 0) {
    removeConfigDir(dir);
    return {};
  }
  return dir;
}

void removeConfigDir(const std::string& dir) {
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace conduit::rdp::worker
