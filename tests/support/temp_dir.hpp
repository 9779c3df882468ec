#pragma once

#include <filesystem>
#include <string>

namespace conduit::test {

/// A fresh directory under /tmp, removed with everything in it when this goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Writes text to a file, replacing it.
void writeText(const std::filesystem::path& file, const std::string& text);
/// Reads a whole file.
std::string readText(const std::filesystem::path& file);

}  // namespace conduit::test
