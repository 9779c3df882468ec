// conduit-print-converter: turns one document a target printed (PostScript) into PDF with
// Ghostscript's library, confined first (docs/rdp.md "Printing"). PostScript is a programming
// language and the document comes from an RDP server that may be hostile; Ghostscript has had
// flaws that escape its own -dSAFER mode. So, as the RDP worker does for FreeRDP, the broker
// runs it in a process of its own that confines itself before Ghostscript reads a byte: no new
// privileges, nobody when started as root, no exec, fork or sockets (seccomp), limits on files,
// CPU and memory.
//
//   conduit-print-converter < document.ps > document.pdf 2> messages
//
// reads the PostScript on stdin and writes the PDF to stdout (both files the broker opened: it
// never names a path, so it needs no directory of its own); Ghostscript's messages, and what the
// document itself writes to its standard output, go to stderr. Exit 0: converted; 1:
// Ghostscript could not convert it; 2: bad arguments; 3: the sandbox could not be set up
// (nothing was read).
#include <ghostscript/iapi.h>
#include <ghostscript/ierrors.h>

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "conduit/rdp/print_to_pdf.hpp"
#include "sandbox.hpp"

// LeakSanitizer stops the process with ptrace and a helper process at exit, which the seccomp
// filter forbids: a sanitizer build would fail every conversion. The converter ends with _exit
// (below) and leaves no leak check to run; this default covers any other path. Ignored by
// builds without ASan.
extern "C" const char* __asan_default_options() {
  return "detect_leaks=0";
}

int main(int argc, char** argv) {
  if (argc != 1) {
    std::fprintf(stderr, "usage: conduit-print-converter < document.ps > document.pdf\n");
    return 2;
  }
  (void)argv;
  if (auto failure = conduit::rdp::worker::applyConverterSandbox({}, conduit::rdp::kMaxPdfBytes);
      !failure.empty()) {
    std::fprintf(stderr, "conduit-print-converter: sandbox: %s\n", failure.c_str());
    return 3;
  }
  // -sstdout=%stderr: what the document prints goes with the messages, not into the PDF.
  std::vector<std::string> args = {"gs",
                                   "-q",
                                   "-dSAFER",
                                   "-dBATCH",
                                   "-dNOPAUSE",
                                   "-dNOPROMPT",
                                   "-sDEVICE=pdfwrite",
                                   "-sstdout=%stderr",
                                   "-sOutputFile=-",
                                   "-"};
  std::vector<char*> argp;
  for (auto& a : args) argp.push_back(a.data());
  void* gs = nullptr;
  if (gsapi_new_instance(&gs, nullptr) < 0) {
    std::fprintf(stderr, "conduit-print-converter: cannot start Ghostscript\n");
    return 1;
  }
  gsapi_set_arg_encoding(gs, GS_ARG_ENCODING_UTF8);
  int code = gsapi_init_with_args(gs, static_cast<int>(argp.size()), argp.data());
  const int exitCode = gsapi_exit(gs);
  if (code == 0 || code == gs_error_Quit) code = exitCode;
  gsapi_delete_instance(gs);
  // A PDF whose last bytes could not be written (disk full) is no PDF.
  const bool written = std::fflush(stdout) == 0 && std::ferror(stdout) == 0;
  std::fflush(stderr);
  ::_exit((code == 0 || code == gs_error_Quit) && written ? 0 : 1);
}
