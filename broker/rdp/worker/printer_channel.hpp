#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>

#include "conduit/rdp/worker_protocol.hpp"

struct rdp_settings;

namespace conduit::rdp::worker {

/// Printer redirection for one session (rdpdr printer device, MS-RDPEPC), where policy allows
/// it: the target sees one printer, kPrinterName with driver kPrinterDriver (PostScript).
/// FreeRDP's own printer device speaks the protocol; this object is the "backend" behind it
/// (instead of CUPS, which a worker has not): what the target prints is queued here and goes
/// to the broker as print_data and print_end frames, nothing is printed or stored here.
///
/// FreeRDP calls the backend on the printer device's own thread; it only queues under the
/// mutex and wakes the main loop through `event()`, as AudioChannel does. A worker runs one
/// session, so FreeRDP's backend entry finds this object through a process-wide pointer set by
/// the constructor. The backend's objects belong to this object (their release functions do
/// nothing); FreeRDP stops the device's thread when the context is freed, which RdpClient does
/// before this object goes.
class PrinterChannel {
 public:
  PrinterChannel();
  ~PrinterChannel();
  PrinterChannel(const PrinterChannel&) = delete;
  PrinterChannel& operator=(const PrinterChannel&) = delete;

  /// Adds the printer to the settings' rdpdr devices (before connect; rdpdr itself is loaded
  /// by DriveChannel::load).
  bool configure(rdp_settings* settings) const;
  /// A WinPR event, set while frames wait in take().
  void* event() const noexcept { return event_; }
  /// The print_data and print_end frames since the last call, in order; resets event().
  std::deque<Bytes> take();

  /// The FreeRDP objects (driver, printer, jobs) the backend entry hands out.
  struct Backend;
  Backend& backend() noexcept { return *backend_; }

 private:
  std::unique_ptr<Backend> backend_;
  void* event_ = nullptr;
};

/// The name FreeRDP's printer device loads PrinterChannel's backend under (the driver name's
/// ":conduit" suffix), and its entry point as the type FreeRDP's addin loader returns: for the
/// worker's addin provider (addin_provider.hpp).
inline constexpr const char* kPrinterBackendName = "conduit";
void (*printerBackendEntry())();
/// FreeRDP's printer device entry (`builtIn`, as the addin loader found it) wrapped so the
/// device it registers ignores the server's printer configuration messages (which FreeRDP
/// would write to disk, as many as the server likes); when `builtIn` is nullptr the wrapper
/// fails the device (no printer) rather than let FreeRDP load one without it.
using AddinEntry = void (*)();
AddinEntry printerDeviceEntry(AddinEntry builtIn);

}  // namespace conduit::rdp::worker
