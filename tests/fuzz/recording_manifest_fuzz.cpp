// libFuzzer target: the signed manifest parser and signature check.
//
// fuzz-sources: recorder/src/*.cpp broker/core/src/result.cpp
// fuzz-includes: recorder/include broker/core/include
// fuzz-libs: -lsodium -lzstd -lpng16 -ljpeg -lpthread

#include <sodium.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "conduit/recorder/keys.hpp"
#include "conduit/recorder/manifest.hpp"

// With CONDUIT_FUZZ_SEED_DIR set, writes a genuine signed manifest there as a seed.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("CONDUIT_FUZZ_SEED_DIR");
  if (dir == nullptr || *dir == '\0' || sodium_init() < 0) return 0;
  conduit::recorder::Manifest m;
  m.sessionId = "sess-\"seed\"\n";
  m.fileName = "seed.crec";
  m.startedUnixUs = 1700000000000000;
  m.endedUnixUs = 1700000003000000;
  m.durationUs = 3000000;
  m.bytesIn = 12345;
  m.bytesOnDisk = 2345;
  m.messages = 4;
  m.recordCounts[0] = 10;
  std::array<unsigned char, 32> seed{};
  conduit::recorder::Ed25519ManifestSigner signer(seed);
  (void)conduit::recorder::signManifest(m, signer);
  std::filesystem::create_directories(dir);
  std::ofstream(std::filesystem::path(dir) / "seed-manifest.json")
      << conduit::recorder::manifestToJson(m);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto m = conduit::recorder::parseManifest(text);
  if (!m.ok()) return 0;
  // Whatever parses must serialise and parse back to the same manifest.
  const auto again = conduit::recorder::parseManifest(conduit::recorder::manifestToJson(*m));
  if (!again.ok() || !(*again == *m)) std::abort();
  std::array<unsigned char, 32> key{};
  (void)conduit::recorder::manifestSignatureValid(*m, key);
  return 0;
}
