#pragma once

// What a target prints (PostScript from the "MS Publisher Imagesetter" driver the worker
// announces) turned into PDF, which every vendor's laptop opens, by Debian's Ghostscript
// library inside conduit-print-converter (broker/rdp/worker/print_converter.cpp), a process
// that confines itself as the RDP worker does before Ghostscript reads the document.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "conduit/core/result.hpp"

namespace conduit::rdp {

struct PdfConversion {
  // 60 s of wall time: a few pages convert in well under a second; a document built to keep
  // Ghostscript busy (PostScript is a programming language) is stopped.
  std::chrono::milliseconds timeout{60000};
  // Checked every 50 ms: set when the session ends, so its end never waits for Ghostscript.
  const std::atomic<bool>* cancel = nullptr;
  // conduit-print-converter (RdpSessionOptions: beside the RDP worker unless configured).
  std::filesystem::path converter;
};

/// The converter's file name; it is installed beside conduit-rdp-worker.
inline constexpr const char* kPrintConverterName = "conduit-print-converter";

/// The largest PDF taken back (the converter's RLIMIT_FSIZE): twice the largest document.
inline constexpr std::uint64_t kMaxPdfBytes = 64ull << 20;

/// Runs the converter on the document: Ghostscript with -dSAFER (no file access beyond its
/// input and output, no pipes) in a process that confined itself (nobody when the broker is
/// root, seccomp: no exec, fork or sockets; limits on CPU time, memory and output size), in its
/// own process group (killed whole on timeout or cancel), input and output in a private
/// temporary directory removed afterwards. A PJL wrapper around the PostScript (what many
/// Windows drivers add) is removed first. Fails with unavailable when the converter cannot run,
/// its sandbox failed or it was stopped (timeout, cancel), invalid_argument when Ghostscript
/// rejects the document (its own message, one line).
core::Result<std::vector<std::uint8_t>> postScriptToPdf(std::span<const std::uint8_t> document,
                                                        const PdfConversion& how = {});

/// The PostScript inside a print job: from its first "%!" up to a PJL "universal exit
/// language" that follows, or the whole document when it has no such wrapper.
std::span<const std::uint8_t> unwrapPjl(std::span<const std::uint8_t> document);

}  // namespace conduit::rdp
