// What a target prints becomes PDF with the real Ghostscript (Debian's libgs in the sandboxed
// conduit-print-converter), and what goes wrong on the way is said: a document that is not
// PostScript, one that tries to read the host's files or never ends, a session that ends
// mid-conversion, no converter at all. The print queue around it (one thread, limits).
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>

#include "conduit/rdp/drive_folder.hpp"
#include "conduit/rdp/print_to_pdf.hpp"
#include "print_queue.hpp"
#include "support/process.hpp"
#include "support/temp_dir.hpp"

using namespace conduit::rdp;
using namespace std::chrono_literals;

namespace {

/// The built converter.
PdfConversion converter() {
  PdfConversion how;
  how.converter = CONDUIT_PRINT_CONVERTER;
  return how;
}

Bytes bytesOf(const std::string& s) {
  return Bytes(s.begin(), s.end());
}

const std::string kPage =
    "%!PS-Adobe-3.0\n%%Title: report\n%%Pages: 1\n%%EndComments\n%%Page: 1 1\n"
    "/Helvetica findfont 20 scalefont setfont 72 700 moveto (PUMP 3 FLOW 42) show\nshowpage\n"
    "%%EOF\n";

/// The text Ghostscript reads back out of a PDF.
std::string pdfText(const Bytes& pdf) {
  conduit::test::TempDir dir;
  const auto path = dir.path() / "out.pdf";
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(pdf.data()), static_cast<std::streamsize>(pdf.size()));
  }
  auto [rc, text] =
      conduit::test::runCommand({"gs", "-q", "-dSAFER", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite",
                                 "-sOutputFile=-", path.string()});
  REQUIRE(rc == 0);
  return text;
}

}  // namespace

TEST_CASE("a printed PostScript page becomes a PDF with the same text", "[rdp][printer]") {
  auto pdf = postScriptToPdf(bytesOf(kPage), converter());
  REQUIRE(pdf.ok());
  CHECK(std::string(pdf->begin(), pdf->begin() + 5) == "%PDF-");
  CHECK_THAT(pdfText(*pdf), Catch::Contains("PUMP 3 FLOW 42"));
}

TEST_CASE("a PJL wrapper around the PostScript is taken off", "[rdp][printer]") {
  const std::string uel = "\x1b%-12345X";
  const std::string wrapped = uel +
                              "@PJL JOB NAME=\"report\"\r\n@PJL ENTER LANGUAGE=POSTSCRIPT\r\n" +
                              kPage + uel + "@PJL EOJ\r\n" + uel;
  const Bytes wrappedBytes = bytesOf(wrapped);
  const auto inner = unwrapPjl(wrappedBytes);
  CHECK(std::string(inner.begin(), inner.end()) == kPage);
  // Plain PostScript, and anything else, stays as it is.
  const Bytes plain = bytesOf(kPage);
  CHECK(unwrapPjl(plain).size() == plain.size());
  const Bytes other = bytesOf(
      "PCL\x1b"
      "E");
  CHECK(unwrapPjl(other).size() == other.size());
  auto pdf = postScriptToPdf(wrappedBytes, converter());
  REQUIRE(pdf.ok());
  CHECK_THAT(pdfText(*pdf), Catch::Contains("PUMP 3 FLOW 42"));
}

TEST_CASE("a document Ghostscript cannot read is refused with its reason", "[rdp][printer]") {
  auto pdf =
      postScriptToPdf(bytesOf("%!PS\n/undefinedthing 42 frobnicate\nshowpage\n"), converter());
  REQUIRE_FALSE(pdf.ok());
  CHECK(pdf.error().code == conduit::core::ErrorCode::invalid_argument);
  CHECK_THAT(pdf.error().message, Catch::StartsWith("Ghostscript could not read the document"));
  CHECK_THAT(pdf.error().message, Catch::Contains("undefined"));
}

TEST_CASE("Ghostscript with -dSAFER: a document cannot read the host's files", "[rdp][printer]") {
  // A PostScript program that copies /etc/hostname onto the page: refused by Ghostscript's
  // SAFER mode (an invalidfileaccess error), so nothing of the host reaches the PDF.
  const std::string snoop =
      "%!PS\n/f (/etc/hostname) (r) file def /Helvetica findfont 12 scalefont setfont 72 700 "
      "moveto f 100 string readline pop show showpage\n";
  auto pdf = postScriptToPdf(bytesOf(snoop), converter());
  REQUIRE_FALSE(pdf.ok());
  CHECK_THAT(pdf.error().message, Catch::Contains("invalidfileaccess"));
}

TEST_CASE("the converter confines itself before Ghostscript reads the document", "[rdp][printer]") {
  // Run as the broker runs it, on a document that never ends, and looked at while Ghostscript
  // works on it: nobody when started as root (as the broker and these tests run here), no new
  // privileges, a seccomp filter in force.
  conduit::test::TempDir dir;
  {
    std::ofstream out(dir.path() / "loop.ps", std::ios::binary);
    out << "%!PS\n{ 1 pop } loop\n";
  }
  // Ghostscript's scratch files in a directory of the test's (killed below, it leaves them), which
  // the converter may write as nobody.
  const auto scratch = dir.path() / "tmp";
  std::filesystem::create_directory(scratch);
  std::filesystem::permissions(dir.path(), std::filesystem::perms::owner_all |
                                               std::filesystem::perms::group_exec |
                                               std::filesystem::perms::others_exec);
  std::filesystem::permissions(scratch, std::filesystem::perms::all);
  conduit::test::Process converter(
      {"/bin/sh", "-c",
       "TMPDIR='" + scratch.string() + "' exec '" + std::string(CONDUIT_PRINT_CONVERTER) + "' < '" +
           (dir.path() / "loop.ps").string() + "' > '" + (dir.path() / "out.pdf").string() + "'"});
  std::string status;
  for (int i = 0; i < 50 && status.find("Seccomp:\t2") == std::string::npos; ++i) {
    std::this_thread::sleep_for(100ms);
    std::ifstream in("/proc/" + std::to_string(converter.pid()) + "/status");
    status.assign(std::istreambuf_iterator<char>(in), {});
  }
  INFO(status);
  CHECK_THAT(status, Catch::Contains("NoNewPrivs:\t1"));
  CHECK_THAT(status, Catch::Contains("Seccomp:\t2"));
  const passwd* nobody = ::getpwnam("nobody");
  REQUIRE(nobody != nullptr);
  const unsigned uid = ::geteuid() == 0 ? nobody->pw_uid : ::geteuid();
  const std::string ids = std::to_string(uid) + "\t" + std::to_string(uid) + "\t" +
                          std::to_string(uid) + "\t" + std::to_string(uid);
  CHECK_THAT(status, Catch::Contains("Uid:\t" + ids));
  converter.signal(SIGKILL);
  converter.wait(5s);
  // Arguments it does not take: refused before anything is read.
  auto [rcBad, outBad] = conduit::test::runCommand({CONDUIT_PRINT_CONVERTER, "--dir", "x"});
  CHECK(rcBad == 2);
  CHECK_THAT(outBad, Catch::Contains("usage"));
}

TEST_CASE("a document that never ends is stopped at the time limit or when cancelled",
          "[rdp][printer]") {
  // Ghostscript's scratch files (pdfwrite opens several) live in the conversion's own
  // directory: a conversion stopped mid-way leaves none in the shared temporary directory.
  const auto scratchFiles = [] {
    std::size_t n = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(std::filesystem::temp_directory_path())) {
      if (e.path().filename().string().rfind("gs_", 0) == 0) ++n;
    }
    return n;
  };
  const std::size_t scratchBefore = scratchFiles();
  // A page drawn, then a loop: pdfwrite has its scratch files open when it is stopped.
  const Bytes forever = bytesOf(
      "%!PS\n/Helvetica findfont 12 scalefont setfont 72 700 moveto (x) show\n{ 1 pop } loop\n");
  PdfConversion how = converter();
  how.timeout = 1500ms;
  const auto started = std::chrono::steady_clock::now();
  auto pdf = postScriptToPdf(forever, how);
  const auto took = std::chrono::steady_clock::now() - started;
  REQUIRE_FALSE(pdf.ok());
  CHECK(pdf.error().code == conduit::core::ErrorCode::unavailable);
  CHECK_THAT(pdf.error().message, Catch::Contains("stopped"));
  CHECK(took >= 1500ms);
  CHECK(took < 10s);

  std::atomic<bool> cancel{true};
  PdfConversion cancelled = converter();
  cancelled.cancel = &cancel;
  const auto again = std::chrono::steady_clock::now();
  CHECK_FALSE(postScriptToPdf(forever, cancelled).ok());
  CHECK(std::chrono::steady_clock::now() - again < 5s);  // not the 60 s limit
  CHECK(scratchFiles() == scratchBefore);
}

TEST_CASE("without the converter the conversion says so", "[rdp][printer]") {
  PdfConversion how;
  how.converter = "/nonexistent/conduit-print-converter";
  auto pdf = postScriptToPdf(bytesOf(kPage), how);
  REQUIRE_FALSE(pdf.ok());
  CHECK(pdf.error().code == conduit::core::ErrorCode::unavailable);
  CHECK_THAT(pdf.error().message, Catch::Contains("not installed"));
}

namespace {

/// Waits until the queue has finished `n` documents (they wake `ready`).
std::vector<PrintedDocument> waitReady(PrintQueue& q, std::size_t n) {
  std::vector<PrintedDocument> out;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
    for (auto& d : q.takeReady()) out.push_back(std::move(d));
    std::this_thread::sleep_for(20ms);
  }
  return out;
}

PrintQueue::Convert ghostscript() {
  return [](std::span<const std::uint8_t> doc, const std::atomic<bool>& cancel) {
    PdfConversion how = converter();
    how.cancel = &cancel;
    return postScriptToPdf(doc, how);
  };
}

}  // namespace

TEST_CASE("the print queue puts documents together, converts them in order and keeps them",
          "[rdp][printer]") {
  std::atomic<int> wakes{0};
  PrintQueue q(ghostscript(), [&] { ++wakes; });
  // Two documents arriving interleaved, as two jobs could.
  const std::string half = kPage.substr(0, 40);
  REQUIRE(q.data({7, bytesOf(half)}).ok());
  REQUIRE(q.data({8, bytesOf("%!PS\n(not) frobnicate\n")}).ok());
  REQUIRE(q.data({7, bytesOf(kPage.substr(40))}).ok());
  REQUIRE(q.end({7, false}).ok());
  REQUIRE(q.end({8, false}).ok());
  auto done = waitReady(q, 2);
  REQUIRE(done.size() == 2);
  CHECK(wakes.load() >= 1);
  CHECK(done[0].name == "print-1.pdf");
  CHECK(done[0].note.empty());
  CHECK(done[0].printedBytes == kPage.size());
  CHECK(done[0].sha256 == sha256Hex(done[0].bytes));
  CHECK_THAT(pdfText(done[0].bytes), Catch::Contains("PUMP 3 FLOW 42"));
  // Not PostScript Ghostscript can read: the vendor still gets what was printed, as it came.
  CHECK(done[1].name == "print-2.ps");
  CHECK(std::string(done[1].bytes.begin(), done[1].bytes.end()) == "%!PS\n(not) frobnicate\n");
  CHECK_THAT(done[1].note, Catch::StartsWith("kept as PostScript: Ghostscript could not read"));

  for (auto& d : done) q.keep(std::move(d));
  auto kept = q.get("print-1.pdf");
  REQUIRE(kept.ok());
  CHECK_THAT(pdfText(kept->bytes), Catch::Contains("PUMP 3 FLOW 42"));
  CHECK(q.get("print-3.pdf").error().code == conduit::core::ErrorCode::not_found);
}

TEST_CASE("the print queue refuses a worker past its limits and keeps the last 16",
          "[rdp][printer]") {
  PrintQueue q(
      [](std::span<const std::uint8_t> doc,
         const std::atomic<bool>&) -> conduit::core::Result<Bytes> {
        return Bytes(doc.begin(), doc.end());  // no conversion needed for these limits
      },
      {});
  for (std::uint32_t job = 1; job <= 4; ++job) REQUIRE(q.data({job, bytesOf("x")}).ok());
  // A fifth document at once: the worker never sends one (it refuses it to the target).
  CHECK_THAT(q.data({5, bytesOf("x")}).error().message, Catch::Contains("more than 4"));
  // More bytes in one document than the worker passes on.
  CHECK_FALSE(q.data({1, Bytes(kMaxPrintJobBytes, 'y')}).ok());

  for (int i = 1; i <= 20; ++i) {
    PrintedDocument d;
    d.name = "print-" + std::to_string(i) + ".pdf";
    d.bytes = bytesOf("pdf");
    q.keep(std::move(d));
  }
  CHECK_FALSE(q.get("print-4.pdf").ok());  // the oldest went
  CHECK(q.get("print-5.pdf").ok());
  CHECK(q.get("print-20.pdf").ok());
}

TEST_CASE("a session that ends stops a conversion still running", "[rdp][printer]") {
  PrintQueue q(ghostscript(), {});
  REQUIRE(q.data({1, bytesOf("%!PS\n{ 1 pop } loop\n")}).ok());
  REQUIRE(q.end({1, false}).ok());
  std::this_thread::sleep_for(300ms);  // Ghostscript is running now
  const auto started = std::chrono::steady_clock::now();
  q.stop();
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  // Not offered, but named for the recording: the session records it as not passed on.
  const auto left = q.takeUnfinished();
  REQUIRE(left.size() == 1);
  CHECK(left[0].name == "print-1.ps");
  CHECK_THAT(left[0].note, Catch::Contains("stopped"));
  CHECK(left[0].printedSha256 == sha256Hex(bytesOf("%!PS\n{ 1 pop } loop\n")));
}
