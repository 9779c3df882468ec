#include "conduit/rdp/certificate_probe.hpp"

#include <poll.h>
#include <sodium.h>
#include <unistd.h>

#include <vector>

#include "worker_process.hpp"

namespace conduit::rdp {

using core::ErrorCode;
using core::fail;

core::Result<std::string> probeCertificate(const std::filesystem::path& workerPath,
                                           ConnectRequest request,
                                           std::span<const std::uint8_t> password) {
  request.learnCertificate = true;
  request.certificateSha256.clear();
  auto worker = WorkerProcess::spawn(workerPath);
  if (!worker) return worker.error();
  Bytes frame = encodeConnect(request, password);
  auto sent = (*worker)->write(frame);
  sodium_memzero(frame.data(), frame.size());
  if (!sent) return sent.error();
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::milliseconds{request.connectTimeoutMs} +
                        std::chrono::seconds{5};
  FrameReader reader;
  std::vector<std::uint8_t> buf(64 * 1024);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{(*worker)->fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const ssize_t n = ::read((*worker)->fd(), buf.data(), buf.size());
    if (n <= 0) {
      return fail(
          ErrorCode::unavailable,
          "the RDP worker stopped (" + (*worker)->stop(std::chrono::milliseconds{500}) + ")");
    }
    auto frames = reader.feed({buf.data(), static_cast<std::size_t>(n)});
    if (!frames) return fail(ErrorCode::unavailable, "the RDP worker broke the protocol");
    for (const auto& f : *frames) {
      if (f.type == MessageType::connected) {
        auto c = decodeConnected(f.body);
        (void)(*worker)->write(encodeFrame(MessageType::close, {}));
        (*worker)->stop(std::chrono::seconds{2});
        if (!c) return fail(ErrorCode::unavailable, "the RDP worker broke the protocol");
        return c->certificateSha256;
      }
      if (f.type == MessageType::failed || f.type == MessageType::closed) {
        auto why = decodeFailure(f.body);
        return fail(ErrorCode::unavailable,
                    why ? why->message : std::string("the RDP worker failed"));
      }
    }
  }
  return fail(ErrorCode::unavailable, "the RDP target did not answer in time");
}

}  // namespace conduit::rdp
