#pragma once

// What a target prints (PostScript from the "MS Publisher Imagesetter" driver the worker
// announces) turned into PDF, which every vendor's laptop opens, by Debian's Ghostscript.

#include <atomic>
#include <chrono>
#include <cstdint>
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
  // The program, found on PATH unless absolute (tests point it elsewhere).
  std::string program = "gs";
};

/// The largest PDF taken back (Ghostscript's RLIMIT_FSIZE): four times the largest document.
inline constexpr std::uint64_t kMaxPdfBytes = 256ull << 20;

/// Runs Ghostscript on the document in a process of its own: -dSAFER (no file access beyond
/// its input and output, no pipes), its own process group (killed whole on timeout or cancel),
/// limits on CPU time, memory and output size, input and output in a private temporary
/// directory removed afterwards. A PJL wrapper around the PostScript (what many Windows
/// drivers add) is removed first. Fails with unavailable when Ghostscript cannot run or was
/// stopped (timeout, cancel), invalid_argument when it rejects the document (its own message,
/// one line).
core::Result<std::vector<std::uint8_t>> postScriptToPdf(std::span<const std::uint8_t> document,
                                                        const PdfConversion& how = {});

/// The PostScript inside a print job: from its first "%!" up to a PJL "universal exit
/// language" that follows, or the whole document when it has no such wrapper.
std::span<const std::uint8_t> unwrapPjl(std::span<const std::uint8_t> document);

}  // namespace conduit::rdp
